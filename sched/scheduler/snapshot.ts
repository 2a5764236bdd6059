/**
 * The scheduler's view of the cluster, updated incrementally by informer
 * events and by assumed placements: one {@linkcode NodeInfo} per node plus the
 * per-node numbers the hot loops read, kept in typed arrays (struct of arrays)
 * so that filtering and scoring 5,000 nodes allocates nothing.
 *
 * @module
 */
import { NodeInfo } from "./node_info.ts";
import { type AffinityTerm, ownerIndexKey, type PodInfo, termMatchesPod } from "./pod_info.ts";
import type { Node } from "./types.ts";

/** Node flag: `spec.unschedulable`. */
export const FLAG_UNSCHEDULABLE = 1;
/** Node flag: has a NoSchedule or NoExecute taint. */
export const FLAG_HARD_TAINT = 2;
/** Node flag: has a PreferNoSchedule taint. */
export const FLAG_SOFT_TAINT = 4;
/** Node flag: some pod on it holds a host port. */
export const FLAG_HOST_PORTS = 8;
/** Node flag: a preempting pod is nominated to it (its resources are held for it). */
export const FLAG_NOMINATED = 16;

/** Node → domain mapping for one topology key. */
export interface TopologyIndex {
  /** Domain id per node slot; -1 when the node lacks the label. */
  readonly domainOf: Int32Array;
  /** Domain values by id. */
  readonly values: readonly string[];
  /** Domain id by value. */
  readonly idOf: ReadonlyMap<string, number>;
}

/** An image's presence across the cluster (ImageLocality). */
export interface ImageState {
  /** Size in bytes. */
  size: number;
  /** Nodes that hold it. */
  readonly nodes: Set<NodeInfo>;
}

const INITIAL_CAPACITY = 64;

/** The label-index keys of a pod: `k=v` per label, and its controller owner. */
function indexKeysOf(pi: PodInfo): string[] {
  const keys: string[] = [];
  for (const k in pi.labels) keys.push(`${k}=${pi.labels[k]}`);
  if (pi.ownerUid) keys.push(ownerIndexKey(pi.ownerUid));
  return keys;
}

/** The fields of a node that scheduling reads, as one comparable string. */
function schedulingView(n: Node): string {
  return JSON.stringify([
    n.metadata.labels ?? null,
    n.spec?.taints ?? null,
    n.spec?.unschedulable ?? false,
    n.status?.allocatable ?? n.status?.capacity ?? null,
    n.status?.images ?? null,
  ]);
}

/**
 * The incrementally maintained cluster snapshot.
 *
 * @example Add a node and place a pod
 * ```ts
 * import { makeNode, makePod } from "./builders.ts";
 * import { Snapshot } from "./snapshot.ts";
 * import { newPodInfo } from "./pod_info.ts";
 * const s = new Snapshot();
 * s.addNode(makeNode("n1", { allocatable: { cpu: "4", pods: "110" } }));
 * s.addPod(newPodInfo(makePod("p")), "n1");
 * s.reqPods[0]; // 1
 * ```
 */
