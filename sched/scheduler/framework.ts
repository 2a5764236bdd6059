/**
 * A profile's plugins, instantiated, and the code that runs them at each
 * extension point. The filter and score loops use the plugins' bulk forms
 * over reused typed arrays, so a cycle over 5,000 nodes allocates nothing per
 * node.
 *
 * @module
 */
import { CycleState } from "./cycle_state.ts";
import type { NodeInfo } from "./node_info.ts";
import type { Diagnosis, Handle, Plugin, PostFilterResult } from "./plugin.ts";
import type { PodInfo } from "./pod_info.ts";
import {
  DEFAULT_PLUGINS,
  EXTENSION_POINTS,
  type ExtensionPoint,
  type ProfileConfig,
} from "./profile.ts";
import { type Registry, SchedulerConfigError } from "./registry.ts";
import type { Snapshot } from "./snapshot.ts";
import { errorStatus, SKIP, type Status, status, SUCCESS } from "./status.ts";
import type { SchedulerClient } from "./client.ts";
import {
  canSelectByUtilization,
  selectByUtilization,
  type UtilizationScore,
} from "./utilization.ts";

const METHODS: Record<ExtensionPoint, keyof Plugin> = {
  preFilter: "preFilter",
  filter: "filter",
  postFilter: "postFilter",
  preScore: "preScore",
  score: "score",
  reserve: "reserve",
  bind: "bind",
};

/** Options for {@linkcode Framework}. */
export interface FrameworkOptions {
  /** Seed of the tie-breaking random generator. @default 1 */
  seed?: number;
}

/**
 * The plugins of one profile and the runner of its extension points.
 *
 * @example Build the default profile
 * ```ts
 * import { Framework } from "./framework.ts";
 * import { Snapshot } from "./snapshot.ts";
 * import { MemoryClient } from "./client.ts";
 * import { inTreeRegistry } from "../plugins/registry.ts";
 * const fw = new Framework(
 *   { schedulerName: "default-scheduler" },
 *   inTreeRegistry(),
 *   { snapshot: new Snapshot(), client: new MemoryClient() },
 * );
 * fw.pluginsAt("filter").length > 0; // true
 * ```
 */
export class Framework {
  /** The profile's scheduler name. */
  readonly schedulerName: string;
  /** Plugins by name. */
  readonly plugins: ReadonlyMap<string, Plugin>;
  /** The snapshot plugins read. */
  readonly snapshot: Snapshot;

  #points: Record<ExtensionPoint, Plugin[]>;
  #weights: Float64Array;
  #nodes = new Int32Array(0);
  /** 0, 1, 2, ...: copied (memcpy) into #nodes at the start of each cycle. */
  #identity = new Int32Array(0);
  #ties = new Int32Array(0);
  #rejected: (Status | undefined)[] = [];
  #scratch = new Float64Array(0);
  #total = new Float64Array(0);
  #rng: number;

