/**
 * Validation of objects before they are stored. Every error names the field
 * path (`spec.containers[0].resources.limits.memory`) and what was expected,
 * and all errors of an object are reported at once.
 *
 * @module
 */
import { type FieldError, ValidationError } from "./errors.ts";
import {
  checkLabelKey,
  checkLabelValue,
  type LabelSelector,
  labelSelectorMatches,
} from "./labels.ts";
import { parseQuantity } from "./quantity.ts";
import { resourceForKind } from "./resources.ts";

type Obj = Record<string, unknown>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

/** Collects field errors under a path. */
class Errors {
  readonly list: FieldError[] = [];
  add(field: string, message: string): void {
    this.list.push({ field, message });
  }
}

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);

/**
 * Checks a DNS-1123 subdomain name (most object names).
 *
 * @param name The name.
 * @returns An error message, or undefined when valid.
 *
 * @example Check a name
 * ```ts
 * import { checkDnsSubdomain } from "@tsk/api";
 * console.log(checkDnsSubdomain("Web_1")); // an error message
 * ```
 */
export function checkDnsSubdomain(name: unknown): string | undefined {
  if (typeof name !== "string" || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    return `expected a lower-case DNS name like my-app.v1 (a-z, 0-9, '-', '.'; at most 253), got ${
      JSON.stringify(name)
    }`;
  }
  return undefined;
}

/**
 * Checks a DNS-1123 label (namespace, service and container names).
 *
 * @param name The name.
 * @returns An error message, or undefined when valid.
 *
 * @example Check a label
 * ```ts
 * import { checkDnsLabel } from "@tsk/api";
 * console.log(checkDnsLabel("web")); // undefined
 * ```
 */
export function checkDnsLabel(name: unknown): string | undefined {
  if (typeof name !== "string" || name.length > 63 || !DNS_LABEL.test(name)) {
    return `expected a lower-case DNS label like my-app (a-z, 0-9, '-'; at most 63), got ${
      JSON.stringify(name)
    }`;
  }
  return undefined;
}

function stringMap(e: Errors, path: string, v: unknown, labels: boolean): void {
  if (v === undefined) return;
  if (!isObj(v)) return e.add(path, "expected a map of strings to strings");
  let total = 0;
  for (const [k, val] of Object.entries(v)) {
    const p = `${path}[${JSON.stringify(k)}]`;
    if (typeof val !== "string") {
      e.add(p, `expected a string value, got ${JSON.stringify(val)}`);
      continue;
    }
    total += k.length + val.length;
    const kErr = checkLabelKey(k);
    if (kErr) e.add(p, kErr);
    if (labels) {
      const vErr = checkLabelValue(val);
      if (vErr) e.add(p, vErr);
    }
  }
  if (!labels && total > 256 * 1024) e.add(path, "expected at most 256KiB of annotations");
}

function metadata(e: Errors, obj: Obj, namespaced: boolean, kind: string): void {
  const m = obj.metadata;
  if (!isObj(m)) return e.add("metadata", "expected an object with at least a name");
  if (m.name === undefined || m.name === "") {
    if (typeof m.generateName !== "string" || m.generateName === "") {
      e.add("metadata.name", "required: give the object a name");
    }
  } else {
    const dnsLabelKinds = ["Namespace", "Service"];
    const err = dnsLabelKinds.includes(kind) ? checkDnsLabel(m.name) : checkDnsSubdomain(m.name);
    if (err) e.add("metadata.name", err);
  }
  if (namespaced) {
    if (m.namespace !== undefined) {
      const err = checkDnsLabel(m.namespace);
      if (err) e.add("metadata.namespace", err);
    }
  } else if (m.namespace !== undefined && m.namespace !== "") {
    e.add("metadata.namespace", `not allowed: ${kind} is cluster-scoped`);
  }
  stringMap(e, "metadata.labels", m.labels, true);
  stringMap(e, "metadata.annotations", m.annotations, false);
  if (m.finalizers !== undefined) {
    if (!Array.isArray(m.finalizers)) e.add("metadata.finalizers", "expected a list of strings");
    else {
      m.finalizers.forEach((f, i) => {
        if (typeof f !== "string" || f === "") {
          e.add(
            `metadata.finalizers[${i}]`,
            "expected a non-empty string like example.com/cleanup",
          );
        }
      });
    }
  }
  if (m.ownerReferences !== undefined) {
    if (!Array.isArray(m.ownerReferences)) {
      e.add("metadata.ownerReferences", "expected a list of owner references");
    } else {
      m.ownerReferences.forEach((r, i) => {
        const p = `metadata.ownerReferences[${i}]`;
        if (!isObj(r)) return e.add(p, "expected an object");
        for (const f of ["apiVersion", "kind", "name", "uid"]) {
          if (typeof r[f] !== "string" || r[f] === "") e.add(`${p}.${f}`, "required");
        }
      });
    }
  }
}

