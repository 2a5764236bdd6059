/**
 * A pod with everything the plugins need precomputed once (requests, ports,
 * images, compiled affinity terms), so no cycle parses the spec again.
 *
 * @module
 */
import { type PodRequests, podRequests } from "./resources.ts";
import { compileLabelSelector, type LabelMatcher, selectorIndexKeys } from "./selectors.ts";
import type { Pod, PodAffinityTerm } from "./types.ts";

/**
 * The label-index key under which pods are also filed by their controller
 * owner (not a real label: it cannot collide with one).
 *
 * @param uid The owner's uid.
 * @returns The key.
 *
 * @example Key
 * ```ts
 * import { ownerIndexKey } from "./pod_info.ts";
 * ownerIndexKey("abc"); // "\u0000owner=abc"
 * ```
 */
export function ownerIndexKey(uid: string): string {
  return `\u0000owner=${uid}`;
}

/** Priorities of the built-in priority classes, as in Kubernetes. */
export const BUILTIN_PRIORITY_CLASSES: Readonly<Record<string, number>> = Object.freeze({
  "system-cluster-critical": 2000000000,
  "system-node-critical": 2000001000,
});

/** A compiled pod (anti-)affinity term. */
export interface AffinityTerm {
  /** Selector over the other pods' labels. */
  readonly matches: LabelMatcher;
  /** Namespaces where the other pods must be. */
  readonly namespaces: ReadonlySet<string>;
  /** Node label defining the domain. */
  readonly topologyKey: string;
  /** `k=v` pairs every matching pod carries (label-index lookups). */
  readonly indexKeys: readonly string[];
  /** Weight for preferred terms; 1 for required ones. */
  readonly weight: number;
  /**
   * The selector is exactly its one index key (`matchLabels` with one pair):
   * every pod in that label bucket matches, no need to run `matches`.
   */
  readonly exact: boolean;
}

/** A host port a pod holds on its node. */
export interface HostPort {
  /** TCP, UDP or SCTP. */
  readonly protocol: string;
  /** Address; "0.0.0.0" for all. */
  readonly ip: string;
  /** Port number. */
  readonly port: number;
}

/** Options for {@linkcode newPodInfo}. */
export interface PodInfoOptions {
  /**
   * Resolves a priority class name to a priority, for pods whose
   * `spec.priority` was not filled in by admission.
   * @default the built-in classes, otherwise 0
   */
  priorityOf?: (className: string) => number | undefined;
}

/** A pod plus its precomputed scheduling facts and queue bookkeeping. */
export interface PodInfo {
  /** The pod object (replaced on updates). */
  pod: Pod;
  /** `namespace/name`. */
  readonly key: string;
  /** Namespace ("default" when absent). */
  readonly namespace: string;
  /** Labels (never undefined). */
  readonly labels: Record<string, string>;
  /** Resolved priority. */
  readonly priority: number;
  /** The uid of the controller that owns the pod (its ReplicaSet, ...), if any. */
  readonly ownerUid?: string;
  /** Effective requests. */
  readonly req: PodRequests;
  /** Host ports. */
  readonly hostPorts: readonly HostPort[];
  /** Normalized image references. */
  readonly images: readonly string[];
  /** Required pod affinity terms. */
  readonly requiredAffinity: readonly AffinityTerm[];
  /** Required pod anti-affinity terms. */
  readonly requiredAntiAffinity: readonly AffinityTerm[];
  /** Preferred pod affinity terms. */
  readonly preferredAffinity: readonly AffinityTerm[];
  /** Preferred pod anti-affinity terms. */
  readonly preferredAntiAffinity: readonly AffinityTerm[];
  /** Index of the node in the snapshot the pod is on (assumed or bound); -1 when none. */
  nodeIndex: number;
  /** Scheduling attempts so far. */
  attempts: number;
  /** When the pod first entered the queue (ms, performance clock). */
  initialQueuedAt: number;
  /** When the pod last entered the active queue (ms). */
  queuedAt: number;
  /** Plugins that rejected the pod in its last attempt (decides which events requeue it). */
  unschedulablePlugins: Set<string>;
}

/**
 * Normalizes an image reference the way the container runtime names it, so
 * that "nginx" on a pod matches "docker.io/library/nginx:latest" on a node.
 *
 * @param ref The reference.
 * @returns The normalized reference.
 *
 * @example Normalize
 * ```ts
 * import { normalizeImage } from "./pod_info.ts";
 * normalizeImage("nginx"); // "docker.io/library/nginx:latest"
 * ```
 */
export function normalizeImage(ref: string): string {
  let r = ref.trim();
  const slash = r.indexOf("/");
  const first = slash < 0 ? "" : r.slice(0, slash);
  const hasDomain = first.includes(".") || first.includes(":") || first === "localhost";
  if (!hasDomain) r = slash < 0 ? `docker.io/library/${r}` : `docker.io/${r}`;
  const lastSlash = r.lastIndexOf("/");
  const tail = r.slice(lastSlash + 1);
  if (!tail.includes(":") && !tail.includes("@")) r += ":latest";
  return r;
}