  /**
   * Creates it.
   *
   * @param profile The profile configuration.
   * @param registry Factories to build plugins from.
   * @param deps The snapshot and the client.
   * @param options Seed.
   * @throws {SchedulerConfigError} On an unknown plugin or one enabled at a point it does not implement.
   */
  constructor(
    profile: ProfileConfig,
    registry: Registry,
    deps: { snapshot: Snapshot; client: SchedulerClient },
    options: FrameworkOptions = {},
  ) {
    this.schedulerName = profile.schedulerName;
    this.snapshot = deps.snapshot;
    this.#rng = (options.seed ?? 1) | 0 || 1;
    const cfg = profile.plugins ?? {};
    const field = `profile ${profile.schedulerName}: plugins`;
    // multiPoint: the defaults, then the profile's changes.
    const multi: { name: string; weight?: number }[] = [];
    const mpDisabled = new Set((cfg.multiPoint?.disabled ?? []).map((r) => r.name));
    if (!mpDisabled.has("*")) {
      for (const d of DEFAULT_PLUGINS) if (!mpDisabled.has(d.name)) multi.push({ ...d });
    }
    for (const r of cfg.multiPoint?.enabled ?? []) {
      const i = multi.findIndex((m) => m.name === r.name);
      if (i >= 0) multi[i] = { ...multi[i], ...r };
      else multi.push(r);
    }
    const args = new Map((profile.pluginConfig ?? []).map((c) => [c.name, c.args ?? {}]));
    const handle: Handle = {
      snapshot: deps.snapshot,
      client: deps.client,
      runFilters: (state, pod, node) => this.runFilters(state, pod, node),
      runPreFilters: (state, pod) => this.runPreFilters(state, pod),
    };
    const plugins = new Map<string, Plugin>();
    const instance = (name: string): Plugin => {
      let p = plugins.get(name);
      if (!p) {
        p = registry.get(name)(args.get(name) ?? {}, handle);
        plugins.set(name, p);
      }
      return p;
    };
    const weightOf = new Map<string, number>();
    for (const m of multi) if (m.weight !== undefined) weightOf.set(m.name, m.weight);
    const points = {} as Record<ExtensionPoint, Plugin[]>;
    for (const point of EXTENSION_POINTS) {
      const set = cfg[point];
      const disabled = new Set((set?.disabled ?? []).map((r) => r.name));
      const list: Plugin[] = [];
      if (!disabled.has("*")) {
        for (const m of multi) {
          if (disabled.has(m.name)) continue;
          const p = instance(m.name);
          if (typeof p[METHODS[point]] === "function") list.push(p);
        }
      }
      for (const r of set?.enabled ?? []) {
        const p = instance(r.name);
        if (typeof p[METHODS[point]] !== "function") {
          throw new SchedulerConfigError(
            `${field}.${point}.enabled: plugin ${r.name} does not implement ${point}`,
          );
        }
        if (!list.includes(p)) list.push(p);
        if (point === "score" && r.weight !== undefined) weightOf.set(r.name, r.weight);
      }
      points[point] = list;
    }
    for (const name of args.keys()) {
      if (!plugins.has(name)) {
        throw new SchedulerConfigError(
          `profile ${profile.schedulerName}: pluginConfig: plugin ${name} is not enabled`,
        );
      }
    }
    this.plugins = plugins;
    this.#points = points;
    this.#weights = new Float64Array(points.score.map((p) => weightOf.get(p.name) ?? 1));
  }

  /**
   * Plugins enabled at an extension point, in order.
   *
   * @param point The extension point.
   * @returns The plugins.
   */
  pluginsAt(point: ExtensionPoint): readonly Plugin[] {
    return this.#points[point];
  }

  /**
   * The weight of a score plugin.
   *
   * @param name Plugin name.
   * @returns Its weight, or 0 when it does not score.
   */
  weightOf(name: string): number {
    const i = this.#points.score.findIndex((p) => p.name === name);
    return i < 0 ? 0 : this.#weights[i];
  }

  #ensure(capacity: number): void {
    if (this.#nodes.length >= capacity) return;
    this.#nodes = new Int32Array(capacity);
    this.#identity = Int32Array.from({ length: capacity }, (_, i) => i);
    this.#scratch = new Float64Array(capacity);
    this.#total = new Float64Array(capacity);
    this.#rejected.length = capacity;
  }

  /**
   * Runs preFilter plugins; one returning Skip has its filter skipped.
   *
   * @param state Cycle state.
   * @param pod The pod.
   * @returns The first failure, or Success.
   */
  runPreFilters(state: CycleState, pod: PodInfo): Status {
    for (const p of this.#points.preFilter) {
      let s: Status;
      try {
        s = p.preFilter!(state, pod);
      } catch (e) {
        return errorStatus(p.name, e);
      }
      if (s.code === "Skip") state.skipFilter.add(p.name);
      else if (s.code !== "Success") return s.plugin ? s : { ...s, plugin: p.name };
    }
    return SUCCESS;
  }