function quantityMap(e: Errors, path: string, v: unknown): Map<string, bigint> {
  const out = new Map<string, bigint>();
  if (v === undefined) return out;
  if (!isObj(v)) {
    e.add(path, "expected a map of resource names to quantities like { cpu: 500m, memory: 512Mi }");
    return out;
  }
  for (const [k, q] of Object.entries(v)) {
    try {
      const n = parseQuantity(q as string);
      if (n < 0n) {
        e.add(`${path}.${k}`, `expected a non-negative quantity, got ${JSON.stringify(q)}`);
      }
      out.set(k, n);
    } catch {
      const like = k === "cpu" ? "500m" : "512Mi";
      e.add(`${path}.${k}`, `expected a quantity like ${like}, got ${JSON.stringify(q)}`);
    }
  }
  return out;
}

function port(e: Errors, path: string, v: unknown, required: boolean): void {
  if (v === undefined && !required) return;
  if (!isInt(v) || v < 1 || v > 65535) {
    e.add(path, `expected a port number from 1 to 65535, got ${JSON.stringify(v)}`);
  }
}

function oneOf(e: Errors, path: string, v: unknown, allowed: readonly string[]): void {
  if (v === undefined) return;
  if (typeof v !== "string" || !allowed.includes(v)) {
    e.add(path, `expected one of ${allowed.join(", ")}, got ${JSON.stringify(v)}`);
  }
}

function labelSelector(e: Errors, path: string, v: unknown, required: boolean): void {
  if (v === undefined) {
    if (required) e.add(path, "required: give a selector with matchLabels or matchExpressions");
    return;
  }
  if (!isObj(v)) return e.add(path, "expected an object with matchLabels or matchExpressions");
  stringMap(e, `${path}.matchLabels`, v.matchLabels, true);
  if (v.matchExpressions !== undefined) {
    if (!Array.isArray(v.matchExpressions)) {
      return e.add(`${path}.matchExpressions`, "expected a list");
    }
    v.matchExpressions.forEach((x, i) => {
      const p = `${path}.matchExpressions[${i}]`;
      if (!isObj(x)) return e.add(p, "expected an object with key, operator and values");
      const kErr = typeof x.key === "string" ? checkLabelKey(x.key) : "required";
      if (kErr) e.add(`${p}.key`, kErr);
      oneOf(e, `${p}.operator`, x.operator ?? "", ["In", "NotIn", "Exists", "DoesNotExist"]);
      const vals = x.values;
      if (x.operator === "In" || x.operator === "NotIn") {
        if (!Array.isArray(vals) || vals.length === 0) {
          e.add(`${p}.values`, `required: ${x.operator} needs at least one value`);
        }
      } else if (Array.isArray(vals) && vals.length > 0) {
        e.add(`${p}.values`, `must be empty for ${String(x.operator)}`);
      }
    });
  }
}

function nodeSelectorTerm(e: Errors, path: string, t: unknown): void {
  if (!isObj(t)) return e.add(path, "expected an object with matchExpressions or matchFields");
  for (const part of ["matchExpressions", "matchFields"]) {
    const list = t[part];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      e.add(`${path}.${part}`, "expected a list");
      continue;
    }
    list.forEach((x, i) => {
      const p = `${path}.${part}[${i}]`;
      if (!isObj(x)) return e.add(p, "expected an object with key, operator and values");
      if (typeof x.key !== "string" || x.key === "") e.add(`${p}.key`, "required");
      oneOf(e, `${p}.operator`, x.operator ?? "", [
        "In",
        "NotIn",
        "Exists",
        "DoesNotExist",
        "Gt",
        "Lt",
      ]);
      const vals = x.values;
      if (x.operator === "Gt" || x.operator === "Lt") {
        if (!Array.isArray(vals) || vals.length !== 1 || !/^-?\d+$/.test(String(vals[0]))) {
          e.add(`${p}.values`, `expected exactly one integer for ${x.operator}`);
        }
      } else if (x.operator === "In" || x.operator === "NotIn") {
        if (!Array.isArray(vals) || vals.length === 0) {
          e.add(`${p}.values`, `required: ${x.operator} needs at least one value`);
        }
      }
    });
  }
}

