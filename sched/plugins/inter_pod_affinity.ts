/**
 * InterPodAffinity: pod affinity and anti-affinity by topology domain.
 * Required terms filter (the incoming pod's affinity and anti-affinity, and
 * the anti-affinity of pods already placed, which is symmetric); preferred
 * terms (the incoming pod's and the placed pods') score.
 *
 * @module
 */
import type { CycleState } from "../scheduler/cycle_state.ts";
import type { NodeInfo } from "../scheduler/node_info.ts";
import { type Handle, MAX_NODE_SCORE, type Plugin } from "../scheduler/plugin.ts";
import { type AffinityTerm, type PodInfo, termMatchesPod } from "../scheduler/pod_info.ts";
import type { Snapshot, TopologyIndex } from "../scheduler/snapshot.ts";
import { SKIP, type Status, status, SUCCESS } from "../scheduler/status.ts";

/** Plugin name. */
export const NAME = "InterPodAffinity";

const AFFINITY: Status = status(
  "UnschedulableAndUnresolvable",
  ["node(s) didn't match pod affinity rules"],
  NAME,
);
const ANTI: Status = status(
  "Unschedulable",
  ["node(s) didn't match pod anti-affinity rules"],
  NAME,
);
const EXISTING: Status = status(
  "Unschedulable",
  ["node(s) didn't satisfy existing pods anti-affinity rules"],
  NAME,
);

/**
 * Whether a term selects a pod (namespace and labels).
 *
 * @param term The compiled term.
 * @param pod The other pod.
 * @returns True when selected.
 *
 * @example Same app
 * ```ts
 * import { makePod } from "../scheduler/builders.ts";
 * import { termMatches } from "./inter_pod_affinity.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * const a = newPodInfo(makePod("a", { labels: { app: "db" }, spec: {
 *   affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [
 *     { labelSelector: { matchLabels: { app: "db" } }, topologyKey: "zone" }] } } } }));
 * termMatches(a.requiredAntiAffinity[0], a); // true
 * ```
 */
export function termMatches(term: AffinityTerm, pod: PodInfo): boolean {
  return termMatchesPod(term, pod);
}

/** Counts of matching pods per domain for one term. */
interface TermCounts {
  readonly term: AffinityTerm;
  readonly topo: TopologyIndex;
  readonly counts: Int32Array;
  total: number;
}

/**
 * One check a node must pass, on the pod counts of its domain for a key.
 * `need`: the node must carry the label and (unless `counts` is absent) its
 * domain must hold a counted pod. Otherwise: a labelled node fails when its
 * domain holds one.
 */
interface Check {
  /** Domain by node slot. */
  readonly dom: Int32Array;
  /** Pods per domain (live counts from the snapshot: read only). */
  readonly counts: Int32Array | undefined;
  /** Affinity (need) or anti-affinity (forbid). */
  readonly need: boolean;
  /** The status of a failure. */
  readonly status: Status;
}

/** What preFilter computes: the checks, in Kubernetes' order (affinity, anti-affinity, existing pods'). */
interface PreFilterState {
  readonly checks: readonly Check[];
}

function countTerm(snap: Snapshot, term: AffinityTerm): TermCounts {
  const { counts, total } = snap.termMatchCounts(term);
  return { term, topo: snap.topology(term.topologyKey), counts, total };
}

/**
 * Computes the filter state: which domains each required term allows or
 * forbids for the pod.
 *
 * @param snap The snapshot.
 * @param pod The incoming pod.
 * @returns The state, or undefined when nothing constrains the pod.
 */
