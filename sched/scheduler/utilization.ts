/**
 * Scores that depend only on a node's cpu and memory utilization once the
 * pod is placed (non-zero requests over allocatable): LeastAllocated,
 * MostAllocated and BalancedAllocation. The plugins score with
 * {@linkcode addUtilizationScores}; when every score plugin that runs for a
 * pod is of this kind, the framework instead scores and picks the best node
 * in a single pass over the snapshot's typed arrays
 * ({@linkcode selectByUtilization}). Both use the same arithmetic in the same
 * order, so the totals, and therefore the choices, are identical.
 *
 * @module
 */
import type { PodInfo } from "./pod_info.ts";
import type { Snapshot } from "./snapshot.ts";

/**
 * A score plugin's weighted score for one pod, when it is a function of the
 * node's utilization only.
 *
 * - `LeastAllocated`: `cpuFactor × free cpu share + memoryFactor × free memory share`
 *   (a share is 0 when the pod would not fit or the node has none).
 * - `MostAllocated`: the same with the used shares, capped at 1.
 * - `Balanced`: `cpuFactor × (1 − |cpu share − memory share| / 2)`, shares capped at 1
 *   (`memoryFactor` unused).
 */
export interface UtilizationScore {
  /** The formula. */
  readonly kind: "LeastAllocated" | "MostAllocated" | "Balanced";
  /** Factor of the cpu share (the whole factor for Balanced). */
  readonly cpuFactor: number;
  /** Factor of the memory share. */
  readonly memoryFactor: number;
}

/**
 * Writes (or adds, when `add`) a utilization score into `out[slot]` for
 * every slot in `nodes[0..count)`.
 *
 * @param snap The snapshot (its `nzCpu`, `nzMem`, `invCpu`, `invMem`).
 * @param pod The pod being placed.
 * @param nodes Slots.
 * @param count How many of `nodes` to score.
 * @param out Scores by slot.
 * @param term The score.
 * @param add Add to `out` instead of writing it.
 *
 * @example Score an empty node
 * ```ts
 * import { makeNode, makePod } from "./builders.ts";
 * import { newPodInfo } from "./pod_info.ts";
 * import { Snapshot } from "./snapshot.ts";
 * import { addUtilizationScores } from "./utilization.ts";
 * const snap = new Snapshot();
 * snap.addNode(makeNode("n", { allocatable: { cpu: "1", memory: "1Gi" } }));
 * const pod = newPodInfo(makePod("p", { requests: { cpu: "500m", memory: "512Mi" } }));
 * const out = new Float64Array(1);
 * const term = { kind: "LeastAllocated", cpuFactor: 50, memoryFactor: 50 } as const;
 * addUtilizationScores(snap, pod, Int32Array.of(0), 1, out, term, false);
 * out[0]; // 50
 * ```
 */
export function addUtilizationScores(
  snap: Snapshot,
  pod: PodInfo,
  nodes: Int32Array,
  count: number,
  out: Float64Array,
  term: UtilizationScore,
  add: boolean,
): void {
  const pc = pod.req.nonZeroMilliCpu;
  const pm = pod.req.nonZeroMemory;
  const nzCpu = snap.nzCpu, invCpu = snap.invCpu;
  const nzMem = snap.nzMem, invMem = snap.invMem;
  const fc = term.cpuFactor, fm = term.memoryFactor;
  const least = term.kind === "LeastAllocated";
  const balanced = term.kind === "Balanced";
  for (let j = 0; j < count; j++) {
    const slot = nodes[j];
    const ic = invCpu[slot], im = invMem[slot];
    const uc = (nzCpu[slot] + pc) * ic;
    const um = (nzMem[slot] + pm) * im;
    const v = balanced
      ? balancedValue(uc, um, fc)
      : least
      ? leastValue(uc, um, ic, im, fc, fm)
      : mostValue(uc, um, fc, fm);
    if (add) out[slot] += v;
    else out[slot] = v;
  }
}

function leastValue(
  uc: number,
  um: number,
  ic: number,
  im: number,
  fc: number,
  fm: number,
): number {
  const sc = uc > 1 || ic === 0 ? 0 : 1 - uc;
  const sm = um > 1 || im === 0 ? 0 : 1 - um;
  return fc * sc + fm * sm;
}

function mostValue(uc: number, um: number, fc: number, fm: number): number {
  return fc * (uc > 1 ? 1 : uc) + fm * (um > 1 ? 1 : um);
}

function balancedValue(uc: number, um: number, f: number): number {
  const c = uc > 1 ? 1 : uc;
  const m = um > 1 ? 1 : um;
  const d = c > m ? c - m : m - c;
  return f * (1 - d / 2);
}