function podAffinityTerms(e: Errors, path: string, v: unknown, weighted: boolean): void {
  if (v === undefined) return;
  if (!Array.isArray(v)) return e.add(path, "expected a list");
  v.forEach((t, i) => {
    const p = `${path}[${i}]`;
    if (!isObj(t)) return e.add(p, "expected an object");
    let term: unknown = t;
    let tp = p;
    if (weighted) {
      if (!isInt(t.weight) || t.weight < 1 || t.weight > 100) {
        e.add(`${p}.weight`, `expected an integer from 1 to 100, got ${JSON.stringify(t.weight)}`);
      }
      term = t.podAffinityTerm;
      tp = `${p}.podAffinityTerm`;
      if (!isObj(term)) return e.add(tp, "required");
    }
    const tt = term as Obj;
    if (typeof tt.topologyKey !== "string" || tt.topologyKey === "") {
      e.add(`${tp}.topologyKey`, "required: a node label such as kubernetes.io/hostname");
    }
    labelSelector(e, `${tp}.labelSelector`, tt.labelSelector, false);
    labelSelector(e, `${tp}.namespaceSelector`, tt.namespaceSelector, false);
  });
}

function affinity(e: Errors, path: string, a: unknown): void {
  if (a === undefined) return;
  if (!isObj(a)) return e.add(path, "expected an object");
  const na = a.nodeAffinity;
  if (na !== undefined) {
    if (!isObj(na)) e.add(`${path}.nodeAffinity`, "expected an object");
    else {
      const req = na.requiredDuringSchedulingIgnoredDuringExecution;
      const rp = `${path}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`;
      if (req !== undefined) {
        if (
          !isObj(req) || !Array.isArray(req.nodeSelectorTerms) || req.nodeSelectorTerms.length === 0
        ) {
          e.add(`${rp}.nodeSelectorTerms`, "expected a non-empty list of terms");
        } else {
          req.nodeSelectorTerms.forEach((t, i) =>
            nodeSelectorTerm(e, `${rp}.nodeSelectorTerms[${i}]`, t)
          );
        }
      }
      const pref = na.preferredDuringSchedulingIgnoredDuringExecution;
      const pp = `${path}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution`;
      if (pref !== undefined) {
        if (!Array.isArray(pref)) e.add(pp, "expected a list");
        else {
          pref.forEach((t, i) => {
            if (!isObj(t)) return e.add(`${pp}[${i}]`, "expected an object");
            if (!isInt(t.weight) || t.weight < 1 || t.weight > 100) {
              e.add(
                `${pp}[${i}].weight`,
                `expected an integer from 1 to 100, got ${JSON.stringify(t.weight)}`,
              );
            }
            nodeSelectorTerm(e, `${pp}[${i}].preference`, t.preference);
          });
        }
      }
    }
  }
  for (const kind of ["podAffinity", "podAntiAffinity"]) {
    const pa = a[kind];
    if (pa === undefined) continue;
    if (!isObj(pa)) {
      e.add(`${path}.${kind}`, "expected an object");
      continue;
    }
    podAffinityTerms(
      e,
      `${path}.${kind}.requiredDuringSchedulingIgnoredDuringExecution`,
      pa.requiredDuringSchedulingIgnoredDuringExecution,
      false,
    );
    podAffinityTerms(
      e,
      `${path}.${kind}.preferredDuringSchedulingIgnoredDuringExecution`,
      pa.preferredDuringSchedulingIgnoredDuringExecution,
      true,
    );
  }
}

