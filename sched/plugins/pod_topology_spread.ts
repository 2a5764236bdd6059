/**
 * PodTopologySpread: keeps matching pods evenly spread over topology domains
 * (zones, hosts). A DoNotSchedule constraint filters out domains whose count
 * would exceed the global minimum by more than maxSkew; ScheduleAnyway
 * constraints score domains with fewer matching pods higher.
 *
 * Only domains of nodes that pass the pod's node selector and required node
 * affinity count (Kubernetes' nodeAffinityPolicy: Honor). Pods without
 * constraints that a controller owns (a ReplicaSet's replicas) get the
 * system default constraints, counted over that controller's pods.
 *
 * @module
 */
import type { CycleState } from "../scheduler/cycle_state.ts";
import type { NodeInfo } from "../scheduler/node_info.ts";
import { type Handle, MAX_NODE_SCORE, type Plugin } from "../scheduler/plugin.ts";
import { ownerIndexKey, type PodInfo } from "../scheduler/pod_info.ts";
import {
  compileLabelSelector,
  type LabelMatcher,
  selectorIndexKeys,
} from "../scheduler/selectors.ts";
import type { Snapshot, TopologyIndex } from "../scheduler/snapshot.ts";
import { SchedulerConfigError } from "../scheduler/registry.ts";
import { SKIP, type Status, status, SUCCESS } from "../scheduler/status.ts";
import type { TopologySpreadConstraint } from "../scheduler/types.ts";
import { requiredNodeMatcher } from "./node_affinity.ts";

/** Plugin name. */
export const NAME = "PodTopologySpread";

const SKEW: Status = status(
  "Unschedulable",
  ["node(s) didn't match pod topology spread constraints"],
  NAME,
);
const MISSING: Status = status(
  "UnschedulableAndUnresolvable",
  ["node(s) didn't match pod topology spread constraints (missing required label)"],
  NAME,
);

/** A constraint with its counts per domain. */
interface Counted {
  readonly maxSkew: number;
  readonly minDomains: number;
  readonly topo: TopologyIndex;
  /** Matching pods per domain. */
  readonly counts: Int32Array;
  /** Domains that contain at least one eligible node. */
  readonly eligible: Uint8Array;
  /** 1 when the incoming pod matches its own selector. */
  readonly self: number;
  /** Smallest count over eligible domains (0 with fewer than minDomains domains). */
  readonly min: number;
  /** Number of eligible domains. */
  readonly domains: number;
  /** 1 for the domains a new matching pod may join without exceeding maxSkew. */
  readonly allowed: Uint8Array;
}

/**
 * The skew a node's domain would have with the pod added: the domain's count
 * (plus one when the pod matches itself) minus the global minimum.
 *
 * @param domainCount Matching pods in the node's domain.
 * @param selfMatch 1 when the pod matches the selector, else 0.
 * @param globalMin Smallest count among eligible domains.
 * @returns The skew; the node fits when it is at most maxSkew.
 *
 * @example Balanced
 * ```ts
 * import { skew } from "./pod_topology_spread.ts";
 * skew(3, 1, 3); // 1
 * ```
 */
export function skew(domainCount: number, selfMatch: number, globalMin: number): number {
  return domainCount + selfMatch - globalMin;
}

/** Which pods a constraint counts: a matcher and the index keys every match carries. */
interface Selection {
  readonly matches: (other: PodInfo) => boolean;
  readonly indexKeys: readonly string[];
}

function labelSelection(c: TopologySpreadConstraint, pod: PodInfo): Selection {
  const match: LabelMatcher = compileLabelSelector(c.labelSelector);
  return {
    matches: (o) => o.namespace === pod.namespace && match(o.labels),
    indexKeys: selectorIndexKeys(c.labelSelector),
  };
}

