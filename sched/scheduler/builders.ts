/**
 * Short builders of pods and nodes for tests, examples and benchmarks.
 *
 * @module
 */
import type { Node, Pod, PodSpec, ResourceList, Taint } from "./types.ts";

/** Options for {@linkcode makePod}. */
export interface MakePodOptions {
  /** Namespace. @default "default" */
  namespace?: string;
  /** Labels. */
  labels?: Record<string, string>;
  /** Requests of the single container. */
  requests?: ResourceList;
  /** Priority. */
  priority?: number;
  /** Image of the single container. @default "busybox" */
  image?: string;
  /** More spec fields (affinity, tolerations, ...), merged over the defaults. */
  spec?: Partial<PodSpec>;
}

/**
 * Builds a pod with one container.
 *
 * @param name Pod name.
 * @param options Requests, labels, priority, extra spec.
 * @returns The pod.
 *
 * @example A pod asking for half a core
 * ```ts
 * import { makePod } from "./builders.ts";
 * makePod("web-1", { requests: { cpu: "500m" } }).spec.containers[0].resources?.requests?.cpu;
 * // "500m"
 * ```
 */
export function makePod(name: string, options: MakePodOptions = {}): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: options.namespace ?? "default",
      uid: `uid-${options.namespace ?? "default"}-${name}`,
      labels: options.labels,
    },
    spec: {
      containers: [{
        name: "main",
        image: options.image ?? "busybox",
        resources: options.requests ? { requests: options.requests } : undefined,
      }],
      priority: options.priority,
      ...options.spec,
    },
  };
}

/** Options for {@linkcode makeNode}. */
export interface MakeNodeOptions {
  /** Labels; `kubernetes.io/hostname` is added. */
  labels?: Record<string, string>;
  /** Allocatable. @default { cpu: "4", memory: "16Gi", pods: "110" } */
  allocatable?: ResourceList;
  /** Taints. */
  taints?: Taint[];
  /** Cordoned. */
  unschedulable?: boolean;
  /** Images on the node. */
  images?: { names: string[]; sizeBytes: number }[];
}

/**
 * Builds a node.
 *
 * @param name Node name.
 * @param options Labels, allocatable, taints.
 * @returns The node.
 *
 * @example A small node
 * ```ts
 * import { makeNode } from "./builders.ts";
 * makeNode("n1", { allocatable: { cpu: "2", memory: "4Gi", pods: "20" } }).metadata.name; // "n1"
 * ```
 */
export function makeNode(name: string, options: MakeNodeOptions = {}): Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...options.labels } },
    spec: { taints: options.taints, unschedulable: options.unschedulable },
    status: {
      allocatable: options.allocatable ?? { cpu: "4", memory: "16Gi", pods: "110" },
      images: options.images,
    },
  };
}