function container(e: Errors, path: string, c: unknown, names: Set<string>): void {
  if (!isObj(c)) return e.add(path, "expected a container object with name and image");
  const nErr = checkDnsLabel(c.name);
  if (nErr) e.add(`${path}.name`, nErr);
  else if (names.has(c.name as string)) {
    e.add(`${path}.name`, `duplicate container name ${JSON.stringify(c.name)}`);
  } else names.add(c.name as string);
  if (typeof c.image !== "string" || c.image.trim() === "") {
    e.add(`${path}.image`, "required: an image reference like docker.io/library/busybox:1.36");
  }
  for (const f of ["command", "args"]) {
    const v = c[f];
    if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== "string"))) {
      e.add(`${path}.${f}`, "expected a list of strings");
    }
  }
  oneOf(e, `${path}.imagePullPolicy`, c.imagePullPolicy, ["Always", "IfNotPresent", "Never"]);
  if (c.env !== undefined) {
    if (!Array.isArray(c.env)) e.add(`${path}.env`, "expected a list of { name, value }");
    else {
      c.env.forEach((v, i) => {
        if (!isObj(v) || typeof v.name !== "string" || v.name === "") {
          e.add(`${path}.env[${i}].name`, "required: a variable name");
        } else if (v.value !== undefined && typeof v.value !== "string") {
          e.add(`${path}.env[${i}].value`, `expected a string, got ${JSON.stringify(v.value)}`);
        }
      });
    }
  }
  if (c.ports !== undefined) {
    if (!Array.isArray(c.ports)) e.add(`${path}.ports`, "expected a list of ports");
    else {
      c.ports.forEach((p, i) => {
        const pp = `${path}.ports[${i}]`;
        if (!isObj(p)) return e.add(pp, "expected an object with containerPort");
        port(e, `${pp}.containerPort`, p.containerPort, true);
        port(e, `${pp}.hostPort`, p.hostPort, false);
        oneOf(e, `${pp}.protocol`, p.protocol, ["TCP", "UDP", "SCTP"]);
      });
    }
  }
  const r = c.resources;
  if (r !== undefined) {
    if (!isObj(r)) e.add(`${path}.resources`, "expected an object with requests and limits");
    else {
      const req = quantityMap(e, `${path}.resources.requests`, r.requests);
      const lim = quantityMap(e, `${path}.resources.limits`, r.limits);
      for (const [k, v] of req) {
        const l = lim.get(k);
        if (l !== undefined && v > l) {
          e.add(
            `${path}.resources.requests.${k}`,
            `must be less than or equal to the limit (${JSON.stringify((r.limits as Obj)[k])})`,
          );
        }
      }
    }
  }
  if (c.volumeMounts !== undefined) {
    if (!Array.isArray(c.volumeMounts)) e.add(`${path}.volumeMounts`, "expected a list");
    else {
      c.volumeMounts.forEach((m, i) => {
        if (!isObj(m) || typeof m.name !== "string") {
          e.add(`${path}.volumeMounts[${i}].name`, "required");
        } else if (typeof m.mountPath !== "string" || !m.mountPath.startsWith("/")) {
          e.add(`${path}.volumeMounts[${i}].mountPath`, "expected an absolute path");
        }
      });
    }
  }
}

/**
 * Validates a pod spec under a path (`spec` for a Pod,
 * `spec.template.spec` for workloads).
 *
 * @param spec The pod spec.
 * @param path The path prefix.
 * @returns The field errors.
 *
 * @example Find a bad quantity
 * ```ts
 * import { validatePodSpec } from "@tsk/api";
 * const errs = validatePodSpec({
 *   containers: [{ name: "a", image: "x", resources: { limits: { memory: "lots" } } }],
 * }, "spec");
 * console.log(errs[0].field); // "spec.containers[0].resources.limits.memory"
 * ```
 */
export function validatePodSpec(spec: unknown, path: string): FieldError[] {
  const e = new Errors();
  podSpec(e, path, spec);
  return e.list;
}