export class Snapshot {
  /** Number of nodes. */
  count = 0;
  /** NodeInfo by slot. */
  nodes: NodeInfo[] = [];
  /** Allocatable milli-CPU by slot. */
  allocCpu: Float64Array = new Float64Array(INITIAL_CAPACITY);
  /** Allocatable memory by slot. */
  allocMem: Float64Array = new Float64Array(INITIAL_CAPACITY);
  /** Allocatable pod count by slot. */
  allocPods: Float64Array = new Float64Array(INITIAL_CAPACITY);
  /** Requested milli-CPU by slot. */
  reqCpu: Float64Array = new Float64Array(INITIAL_CAPACITY);
  /** Requested memory by slot. */
  reqMem: Float64Array = new Float64Array(INITIAL_CAPACITY);
  /** Pods on the node by slot. */
  reqPods: Float64Array = new Float64Array(INITIAL_CAPACITY);
  /** Non-zero requested milli-CPU by slot (scoring). */
  nzCpu: Float64Array = new Float64Array(INITIAL_CAPACITY);
  /** Non-zero requested memory by slot (scoring). */
  nzMem: Float64Array = new Float64Array(INITIAL_CAPACITY);
  /** Allocatable minus requested milli-CPU by slot (the filter's one read). */
  freeCpu: Float64Array = new Float64Array(INITIAL_CAPACITY);
  /** Allocatable minus requested memory by slot. */
  freeMem: Float64Array = new Float64Array(INITIAL_CAPACITY);
  /** Pod slots left by slot. */
  freePods: Float64Array = new Float64Array(INITIAL_CAPACITY);
  /** 1 / allocatable milli-CPU by slot (0 when none): scores multiply instead of divide. */
  invCpu: Float64Array = new Float64Array(INITIAL_CAPACITY);
  /** 1 / allocatable memory by slot (0 when none). */
  invMem: Float64Array = new Float64Array(INITIAL_CAPACITY);
  /**
   * `nzCpu`, `nzMem`, `invCpu`, `invMem` of each slot side by side (4 per
   * slot): the scoring pass reads one stream instead of four.
   */
  utilization: Float64Array = new Float64Array(INITIAL_CAPACITY * 4);
  /** FLAG_* bits by slot. */
  flags: Uint8Array = new Uint8Array(INITIAL_CAPACITY);
  /** Placed pods (bound or assumed) by key. */
  readonly pods = new Map<string, PodInfo>();
  /** Placed pods with required anti-affinity terms. */
  readonly podsWithRequiredAntiAffinity = new Set<PodInfo>();
  /** Placed pods with terms that score others: required affinity or any preferred term. */
  readonly podsWithAffinity = new Set<PodInfo>();
  /** Images across nodes. */
  readonly images = new Map<string, ImageState>();
  /** Taint and cordon counts; recounted on first read after a node change. */
  #flagCounts = { soft: 0, hard: 0, cordoned: 0, stale: true };
  /** Bumped on every node change (not on pod changes). */
  nodeGeneration = 0;
  /** Bumped on every change. */
  generation = 0;

  /** Lower bounds of freeCpu, freeMem, freePods over all nodes; exact unless #minDirty. */
  #min = { cpu: Infinity, memory: Infinity, pods: Infinity };
  #minDirty = true;
  #byName = new Map<string, NodeInfo>();
  #byLabel = new Map<string, Set<PodInfo>>();
  #topology = new Map<string, TopologyIndex>();
  /** Placed pods matching a term, per domain; kept while in use, rebuilt after node changes. */
  #matchCounts = new Map<AffinityTerm, { gen: number; counts: Int32Array; total: number }>();
  /** Placed pods carrying each required anti-affinity term, per domain. */
  #carriers = { gen: -1, byTerm: new Map<AffinityTerm, Int32Array>() };
  /** Pods nominated by preemption: node name → pods, and pod key → node name. */
  #nominated = new Map<string, Map<string, PodInfo>>();
  #nominatedNode = new Map<string, string>();
  /** Pods placed on nodes not known (yet): node name → pods. */
  #orphans = new Map<string, Set<PodInfo>>();

  /**
   * The node info by name.
   *
   * @param name Node name.
   * @returns The node info, or undefined.
   */
  nodeInfo(name: string): NodeInfo | undefined {
    return this.#byName.get(name);
  }

