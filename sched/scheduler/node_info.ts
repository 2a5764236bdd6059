/**
 * What the scheduler knows about one node: its allocatable, what the pods on
 * it request, their host ports, the node's images and taints. Kept up to date
 * incrementally as pods come and go.
 *
 * @module
 */
import { normalizeImage, type PodInfo } from "./pod_info.ts";
import { emptyResources, type Resources, resourcesFromList } from "./resources.ts";
import type { Node, Taint } from "./types.ts";

/**
 * One node and the pods placed on it (bound or assumed).
 *
 * @example Add a pod
 * ```ts
 * import { makeNode, makePod } from "./builders.ts";
 * import { NodeInfo } from "./node_info.ts";
 * import { newPodInfo } from "./pod_info.ts";
 * const ni = new NodeInfo(makeNode("n1", { allocatable: { cpu: "2" } }));
 * ni.addPod(newPodInfo(makePod("p", { requests: { cpu: "1" } })));
 * ni.requested.milliCpu; // 1000
 * ```
 */
export class NodeInfo {
  /** Slot in the snapshot's arrays; -1 when not in a snapshot. */
  index: number = -1;
  /** The node object. */
  node!: Node;
  /** Node name. */
  name!: string;
  /** Node labels (never undefined). */
  labels!: Record<string, string>;
  /** What pods may request in total. */
  allocatable!: Resources;
  /** What the pods on it request. */
  requested: Resources = emptyResources();
  /** Milli-CPU requested, counting 100m for pods that request none (scoring). */
  nonZeroMilliCpu = 0;
  /** Memory requested, counting 200 MiB for pods that request none (scoring). */
  nonZeroMemory = 0;
  /** Pods by `namespace/name`. */
  readonly pods = new Map<string, PodInfo>();
  /** Host ports in use: "TCP/80" → addresses. */
  readonly usedPorts = new Map<string, string[]>();
  /** Taints. */
  taints!: readonly Taint[];
  /** Images on the node: normalized name → size in bytes. */
  images!: Map<string, number>;
  /** Bumped on every change. */
  generation = 0;

  /**
   * Creates it.
   *
   * @param node The node.
   */
  constructor(node: Node) {
    this.setNode(node);
  }

  /**
   * Replaces the node object (labels, taints, allocatable may change).
   *
   * @param node The new object.
   * @throws {QuantityError} When allocatable is malformed.
   */
  setNode(node: Node): void {
    this.node = node;
    this.name = node.metadata.name ?? "";
    this.labels = node.metadata.labels ?? {};
    this.allocatable = resourcesFromList(
      node.status?.allocatable ?? node.status?.capacity,
      `node ${node.metadata.name}: status.allocatable`,
    );
    this.taints = node.spec?.taints ?? [];
    this.images = new Map();
    for (const img of node.status?.images ?? []) {
      for (const n of img.names) this.images.set(normalizeImage(n), img.sizeBytes ?? 0);
    }
    this.generation++;
  }

  /**
   * Accounts a pod to this node.
   *
   * @param pi The pod.
   */
  addPod(pi: PodInfo): void {
    this.pods.set(pi.key, pi);
    const r = pi.req.requests;
    this.requested.milliCpu += r.milliCpu;
    this.requested.memory += r.memory;
    this.requested.pods += 1;
    for (const [k, v] of r.scalar) {
      this.requested.scalar.set(k, (this.requested.scalar.get(k) ?? 0) + v);
    }
    this.nonZeroMilliCpu += pi.req.nonZeroMilliCpu;
    this.nonZeroMemory += pi.req.nonZeroMemory;
    for (const hp of pi.hostPorts) {
      const k = `${hp.protocol}/${hp.port}`;
      const ips = this.usedPorts.get(k);
      if (ips) ips.push(hp.ip);
      else this.usedPorts.set(k, [hp.ip]);
    }
    this.generation++;
  }

  /**
   * Removes a pod's accounting.
   *
   * @param pi The pod (matched by key).
   * @returns False when the pod was not on this node.
   */
  removePod(pi: PodInfo): boolean {
    const had = this.pods.get(pi.key);
    if (!had) return false;
    this.pods.delete(pi.key);
    const r = had.req.requests;
    this.requested.milliCpu -= r.milliCpu;
    this.requested.memory -= r.memory;
    this.requested.pods -= 1;
    for (const [k, v] of r.scalar) {
      this.requested.scalar.set(k, (this.requested.scalar.get(k) ?? 0) - v);
    }
    this.nonZeroMilliCpu -= had.req.nonZeroMilliCpu;
    this.nonZeroMemory -= had.req.nonZeroMemory;
    for (const hp of had.hostPorts) {
      const k = `${hp.protocol}/${hp.port}`;
      const ips = this.usedPorts.get(k);
      if (!ips) continue;
      const i = ips.indexOf(hp.ip);
      if (i >= 0) ips.splice(i, 1);
      if (ips.length === 0) this.usedPorts.delete(k);
    }
    this.generation++;
    return true;
  }

  /**
   * Whether any of the given host ports is already taken on this node
   * (same protocol and port, and the same address or a wildcard on either side).
   *
   * @param ports The pod's host ports.
   * @returns True on a conflict.
   */
  portsConflict(ports: readonly { protocol: string; ip: string; port: number }[]): boolean {
    for (const p of ports) {
      const ips = this.usedPorts.get(`${p.protocol}/${p.port}`);
      if (!ips) continue;
      for (const ip of ips) {
        if (ip === p.ip || ip === "0.0.0.0" || p.ip === "0.0.0.0") return true;
      }
    }
    return false;
  }

  /**
   * A deep-enough copy for simulations (preemption removes victims from it).
   *
   * @returns A copy sharing pod infos but not the accounting.
   */
  clone(): NodeInfo {
    const c = new NodeInfo(this.node);
    c.index = this.index;
    for (const pi of this.pods.values()) c.addPod(pi);
    return c;
  }
}
