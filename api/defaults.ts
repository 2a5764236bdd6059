/**
 * Defaulting: fills what a manifest may leave out, as Kubernetes does
 * (a pod's restartPolicy, schedulerName and QoS class; a Deployment's
 * replicas and rolling-update limits; a Service's protocol and targetPort;
 * a Secret's stringData folded into data).
 *
 * @module
 */
import type { ApiObject } from "./meta.ts";
import { isQuantity, parseQuantity } from "./quantity.ts";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The scheduler name pods get when they name none. */
export const DEFAULT_SCHEDULER_NAME = "default-scheduler";

/** Priorities of the built-in priority classes, as in Kubernetes. */
export const BUILTIN_PRIORITY_CLASSES: Readonly<Record<string, number>> = {
  "system-cluster-critical": 2000000000,
  "system-node-critical": 2000001000,
};

function defaultContainer(c: unknown): void {
  if (!isObj(c)) return;
  if (c.imagePullPolicy === undefined && typeof c.image === "string") {
    const ref = c.image;
    const last = ref.slice(ref.lastIndexOf("/") + 1);
    const tagged = last.includes(":") || ref.includes("@");
    c.imagePullPolicy = !tagged || last.endsWith(":latest") ? "Always" : "IfNotPresent";
  }
  if (Array.isArray(c.ports)) {
    for (const p of c.ports) if (isObj(p) && p.protocol === undefined) p.protocol = "TCP";
  }
  // Requests default to limits when only limits are given, as in Kubernetes.
  if (isObj(c.resources) && isObj(c.resources.limits)) {
    const req = isObj(c.resources.requests) ? c.resources.requests : {};
    for (const [k, v] of Object.entries(c.resources.limits)) {
      if (req[k] === undefined && isQuantity(v)) req[k] = v;
    }
    c.resources.requests = req;
  }
}

/**
 * Computes a pod's QoS class from its containers' requests and limits.
 *
 * @param spec The pod spec.
 * @returns `Guaranteed`, `Burstable` or `BestEffort`.
 *
 * @example A pod with no resources is best-effort
 * ```ts
 * import { podQosClass } from "@tsk/api";
 * console.log(podQosClass({ containers: [{ name: "a", image: "x" }] })); // "BestEffort"
 * ```
 */
