/**
 * DefaultPreemption: when no node fits a pod, find a node where evicting
 * lower-priority pods makes room, choosing the node whose victims matter
 * least (lowest highest priority, then lowest priority sum, then fewest
 * victims), evict them and nominate the node.
 *
 * Victims are chosen on a copy of the node: remove every lower-priority pod,
 * check the pod fits, then give pods back from the most important down while
 * the pod still fits. The affinity and spread plugins' preFilter state is not
 * recomputed for the removed victims (Kubernetes does, through AddPod/RemovePod
 * extensions), so preemption to satisfy anti-affinity or spread is not
 * attempted: nodes rejected for those reasons are not candidates.
 *
 * The scheduler then holds the nominated node's cpu, memory and pod slot for
 * the preemptor (NodeResourcesFit counts nominated pods of equal or higher
 * priority), so lower-priority pods cannot take the room while victims leave.
 *
 * @module
 */
import type { CycleState } from "../scheduler/cycle_state.ts";
import type { NodeInfo } from "../scheduler/node_info.ts";
import type { Diagnosis, Handle, Plugin } from "../scheduler/plugin.ts";
import type { PodInfo } from "../scheduler/pod_info.ts";
import { type Status, status } from "../scheduler/status.ts";

/** Plugin name. */
export const NAME = "DefaultPreemption";

/** A node where preemption would work, with its victims. */
export interface Candidate {
  /** The node. */
  readonly node: NodeInfo;
  /** Pods to evict, most important first. */
  readonly victims: PodInfo[];
}

/** Plugin args. */
export interface DefaultPreemptionArgs {
  /** Stop looking after this share of nodes yielded candidates. @default 10 */
  minCandidateNodesPercentage?: number;
  /** ... or this many candidates, whichever is larger. @default 100 */
  minCandidateNodesAbsolute?: number;
}

const NOT_ELIGIBLE = status("Unschedulable", [
  "preemption: not eligible due to preemptionPolicy=Never",
], NAME);
const NO_VICTIMS = status("Unschedulable", [
  "preemption: no node where evicting lower-priority pods helps",
], NAME);

/**
 * Orders pods by importance: higher priority first, then older first.
 *
 * @param a A pod.
 * @param b Another pod.
 * @returns Negative when `a` is more important.
 *
 * @example Sort
 * ```ts
 * import { makePod } from "../scheduler/builders.ts";
 * import { moreImportant } from "./default_preemption.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * const hi = newPodInfo(makePod("h", { priority: 10 }));
 * const lo = newPodInfo(makePod("l", { priority: 1 }));
 * [lo, hi].sort(moreImportant)[0].key; // "default/h"
 * ```
 */
export function moreImportant(a: PodInfo, b: PodInfo): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  const ta = a.pod.metadata.creationTimestamp ?? "";
  const tb = b.pod.metadata.creationTimestamp ?? "";
  return ta < tb ? -1 : ta > tb ? 1 : 0;
}

/**
 * Chooses the victims on one node: the fewest, least important pods of lower
 * priority whose removal lets the pod fit.
 *
 * @param handle Runs the profile's filters on the simulated node.
 * @param state The pod's cycle state (after preFilter).
 * @param pod The preemptor.
 * @param node The node.
 * @returns The victims, most important first; undefined when evicting every lower-priority pod is not enough.
 */
export function selectVictimsOnNode(
  handle: Pick<Handle, "runFilters">,
  state: CycleState,
  pod: PodInfo,
  node: NodeInfo,
): PodInfo[] | undefined {
  const lower = [...node.pods.values()].filter((p) => p.priority < pod.priority);
  if (lower.length === 0) return undefined;
  const sim = node.clone();
  for (const v of lower) sim.removePod(v);
  if (handle.runFilters(state, pod, sim).code !== "Success") return undefined;
  lower.sort(moreImportant);
  const victims: PodInfo[] = [];
  for (const v of lower) {
    sim.addPod(v);
    if (handle.runFilters(state, pod, sim).code !== "Success") {
      sim.removePod(v);
      victims.push(v);
    }
  }
  return victims;
}

/**
 * Picks the best candidate: lowest highest-victim priority, then lowest sum
 * of victim priorities, then fewest victims, then first found.
 *
 * @param candidates Candidates (non-empty).
 * @returns The chosen one.
 *
 * @example Fewer victims win at equal priority
 * ```ts
 * import { makeNode, makePod } from "../scheduler/builders.ts";
 * import { pickCandidate } from "./default_preemption.ts";
 * import { NodeInfo } from "../scheduler/node_info.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * const v = (n: string) => newPodInfo(makePod(n, { priority: 1 }));
 * const a = { node: new NodeInfo(makeNode("a")), victims: [v("1"), v("2")] };
 * const b = { node: new NodeInfo(makeNode("b")), victims: [v("3")] };
 * pickCandidate([a, b]).node.name; // "b"
 * ```
 */
