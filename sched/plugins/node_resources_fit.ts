/**
 * NodeResourcesFit: a pod fits a node when its requests (cpu, memory, pod
 * count, extended resources) fit in what is left of the node's allocatable;
 * nodes are scored by LeastAllocated (spread, the default), MostAllocated
 * (pack) or RequestedToCapacityRatio (a custom utilization → score curve).
 *
 * @module
 */
import type { NodeInfo } from "../scheduler/node_info.ts";
import { type Handle, MAX_NODE_SCORE, type Plugin } from "../scheduler/plugin.ts";
import type { PodInfo } from "../scheduler/pod_info.ts";
import { SchedulerConfigError } from "../scheduler/registry.ts";
import { CPU, MEMORY } from "../scheduler/resources.ts";
import { FLAG_NOMINATED } from "../scheduler/snapshot.ts";
import { type Status, status, SUCCESS } from "../scheduler/status.ts";
import { addUtilizationScores, type UtilizationScore } from "../scheduler/utilization.ts";

/** Plugin name. */
export const NAME = "NodeResourcesFit";

/** Scoring strategies. */
export type ScoringStrategyType = "LeastAllocated" | "MostAllocated" | "RequestedToCapacityRatio";

/** Plugin args (`pluginConfig[].args`). */
export interface NodeResourcesFitArgs {
  /** How to score. @default LeastAllocated on cpu and memory, weight 1 each */
  scoringStrategy?: {
    type?: ScoringStrategyType;
    resources?: { name: string; weight: number }[];
    requestedToCapacityRatio?: { shape: { utilization: number; score: number }[] };
  };
}

/**
 * The resources a pod lacks on a node, as the reasons users see
 * ("Insufficient cpu", "Too many pods"); empty when it fits.
 *
 * @param pod The pod.
 * @param node The node.
 * @param held Pods the node's resources are held for (nominated preemptors that outrank the pod).
 * @returns The reasons.
 *
 * @example Not enough CPU
 * ```ts
 * import { makeNode, makePod } from "../scheduler/builders.ts";
 * import { fits } from "./node_resources_fit.ts";
 * import { NodeInfo } from "../scheduler/node_info.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * const node = new NodeInfo(makeNode("n", { allocatable: { cpu: "1", pods: "10" } }));
 * const pod = newPodInfo(makePod("p", { requests: { cpu: "2" } }));
 * fits(pod, node); // ["Insufficient cpu"]
 * ```
 */
export function fits(pod: PodInfo, node: NodeInfo, held: readonly PodInfo[] = []): string[] {
  const out: string[] = [];
  const r = pod.req.requests;
  const a = node.allocatable;
  const u = node.requested;
  let cpu = u.milliCpu, mem = u.memory, pods = u.pods;
  for (const h of held) {
    cpu += h.req.requests.milliCpu;
    mem += h.req.requests.memory;
    pods += 1;
  }
  if (pods + 1 > a.pods) out.push("Too many pods");
  if (r.milliCpu > 0 && cpu + r.milliCpu > a.milliCpu) out.push("Insufficient cpu");
  if (r.memory > 0 && mem + r.memory > a.memory) out.push("Insufficient memory");
  for (const [name, v] of r.scalar) {
    let used = u.scalar.get(name) ?? 0;
    for (const h of held) used += h.req.requests.scalar.get(name) ?? 0;
    if (v > 0 && used + v > (a.scalar.get(name) ?? 0)) out.push(`Insufficient ${name}`);
  }
  return out;
}

/**
 * LeastAllocated score of one resource: the share left free after placing
 * the pod, times 100.
 *
 * @param requested Requested including the pod.
 * @param capacity Allocatable.
 * @returns 0..100.
 *
 * @example Half free
 * ```ts
 * import { leastAllocated } from "./node_resources_fit.ts";
 * leastAllocated(500, 1000); // 50
 * ```
 */
export function leastAllocated(requested: number, capacity: number): number {
  if (capacity <= 0 || requested > capacity) return 0;
  return (capacity - requested) * MAX_NODE_SCORE / capacity;
}

/**
 * MostAllocated score of one resource: the share used after placing the pod,
 * times 100.
 *
 * @param requested Requested including the pod.
 * @param capacity Allocatable.
 * @returns 0..100.
 *
 * @example Three quarters used
 * ```ts
 * import { mostAllocated } from "./node_resources_fit.ts";
 * mostAllocated(750, 1000); // 75
 * ```
 */
export function mostAllocated(requested: number, capacity: number): number {
  if (capacity <= 0) return 0;
  return Math.min(requested, capacity) * MAX_NODE_SCORE / capacity;
}