  #grow(): void {
    const cap = this.allocCpu.length * 2;
    const g = <T extends Float64Array | Uint8Array>(a: T): T => {
      const b = new (a.constructor as { new (n: number): T })(cap);
      b.set(a);
      return b;
    };
    this.allocCpu = g(this.allocCpu);
    this.allocMem = g(this.allocMem);
    this.allocPods = g(this.allocPods);
    this.reqCpu = g(this.reqCpu);
    this.reqMem = g(this.reqMem);
    this.reqPods = g(this.reqPods);
    this.nzCpu = g(this.nzCpu);
    this.nzMem = g(this.nzMem);
    this.freeCpu = g(this.freeCpu);
    this.freeMem = g(this.freeMem);
    this.freePods = g(this.freePods);
    this.invCpu = g(this.invCpu);
    this.invMem = g(this.invMem);
    const u = new Float64Array(cap * 4);
    u.set(this.utilization);
    this.utilization = u;
    this.flags = g(this.flags);
  }

  /** Capacity of the per-slot arrays (at least `count`). */
  get capacity(): number {
    return this.allocCpu.length;
  }

  #syncNode(ni: NodeInfo): void {
    const i = ni.index;
    this.allocCpu[i] = ni.allocatable.milliCpu;
    this.allocMem[i] = ni.allocatable.memory;
    this.allocPods[i] = ni.allocatable.pods;
    this.invCpu[i] = ni.allocatable.milliCpu > 0 ? 1 / ni.allocatable.milliCpu : 0;
    this.invMem[i] = ni.allocatable.memory > 0 ? 1 / ni.allocatable.memory : 0;
    this.utilization[4 * i + 2] = this.invCpu[i];
    this.utilization[4 * i + 3] = this.invMem[i];
    let f = ni.node.spec?.unschedulable ? FLAG_UNSCHEDULABLE : 0;
    for (const t of ni.taints) {
      if (t.effect === "PreferNoSchedule") f |= FLAG_SOFT_TAINT;
      else f |= FLAG_HARD_TAINT;
    }
    if (ni.usedPorts.size > 0) f |= FLAG_HOST_PORTS;
    if (this.#nominated.has(ni.name)) f |= FLAG_NOMINATED;
    this.flags[i] = f;
    this.#syncRequested(ni);
  }

  #syncRequested(ni: NodeInfo): void {
    const i = ni.index;
    this.reqCpu[i] = ni.requested.milliCpu;
    this.reqMem[i] = ni.requested.memory;
    this.reqPods[i] = ni.requested.pods;
    this.nzCpu[i] = ni.nonZeroMilliCpu;
    this.nzMem[i] = ni.nonZeroMemory;
    this.utilization[4 * i] = ni.nonZeroMilliCpu;
    this.utilization[4 * i + 1] = ni.nonZeroMemory;
    const cpu = ni.allocatable.milliCpu - ni.requested.milliCpu;
    const mem = ni.allocatable.memory - ni.requested.memory;
    const pods = ni.allocatable.pods - ni.requested.pods;
    const m = this.#min;
    if (!this.#minDirty) {
      // A node at the minimum that gains room may raise it: recount on demand.
      if (
        (cpu > this.freeCpu[i] && this.freeCpu[i] <= m.cpu) ||
        (mem > this.freeMem[i] && this.freeMem[i] <= m.memory) ||
        (pods > this.freePods[i] && this.freePods[i] <= m.pods)
      ) {
        this.#minDirty = true;
      } else {
        if (cpu < m.cpu) m.cpu = cpu;
        if (mem < m.memory) m.memory = mem;
        if (pods < m.pods) m.pods = pods;
      }
    }
    this.freeCpu[i] = cpu;
    this.freeMem[i] = mem;
    this.freePods[i] = pods;
    if (ni.usedPorts.size > 0) this.flags[i] |= FLAG_HOST_PORTS;
    else this.flags[i] &= ~FLAG_HOST_PORTS;
  }

  #addImages(ni: NodeInfo): void {
    for (const [name, size] of ni.images) {
      let st = this.images.get(name);
      if (!st) this.images.set(name, st = { size, nodes: new Set() });
      st.size = size;
      st.nodes.add(ni);
    }
  }

  #removeImages(ni: NodeInfo): void {
    for (const name of ni.images.keys()) {
      const st = this.images.get(name);
      if (!st) continue;
      st.nodes.delete(ni);
      if (st.nodes.size === 0) this.images.delete(name);
    }
  }

  #nodeChanged(): void {
    this.#minDirty = true;
    this.nodeGeneration++;
    this.generation++;
    this.#topology.clear();
    // Counted when next read: adding 5,000 nodes must not count 5,000 times.
    this.#flagCounts.stale = true;
  }

  #counts(): { soft: number; hard: number; cordoned: number } {
    const c = this.#flagCounts;
    if (c.stale) {
      let soft = 0, hard = 0, cordoned = 0;
      for (let i = 0; i < this.count; i++) {
        const f = this.flags[i];
        if (f & FLAG_SOFT_TAINT) soft++;
        if (f & FLAG_HARD_TAINT) hard++;
        if (f & FLAG_UNSCHEDULABLE) cordoned++;
      }
      this.#flagCounts = { soft, hard, cordoned, stale: false };
    }
    return this.#flagCounts;
  }

  /** Nodes with a PreferNoSchedule taint. */
  get softTaintedNodes(): number {
    return this.#counts().soft;
  }

  /** Nodes with a NoSchedule or NoExecute taint. */
  get hardTaintedNodes(): number {
    return this.#counts().hard;
  }

  /** Cordoned nodes. */
  get unschedulableNodes(): number {
    return this.#counts().cordoned;
  }

  /**
   * The least free milli-CPU, memory and pod slots over all nodes: a request
   * that fits in these fits on every node, so a filter can pass them all
   * without visiting each. Kept up to date as pods are placed; recounted
   * after a change that can raise it.
   *
   * @returns The minima (Infinity with no node). Do not modify.
   */
  minFree(): { readonly cpu: number; readonly memory: number; readonly pods: number } {
    if (this.#minDirty) {
      let cpu = Infinity, mem = Infinity, pods = Infinity;
      const fc = this.freeCpu, fm = this.freeMem, fp = this.freePods;
      for (let i = 0; i < this.count; i++) {
        if (fc[i] < cpu) cpu = fc[i];
        if (fm[i] < mem) mem = fm[i];
        if (fp[i] < pods) pods = fp[i];
      }
      this.#min = { cpu, memory: mem, pods };
      this.#minDirty = false;
    }
    return this.#min;
  }

  /** Whether some preempting pod holds resources on a node (see {@linkcode Snapshot.nominate}). */
  get hasNominations(): boolean {
    return this.#nominated.size > 0;
  }

  /**
   * Adds a node, or updates it when one of that name exists.
   *
   * @param node The node.
   * @returns Its node info.
   * @throws {QuantityError} When allocatable is malformed (nothing changes then).
   */
  addNode(node: Node): NodeInfo {
    const existing = this.#byName.get(node.metadata.name ?? "");
    if (existing) {
      this.updateNode(node);
      return existing;
    }
    const ni = new NodeInfo(node);
    if (this.count === this.capacity) this.#grow();
    ni.index = this.count++;
    this.nodes[ni.index] = ni;
    this.#byName.set(ni.name, ni);
    // Pods that arrived before their node (informer order) are attached now.
    const waiting = this.#orphans.get(ni.name);
    if (waiting) {
      this.#orphans.delete(ni.name);
      for (const pi of waiting) {
        ni.addPod(pi);
        pi.nodeIndex = ni.index;
      }
    }
    this.#syncNode(ni);
    this.#addImages(ni);
    this.#nodeChanged();
    return ni;
  }

  /**
   * Updates a node's object (labels, taints, allocatable, images). Updates
   * that change none of what scheduling reads (agent heartbeats) only swap
   * the object: no recount, no requeue.
   *
   * @param node The new object.
   * @returns Whether the node was unknown, changed for scheduling, or not.
   * @throws {QuantityError} When allocatable is malformed (nothing changes then).
   */
  updateNode(node: Node): "unknown" | "unchanged" | "changed" {
    const ni = this.#byName.get(node.metadata.name ?? "");
    if (!ni) return "unknown";
    if (schedulingView(ni.node) === schedulingView(node)) {
      // A heartbeat or status condition: nothing a plugin reads changed.
      ni.node = node;
      return "unchanged";
    }
    const probe = new NodeInfo(node); // validates before mutating anything
    this.#removeImages(ni);
    ni.setNode(probe.node);
    this.#syncNode(ni);
    this.#addImages(ni);
    this.#nodeChanged();
    return "changed";
  }

  /**
   * Removes a node. Its pods stay known (they may be deleted later) but count
   * on no node.
   *
   * @param name Node name.
   * @returns False when the node is unknown.
   */
  removeNode(name: string): boolean {
    const ni = this.#byName.get(name);
    if (!ni) return false;
    this.#byName.delete(name);
    this.#removeImages(ni);
    if (ni.pods.size > 0) this.#orphans.set(name, new Set(ni.pods.values()));
    for (const pi of ni.pods.values()) pi.nodeIndex = -1;
    const last = this.count - 1;
    const moved = this.nodes[last];
    if (moved !== ni) {
      moved.index = ni.index;
      this.nodes[ni.index] = moved;
      for (const pi of moved.pods.values()) pi.nodeIndex = moved.index;
      this.#syncNode(moved);
    }
    this.nodes.length = last;
    this.count = last;
    ni.index = -1;
    this.#nodeChanged();
    return true;
  }

  /**
   * Places a pod on a node (bound, or assumed by the scheduler before the
   * binding is written). A pod already placed elsewhere is moved.
   *
   * @param pi The pod.
   * @param nodeName Target node; the pod is remembered even when the node is not known yet.
   */
  addPod(pi: PodInfo, nodeName: string): void {
    const prev = this.pods.get(pi.key);
    if (prev) this.removePod(pi.key);
    this.pods.set(pi.key, pi);
    for (const lk of indexKeysOf(pi)) {
      let set = this.#byLabel.get(lk);
      if (!set) this.#byLabel.set(lk, set = new Set());
      set.add(pi);
    }
    if (pi.requiredAntiAffinity.length > 0) this.podsWithRequiredAntiAffinity.add(pi);
    if (
      pi.requiredAffinity.length > 0 || pi.preferredAffinity.length > 0 ||
      pi.preferredAntiAffinity.length > 0
    ) this.podsWithAffinity.add(pi);
    const ni = this.#byName.get(nodeName);
    pi.nodeIndex = -1;
    if (ni) {
      ni.addPod(pi);
      pi.nodeIndex = ni.index;
      this.#syncRequested(ni);
      this.#countPod(pi, 1);
    } else {
      let set = this.#orphans.get(nodeName);
      if (!set) this.#orphans.set(nodeName, set = new Set());
      set.add(pi);
    }
    this.generation++;
  }

  /**
   * Removes a placed pod.
   *
   * @param key `namespace/name`.
   * @returns The removed pod info, or undefined when it was not placed.
   */
  removePod(key: string): PodInfo | undefined {
    const pi = this.pods.get(key);
    if (!pi) return undefined;
    this.pods.delete(key);
    for (const lk of indexKeysOf(pi)) {
      const set = this.#byLabel.get(lk);
      if (set) {
        set.delete(pi);
        if (set.size === 0) this.#byLabel.delete(lk);
      }
    }
    this.podsWithRequiredAntiAffinity.delete(pi);
    this.podsWithAffinity.delete(pi);
    if (pi.nodeIndex >= 0) {
      this.#countPod(pi, -1);
      const ni = this.nodes[pi.nodeIndex];
      ni.removePod(pi);
      this.#syncRequested(ni);
    } else {
      for (const [n, set] of this.#orphans) {
        if (set.delete(pi) && set.size === 0) this.#orphans.delete(n);
      }
    }
    pi.nodeIndex = -1;
    this.generation++;
    return pi;
  }

  #countPod(pi: PodInfo, delta: number): void {
    const gen = this.nodeGeneration;
    for (const [t, e] of this.#matchCounts) {
      if (e.gen !== gen || !termMatchesPod(t, pi)) continue;
      const d = this.topology(t.topologyKey).domainOf[pi.nodeIndex];
      if (d >= 0) {
        e.counts[d] += delta;
        e.total += delta;
      }
    }
    if (this.#carriers.gen === gen) this.#carry(pi, delta);
  }

  #carry(pi: PodInfo, delta: number): void {
    for (const t of pi.requiredAntiAffinity) {
      const topo = this.topology(t.topologyKey);
      let counts = this.#carriers.byTerm.get(t);
      if (!counts) this.#carriers.byTerm.set(t, counts = new Int32Array(topo.values.length));
      const d = topo.domainOf[pi.nodeIndex];
      if (d >= 0) counts[d] += delta;
    }
  }

  /**
   * Placed pods that a term selects, per domain of its topology key. Kept up
   * to date incrementally while the term is in use (replicas share terms),
   * rebuilt when nodes change.
   *
   * @param term The term.
   * @returns Counts by domain id of `topology(term.topologyKey)`, and their total. Do not modify.
   */
  termMatchCounts(term: AffinityTerm): { counts: Int32Array; total: number } {
    let e = this.#matchCounts.get(term);
    if (e && e.gen === this.nodeGeneration) return e;
    if (this.#matchCounts.size >= 1024) this.#matchCounts.clear();
    const topo = this.topology(term.topologyKey);
    const counts = new Int32Array(topo.values.length);
    let total = 0;
    const exact = term.exact && term.indexKeys.length === 1;
    for (const other of this.candidates(term.indexKeys)) {
      if (other.nodeIndex < 0) continue;
      if (exact ? !term.namespaces.has(other.namespace) : !termMatchesPod(term, other)) continue;
      const d = topo.domainOf[other.nodeIndex];
      if (d < 0) continue;
      counts[d]++;
      total++;
    }
    e = { gen: this.nodeGeneration, counts, total };
    this.#matchCounts.set(term, e);
    return e;
  }

  /**
   * For each distinct required anti-affinity term of the placed pods, how
   * many placed pods carry it per domain of its topology key (the domains an
   * incoming pod that the term selects must avoid). Kept up to date
   * incrementally, rebuilt when nodes change.
   *
   * @returns Counts by term, by domain id of `topology(term.topologyKey)`. Do not modify.
   */
  antiAffinityCarriers(): ReadonlyMap<AffinityTerm, Int32Array> {
    if (this.#carriers.gen !== this.nodeGeneration) {
      this.#carriers = { gen: this.nodeGeneration, byTerm: new Map() };
      for (const pi of this.podsWithRequiredAntiAffinity) {
        if (pi.nodeIndex >= 0) this.#carry(pi, 1);
      }
    }
    return this.#carriers.byTerm;
  }

  /**
   * Holds a node's resources for a preempting pod while its victims leave:
   * pods of lower priority do not get them (see {@linkcode Snapshot.nominatedOn}).
   *
   * @param pi The preemptor.
   * @param nodeName The node its victims are leaving.
   */
  nominate(pi: PodInfo, nodeName: string): void {
    this.clearNomination(pi.key);
    let m = this.#nominated.get(nodeName);
    if (!m) this.#nominated.set(nodeName, m = new Map());
    m.set(pi.key, pi);
    this.#nominatedNode.set(pi.key, nodeName);
    const ni = this.#byName.get(nodeName);
    if (ni) this.flags[ni.index] |= FLAG_NOMINATED;
  }

  /**
   * Drops a pod's nomination (it was bound, deleted, or nominated elsewhere).
   *
   * @param key `namespace/name`.
   */
  clearNomination(key: string): void {
    const nodeName = this.#nominatedNode.get(key);
    if (nodeName === undefined) return;
    this.#nominatedNode.delete(key);
    const m = this.#nominated.get(nodeName);
    m?.delete(key);
    if (m && m.size === 0) {
      this.#nominated.delete(nodeName);
      const ni = this.#byName.get(nodeName);
      if (ni) this.flags[ni.index] &= ~FLAG_NOMINATED;
    }
  }

  /**
   * Pods nominated to a node that outrank (or equal) `priority`, other than `except`.
   *
   * @param nodeName The node.
   * @param priority The priority of the pod being scheduled.
   * @param except The key of the pod being scheduled.
   * @returns The nominated pods whose resources that pod must leave free.
   */
  nominatedOn(nodeName: string, priority: number, except: string): PodInfo[] {
    const m = this.#nominated.get(nodeName);
    if (!m) return [];
    const out: PodInfo[] = [];
    for (const p of m.values()) if (p.priority >= priority && p.key !== except) out.push(p);
    return out;
  }

  /**
   * Placed pods that may match a selector whose every match carries all of
   * `indexKeys` (`k=v`): the smallest label bucket, or every pod when no key.
   *
   * @param indexKeys Required `k=v` pairs.
   * @returns Candidates (a superset of the matches; callers still match).
   */
  candidates(indexKeys: readonly string[]): Iterable<PodInfo> {
    if (indexKeys.length === 0) return this.pods.values();
    let best: Set<PodInfo> | undefined;
    for (const k of indexKeys) {
      const s = this.#byLabel.get(k);
      if (!s) return [];
      if (!best || s.size < best.size) best = s;
    }
    return best!;
  }

  /**
   * The node → domain index for a topology key, built on first use and
   * dropped when nodes change.
   *
   * @param key Node label key (zone, hostname, ...).
   * @returns The index.
   */
  topology(key: string): TopologyIndex {
    let t = this.#topology.get(key);
    if (t) return t;
    const domainOf = new Int32Array(this.capacity).fill(-1);
    const values: string[] = [];
    const idOf = new Map<string, number>();
    for (let i = 0; i < this.count; i++) {
      const v = this.nodes[i].labels[key];
      if (v === undefined) continue;
      let id = idOf.get(v);
      if (id === undefined) {
        id = values.length;
        values.push(v);
        idOf.set(v, id);
      }
      domainOf[i] = id;
    }
    t = { domainOf, values, idOf };
    this.#topology.set(key, t);
    return t;
  }
}
