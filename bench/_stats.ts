/**
 * Statistics the benchmarks share: medians, and the paired ratio of two
 * runners measured round by round, with a confidence interval.
 *
 * This machine's speed swings by a third from one minute to the next, which
 * moves two medians taken over the same minutes together but not always by
 * the same amount. A paired ratio compares each round's two runs, taken a
 * few milliseconds apart, so a slow phase moves both sides of each ratio;
 * its median's interval says whether a target is met, missed, or not
 * decided by the run.
 *
 * @module
 */

/**
 * The median of `xs`.
 *
 * @example
 * ```ts
 * import { median } from "./_stats.ts";
 * median([3, 1, 2]); // 2
 * ```
 */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError("median: no values");
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The median of per-round ratios and its 95% confidence interval. */
export interface PairedRatio {
  /** The median of `peer[i] / tsk[i]` (above 1: tsk was faster). */
  ratio: number;
  /** The interval's lower end. */
  low: number;
  /** The interval's upper end. */
  high: number;
  /** The number of rounds. */
  n: number;
  /** `met` when the whole interval is at or above 1, `missed` when below, else `undecided`. */
  verdict: "met" | "missed" | "undecided";
}

/**
 * Pairs round `i` of `tsk` with round `i` of `peer` (times, lower is better)
 * and returns the median of `peer[i] / tsk[i]` with a distribution-free 95%
 * interval for it (the order statistics the binomial distribution gives:
 * ranks 40 and 61 of 100).
 *
 * @example
 * ```ts
 * import { pairedRatio } from "./_stats.ts";
 * const r = pairedRatio([10, 11, 12], [12, 12, 13]);
 * r.ratio > 1; // true: tsk took less time in the typical round
 * ```
 */
export function pairedRatio(tsk: readonly number[], peer: readonly number[]): PairedRatio {
  if (tsk.length !== peer.length) {
    throw new RangeError(`pairedRatio: ${tsk.length} rounds against ${peer.length}`);
  }
  const n = tsk.length;
  if (n === 0) throw new RangeError("pairedRatio: no rounds");
  const ratios = tsk.map((t, i) => peer[i] / t).sort((a, b) => a - b);
  // Ranks k and n - k + 1 (1-based) cover the median with at least 95%
  // probability (normal approximation of Binomial(n, 1/2)).
  const k = Math.max(1, Math.floor((n - 1.96 * Math.sqrt(n)) / 2));
  const low = ratios[k - 1];
  const high = ratios[n - k];
  return {
    ratio: median(ratios),
    low,
    high,
    n,
    verdict: low >= 1 ? "met" : high < 1 ? "missed" : "undecided",
  };
}

/**
 * A seeded pseudo-random generator (mulberry32): the same seed gives the
 * same sequence of numbers in [0, 1), so a run's order can be replayed.
 *
 * @example
 * ```ts
 * import { seededRandom } from "./_stats.ts";
 * const next = seededRandom(42);
 * next() === seededRandom(42)(); // true
 * ```
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A shuffled copy of `items` (Fisher-Yates, drawing from `random`). The
 * benchmarks run their runners in a new order every round, so that no runner
 * always follows the same one (and inherits the same leftovers: a network
 * namespace torn down in a kernel worker, say).
 *
 * @example
 * ```ts
 * import { seededRandom, shuffled } from "./_stats.ts";
 * shuffled(["a", "b", "c"], seededRandom(1)); // the same order for seed 1 every time
 * ```
 */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