/**
 * Builds a RequestedToCapacityRatio scorer from a shape: utilization points
 * (0..100) → score points (0..10), linearly interpolated, scaled to 0..100.
 *
 * @param shape The points, ascending utilization.
 * @returns The scorer.
 * @throws {SchedulerConfigError} On a bad shape, naming the field.
 *
 * @example Prefer full nodes
 * ```ts
 * import { ratioScorer } from "./node_resources_fit.ts";
 * const f = ratioScorer([{ utilization: 0, score: 0 }, { utilization: 100, score: 10 }]);
 * f(500, 1000); // 50
 * ```
 */
export function ratioScorer(
  shape: { utilization: number; score: number }[],
): (requested: number, capacity: number) => number {
  const field = `${NAME}.args.scoringStrategy.requestedToCapacityRatio.shape`;
  if (!Array.isArray(shape) || shape.length === 0) {
    throw new SchedulerConfigError(`${field}: expected at least one point`);
  }
  for (let i = 0; i < shape.length; i++) {
    const p = shape[i];
    if (!(p.utilization >= 0 && p.utilization <= 100) || !(p.score >= 0 && p.score <= 10)) {
      throw new SchedulerConfigError(
        `${field}[${i}]: expected utilization 0-100 and score 0-10`,
      );
    }
    if (i > 0 && p.utilization <= shape[i - 1].utilization) {
      throw new SchedulerConfigError(`${field}[${i}].utilization: expected ascending values`);
    }
  }
  const xs = shape.map((p) => p.utilization);
  const ys = shape.map((p) => p.score * MAX_NODE_SCORE / 10);
  return (requested, capacity) => {
    if (capacity <= 0) return 0;
    const u = Math.min(100, requested * 100 / capacity);
    if (u <= xs[0]) return ys[0];
    for (let i = 1; i < xs.length; i++) {
      if (u <= xs[i]) {
        return ys[i - 1] + (ys[i] - ys[i - 1]) * (u - xs[i - 1]) / (xs[i] - xs[i - 1]);
      }
    }
    return ys[ys.length - 1];
  };
}

const TOO_MANY = "Too many pods";
const CPU_R = "Insufficient cpu";
const MEM_R = "Insufficient memory";

/**
 * Builds the plugin.
 *
 * @param args {@linkcode NodeResourcesFitArgs}.
 * @param handle Framework handle.
 * @returns The plugin.
 * @throws {SchedulerConfigError} On bad args.
 *
 * @example Pack nodes
 * ```ts
 * import { factory } from "./node_resources_fit.ts";
 * import { Snapshot } from "../scheduler/snapshot.ts";
 * const p = factory({ scoringStrategy: { type: "MostAllocated" } },
 *   { snapshot: new Snapshot() } as never);
 * p.name; // "NodeResourcesFit"
 * ```
 */