function computePreFilter(snap: Snapshot, pod: PodInfo): PreFilterState | undefined {
  const checks: Check[] = [];
  if (pod.requiredAffinity.length > 0) {
    const affinity = pod.requiredAffinity.map((t) => countTerm(snap, t));
    // The first pod of a group that matches its own terms may go to any labelled node.
    const firstOfGroup = affinity.every((c) => c.total === 0) &&
      pod.requiredAffinity.every((t) => termMatches(t, pod));
    for (const c of affinity) {
      checks.push({
        dom: c.topo.domainOf,
        counts: firstOfGroup ? undefined : c.counts,
        need: true,
        status: AFFINITY,
      });
    }
  }
  for (const t of pod.requiredAntiAffinity) {
    const c = countTerm(snap, t);
    checks.push({ dom: c.topo.domainOf, counts: c.counts, need: false, status: ANTI });
  }
  if (snap.podsWithRequiredAntiAffinity.size > 0) {
    // Replicas share terms: one check per distinct term that selects this pod.
    for (const [t, counts] of snap.antiAffinityCarriers()) {
      if (!termMatches(t, pod)) continue;
      const dom = snap.topology(t.topologyKey).domainOf;
      checks.push({ dom, counts, need: false, status: EXISTING });
    }
  }
  return checks.length === 0 ? undefined : { checks };
}

function filterSlot(s: PreFilterState, slot: number): Status {
  const checks = s.checks;
  for (let i = 0; i < checks.length; i++) {
    const c = checks[i];
    const d = c.dom[slot];
    if (c.need) {
      if (d < 0 || (c.counts !== undefined && c.counts[d] <= 0)) return c.status;
    } else if (d >= 0 && c.counts![d] > 0) return c.status;
  }
  return SUCCESS;
}

/**
 * Whether the pod may go to the node under every required (anti-)affinity
 * term, its own and the placed pods'. A pure helper over the snapshot.
 *
 * @param pod The pod.
 * @param node The node (must be in `snap`).
 * @param snap The snapshot.
 * @returns Success or the failing status.
 *
 * @example Anti-affinity keeps replicas apart
 * ```ts
 * import { makeNode, makePod } from "../scheduler/builders.ts";
 * import { fits } from "./inter_pod_affinity.ts";
 * import { Snapshot } from "../scheduler/snapshot.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * const s = new Snapshot();
 * const n = s.addNode(makeNode("n", { labels: { host: "n" } }));
 * const mk = (name: string) => newPodInfo(makePod(name, { labels: { app: "db" },
 *   spec: { affinity: { podAntiAffinity: {
 *     requiredDuringSchedulingIgnoredDuringExecution: [
 *       { labelSelector: { matchLabels: { app: "db" } }, topologyKey: "host" }] } } } }));
 * s.addPod(mk("a"), "n");
 * fits(mk("b"), n, s).code; // "Unschedulable"
 * ```
 */
export function fits(pod: PodInfo, node: NodeInfo, snap: Snapshot): Status {
  const s = computePreFilter(snap, pod);
  return s ? filterSlot(s, node.index) : SUCCESS;
}

/** What preScore computes: score per domain, by topology key. */
interface PreScoreState {
  readonly byKey: { topo: TopologyIndex; scores: Float64Array }[];
}

function computePreScore(snap: Snapshot, pod: PodInfo, hardWeight: number): PreScoreState {
  const byKey = new Map<string, { topo: TopologyIndex; scores: Float64Array }>();
  const add = (key: string, nodeIndex: number, w: number) => {
    let x = byKey.get(key);
    if (!x) {
      const topo = snap.topology(key);
      x = { topo, scores: new Float64Array(topo.values.length) };
      byKey.set(key, x);
    }
    const d = x.topo.domainOf[nodeIndex];
    if (d >= 0) x.scores[d] += w;
  };
  // The incoming pod's preferences.
  for (
    const [terms, sign] of [[pod.preferredAffinity, 1], [pod.preferredAntiAffinity, -1]] as const
  ) {
    for (const t of terms) {
      for (const other of snap.candidates(t.indexKeys)) {
        if (other.nodeIndex >= 0 && termMatches(t, other)) {
          add(t.topologyKey, other.nodeIndex, sign * t.weight);
        }
      }
    }
  }
  // Placed pods' terms that select the incoming pod (symmetry).
  for (const e of snap.podsWithAffinity) {
    if (e.nodeIndex < 0) continue;
    if (hardWeight > 0) {
      for (const t of e.requiredAffinity) {
        if (termMatches(t, pod)) add(t.topologyKey, e.nodeIndex, hardWeight);
      }
    }
    for (const t of e.preferredAffinity) {
      if (termMatches(t, pod)) add(t.topologyKey, e.nodeIndex, t.weight);
    }
    for (const t of e.preferredAntiAffinity) {
      if (termMatches(t, pod)) add(t.topologyKey, e.nodeIndex, -t.weight);
    }
  }
  return { byKey: [...byKey.values()] };
}