  /**
   * Runs every filter plugin on one node (the per-node contract; preemption
   * and tests use it).
   *
   * @param state Cycle state (after preFilter).
   * @param pod The pod.
   * @param node The node.
   * @returns The first failure, or Success.
   */
  runFilters(state: CycleState, pod: PodInfo, node: NodeInfo): Status {
    for (const p of this.#points.filter) {
      if (state.skipFilter.has(p.name)) continue;
      let s: Status;
      try {
        s = p.filter!(state, pod, node);
      } catch (e) {
        return errorStatus(p.name, e);
      }
      if (s.code !== "Success" && s.code !== "Skip") return s.plugin ? s : { ...s, plugin: p.name };
    }
    return SUCCESS;
  }

  /**
   * Filters every node of the snapshot.
   *
   * @param state Cycle state (after preFilter).
   * @param pod The pod.
   * @returns The feasible slots (a view valid until the next cycle) and the diagnosis.
   */
  findFeasible(state: CycleState, pod: PodInfo): { nodes: Int32Array; diagnosis: Diagnosis } {
    const snap = this.snapshot;
    const total = snap.count;
    this.#ensure(snap.capacity);
    const nodes = this.#nodes;
    const rejected = this.#rejected;
    nodes.set(this.#identity.subarray(0, total));
    let n = total;
    for (const p of this.#points.filter) {
      if (n === 0) break;
      if (state.skipFilter.has(p.name)) continue;
      try {
        if (p.filterAll) {
          n = p.filterAll(state, pod, nodes, n, rejected);
        } else {
          let k = 0;
          for (let j = 0; j < n; j++) {
            const slot = nodes[j];
            const s = p.filter!(state, pod, snap.nodes[slot]);
            if (s.code === "Success" || s.code === "Skip") nodes[k++] = slot;
            else rejected[slot] = s.plugin ? s : { ...s, plugin: p.name };
          }
          n = k;
        }
      } catch (e) {
        const err = errorStatus(p.name, e);
        for (let j = 0; j < n; j++) rejected[nodes[j]] = err;
        n = 0;
      }
    }
    return { nodes: nodes.subarray(0, n), diagnosis: { rejected, nodeCount: total } };
  }

  #runPreScores(state: CycleState, pod: PodInfo, nodes: Int32Array): void {
    for (const p of this.#points.preScore) {
      const s = p.preScore!(state, pod, nodes, nodes.length);
      if (s.code === "Skip") state.skipScore.add(p.name);
    }
  }

  /**
   * Runs preScore and score plugins over the feasible nodes and sums the
   * weighted, normalized scores.
   *
   * @param state Cycle state.
   * @param pod The pod.
   * @param nodes Feasible slots.
   * @returns Total score by slot (a reused buffer, valid for `nodes` until the next cycle).
   */
  prioritize(state: CycleState, pod: PodInfo, nodes: Int32Array): Float64Array {
    const n = nodes.length;
    const total = this.#total;
    if (n <= 1) {
      // One candidate: scores cannot change the choice.
      for (let j = 0; j < n; j++) total[nodes[j]] = 0;
      return total;
    }
    this.#runPreScores(state, pod, nodes);
    return this.#score(state, pod, nodes);
  }