export function factory(rawArgs: Record<string, unknown>, handle: Handle): Plugin {
  const snap = handle.snapshot;
  const args = rawArgs as NodeResourcesFitArgs;
  const strategy = args.scoringStrategy ?? {};
  const type = strategy.type ?? "LeastAllocated";
  if (!["LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"].includes(type)) {
    throw new SchedulerConfigError(
      `${NAME}.args.scoringStrategy.type: expected LeastAllocated, MostAllocated or RequestedToCapacityRatio, got ${type}`,
    );
  }
  const resources = strategy.resources ?? [{ name: CPU, weight: 1 }, { name: MEMORY, weight: 1 }];
  for (const [i, r] of resources.entries()) {
    if (typeof r.name !== "string" || !(r.weight > 0)) {
      throw new SchedulerConfigError(
        `${NAME}.args.scoringStrategy.resources[${i}]: expected {name, weight > 0}`,
      );
    }
  }
  const fn = type === "LeastAllocated"
    ? leastAllocated
    : type === "MostAllocated"
    ? mostAllocated
    : ratioScorer(strategy.requestedToCapacityRatio?.shape ?? []);
  let wCpu = 0;
  let wMem = 0;
  const others: { name: string; weight: number }[] = [];
  for (const r of resources) {
    if (r.name === CPU) wCpu += r.weight;
    else if (r.name === MEMORY) wMem += r.weight;
    else others.push(r);
  }

  // Failure statuses, one per combination, built once.
  const combos = new Map<string, Status>();
  const statusFor = (reasons: string[]): Status => {
    const key = reasons.join("\n");
    let s = combos.get(key);
    if (!s) combos.set(key, s = status("Unschedulable", reasons, NAME));
    return s;
  };
  const check = (pod: PodInfo, node: NodeInfo): Status => {
    const held = snap.flags[node.index] & FLAG_NOMINATED
      ? snap.nominatedOn(node.name, pod.priority, pod.key)
      : [];
    const reasons = fits(pod, node, held);
    return reasons.length === 0 ? SUCCESS : statusFor(reasons);
  };

  const scoreNode = (pod: PodInfo, node: NodeInfo): number => {
    let sum = 0;
    let wsum = 0;
    if (wCpu > 0) {
      sum += wCpu * fn(node.nonZeroMilliCpu + pod.req.nonZeroMilliCpu, node.allocatable.milliCpu);
      wsum += wCpu;
    }
    if (wMem > 0) {
      sum += wMem * fn(node.nonZeroMemory + pod.req.nonZeroMemory, node.allocatable.memory);
      wsum += wMem;
    }
    for (const r of others) {
      const cap = node.allocatable.scalar.get(r.name) ?? 0;
      if (cap === 0) continue; // Kubernetes ignores resources the node does not have
      const req = (node.requested.scalar.get(r.name) ?? 0) +
        (pod.req.requests.scalar.get(r.name) ?? 0);
      sum += r.weight * fn(req, cap);
      wsum += r.weight;
    }
    return wsum === 0 ? 0 : sum / wsum;
  };

  // cpu and memory with a built-in strategy: one pass over the typed arrays.
  const fast = others.length === 0 && (fn === leastAllocated || fn === mostAllocated);
  const kind = fn === leastAllocated ? "LeastAllocated" : "MostAllocated";
  const wsum = wCpu + wMem;
  // Scores are fractions of 100 weighted by the resource's share.
  const term = (weight: number): UtilizationScore => ({
    kind,
    cpuFactor: wsum === 0 ? 0 : weight * MAX_NODE_SCORE * wCpu / wsum,
    memoryFactor: wsum === 0 ? 0 : weight * MAX_NODE_SCORE * wMem / wsum,
  });
  const unit = term(1);

  // Slots the bulk filter's fast test did not pass: the exact check and its reasons.
  const slowFilter = (pod: PodInfo, slot: number): Status => {
    if (snap.flags[slot] & FLAG_NOMINATED) return check(pod, snap.nodes[slot]);
    const r = pod.req.requests;
    const reasons: string[] = [];
    if (snap.freePods[slot] < 1) reasons.push(TOO_MANY);
    if (r.milliCpu > 0 && r.milliCpu > snap.freeCpu[slot]) reasons.push(CPU_R);
    if (r.memory > 0 && r.memory > snap.freeMem[slot]) reasons.push(MEM_R);
    return reasons.length === 0 ? SUCCESS : statusFor(reasons);
  };

  return {
    name: NAME,
    events: ["NodeAdd", "NodeUpdate", "AssignedPodDelete", "AssignedPodUpdate"],
    filter: (_state, pod, node) => check(pod, node),
    filterAll(_state, pod, nodes, count, rejected) {
      const r = pod.req.requests;
      if (r.scalar.size > 0) {
        let k = 0;
        for (let j = 0; j < count; j++) {
          const slot = nodes[j];
          const s = check(pod, snap.nodes[slot]);
          if (s === SUCCESS) nodes[k++] = slot;
          else rejected[slot] = s;
        }
        return k;
      }
      // Requests of 0 never fail: compare them as -Infinity.
      const cpu = r.milliCpu > 0 ? r.milliCpu : -Infinity;
      const mem = r.memory > 0 ? r.memory : -Infinity;
      if (!snap.hasNominations) {
        // Every node has at least this much free: all of them pass.
        const room = snap.minFree();
        if (room.pods >= 1 && cpu <= room.cpu && mem <= room.memory) return count;
      }
      const freeCpu = snap.freeCpu, freeMem = snap.freeMem, freePods = snap.freePods;
      const flags = snap.flags;
      let k = 0;
      for (let j = 0; j < count; j++) {
        const slot = nodes[j];
        // The common case in one test; nominated or short nodes go the slow way.
        if (
          (flags[slot] & FLAG_NOMINATED) === 0 && freePods[slot] >= 1 && cpu <= freeCpu[slot] &&
          mem <= freeMem[slot]
        ) {
          nodes[k++] = slot;
          continue;
        }
        const s = slowFilter(pod, slot);
        if (s === SUCCESS) nodes[k++] = slot;
        else rejected[slot] = s;
      }
      return k;
    },
    score: (_state, pod, node) => scoreNode(pod, node),
    scoreAll(_state, pod, nodes, count, out) {
      if (!fast) {
        for (let j = 0; j < count; j++) out[nodes[j]] = scoreNode(pod, snap.nodes[nodes[j]]);
      } else addUtilizationScores(snap, pod, nodes, count, out, unit, false);
    },
    addScores(_state, pod, nodes, count, total, weight, assign) {
      if (!fast) {
        for (let j = 0; j < count; j++) {
          const v = weight * scoreNode(pod, snap.nodes[nodes[j]]);
          if (assign) total[nodes[j]] = v;
          else total[nodes[j]] += v;
        }
      } else addUtilizationScores(snap, pod, nodes, count, total, term(weight), !assign);
    },
    utilizationScore: (_state, _pod, weight) => fast ? term(weight) : undefined,
  };
}