function podSpec(e: Errors, path: string, s: unknown): void {
  if (!isObj(s)) return e.add(path, "required: an object with at least one container");
  const names = new Set<string>();
  if (!Array.isArray(s.containers) || s.containers.length === 0) {
    e.add(`${path}.containers`, "required: at least one container with a name and an image");
  } else s.containers.forEach((c, i) => container(e, `${path}.containers[${i}]`, c, names));
  if (s.initContainers !== undefined) {
    if (!Array.isArray(s.initContainers)) e.add(`${path}.initContainers`, "expected a list");
    else s.initContainers.forEach((c, i) => container(e, `${path}.initContainers[${i}]`, c, names));
  }
  if (s.volumes !== undefined) {
    if (!Array.isArray(s.volumes)) e.add(`${path}.volumes`, "expected a list");
    else {
      const vn = new Set<string>();
      s.volumes.forEach((v, i) => {
        const err = isObj(v) ? checkDnsLabel(v.name) : "expected an object with a name";
        if (err) return e.add(`${path}.volumes[${i}].name`, err);
        if (vn.has((v as Obj).name as string)) {
          e.add(
            `${path}.volumes[${i}].name`,
            `duplicate volume name ${JSON.stringify((v as Obj).name)}`,
          );
        }
        vn.add((v as Obj).name as string);
      });
    }
  }
  if (s.nodeName !== undefined && s.nodeName !== "") {
    const err = checkDnsSubdomain(s.nodeName);
    if (err) e.add(`${path}.nodeName`, err);
  }
  stringMap(e, `${path}.nodeSelector`, s.nodeSelector, true);
  oneOf(e, `${path}.restartPolicy`, s.restartPolicy, ["Always", "OnFailure", "Never"]);
  oneOf(e, `${path}.preemptionPolicy`, s.preemptionPolicy, ["PreemptLowerPriority", "Never"]);
  oneOf(e, `${path}.dnsPolicy`, s.dnsPolicy, [
    "ClusterFirst",
    "Default",
    "None",
    "ClusterFirstWithHostNet",
  ]);
  if (s.priority !== undefined && !isInt(s.priority)) {
    e.add(`${path}.priority`, `expected an integer, got ${JSON.stringify(s.priority)}`);
  }
  if (
    s.schedulerName !== undefined && (typeof s.schedulerName !== "string" || s.schedulerName === "")
  ) {
    e.add(`${path}.schedulerName`, "expected a non-empty string");
  }
  for (const f of ["terminationGracePeriodSeconds", "activeDeadlineSeconds"]) {
    const v = s[f];
    if (v !== undefined && (!isInt(v) || v < 0)) {
      e.add(`${path}.${f}`, `expected a non-negative integer, got ${JSON.stringify(v)}`);
    }
  }
  if (s.tolerations !== undefined) {
    if (!Array.isArray(s.tolerations)) e.add(`${path}.tolerations`, "expected a list");
    else {
      s.tolerations.forEach((t, i) => {
        const p = `${path}.tolerations[${i}]`;
        if (!isObj(t)) return e.add(p, "expected an object");
        oneOf(e, `${p}.operator`, t.operator, ["Equal", "Exists"]);
        oneOf(e, `${p}.effect`, t.effect, ["NoSchedule", "PreferNoSchedule", "NoExecute"]);
        if (t.operator === "Exists" && t.value !== undefined && t.value !== "") {
          e.add(`${p}.value`, "must be empty when operator is Exists");
        }
        if ((t.key === undefined || t.key === "") && t.operator !== "Exists") {
          e.add(`${p}.operator`, "must be Exists when key is empty");
        }
      });
    }
  }
  if (s.topologySpreadConstraints !== undefined) {
    if (!Array.isArray(s.topologySpreadConstraints)) {
      e.add(`${path}.topologySpreadConstraints`, "expected a list");
    } else {
      s.topologySpreadConstraints.forEach((c, i) => {
        const p = `${path}.topologySpreadConstraints[${i}]`;
        if (!isObj(c)) return e.add(p, "expected an object");
        if (!isInt(c.maxSkew) || c.maxSkew < 1) {
          e.add(
            `${p}.maxSkew`,
            `expected an integer of at least 1, got ${JSON.stringify(c.maxSkew)}`,
          );
        }
        if (typeof c.topologyKey !== "string" || c.topologyKey === "") {
          e.add(`${p}.topologyKey`, "required");
        }
        if (c.whenUnsatisfiable === undefined) {
          e.add(`${p}.whenUnsatisfiable`, "required: DoNotSchedule or ScheduleAnyway");
        }
        oneOf(e, `${p}.whenUnsatisfiable`, c.whenUnsatisfiable, [
          "DoNotSchedule",
          "ScheduleAnyway",
        ]);
        labelSelector(e, `${p}.labelSelector`, c.labelSelector, false);
      });
    }
  }
  affinity(e, `${path}.affinity`, s.affinity);
  quantityMap(e, `${path}.overhead`, s.overhead);
}

