/**
 * NodeAffinity: `spec.nodeSelector` and required node affinity filter nodes;
 * preferred node affinity scores them by the weights of the terms they match.
 *
 * @module
 */
import type { CycleState } from "../scheduler/cycle_state.ts";
import type { NodeInfo } from "../scheduler/node_info.ts";
import { type Handle, MAX_NODE_SCORE, type Plugin } from "../scheduler/plugin.ts";
import type { PodInfo } from "../scheduler/pod_info.ts";
import {
  compileNodeSelectorTerm,
  compileNodeSelectorTerms,
  type NodeMatcher,
} from "../scheduler/selectors.ts";
import { SKIP, type Status, status, SUCCESS } from "../scheduler/status.ts";
import type { Node } from "../scheduler/types.ts";

/** Plugin name. */
export const NAME = "NodeAffinity";

const REJECT: Status = status(
  "UnschedulableAndUnresolvable",
  ["node(s) didn't match Pod's node affinity/selector"],
  NAME,
);

/**
 * Compiles the pod's hard node constraints (nodeSelector and required node
 * affinity) into one predicate.
 *
 * @param pod The pod.
 * @returns The predicate, or undefined when the pod has no constraint.
 *
 * @example A node selector
 * ```ts
 * import { makeNode, makePod } from "../scheduler/builders.ts";
 * import { requiredNodeMatcher } from "./node_affinity.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * const m = requiredNodeMatcher(newPodInfo(makePod("p", { spec: { nodeSelector: { disk: "ssd" } } })));
 * m?.(makeNode("n", { labels: { disk: "ssd" } })); // true
 * ```
 */
export function requiredNodeMatcher(pod: PodInfo): NodeMatcher | undefined {
  const sel = Object.entries(pod.pod.spec.nodeSelector ?? {});
  const terms = pod.pod.spec.affinity?.nodeAffinity
    ?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (sel.length === 0 && !terms) return undefined;
  const req = terms ? compileNodeSelectorTerms(terms) : undefined;
  return (n: Node) => {
    const labels = n.metadata.labels;
    for (let i = 0; i < sel.length; i++) if (labels?.[sel[i][0]] !== sel[i][1]) return false;
    return req ? req(n) : true;
  };
}

/**
 * Whether the node satisfies the pod's nodeSelector and required node affinity.
 *
 * @param pod The pod.
 * @param node The node.
 * @returns True when it does.
 *
 * @example Wrong zone
 * ```ts
 * import { makeNode, makePod } from "../scheduler/builders.ts";
 * import { fits } from "./node_affinity.ts";
 * import { NodeInfo } from "../scheduler/node_info.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * const pod = newPodInfo(makePod("p", { spec: { nodeSelector: { zone: "a" } } }));
 * fits(pod, new NodeInfo(makeNode("n", { labels: { zone: "b" } }))); // false
 * ```
 */
export function fits(pod: PodInfo, node: NodeInfo): boolean {
  const m = requiredNodeMatcher(pod);
  return !m || m(node.node);
}

interface PreState {
  required?: NodeMatcher;
  preferred: { weight: number; match: NodeMatcher }[];
}

function preState(state: CycleState, pod: PodInfo): PreState {
  let s = state.read<PreState>(NAME);
  if (!s) {
    const pref = pod.pod.spec.affinity?.nodeAffinity
      ?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    s = {
      required: requiredNodeMatcher(pod),
      preferred: pref.filter((p) => p.weight !== 0).map((p) => ({
        weight: p.weight,
        match: compileNodeSelectorTerm(p.preference),
      })),
    };
    state.write(NAME, s);
  }
  return s;
}

/**
 * The sum of the weights of the pod's preferred terms that the node matches.
 *
 * @param pod The pod.
 * @param node The node.
 * @returns The raw score.
 *
 * @example Preferred zone
 * ```ts
 * import { makeNode, makePod } from "../scheduler/builders.ts";
 * import { preferredScore } from "./node_affinity.ts";
 * import { NodeInfo } from "../scheduler/node_info.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * const pod = newPodInfo(makePod("p", { spec: { affinity: {
 *   nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 5,
 *     preference: { matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] } }] },
 * } } }));
 * preferredScore(pod, new NodeInfo(makeNode("n", { labels: { zone: "a" } }))); // 5
 * ```
 */
export function preferredScore(pod: PodInfo, node: NodeInfo): number {
  const pref = pod.pod.spec.affinity?.nodeAffinity
    ?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
  let s = 0;
  for (const p of pref) if (compileNodeSelectorTerm(p.preference)(node.node)) s += p.weight;
  return s;
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
 * import { factory } from "./node_affinity.ts";
 * import { Snapshot } from "../scheduler/snapshot.ts";
 * factory({}, { snapshot: new Snapshot() } as never).name; // "NodeAffinity"
 * ```
 */
export function factory(_args: Record<string, unknown>, handle: Handle): Plugin {
  const snap = handle.snapshot;
  return {
    name: NAME,
    events: ["NodeAdd", "NodeUpdate"],
    preFilter: (state, pod) => preState(state, pod).required ? SUCCESS : SKIP,
    filter(state, pod, node) {
      const m = preState(state, pod).required;
      return !m || m(node.node) ? SUCCESS : REJECT;
    },
    filterAll(state, pod, nodes, count, rejected) {
      const m = preState(state, pod).required;
      if (!m) return count;
      let k = 0;
      for (let j = 0; j < count; j++) {
        const slot = nodes[j];
        if (m(snap.nodes[slot].node)) nodes[k++] = slot;
        else rejected[slot] = REJECT;
      }
      return k;
    },
    preScore: (state, pod) => preState(state, pod).preferred.length > 0 ? SUCCESS : SKIP,
    score(state, pod, node) {
      let s = 0;
      for (const p of preState(state, pod).preferred) if (p.match(node.node)) s += p.weight;
      return s;
    },
    scoreAll(state, pod, nodes, count, out) {
      const pref = preState(state, pod).preferred;
      for (let j = 0; j < count; j++) {
        const n = snap.nodes[nodes[j]].node;
        let s = 0;
        for (let i = 0; i < pref.length; i++) if (pref[i].match(n)) s += pref[i].weight;
        out[nodes[j]] = s;
      }
    },
    normalizeScore(_state, _pod, nodes, count, scores) {
      let max = 0;
      for (let j = 0; j < count; j++) max = Math.max(max, scores[nodes[j]]);
      if (max === 0) return;
      for (let j = 0; j < count; j++) scores[nodes[j]] = MAX_NODE_SCORE * scores[nodes[j]] / max;
    },
  };
}