/**
 * Compiled terms by their text: the replicas of one workload share one term
 * object, so a cycle can evaluate a term once and reuse the answer for every
 * pod that carries it. Bounded: cleared when it grows past TERM_CACHE_MAX.
 */
const termCache = new Map<string, AffinityTerm>();
const TERM_CACHE_MAX = 10000;

function compileTerm(t: PodAffinityTerm, ownNs: string, weight: number): AffinityTerm {
  const namespaces = t.namespaces?.length ? [...t.namespaces].sort() : [ownNs];
  const key = JSON.stringify([t.labelSelector ?? null, namespaces, t.topologyKey, weight]);
  let c = termCache.get(key);
  if (!c) {
    if (termCache.size >= TERM_CACHE_MAX) termCache.clear();
    c = Object.freeze({
      matches: compileLabelSelector(t.labelSelector),
      namespaces: new Set(namespaces),
      topologyKey: t.topologyKey,
      indexKeys: selectorIndexKeys(t.labelSelector),
      weight,
      exact: Object.keys(t.labelSelector?.matchLabels ?? {}).length === 1 &&
        (t.labelSelector?.matchExpressions ?? []).length === 0,
    });
    termCache.set(key, c);
  }
  return c;
}

/**
 * Precomputes a pod's scheduling facts.
 *
 * @param pod The pod.
 * @param options Priority resolution.
 * @returns The pod info, not placed (`nodeIndex` -1).
 * @throws {QuantityError} When a request is malformed (naming the field).
 *
 * @example A pod
 * ```ts
 * import { makePod } from "./builders.ts";
 * import { newPodInfo } from "./pod_info.ts";
 * const pi = newPodInfo(makePod("p"));
 * pi.key; // "default/p"
 * ```
 */
export function newPodInfo(pod: Pod, options: PodInfoOptions = {}): PodInfo {
  const ns = pod.metadata.namespace ?? "default";
  const spec = pod.spec;
  let priority = spec.priority;
  if (priority === undefined && spec.priorityClassName) {
    priority = options.priorityOf?.(spec.priorityClassName) ??
      BUILTIN_PRIORITY_CLASSES[spec.priorityClassName];
  }
  const hostPorts: HostPort[] = [];
  const images: string[] = [];
  for (const c of spec.containers ?? []) {
    if (c.image) images.push(normalizeImage(c.image));
    for (const p of c.ports ?? []) {
      if (p.hostPort && p.hostPort > 0) {
        hostPorts.push({
          protocol: p.protocol ?? "TCP",
          ip: p.hostIP || "0.0.0.0",
          port: p.hostPort,
        });
      }
    }
  }
  const aff = spec.affinity;
  const req = aff?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  const anti = aff?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
  const pref = aff?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
  const prefAnti = aff?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
  const now = performance.now();
  return {
    pod,
    key: `${ns}/${pod.metadata.name}`,
    namespace: ns,
    labels: pod.metadata.labels ?? {},
    priority: priority ?? 0,
    ownerUid: pod.metadata.ownerReferences?.find((o) => o.controller)?.uid,
    req: podRequests(pod),
    hostPorts,
    images,
    requiredAffinity: req.map((t) => compileTerm(t, ns, 1)),
    requiredAntiAffinity: anti.map((t) => compileTerm(t, ns, 1)),
    preferredAffinity: pref.map((w) => compileTerm(w.podAffinityTerm, ns, w.weight)),
    preferredAntiAffinity: prefAnti.map((w) => compileTerm(w.podAffinityTerm, ns, w.weight)),
    nodeIndex: -1,
    attempts: 0,
    initialQueuedAt: now,
    queuedAt: now,
    unschedulablePlugins: new Set(),
  };
}

/**
 * Whether a term selects a pod (its namespace and labels).
 *
 * @param term The compiled term.
 * @param pod The other pod.
 * @returns True when selected.
 *
 * @example Same namespace and labels
 * ```ts
 * import { newPodInfo, termMatchesPod } from "./pod_info.ts";
 * import { makePod } from "./builders.ts";
 * const a = newPodInfo(makePod("a", { labels: { app: "db" }, spec: { affinity: {
 *   podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [
 *     { labelSelector: { matchLabels: { app: "db" } }, topologyKey: "zone" }] } } } }));
 * termMatchesPod(a.requiredAntiAffinity[0], a); // true
 * ```
 */
export function termMatchesPod(term: AffinityTerm, pod: PodInfo): boolean {
  return term.namespaces.has(pod.namespace) && term.matches(pod.labels);
}

/**
 * Whether a pod has any pod (anti-)affinity term.
 *
 * @param pi The pod info.
 * @returns True when any term is present.
 *
 * @example Plain pod
 * ```ts
 * import { makePod } from "./builders.ts";
 * import { hasPodAffinityTerms, newPodInfo } from "./pod_info.ts";
 * hasPodAffinityTerms(newPodInfo(makePod("p"))); // false
 * ```
 */
export function hasPodAffinityTerms(pi: PodInfo): boolean {
  return pi.requiredAffinity.length > 0 || pi.requiredAntiAffinity.length > 0 ||
    pi.preferredAffinity.length > 0 || pi.preferredAntiAffinity.length > 0;
}
