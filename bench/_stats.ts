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