function workload(e: Errors, obj: Obj): void {
  const s = obj.spec;
  if (!isObj(s)) return e.add("spec", "required: an object with selector and template");
  if (s.replicas !== undefined && (!isInt(s.replicas) || s.replicas < 0)) {
    e.add("spec.replicas", `expected a non-negative integer, got ${JSON.stringify(s.replicas)}`);
  }
  labelSelector(e, "spec.selector", s.selector, true);
  const t = s.template;
  if (!isObj(t)) {
    return e.add("spec.template", "required: a pod template with metadata.labels and spec");
  }
  const tm = isObj(t.metadata) ? t.metadata : {};
  stringMap(e, "spec.template.metadata.labels", tm.labels, true);
  if (isObj(s.selector)) {
    const sel = s.selector as LabelSelector;
    const empty = Object.keys(sel.matchLabels ?? {}).length === 0 &&
      (sel.matchExpressions ?? []).length === 0;
    if (empty) e.add("spec.selector", "required: an empty selector would select every pod");
    else if (!labelSelectorMatches(sel, tm.labels as Record<string, string>)) {
      e.add("spec.template.metadata.labels", "must match spec.selector");
    }
  }
  podSpec(e, "spec.template.spec", t.spec);
  const st = s.strategy;
  if (st !== undefined && isObj(st)) {
    oneOf(e, "spec.strategy.type", st.type, ["RollingUpdate", "Recreate"]);
    const ru = st.rollingUpdate;
    if (isObj(ru)) {
      for (const f of ["maxUnavailable", "maxSurge"]) {
        const v = ru[f];
        if (v === undefined) continue;
        const ok = (isInt(v) && v >= 0) || (typeof v === "string" && /^\d+%$/.test(v));
        if (!ok) {
          e.add(
            `spec.strategy.rollingUpdate.${f}`,
            `expected an integer or a percentage like 25%, got ${JSON.stringify(v)}`,
          );
        }
      }
      if (ru.maxUnavailable === 0 && ru.maxSurge === 0) {
        e.add("spec.strategy.rollingUpdate.maxUnavailable", "may not be 0 when maxSurge is 0");
      }
    }
  }
  for (const f of ["minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"]) {
    const v = s[f];
    if (v !== undefined && (!isInt(v) || v < 0)) {
      e.add(`spec.${f}`, `expected a non-negative integer, got ${JSON.stringify(v)}`);
    }
  }
}