/** Plugin args. */
export interface InterPodAffinityArgs {
  /** Score weight of placed pods' required affinity terms that select the incoming pod. @default 1 */
  hardPodAffinityWeight?: number;
}

/**
 * Builds the plugin.
 *
 * @param args {@linkcode InterPodAffinityArgs}.
 * @param handle Framework handle.
 * @returns The plugin.
 *
 * @example Build
 * ```ts
 * import { factory } from "./inter_pod_affinity.ts";
 * import { Snapshot } from "../scheduler/snapshot.ts";
 * factory({}, { snapshot: new Snapshot() } as never).name; // "InterPodAffinity"
 * ```
 */
export function factory(args: Record<string, unknown>, handle: Handle): Plugin {
  const snap = handle.snapshot;
  const hardWeight = (args as InterPodAffinityArgs).hardPodAffinityWeight ?? 1;
  const SCORE_KEY = `${NAME}/score`;
  const pre = (state: CycleState) => state.read<PreFilterState>(NAME);
  return {
    name: NAME,
    events: ["NodeAdd", "NodeUpdate", "AssignedPodAdd", "AssignedPodUpdate", "AssignedPodDelete"],
    preFilter(state, pod) {
      const s = computePreFilter(snap, pod);
      if (!s) return SKIP;
      state.write(NAME, s);
      return SUCCESS;
    },
    filter(state, _pod, node) {
      const s = pre(state);
      return s ? filterSlot(s, node.index) : SUCCESS;
    },
    filterAll(state, _pod, nodes, count, rejected) {
      const s = pre(state);
      if (!s) return count;
      let k = 0;
      if (s.checks.length === 1 && !s.checks[0].need) {
        const { dom, counts, status } = s.checks[0];
        for (let j = 0; j < count; j++) {
          const slot = nodes[j];
          const d = dom[slot];
          if (d >= 0 && counts![d] > 0) rejected[slot] = status;
          else nodes[k++] = slot;
        }
        return k;
      }
      for (let j = 0; j < count; j++) {
        const slot = nodes[j];
        const r = filterSlot(s, slot);
        if (r === SUCCESS) nodes[k++] = slot;
        else rejected[slot] = r;
      }
      return k;
    },
    preScore(state, pod) {
      const mine = pod.preferredAffinity.length + pod.preferredAntiAffinity.length;
      if (mine === 0 && snap.podsWithAffinity.size === 0) return SKIP;
      const s = computePreScore(snap, pod, hardWeight);
      if (s.byKey.length === 0) return SKIP;
      state.write(SCORE_KEY, s);
      return SUCCESS;
    },
    score(state, pod, node) {
      const s = state.read<PreScoreState>(SCORE_KEY) ?? computePreScore(snap, pod, hardWeight);
      let total = 0;
      for (const x of s.byKey) {
        const d = x.topo.domainOf[node.index];
        if (d >= 0) total += x.scores[d];
      }
      return total;
    },
    scoreAll(state, _pod, nodes, count, out) {
      const s = state.read<PreScoreState>(SCORE_KEY)!;
      for (let j = 0; j < count; j++) out[nodes[j]] = 0;
      for (const x of s.byKey) {
        const dom = x.topo.domainOf;
        for (let j = 0; j < count; j++) {
          const d = dom[nodes[j]];
          if (d >= 0) out[nodes[j]] += x.scores[d];
        }
      }
    },
    normalizeScore(_state, _pod, nodes, count, scores) {
      let min = Infinity, max = -Infinity;
      for (let j = 0; j < count; j++) {
        const v = scores[nodes[j]];
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const diff = max - min;
      for (let j = 0; j < count; j++) {
        const slot = nodes[j];
        scores[slot] = diff > 0 ? MAX_NODE_SCORE * (scores[slot] - min) / diff : 0;
      }
    },
  };
}