function count(
  snap: Snapshot,
  pod: PodInfo,
  c: TopologySpreadConstraint,
  nodeOk: Uint8Array | undefined,
  allKeys: readonly string[],
  sel: Selection = labelSelection(c, pod),
): Counted {
  const topo = snap.topology(c.topologyKey);
  const nd = topo.values.length;
  const eligible = new Uint8Array(nd);
  if (!nodeOk) eligible.fill(1); // every domain has a node, and every node is eligible
  else {
    for (let i = 0; i < snap.count; i++) {
      if (!nodeOk[i]) continue;
      const d = topo.domainOf[i];
      if (d >= 0) eligible[d] = 1;
    }
  }
  const counts = new Int32Array(nd);
  for (const other of snap.candidates(sel.indexKeys)) {
    const n = other.nodeIndex;
    if (n < 0 || (nodeOk && !nodeOk[n])) continue;
    if (!sel.matches(other)) continue;
    if (allKeys.length > 1 && !allKeys.every((k) => snap.nodes[n].labels[k] !== undefined)) {
      continue;
    }
    const d = topo.domainOf[n];
    if (d >= 0) counts[d]++;
  }
  let min = Infinity;
  let domains = 0;
  for (let d = 0; d < nd; d++) {
    if (!eligible[d]) continue;
    domains++;
    if (counts[d] < min) min = counts[d];
  }
  const minDomains = c.minDomains ?? 1;
  if (domains < minDomains || min === Infinity) min = 0;
  const self = sel.matches(pod) ? 1 : 0;
  const allowed = new Uint8Array(nd);
  for (let d = 0; d < nd; d++) allowed[d] = skew(counts[d], self, min) <= c.maxSkew ? 1 : 0;
  return { maxSkew: c.maxSkew, minDomains, topo, counts, eligible, allowed, self, min, domains };
}

/** Nodes passing the pod's node selector and required affinity; undefined: all. */
function nodeFilterMask(snap: Snapshot, pod: PodInfo): Uint8Array | undefined {
  const m = requiredNodeMatcher(pod);
  if (!m) return undefined;
  const ok = new Uint8Array(snap.capacity);
  for (let i = 0; i < snap.count; i++) ok[i] = m(snap.nodes[i].node) ? 1 : 0;
  return ok;
}

function compute(
  snap: Snapshot,
  pod: PodInfo,
  mode: TopologySpreadConstraint["whenUnsatisfiable"],
  defaults: readonly TopologySpreadConstraint[] = [],
): Counted[] {
  const own = pod.pod.spec.topologySpreadConstraints ?? [];
  if (own.length === 0 && pod.ownerUid && defaults.length > 0) {
    // Default constraints spread the pods of one controller (ReplicaSet, ...).
    const cs = defaults.filter((c) => c.whenUnsatisfiable === mode);
    if (cs.length === 0) return [];
    const owner = pod.ownerUid;
    const sel: Selection = {
      matches: (o) => o.ownerUid === owner,
      indexKeys: [ownerIndexKey(owner)],
    };
    const ok = nodeFilterMask(snap, pod);
    return cs.map((c) => count(snap, pod, c, ok, [c.topologyKey], sel));
  }
  const cs = own.filter((c) => c.whenUnsatisfiable === mode);
  if (cs.length === 0) return [];
  const ok = nodeFilterMask(snap, pod);
  const keys = cs.map((c) => c.topologyKey);
  return cs.map((c) => count(snap, pod, c, ok, keys));
}

/**
 * Kubernetes' system default constraints: spread a controller's pods over
 * hosts (maxSkew 3) and zones (maxSkew 5), as a preference.
 */