export function pickCandidate(candidates: readonly Candidate[]): Candidate {
  let best = candidates[0];
  let bk = key(best);
  for (let i = 1; i < candidates.length; i++) {
    const k = key(candidates[i]);
    if (k[0] < bk[0] || (k[0] === bk[0] && (k[1] < bk[1] || (k[1] === bk[1] && k[2] < bk[2])))) {
      best = candidates[i];
      bk = k;
    }
  }
  return best;
}

function key(c: Candidate): [number, number, number] {
  let max = -Infinity;
  let sum = 0;
  for (const v of c.victims) {
    if (v.priority > max) max = v.priority;
    // Offset so that negative priorities still order sums sensibly.
    sum += v.priority + 2 ** 31;
  }
  return [max, sum, c.victims.length];
}

/**
 * Finds the candidate nodes for a pod: nodes whose rejection could be undone
 * by evicting lower-priority pods.
 *
 * @param handle Handle (snapshot and filters).
 * @param state Cycle state.
 * @param pod The preemptor.
 * @param diagnosis Why each node was rejected.
 * @param limit Stop after this many candidates.
 * @returns The candidates.
 */
export function findCandidates(
  handle: Pick<Handle, "runFilters" | "snapshot">,
  state: CycleState,
  pod: PodInfo,
  diagnosis: Diagnosis,
  limit: number,
): Candidate[] {
  const snap = handle.snapshot;
  const out: Candidate[] = [];
  const r = pod.req.requests;
  for (let i = 0; i < snap.count && out.length < limit; i++) {
    const s = diagnosis.rejected[i];
    // Only resource and port conflicts are undone by evictions here.
    if (
      !s || s.code !== "Unschedulable" ||
      (s.plugin !== "NodeResourcesFit" && s.plugin !== "NodePorts")
    ) continue;
    const node = snap.nodes[i];
    // Cheap bound: even evicting every lower-priority pod must free enough cpu and memory.
    let freeCpu = node.allocatable.milliCpu - node.requested.milliCpu;
    let freeMem = node.allocatable.memory - node.requested.memory;
    let freePods = node.allocatable.pods - node.requested.pods;
    for (const p of node.pods.values()) {
      if (p.priority >= pod.priority) continue;
      freeCpu += p.req.requests.milliCpu;
      freeMem += p.req.requests.memory;
      freePods++;
    }
    if (freeCpu < r.milliCpu || freeMem < r.memory || freePods < 1) continue;
    const victims = selectVictimsOnNode(handle, state, pod, node);
    if (victims && victims.length > 0) out.push({ node, victims });
  }
  return out;
}

/**
 * Builds the plugin.
 *
 * @param args {@linkcode DefaultPreemptionArgs}.
 * @param handle Framework handle.
 * @returns The plugin.
 *
 * @example Build
 * ```ts
 * import { factory } from "./default_preemption.ts";
 * import { Snapshot } from "../scheduler/snapshot.ts";
 * factory({}, { snapshot: new Snapshot() } as never).name; // "DefaultPreemption"
 * ```
 */
export function factory(args: Record<string, unknown>, handle: Handle): Plugin {
  const a = args as DefaultPreemptionArgs;
  const pct = a.minCandidateNodesPercentage ?? 10;
  const abs = a.minCandidateNodesAbsolute ?? 100;
  return {
    name: NAME,
    async postFilter(state, pod, diagnosis) {
      if (pod.pod.spec.preemptionPolicy === "Never") return { status: NOT_ELIGIBLE };
      const limit = Math.max(abs, Math.ceil(handle.snapshot.count * pct / 100));
      const candidates = findCandidates(handle, state, pod, diagnosis, limit);
      if (candidates.length === 0) return { status: NO_VICTIMS };
      const best = pickCandidate(candidates);
      const failures: Status[] = [];
      for (const v of best.victims) {
        try {
          await handle.client.deletePod(v.pod);
          await handle.client.recordEvent({
            pod: v.pod,
            type: "Normal",
            reason: "Preempted",
            message: `Preempted by pod ${pod.key} on node ${best.node.name}`,
          });
        } catch (e) {
          failures.push(
            status("Error", [`preemption: evicting ${v.key}: ${(e as Error).message}`], NAME),
          );
        }
      }
      if (failures.length > 0) return { status: failures[0] };
      return {
        status: status("Success", [], NAME),
        nominatedNodeName: best.node.name,
        victims: best.victims,
      };
    },
  };
}
