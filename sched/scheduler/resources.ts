/**
 * Resource arithmetic for scheduling: a pod's effective request, a node's
 * allocatable, in integer units (milli-CPU, bytes, counts).
 *
 * @module
 */
import { parseQuantity as parseApiQuantity, QuantityError } from "@tsk/api";
import type { Container, Pod, ResourceList } from "./types.ts";

export { QuantityError };

/**
 * Parses one quantity of a resource list to integer units (milli-CPU for
 * cpu, bytes for memory and other byte-sized resources, counts otherwise),
 * naming the field when it is malformed or negative.
 */
function quantity(name: string, q: string | number, field: string): number {
  // Replicas repeat the same few strings ("100m", "256Mi"): parse each once.
  const cacheKey = name === CPU ? `c${q}` : `o${q}`;
  const hit = parsed.get(cacheKey);
  if (hit !== undefined) return hit;
  const v = parseQuantity(name, q, field);
  if (parsed.size >= 4096) parsed.clear();
  parsed.set(cacheKey, v);
  return v;
}

/** Valid quantities already parsed, by unit (c: milli-CPU, o: other) and text. */
const parsed = new Map<string, number>();

function parseQuantity(name: string, q: string | number, field: string): number {
  let milli: bigint;
  try {
    milli = parseApiQuantity(q);
  } catch (e) {
    throw new QuantityError(`${field}.${name}: ${(e as Error).message}`, { cause: e });
  }
  if (milli < 0n) {
    throw new QuantityError(`${field}.${name}: expected a non-negative quantity, got ${q}`);
  }
  if (name === CPU) return Number(milli);
  return Number((milli + 999n) / 1000n);
}

/** Standard resource names; everything else is a scalar (extended) resource. */
export const CPU = "cpu";
/** Memory resource name. */
export const MEMORY = "memory";
/** Pod count resource name. */
export const PODS = "pods";

/** Scheduling defaults for pods that request nothing (used for scoring only). */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
/** 200 MiB, as Kubernetes. */
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

/** An amount of resources in integer units. */
export interface Resources {
  /** Milli-CPU. */
  milliCpu: number;
  /** Bytes. */
  memory: number;
  /** Pod slots (for allocatable) or 1 (for a pod). */
  pods: number;
  /** Extended and other scalar resources (ephemeral-storage, nvidia.com/gpu, ...) in base units. */
  scalar: Map<string, number>;
}

/**
 * Creates an empty resource amount.
 *
 * @returns Zero of every resource.
 *
 * @example Zero
 * ```ts
 * import { emptyResources } from "./resources.ts";
 * emptyResources().milliCpu; // 0
 * ```
 */
export function emptyResources(): Resources {
  return { milliCpu: 0, memory: 0, pods: 0, scalar: new Map() };
}

/**
 * Converts a resource list to integer units.
 *
 * @param list The list (`{ cpu: "2", memory: "4Gi", pods: 110 }`).
 * @param field Field path used in errors.
 * @returns The amounts.
 * @throws {QuantityError} On a malformed quantity.
 *
 * @example Node allocatable
 * ```ts
 * import { resourcesFromList } from "./resources.ts";
 * resourcesFromList({ cpu: "2", memory: "1Gi" }).milliCpu; // 2000
 * ```
 */
export function resourcesFromList(
  list: ResourceList | Record<string, string | number> | undefined,
  field = "resources",
): Resources {
  const r = emptyResources();
  if (!list) return r;
  for (const [name, q] of Object.entries(list)) {
    const v = quantity(name, q, field);
    if (name === CPU) r.milliCpu = v;
    else if (name === MEMORY) r.memory = v;
    else if (name === PODS) r.pods = v;
    else r.scalar.set(name, v);
  }
  return r;
}

function addInto(into: Resources, r: Resources): void {
  into.milliCpu += r.milliCpu;
  into.memory += r.memory;
  into.pods += r.pods;
  for (const [k, v] of r.scalar) into.scalar.set(k, (into.scalar.get(k) ?? 0) + v);
}

function maxInto(into: Resources, r: Resources): void {
  into.milliCpu = Math.max(into.milliCpu, r.milliCpu);
  into.memory = Math.max(into.memory, r.memory);
  for (const [k, v] of r.scalar) into.scalar.set(k, Math.max(into.scalar.get(k) ?? 0, v));
}

function containerRequests(c: Container, field: string): Resources {
  return resourcesFromList(c.resources?.requests, `${field}.resources.requests`);
}

/** A pod's effective request: what it holds on a node. */
export interface PodRequests {
  /** The request used by Fit: max(sum(containers), max(init)) + overhead. */
  requests: Resources;
  /** Milli-CPU with the 100m default per container that requests none (scoring only). */
  nonZeroMilliCpu: number;
  /** Memory with the 200 MiB default per container that requests none (scoring only). */
  nonZeroMemory: number;
}

/**
 * Computes a pod's effective request, as Kubernetes does: the sum over
 * containers, raised to the largest init container, plus overhead.
 *
 * @param pod The pod.
 * @returns Its requests, and the non-zero variants for scoring.
 * @throws {QuantityError} On a malformed quantity, naming the field.
 *
 * @example A pod with one container
 * ```ts
 * import { makePod } from "./builders.ts";
 * import { podRequests } from "./resources.ts";
 * const r = podRequests(makePod("p", { requests: { cpu: "250m" } }));
 * r.requests.milliCpu; // 250
 * ```
 */
export function podRequests(pod: Pod): PodRequests {
  const total = emptyResources();
  let nzCpu = 0;
  let nzMem = 0;
  const containers = pod.spec.containers ?? [];
  for (let i = 0; i < containers.length; i++) {
    const r = containerRequests(containers[i], `spec.containers[${i}]`);
    addInto(total, r);
    nzCpu += r.milliCpu || DEFAULT_MILLI_CPU_REQUEST;
    nzMem += r.memory || DEFAULT_MEMORY_REQUEST;
  }
  const inits = pod.spec.initContainers ?? [];
  for (let i = 0; i < inits.length; i++) {
    const r = containerRequests(inits[i], `spec.initContainers[${i}]`);
    maxInto(total, r);
    nzCpu = Math.max(nzCpu, r.milliCpu || DEFAULT_MILLI_CPU_REQUEST);
    nzMem = Math.max(nzMem, r.memory || DEFAULT_MEMORY_REQUEST);
  }
  if (pod.spec.overhead) {
    const o = resourcesFromList(pod.spec.overhead, "spec.overhead");
    addInto(total, o);
    nzCpu += o.milliCpu;
    nzMem += o.memory;
  }
  total.pods = 1;
  return { requests: total, nonZeroMilliCpu: nzCpu, nonZeroMemory: nzMem };
}