function byKind(e: Errors, kind: string, obj: Obj): void {
  switch (kind) {
    case "Pod":
      return podSpec(e, "spec", obj.spec);
    case "ReplicaSet":
    case "Deployment":
      return workload(e, obj);
    case "Service": {
      const s = obj.spec;
      if (!isObj(s)) return e.add("spec", "required: an object with ports");
      oneOf(e, "spec.type", s.type, ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]);
      oneOf(e, "spec.sessionAffinity", s.sessionAffinity, ["None", "ClientIP"]);
      stringMap(e, "spec.selector", s.selector, true);
      if (s.type === "ExternalName" && typeof s.externalName !== "string") {
        e.add("spec.externalName", "required for type ExternalName");
      }
      if (s.ports !== undefined && !Array.isArray(s.ports)) {
        return e.add("spec.ports", "expected a list");
      }
      const ports = (s.ports ?? []) as unknown[];
      if (ports.length === 0 && s.type !== "ExternalName" && s.clusterIP !== "None") {
        e.add("spec.ports", "required: at least one port");
      }
      const names = new Set<string>();
      ports.forEach((p, i) => {
        const pp = `spec.ports[${i}]`;
        if (!isObj(p)) return e.add(pp, "expected an object with port");
        port(e, `${pp}.port`, p.port, true);
        if (typeof p.targetPort === "number") port(e, `${pp}.targetPort`, p.targetPort, true);
        else if (
          p.targetPort !== undefined && (typeof p.targetPort !== "string" || p.targetPort === "")
        ) {
          e.add(`${pp}.targetPort`, "expected a port number or a container port name");
        }
        if (
          p.nodePort !== undefined && (!isInt(p.nodePort) || p.nodePort < 1 || p.nodePort > 65535)
        ) {
          e.add(`${pp}.nodePort`, "expected a port number from 1 to 65535");
        }
        oneOf(e, `${pp}.protocol`, p.protocol, ["TCP", "UDP", "SCTP"]);
        if (ports.length > 1 && (typeof p.name !== "string" || p.name === "")) {
          e.add(`${pp}.name`, "required when a service has several ports");
        }
        if (typeof p.name === "string" && p.name !== "") {
          if (names.has(p.name)) {
            e.add(`${pp}.name`, `duplicate port name ${JSON.stringify(p.name)}`);
          }
          names.add(p.name);
        }
      });
      return;
    }
    case "Endpoints": {
      const subsets = obj.subsets;
      if (subsets === undefined) return;
      if (!Array.isArray(subsets)) return e.add("subsets", "expected a list");
      subsets.forEach((ss, i) => {
        if (!isObj(ss)) return e.add(`subsets[${i}]`, "expected an object");
        for (const f of ["addresses", "notReadyAddresses"]) {
          const list = ss[f];
          if (list === undefined) continue;
          if (!Array.isArray(list)) {
            e.add(`subsets[${i}].${f}`, "expected a list");
            continue;
          }
          list.forEach((a, j) => {
            if (!isObj(a) || typeof a.ip !== "string" || a.ip === "") {
              e.add(`subsets[${i}].${f}[${j}].ip`, "required: an IP address");
            }
          });
        }
        ((ss.ports ?? []) as unknown[]).forEach((p, j) => {
          port(e, `subsets[${i}].ports[${j}].port`, isObj(p) ? p.port : undefined, true);
        });
      });
      return;
    }
    case "ConfigMap":
    case "Secret": {
      for (const f of kind === "Secret" ? ["data", "stringData"] : ["data", "binaryData"]) {
        const d = obj[f];
        if (d === undefined) continue;
        if (!isObj(d)) {
          e.add(f, "expected a map of keys to strings");
          continue;
        }
        for (const [k, v] of Object.entries(d)) {
          const p = `${f}[${JSON.stringify(k)}]`;
          if (!CONFIG_KEY.test(k) || k.length > 253) e.add(p, "expected a key of [-._a-zA-Z0-9]");
          if (typeof v !== "string") e.add(p, `expected a string, got ${JSON.stringify(v)}`);
          else if ((f === "binaryData" || (kind === "Secret" && f === "data")) && !isBase64(v)) {
            e.add(p, "expected base64 data (use stringData for plain text)");
          }
        }
      }
      return;
    }
    case "Node": {
      const s = obj.spec;
      if (s !== undefined) {
        if (!isObj(s)) return e.add("spec", "expected an object");
        if (s.taints !== undefined) {
          if (!Array.isArray(s.taints)) e.add("spec.taints", "expected a list");
          else {
            s.taints.forEach((t, i) => {
              if (!isObj(t) || typeof t.key !== "string" || t.key === "") {
                return e.add(`spec.taints[${i}].key`, "required");
              }
              if (t.effect === undefined) {
                e.add(
                  `spec.taints[${i}].effect`,
                  "required: NoSchedule, PreferNoSchedule or NoExecute",
                );
              }
              oneOf(e, `spec.taints[${i}].effect`, t.effect, [
                "NoSchedule",
                "PreferNoSchedule",
                "NoExecute",
              ]);
            });
          }
        }
        if (s.unschedulable !== undefined && typeof s.unschedulable !== "boolean") {
          e.add("spec.unschedulable", "expected true or false");
        }
      }
      const st = obj.status;
      if (isObj(st)) {
        quantityMap(e, "status.capacity", st.capacity);
        quantityMap(e, "status.allocatable", st.allocatable);
      }
      return;
    }
    case "Lease": {
      const s = obj.spec;
      if (s !== undefined && isObj(s) && s.leaseDurationSeconds !== undefined) {
        if (!isInt(s.leaseDurationSeconds) || s.leaseDurationSeconds <= 0) {
          e.add("spec.leaseDurationSeconds", "expected a positive integer");
        }
      }
      return;
    }
    case "Event": {
      const io = obj.involvedObject;
      if (!isObj(io) || typeof io.kind !== "string" || typeof io.name !== "string") {
        e.add("involvedObject", "required: an object with kind and name");
      }
      oneOf(e, "type", obj.type, ["Normal", "Warning"]);
      return;
    }
  }
}

function isBase64(s: string): boolean {
  return /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0;
}

/**
 * Validates an object of any served kind: type, metadata and the kind's
 * fields. Every error names its field path.
 *
 * @param obj The object, as decoded from JSON or YAML.
 * @returns The field errors; empty when valid.
 *
 * @example Validate a pod
 * ```ts
 * import { validateObject } from "@tsk/api";
 * const errs = validateObject({ apiVersion: "v1", kind: "Pod", metadata: { name: "a" }, spec: {} });
 * console.log(errs[0].field); // "spec.containers"
 * ```
 */
