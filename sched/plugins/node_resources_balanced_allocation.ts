/**
 * NodeResourcesBalancedAllocation: favours nodes whose cpu and memory would
 * be used in similar proportions after placing the pod, so that neither runs
 * out while the other sits idle.
 *
 * @module
 */
import type { NodeInfo } from "../scheduler/node_info.ts";
import { type Handle, MAX_NODE_SCORE, type Plugin } from "../scheduler/plugin.ts";
import type { PodInfo } from "../scheduler/pod_info.ts";
import { addUtilizationScores, type UtilizationScore } from "../scheduler/utilization.ts";

/** Plugin name. */
export const NAME = "NodeResourcesBalancedAllocation";

/**
 * The balance score from two utilization fractions: (1 - standard deviation)
 * times 100; for two values the deviation is half their difference.
 *
 * @param cpuFraction CPU requested / allocatable (capped at 1).
 * @param memFraction Memory requested / allocatable (capped at 1).
 * @returns 0..100.
 *
 * @example Perfectly balanced
 * ```ts
 * import { balanceScore } from "./node_resources_balanced_allocation.ts";
 * balanceScore(0.5, 0.5); // 100
 * ```
 */
export function balanceScore(cpuFraction: number, memFraction: number): number {
  const c = cpuFraction > 1 ? 1 : cpuFraction;
  const m = memFraction > 1 ? 1 : memFraction;
  const std = Math.abs(c - m) / 2;
  return (1 - std) * MAX_NODE_SCORE;
}

/**
 * The score of a node for a pod.
 *
 * @param pod The pod.
 * @param node The node.
 * @returns 0..100.
 *
 * @example Empty node
 * ```ts
 * import { makeNode, makePod } from "../scheduler/builders.ts";
 * import { score } from "./node_resources_balanced_allocation.ts";
 * import { NodeInfo } from "../scheduler/node_info.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * const node = new NodeInfo(makeNode("n", { allocatable: { cpu: "1", memory: "1Gi" } }));
 * const pod = newPodInfo(makePod("p", { requests: { cpu: "500m", memory: "512Mi" } }));
 * score(pod, node); // 100
 * ```
 */
export function score(pod: PodInfo, node: NodeInfo): number {
  const a = node.allocatable;
  const c = a.milliCpu > 0 ? (node.nonZeroMilliCpu + pod.req.nonZeroMilliCpu) / a.milliCpu : 0;
  const m = a.memory > 0 ? (node.nonZeroMemory + pod.req.nonZeroMemory) / a.memory : 0;
  return balanceScore(c, m);
}

/**
 * Builds the plugin.
 *
 * @param _args None.
 * @param handle Framework handle.
 * @returns The plugin.
 *
 * @example Build
 * ```ts
 * import { factory } from "./node_resources_balanced_allocation.ts";
 * import { Snapshot } from "../scheduler/snapshot.ts";
 * factory({}, { snapshot: new Snapshot() } as never).name;
 * // "NodeResourcesBalancedAllocation"
 * ```
 */
export function factory(_args: Record<string, unknown>, handle: Handle): Plugin {
  const snap = handle.snapshot;
  const term = (weight: number): UtilizationScore => ({
    kind: "Balanced",
    cpuFactor: weight * MAX_NODE_SCORE,
    memoryFactor: 0,
  });
  const unit = term(1);
  return {
    name: NAME,
    score: (_state, pod, node) => score(pod, node),
    scoreAll: (_state, pod, nodes, count, out) =>
      addUtilizationScores(snap, pod, nodes, count, out, unit, false),
    addScores: (_state, pod, nodes, count, total, w, assign) =>
      addUtilizationScores(snap, pod, nodes, count, total, term(w), !assign),
    utilizationScore: (_state, _pod, weight) => term(weight),
  };
}