export function podQosClass(spec: unknown): "Guaranteed" | "Burstable" | "BestEffort" {
  const s = isObj(spec) ? spec : {};
  const containers = [
    ...(Array.isArray(s.containers) ? s.containers : []),
    ...(Array.isArray(s.initContainers) ? s.initContainers : []),
  ].filter(isObj);
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const r = isObj(c.resources) ? c.resources : {};
    const req = isObj(r.requests) ? r.requests : {};
    const lim = isObj(r.limits) ? r.limits : {};
    if (Object.keys(req).length > 0 || Object.keys(lim).length > 0) any = true;
    for (const k of ["cpu", "memory"]) {
      if (lim[k] === undefined) {
        guaranteed = false;
        continue;
      }
      try {
        const l = parseQuantity(lim[k] as string);
        const q = req[k] === undefined ? l : parseQuantity(req[k] as string);
        if (q !== l) guaranteed = false;
      } catch {
        guaranteed = false;
      }
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

function defaultPodSpec(s: unknown): void {
  if (!isObj(s)) return;
  if (Array.isArray(s.containers)) s.containers.forEach(defaultContainer);
  if (Array.isArray(s.initContainers)) s.initContainers.forEach(defaultContainer);
  s.restartPolicy ??= "Always";
  s.schedulerName ??= DEFAULT_SCHEDULER_NAME;
  s.terminationGracePeriodSeconds ??= 30;
  s.dnsPolicy ??= "ClusterFirst";
  s.preemptionPolicy ??= "PreemptLowerPriority";
  if (s.priority === undefined) {
    const cls = typeof s.priorityClassName === "string" ? s.priorityClassName : "";
    s.priority = BUILTIN_PRIORITY_CLASSES[cls] ?? 0;
  }
  if (Array.isArray(s.tolerations)) {
    for (const t of s.tolerations) {
      if (isObj(t) && t.operator === undefined) t.operator = "Equal";
    }
  }
}

function defaultWorkload(obj: Obj): void {
  const s = obj.spec;
  if (!isObj(s)) return;
  s.replicas ??= 1;
  s.minReadySeconds ??= 0;
  const t = s.template;
  if (isObj(t)) {
    defaultPodSpec(t.spec);
    // A selector left out selects the template's labels, as `apps/v1beta1` did.
    if (s.selector === undefined && isObj(t.metadata) && isObj(t.metadata.labels)) {
      s.selector = { matchLabels: { ...t.metadata.labels } };
    }
  }
  if (obj.kind === "Deployment") {
    s.revisionHistoryLimit ??= 10;
    s.progressDeadlineSeconds ??= 600;
    const st = isObj(s.strategy) ? s.strategy : {};
    st.type ??= "RollingUpdate";
    if (st.type === "RollingUpdate") {
      const ru = isObj(st.rollingUpdate) ? st.rollingUpdate : {};
      ru.maxUnavailable ??= "25%";
      ru.maxSurge ??= "25%";
      st.rollingUpdate = ru;
    }
    s.strategy = st;
  }
}

function utf8ToBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/**
 * Fills the defaults of an object in place (and returns it). Safe to apply
 * twice: a value already present is never changed.
 *
 * @param obj The object, already known to be of a served kind.
 * @returns The same object.
 *
 * @example Default a pod
 * ```ts
 * import { applyDefaults, type Pod } from "@tsk/api";
 * const pod = applyDefaults({
 *   apiVersion: "v1", kind: "Pod", metadata: { name: "a" },
 *   spec: { containers: [{ name: "c", image: "busybox" }] },
 * }) as Pod;
 * console.log(pod.spec.restartPolicy, pod.status?.qosClass); // "Always" "BestEffort"
 * ```
 */
export function applyDefaults<T extends ApiObject>(obj: T): T {
  const o = obj as unknown as Obj;
  if (!isObj(o.metadata)) o.metadata = {};
  switch (o.kind) {
    case "Pod": {
      defaultPodSpec(o.spec);
      const st = isObj(o.status) ? o.status : {};
      st.phase ??= "Pending";
      st.qosClass ??= podQosClass(o.spec);
      o.status = st;
      break;
    }
    case "ReplicaSet":
    case "Deployment":
      defaultWorkload(o);
      break;
    case "Service": {
      const s = o.spec;
      if (!isObj(s)) break;
      s.type ??= "ClusterIP";
      s.sessionAffinity ??= "None";
      if (Array.isArray(s.ports)) {
        for (const p of s.ports) {
          if (!isObj(p)) continue;
          p.protocol ??= "TCP";
          p.targetPort ??= p.port;
        }
      }
      break;
    }
    case "Endpoints":
      if (Array.isArray(o.subsets)) {
        for (const ss of o.subsets) {
          if (isObj(ss) && Array.isArray(ss.ports)) {
            for (const p of ss.ports) if (isObj(p)) p.protocol ??= "TCP";
          }
        }
      }
      break;
    case "Secret": {
      o.type ??= "Opaque";
      if (isObj(o.stringData)) {
        const data = isObj(o.data) ? o.data : {};
        for (const [k, v] of Object.entries(o.stringData)) {
          if (typeof v === "string") data[k] = utf8ToBase64(v);
        }
        o.data = data;
        delete o.stringData;
      }
      break;
    }
    case "Namespace": {
      const st = isObj(o.status) ? o.status : {};
      st.phase ??= "Active";
      o.status = st;
      break;
    }
    case "Event":
      o.type ??= "Normal";
      o.count ??= 1;
      break;
  }
  return obj;
}