  #score(state: CycleState, pod: PodInfo, nodes: Int32Array): Float64Array {
    const n = nodes.length;
    const total = this.#total;
    const scratch = this.#scratch;
    const score = this.#points.score;
    // The first plugin to score writes the totals, the others add: no clearing pass.
    let first = true;
    for (let k = 0; k < score.length; k++) {
      const p = score[k];
      const w = this.#weights[k];
      if (w === 0 || state.skipScore.has(p.name)) continue;
      if (p.addScores && !p.normalizeScore) {
        p.addScores(state, pod, nodes, n, total, w, first);
        first = false;
        continue;
      }
      if (p.scoreAll) p.scoreAll(state, pod, nodes, n, scratch);
      else {
        const snap = this.snapshot;
        for (let j = 0; j < n; j++) scratch[nodes[j]] = p.score!(state, pod, snap.nodes[nodes[j]]);
      }
      p.normalizeScore?.(state, pod, nodes, n, scratch);
      if (first) {
        for (let j = 0; j < n; j++) total[nodes[j]] = w * scratch[nodes[j]];
        first = false;
      } else {
        for (let j = 0; j < n; j++) total[nodes[j]] += w * scratch[nodes[j]];
      }
    }
    if (first) { for (let j = 0; j < n; j++) total[nodes[j]] = 0; }
    return total;
  }

  /**
   * The utilization scores of the score plugins that run for this pod, when
   * every one of them has one and they can be summed in one pass.
   */
  #utilizationTerms(state: CycleState, pod: PodInfo): UtilizationScore[] | undefined {
    const score = this.#points.score;
    const terms: UtilizationScore[] = [];
    for (let k = 0; k < score.length; k++) {
      const p = score[k];
      const w = this.#weights[k];
      if (w === 0 || state.skipScore.has(p.name)) continue;
      const t = p.normalizeScore ? undefined : p.utilizationScore?.(state, pod, w);
      if (!t) return undefined;
      terms.push(t);
    }
    return canSelectByUtilization(terms) ? terms : undefined;
  }

  /**
   * Scores the feasible nodes and picks the best: {@linkcode Framework.prioritize}
   * then {@linkcode Framework.selectHost}, except that when every score plugin
   * that runs for the pod scores by utilization (plain pods under the
   * default profile) they are summed and the best node found in one pass over
   * the nodes, with the same totals and the same choice.
   *
   * @param state Cycle state.
   * @param pod The pod.
   * @param nodes Feasible slots (non-empty).
   * @returns The chosen slot and its total score.
   */
  scoreAndSelect(
    state: CycleState,
    pod: PodInfo,
    nodes: Int32Array,
  ): { slot: number; score: number } {
    if (nodes.length <= 1) {
      const scores = this.prioritize(state, pod, nodes);
      const slot = this.selectHost(nodes, scores);
      return { slot, score: scores[slot] };
    }
    this.#runPreScores(state, pod, nodes);
    const terms = this.#utilizationTerms(state, pod);
    if (!terms) {
      const scores = this.#score(state, pod, nodes);
      const slot = this.selectHost(nodes, scores);
      return { slot, score: scores[slot] };
    }
    const ties = this.#tiesFor(nodes.length);
    const { count, best } = selectByUtilization(this.snapshot, pod, nodes, terms, ties);
    return { slot: this.#draw(ties, count), score: best };
  }

  #tiesFor(n: number): Int32Array {
    return this.#ties.length >= n ? this.#ties : (this.#ties = new Int32Array(n));
  }

  /**
   * Picks the highest-scoring node, breaking ties uniformly at random (as
   * kube-scheduler does).
   *
   * @param nodes Feasible slots (non-empty).
   * @param scores Total score by slot.
   * @returns The chosen slot.
   */
  selectHost(nodes: Int32Array, scores: Float64Array): number {
    // Collect the slots tied for the best score, then draw one: a single
    // random draw per cycle (reservoir sampling draws one per tie).
    const ties = this.#tiesFor(nodes.length);
    let bestScore = -Infinity;
    let n = 0;
    for (let j = 0; j < nodes.length; j++) {
      const slot = nodes[j];
      const s = scores[slot];
      if (s > bestScore) {
        bestScore = s;
        ties[0] = slot;
        n = 1;
      } else if (s === bestScore) {
        ties[n++] = slot;
      }
    }
    return this.#draw(ties, n);
  }

  #draw(ties: Int32Array, n: number): number {
    if (n === 1) return ties[0];
    // xorshift32: cheap and seedable, so runs are reproducible.
    let x = this.#rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#rng = x | 0 || 1;
    return ties[(x >>> 0) % n];
  }

  /**
   * Runs postFilter plugins until one succeeds.
   *
   * @param state Cycle state.
   * @param pod The pod.
   * @param diagnosis Why filtering failed.
   * @returns The first successful result, or the last failure.
   */
  async runPostFilters(
    state: CycleState,
    pod: PodInfo,
    diagnosis: Diagnosis,
  ): Promise<PostFilterResult> {
    let last: PostFilterResult = { status: status("Unschedulable", [], "") };
    for (const p of this.#points.postFilter) {
      try {
        const r = await p.postFilter!(state, pod, diagnosis);
        if (r.status.code === "Success") return r;
        last = r;
      } catch (e) {
        return { status: errorStatus(p.name, e) };
      }
    }
    return last;
  }

  /**
   * Runs reserve plugins; on a failure, unreserves those that ran.
   *
   * @param state Cycle state.
   * @param pod The pod.
   * @param nodeName The chosen node.
   * @returns Success or the failure.
   */
  runReserve(state: CycleState, pod: PodInfo, nodeName: string): Status {
    const list = this.#points.reserve;
    for (let i = 0; i < list.length; i++) {
      let s: Status;
      try {
        s = list[i].reserve!(state, pod, nodeName);
      } catch (e) {
        s = errorStatus(list[i].name, e);
      }
      if (s.code !== "Success" && s.code !== "Skip") {
        for (let j = i; j >= 0; j--) list[j].unreserve?.(state, pod, nodeName);
        return s;
      }
    }
    return SUCCESS;
  }

  /**
   * Undoes every reserve plugin (binding failed).
   *
   * @param state Cycle state.
   * @param pod The pod.
   * @param nodeName The node.
   */
  runUnreserve(state: CycleState, pod: PodInfo, nodeName: string): void {
    const list = this.#points.reserve;
    for (let j = list.length - 1; j >= 0; j--) list[j].unreserve?.(state, pod, nodeName);
  }

  /**
   * Runs bind plugins until one does not Skip.
   *
   * @param state Cycle state.
   * @param pod The pod.
   * @param nodeName The node.
   * @returns The binder's status; Skip when no plugin bound.
   */
  async runBind(state: CycleState, pod: PodInfo, nodeName: string): Promise<Status> {
    for (const p of this.#points.bind) {
      let s: Status;
      try {
        s = await p.bind!(state, pod, nodeName);
      } catch (e) {
        return errorStatus(p.name, e);
      }
      if (s.code !== "Skip") return s;
    }
    return SKIP;
  }

  /**
   * A fresh cycle state.
   *
   * @returns The state.
   */
  newCycleState(): CycleState {
    return new CycleState();
  }
}

