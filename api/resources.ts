/**
 * The table of kinds the API serves: group, version, plural name, scope and
 * subresources. The API server routes by it, the CLI resolves `tsk get po`
 * through it, the stores key objects by it.
 *
 * @module
 */
import type {
  ConfigMap,
  Endpoints,
  Event,
  Namespace,
  Node,
  Pod,
  Secret,
  Service,
} from "./core_v1.ts";
import type { Deployment, ReplicaSet } from "./apps_v1.ts";
import type { Lease } from "./coordination_v1.ts";

/** Every kind by name, for typed access (`KindMap["Pod"]` is `Pod`). */
export interface KindMap {
  /** core/v1 Namespace. */
  Namespace: Namespace;
  /** core/v1 Node. */
  Node: Node;
  /** core/v1 Pod. */
  Pod: Pod;
  /** core/v1 Service. */
  Service: Service;
  /** core/v1 Endpoints. */
  Endpoints: Endpoints;
  /** core/v1 ConfigMap. */
  ConfigMap: ConfigMap;
  /** core/v1 Secret. */
  Secret: Secret;
  /** core/v1 Event. */
  Event: Event;
  /** apps/v1 ReplicaSet. */
  ReplicaSet: ReplicaSet;
  /** apps/v1 Deployment. */
  Deployment: Deployment;
  /** coordination.k8s.io/v1 Lease. */
  Lease: Lease;
}

/** A kind name the API serves. */
export type Kind = keyof KindMap;

/** Any object of a served kind. */
export type KnownObject = KindMap[Kind];

/** What the API knows about a kind. */
export interface ResourceInfo {
  /** The kind, e.g. `Deployment`. */
  kind: Kind;
  /** The plural lower-case name used in paths, e.g. `deployments`. */
  plural: string;
  /** The singular lower-case name. */
  singular: string;
  /** Short names the CLI accepts, e.g. `deploy`. */
  shortNames: string[];
  /** The API group; `""` for core. */
  group: string;
  /** The version, `v1`. */
  version: string;
  /** `v1` or `group/v1`. */
  apiVersion: string;
  /** True when objects live in a namespace. */
  namespaced: boolean;
  /** True when `status` is written only through the status subresource. */
  statusSubresource: boolean;
  /** True when the kind has a `scale` subresource. */
  scaleSubresource: boolean;
}

function info(
  kind: Kind,
  plural: string,
  shortNames: string[],
  group: string,
  namespaced: boolean,
  status: boolean,
  scale = false,
): ResourceInfo {
  return {
    kind,
    plural,
    singular: kind.toLowerCase(),
    shortNames,
    group,
    version: "v1",
    apiVersion: group === "" ? "v1" : `${group}/v1`,
    namespaced,
    statusSubresource: status,
    scaleSubresource: scale,
  };
}

/** Every kind the API serves. */
export const RESOURCES: readonly ResourceInfo[] = [
  info("Namespace", "namespaces", ["ns"], "", false, true),
  info("Node", "nodes", ["no"], "", false, true),
  info("Pod", "pods", ["po"], "", true, true),
  info("Service", "services", ["svc"], "", true, true),
  info("Endpoints", "endpoints", ["ep"], "", true, false),
  info("ConfigMap", "configmaps", ["cm"], "", true, false),
  info("Secret", "secrets", [], "", true, false),
  info("Event", "events", ["ev"], "", true, false),
  info("ReplicaSet", "replicasets", ["rs"], "apps", true, true, true),
  info("Deployment", "deployments", ["deploy"], "apps", true, true, true),
  info("Lease", "leases", [], "coordination.k8s.io", true, false),
];

/**
 * Finds a kind by plural, singular, short name or kind, case-insensitively.
 *
 * @param name What the user typed, e.g. `po`, `pods`, `Pod`.
 * @returns The resource, or undefined.
 *
 * @example Resolve a short name
 * ```ts
 * import { resourceByName } from "@tsk/api";
 * console.log(resourceByName("deploy")?.plural); // "deployments"
 * ```
 */
export function resourceByName(name: string): ResourceInfo | undefined {
  const n = name.toLowerCase();
  return RESOURCES.find((r) =>
    r.plural === n || r.singular === n || r.shortNames.includes(n) || r.kind.toLowerCase() === n
  );
}

/**
 * Finds a kind by apiVersion and kind, as written in a manifest.
 *
 * @param apiVersion The manifest's apiVersion; undefined matches any.
 * @param kind The manifest's kind.
 * @returns The resource, or undefined when the pair is not served.
 *
 * @example Resolve a manifest's kind
 * ```ts
 * import { resourceForKind } from "@tsk/api";
 * console.log(resourceForKind("apps/v1", "Deployment")?.plural); // "deployments"
 * ```
 */
export function resourceForKind(
  apiVersion: string | undefined,
  kind: string,
): ResourceInfo | undefined {
  return RESOURCES.find((r) =>
    r.kind === kind && (apiVersion === undefined || r.apiVersion === apiVersion)
  );
}

/**
 * The plural of a kind, e.g. `pods` for `Pod`.
 *
 * @param kind A served kind.
 * @returns The plural resource name.
 * @throws {Error} When the kind is not served.
 *
 * @example Plural of a kind
 * ```ts
 * import { pluralOf } from "@tsk/api";
 * console.log(pluralOf("Endpoints")); // "endpoints"
 * ```
 */
export function pluralOf(kind: Kind): string {
  const r = resourceForKind(undefined, kind);
  if (!r) throw new Error(`kind: ${kind} is not served`);
  return r.plural;
}