/**
 * Whether {@linkcode selectByUtilization} can sum these scores exactly as
 * the per-plugin path does: at most one LeastAllocated or MostAllocated
 * score and at most one Balanced (with two terms the sum does not depend on
 * their order).
 *
 * @param terms The scores of the plugins that run, in plugin order.
 * @returns True when the single pass applies.
 *
 * @example Fit and balance
 * ```ts
 * import { canSelectByUtilization } from "./utilization.ts";
 * canSelectByUtilization([
 *   { kind: "LeastAllocated", cpuFactor: 50, memoryFactor: 50 },
 *   { kind: "Balanced", cpuFactor: 3000, memoryFactor: 0 },
 * ]); // true
 * ```
 */
export function canSelectByUtilization(terms: readonly UtilizationScore[]): boolean {
  if (terms.length === 0 || terms.length > 2) return false;
  if (terms.length === 1) return true;
  return (terms[0].kind === "Balanced") !== (terms[1].kind === "Balanced");
}

/**
 * Scores every slot in `nodes` with the sum of the terms and collects the
 * slots tied for the best total, in one pass.
 *
 * @param snap The snapshot.
 * @param pod The pod being placed.
 * @param nodes Feasible slots (non-empty).
 * @param terms Scores accepted by {@linkcode canSelectByUtilization}.
 * @param ties Receives the best slots, in `nodes` order (at least `nodes.length` long).
 * @returns How many slots tie, and the best total.
 *
 * @example Two nodes, the emptier wins
 * ```ts
 * import { makeNode, makePod } from "./builders.ts";
 * import { newPodInfo } from "./pod_info.ts";
 * import { Snapshot } from "./snapshot.ts";
 * import { selectByUtilization } from "./utilization.ts";
 * const snap = new Snapshot();
 * snap.addNode(makeNode("a", { allocatable: { cpu: "1", memory: "1Gi" } }));
 * snap.addNode(makeNode("b", { allocatable: { cpu: "2", memory: "2Gi" } }));
 * const pod = newPodInfo(makePod("p", { requests: { cpu: "500m", memory: "512Mi" } }));
 * const ties = new Int32Array(2);
 * const { count } = selectByUtilization(snap, pod, Int32Array.of(0, 1), [
 *   { kind: "LeastAllocated", cpuFactor: 50, memoryFactor: 50 },
 * ], ties);
 * [count, ties[0]]; // [1, 1]
 * ```
 */
export function selectByUtilization(
  snap: Snapshot,
  pod: PodInfo,
  nodes: Int32Array,
  terms: readonly UtilizationScore[],
  ties: Int32Array,
): { count: number; best: number } {
  let alloc: UtilizationScore | undefined;
  let bal: UtilizationScore | undefined;
  for (const t of terms) {
    if (t.kind === "Balanced") bal = t;
    else alloc = t;
  }
  // An absent score has factors 0: it adds exactly +0 (its value is finite
  // and non-negative), so the sum equals the present score alone, bit for bit.
  const least = alloc === undefined || alloc.kind === "LeastAllocated";
  const count = scan(
    snap,
    nodes,
    ties,
    pod.req.nonZeroMilliCpu,
    pod.req.nonZeroMemory,
    least,
    alloc?.cpuFactor ?? 0,
    alloc?.memoryFactor ?? 0,
    bal?.cpuFactor ?? 0,
  );
  return { count, best: scanBest };
}

/** The best total of the last {@linkcode scan}. */
let scanBest = -Infinity;

/**
 * The loop of {@linkcode selectByUtilization}, apart: it returns a number and
 * leaves the best total in `scanBest`, because V8 compiles a long-running
 * loop while it runs (on-stack replacement), before the function's return
 * has been reached, and returning an object literal from such code made it
 * deoptimize on every call.
 */
function scan(
  snap: Snapshot,
  nodes: Int32Array,
  ties: Int32Array,
  pc: number,
  pm: number,
  least: boolean,
  fc: number,
  fm: number,
  fb: number,
): number {
  const count = nodes.length;
  const u = snap.utilization;
  let best = -Infinity;
  let n = 0;
  // The arithmetic of addUtilizationScores' helpers written out, in the
  // same order: allocation score, then balance score, added.
  for (let j = 0; j < count; j++) {
    const slot = nodes[j];
    const o = slot << 2;
    const ic = u[o + 2], im = u[o + 3];
    const uc = (u[o] + pc) * ic;
    const um = (u[o + 1] + pm) * im;
    const c = uc > 1 ? 1 : uc;
    const m = um > 1 ? 1 : um;
    const a = least
      ? fc * (uc > 1 || ic === 0 ? 0 : 1 - uc) + fm * (um > 1 || im === 0 ? 0 : 1 - um)
      : fc * c + fm * m;
    const s = a + fb * (1 - (c > m ? c - m : m - c) / 2);
    if (s > best) {
      best = s;
      ties[0] = slot;
      n = 1;
    } else if (s === best) {
      ties[n++] = slot;
    }
  }
  scanBest = best;
  return n;
}
