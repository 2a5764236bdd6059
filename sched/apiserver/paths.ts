/**
 * Parses Kubernetes-shaped REST paths into what they address:
 * `/api/v1/namespaces/{ns}/pods/{name}/status`,
 * `/apis/apps/v1/deployments`, `/api/v1/nodes/{name}`, ...
 *
 * @module
 */
import { type ResourceInfo, RESOURCES } from "@tsk/api";

/** What a path addresses. */
export interface ResourcePath {
  /** The kind. */
  info: ResourceInfo;
  /** The namespace, for namespaced paths. */
  namespace?: string;
  /** The object's name, for item paths. */
  name?: string;
  /** `status`, `scale` or `binding`. */
  subresource?: string;
}

/**
 * Parses a resource path.
 *
 * @param pathname The URL path.
 * @returns What it addresses, or undefined when it is not a resource path.
 *
 * @example Parse a pod's status path
 * ```ts
 * import { parseResourcePath } from "@tsk/sched";
 * const p = parseResourcePath("/api/v1/namespaces/default/pods/web/status");
 * console.log(p?.info.kind, p?.namespace, p?.name, p?.subresource); // Pod default web status
 * ```
 */
export function parseResourcePath(pathname: string): ResourcePath | undefined {
  const segs = pathname.split("/").filter((s) => s !== "").map(decodeURIComponent);
  let group: string;
  let rest: string[];
  if (segs[0] === "api" && segs[1] === "v1") {
    group = "";
    rest = segs.slice(2);
  } else if (segs[0] === "apis" && segs.length >= 3) {
    group = segs[1];
    if (segs[2] !== "v1") return undefined;
    rest = segs.slice(3);
  } else return undefined;
  const find = (plural: string) => RESOURCES.find((r) => r.group === group && r.plural === plural);
  if (rest.length === 0) return undefined;
  // namespaces/{ns}/{resource}[/{name}[/{sub}]] addresses namespaced objects.
  if (rest[0] === "namespaces" && rest.length >= 3 && !["status", "finalize"].includes(rest[2])) {
    const info = find(rest[2]);
    if (!info || !info.namespaced || rest.length > 5) return undefined;
    return { info, namespace: rest[1], name: rest[3], subresource: rest[4] };
  }
  const info = find(rest[0]);
  if (!info || rest.length > 3) return undefined;
  if (info.namespaced && rest.length > 1) return undefined;
  return { info, name: rest[1], subresource: rest[2] };
}