export function validateObject(obj: unknown): FieldError[] {
  const e = new Errors();
  if (!isObj(obj)) {
    e.add("", "expected an object with apiVersion, kind and metadata");
    return e.list;
  }
  if (typeof obj.kind !== "string" || obj.kind === "") {
    e.add("kind", "required: e.g. Pod or Deployment");
    return e.list;
  }
  if (typeof obj.apiVersion !== "string" || obj.apiVersion === "") {
    e.add("apiVersion", "required: e.g. v1 or apps/v1");
    return e.list;
  }
  const info = resourceForKind(obj.apiVersion, obj.kind);
  if (!info) {
    const other = resourceForKind(undefined, obj.kind);
    if (other) {
      e.add(
        "apiVersion",
        `expected ${other.apiVersion} for kind ${obj.kind}, got ${obj.apiVersion}`,
      );
    } else e.add("kind", `unknown kind ${JSON.stringify(obj.kind)} in ${obj.apiVersion}`);
    return e.list;
  }
  metadata(e, obj, info.namespaced, info.kind);
  byKind(e, info.kind, obj);
  return e.list;
}

/**
 * Validates a change: the new object on its own, then the fields that may
 * not change (a pod's node once bound, its containers' names; a workload's
 * selector).
 *
 * @param next The object to store.
 * @param prev The stored object.
 * @returns The field errors; empty when valid.
 *
 * @example Refuse moving a bound pod
 * ```ts
 * import { validateUpdate } from "@tsk/api";
 * const pod = (node: string) => ({
 *   apiVersion: "v1", kind: "Pod", metadata: { name: "a" },
 *   spec: { nodeName: node, containers: [{ name: "c", image: "i" }] },
 * });
 * console.log(validateUpdate(pod("n2"), pod("n1"))[0].field); // "spec.nodeName"
 * ```
 */
export function validateUpdate(next: unknown, prev: unknown): FieldError[] {
  const e = new Errors();
  e.list.push(...validateObject(next));
  if (!isObj(next) || !isObj(prev)) return e.list;
  const ns = isObj(next.spec) ? next.spec : {};
  const ps = isObj(prev.spec) ? prev.spec : {};
  if (next.kind === "Pod") {
    if (ps.nodeName && ns.nodeName !== ps.nodeName) {
      e.add("spec.nodeName", `may not change once bound (bound to ${JSON.stringify(ps.nodeName)})`);
    }
    const names = (s: Obj) =>
      JSON.stringify(((s.containers ?? []) as Obj[]).map((c) => isObj(c) ? c.name : undefined));
    if (names(ns) !== names(ps)) {
      e.add("spec.containers", "may not add, remove or rename containers of a pod");
    }
  }
  if (next.kind === "Deployment" || next.kind === "ReplicaSet") {
    if (JSON.stringify(ns.selector) !== JSON.stringify(ps.selector)) {
      e.add("spec.selector", "may not change: create a new object instead");
    }
  }
  if ((next.kind === "ConfigMap" || next.kind === "Secret") && prev.immutable === true) {
    if (JSON.stringify(next.data) !== JSON.stringify(prev.data) || next.immutable !== true) {
      e.add("data", "may not change: the object is immutable");
    }
  }
  return e.list;
}

/**
 * Throws a {@linkcode ValidationError} listing every field error, when there are any.
 *
 * @param obj The object (for its kind and name in the message).
 * @param errors The field errors.
 * @throws {ValidationError} When `errors` is not empty.
 *
 * @example Reject an invalid pod
 * ```ts
 * import { throwIfInvalid, validateObject } from "@tsk/api";
 * const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "a" }, spec: {} };
 * try { throwIfInvalid(pod, validateObject(pod)); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function throwIfInvalid(obj: unknown, errors: FieldError[]): void {
  if (errors.length === 0) return;
  const o = isObj(obj) ? obj : {};
  const meta = isObj(o.metadata) ? o.metadata : {};
  const kind = typeof o.kind === "string" ? o.kind : "Object";
  const name = typeof meta.name === "string" ? meta.name : meta.generateName ?? "";
  throw new ValidationError(`${kind} ${JSON.stringify(name)}`, errors);
}