/**
 * The aggregate message users see when no node fits: "0/5000 nodes are
 * available: 4000 Insufficient cpu, 1000 node(s) had untolerated taint
 * {dedicated: gpu}.", reasons ordered by count.
 *
 * @param diagnosis From {@linkcode Framework.findFeasible}.
 * @returns The message.
 *
 * @example Two reasons
 * ```ts
 * import { fitErrorMessage } from "./framework.ts";
 * import { status } from "./status.ts";
 * const cpu = status("Unschedulable", ["Insufficient cpu"]);
 * fitErrorMessage({ rejected: [cpu, cpu], nodeCount: 2 });
 * // "0/2 nodes are available: 2 Insufficient cpu."
 * ```
 */
export function fitErrorMessage(diagnosis: Diagnosis): string {
  const head = `0/${diagnosis.nodeCount} nodes are available`;
  if (diagnosis.preFilterStatus) {
    return `${head}: ${diagnosis.preFilterStatus.reasons.join(", ")}.`;
  }
  const counts = new Map<string, number>();
  for (let i = 0; i < diagnosis.nodeCount; i++) {
    const s = diagnosis.rejected[i];
    if (!s) continue;
    for (const r of s.reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  }
  if (counts.size === 0) return `${head}.`;
  const parts = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([r, c]) => `${c} ${r}`);
  return `${head}: ${parts.join(", ")}.`;
}