export const SYSTEM_DEFAULT_CONSTRAINTS: readonly TopologySpreadConstraint[] = Object.freeze([
  { maxSkew: 3, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway" },
  { maxSkew: 5, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway" },
]);

/** Plugin args. */
export interface PodTopologySpreadArgs {
  /** `System` (the defaults above) or `List` (`defaultConstraints`). @default "System" */
  defaultingType?: "System" | "List";
  /** Constraints for pods that have none, with `defaultingType: List` (no labelSelector: they count the pod's controller's pods). */
  defaultConstraints?: TopologySpreadConstraint[];
}

function filterSlot(cs: readonly Counted[], slot: number): Status {
  for (const c of cs) {
    const d = c.topo.domainOf[slot];
    if (d < 0) return MISSING;
    if (!c.allowed[d]) return SKEW;
  }
  return SUCCESS;
}

/**
 * Whether the pod may go to the node under its DoNotSchedule constraints.
 *
 * @param pod The pod.
 * @param node The node (in `snap`).
 * @param snap The snapshot.
 * @returns Success or the failing status.
 *
 * @example Zone spread
 * ```ts
 * import { makeNode, makePod } from "../scheduler/builders.ts";
 * import { fits } from "./pod_topology_spread.ts";
 * import { Snapshot } from "../scheduler/snapshot.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * const s = new Snapshot();
 * const a = s.addNode(makeNode("a", { labels: { zone: "a" } }));
 * s.addNode(makeNode("b", { labels: { zone: "b" } }));
 * const mk = (name: string) => newPodInfo(makePod(name, { labels: { app: "w" },
 *   spec: { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "zone",
 *     whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: "w" } } }] } }));
 * s.addPod(mk("p1"), "a");
 * fits(mk("p2"), a, s).code; // "Unschedulable"
 * ```
 */
export function fits(pod: PodInfo, node: NodeInfo, snap: Snapshot): Status {
  return filterSlot(compute(snap, pod, "DoNotSchedule"), node.index);
}

/**
 * Builds the plugin.
 *
 * @param args {@linkcode PodTopologySpreadArgs}.
 * @param handle Framework handle.
 * @returns The plugin.
 *
 * @example Build
 * ```ts
 * import { factory } from "./pod_topology_spread.ts";
 * import { Snapshot } from "../scheduler/snapshot.ts";
 * factory({}, { snapshot: new Snapshot() } as never).name; // "PodTopologySpread"
 * ```
 */
export function factory(args: Record<string, unknown>, handle: Handle): Plugin {
  const snap = handle.snapshot;
  const a = args as PodTopologySpreadArgs;
  const type = a.defaultingType ?? "System";
  if (type !== "System" && type !== "List") {
    throw new SchedulerConfigError(
      `${NAME}.args.defaultingType: expected System or List, got ${JSON.stringify(type)}`,
    );
  }
  const defaults = type === "System" ? SYSTEM_DEFAULT_CONSTRAINTS : a.defaultConstraints ?? [];
  for (const [i, c] of defaults.entries()) {
    if (c.labelSelector) {
      throw new SchedulerConfigError(
        `${NAME}.args.defaultConstraints[${i}].labelSelector: must be empty (defaults count the pod's controller's pods)`,
      );
    }
  }
  const SCORE_KEY = `${NAME}/score`;
  const pre = (state: CycleState) => state.read<Counted[]>(NAME) ?? [];
  return {
    name: NAME,
    events: ["NodeAdd", "NodeUpdate", "AssignedPodAdd", "AssignedPodUpdate", "AssignedPodDelete"],
    preFilter(state, pod) {
      const cs = compute(snap, pod, "DoNotSchedule", defaults);
      if (cs.length === 0) return SKIP;
      state.write(NAME, cs);
      return SUCCESS;
    },
    filter: (state, _pod, node) => filterSlot(pre(state), node.index),
    filterAll(state, _pod, nodes, n, rejected) {
      const cs = pre(state);
      let k = 0;
      if (cs.length === 1) {
        const dom = cs[0].topo.domainOf, allowed = cs[0].allowed;
        for (let j = 0; j < n; j++) {
          const slot = nodes[j];
          const d = dom[slot];
          if (d >= 0 && allowed[d]) nodes[k++] = slot;
          else rejected[slot] = d < 0 ? MISSING : SKEW;
        }
        return k;
      }
      for (let j = 0; j < n; j++) {
        const slot = nodes[j];
        const r = filterSlot(cs, slot);
        if (r === SUCCESS) nodes[k++] = slot;
        else rejected[slot] = r;
      }
      return k;
    },
    preScore(state, pod) {
      const cs = compute(snap, pod, "ScheduleAnyway", defaults);
      if (cs.length === 0) return SKIP;
      state.write(SCORE_KEY, cs);
      return SUCCESS;
    },
    score(state, _pod, node) {
      return rawScore(state.read<Counted[]>(SCORE_KEY) ?? [], node.index);
    },
    scoreAll(state, _pod, nodes, n, out) {
      const cs = state.read<Counted[]>(SCORE_KEY) ?? [];
      for (let j = 0; j < n; j++) out[nodes[j]] = rawScore(cs, nodes[j]);
    },
    normalizeScore(_state, _pod, nodes, n, scores) {
      // Fewer matching pods is better: invert, as Kubernetes does.
      let min = Infinity, max = 0;
      for (let j = 0; j < n; j++) {
        const v = scores[nodes[j]];
        if (v < 0) continue; // missing label: scored 0 below
        if (v < min) min = v;
        if (v > max) max = v;
      }
      for (let j = 0; j < n; j++) {
        const slot = nodes[j];
        const v = scores[slot];
        if (v < 0) scores[slot] = 0;
        else scores[slot] = max === 0 ? MAX_NODE_SCORE : MAX_NODE_SCORE * (max + min - v) / max;
      }
    },
  };
}

/** Weighted count of matching pods in the node's domains; -1 when a label is missing. */
function rawScore(cs: readonly Counted[], slot: number): number {
  let s = 0;
  for (const c of cs) {
    const d = c.topo.domainOf[slot];
    if (d < 0) return -1;
    // Constraints with more domains weigh more, as in Kubernetes (log(n + 2)).
    s += (c.counts[d] + c.maxSkew - 1) * Math.log(c.domains + 2);
  }
  return s;
}
