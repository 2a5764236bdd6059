/**
 * Tables for `tsk get`: per-kind columns like kubectl's, and ages.
 *
 * @module
 */
import type {
  ApiObject,
  ConfigMap,
  Deployment,
  Endpoints,
  Event,
  Lease,
  Namespace,
  Node,
  Pod,
  ReplicaSet,
  Secret,
  Service,
} from "@tsk/api";

/**
 * Formats the time since an RFC 3339 timestamp like kubectl: 45s, 3m, 2h, 5d.
 *
 * @param ts The timestamp.
 * @param now The current time.
 * @returns The age, or `<unknown>`.
 */
export function age(ts: string | undefined, now: Date = new Date()): string {
  if (!ts) return "<unknown>";
  const s = Math.max(0, Math.floor((now.getTime() - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 3600 * 2) return `${Math.floor(s / 60)}m`;
  if (s < 86400 * 2) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function podStatus(p: Pod): string {
  if (p.metadata.deletionTimestamp) return "Terminating";
  for (const cs of p.status?.containerStatuses ?? []) {
    const w = cs.state?.waiting?.reason;
    if (w) return w;
    const t = cs.state?.terminated?.reason;
    if (t && p.status?.phase !== "Succeeded") return t;
  }
  return p.status?.reason ?? p.status?.phase ?? "Pending";
}

/** The columns of a kind and how to fill them. */
export function columns(kind: string): { headers: string[]; row: (o: ApiObject) => string[] } {
  switch (kind) {
    case "Pod":
      return {
        headers: ["NAME", "READY", "STATUS", "RESTARTS", "NODE", "AGE"],
        row: (o) => {
          const p = o as Pod;
          const cs = p.status?.containerStatuses ?? [];
          const ready = cs.filter((c) => c.ready).length;
          return [
            p.metadata.name!,
            `${ready}/${p.spec.containers.length}`,
            podStatus(p),
            String(cs.reduce((n, c) => n + (c.restartCount ?? 0), 0)),
            p.spec.nodeName ?? "<none>",
            age(p.metadata.creationTimestamp),
          ];
        },
      };
    case "Deployment":
      return {
        headers: ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        row: (o) => {
          const d = o as Deployment;
          return [
            d.metadata.name!,
            `${d.status?.readyReplicas ?? 0}/${d.spec.replicas ?? 1}`,
            String(d.status?.updatedReplicas ?? 0),
            String(d.status?.availableReplicas ?? 0),
            age(d.metadata.creationTimestamp),
          ];
        },
      };
    case "ReplicaSet":
      return {
        headers: ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        row: (o) => {
          const r = o as ReplicaSet;
          return [
            r.metadata.name!,
            String(r.spec.replicas ?? 1),
            String(r.status?.replicas ?? 0),
            String(r.status?.readyReplicas ?? 0),
            age(r.metadata.creationTimestamp),
          ];
        },
      };
    case "Service":
      return {
        headers: ["NAME", "TYPE", "CLUSTER-IP", "PORT(S)", "AGE"],
        row: (o) => {
          const s = o as Service;
          const ports = (s.spec.ports ?? []).map((p) =>
            `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol ?? "TCP"}`
          ).join(",");
          return [
            s.metadata.name!,
            s.spec.type ?? "ClusterIP",
            s.spec.clusterIP ?? "<none>",
            ports || "<none>",
            age(s.metadata.creationTimestamp),
          ];
        },
      };
    case "Node":
      return {
        headers: ["NAME", "STATUS", "CPU", "MEMORY", "AGE"],
        row: (o) => {
          const n = o as Node;
          const ready = n.status?.conditions?.find((c) => c.type === "Ready");
          let status = ready?.status === "True" ? "Ready" : ready ? "NotReady" : "Unknown";
          if (n.spec?.unschedulable) status += ",SchedulingDisabled";
          return [
            n.metadata.name!,
            status,
            n.status?.allocatable?.cpu ?? "<none>",
            n.status?.allocatable?.memory ?? "<none>",
            age(n.metadata.creationTimestamp),
          ];
        },
      };
    case "Namespace":
      return {
        headers: ["NAME", "STATUS", "AGE"],
        row: (o) => [
          o.metadata.name!,
          o.metadata.deletionTimestamp ? "Terminating" : (o as Namespace).status?.phase ?? "Active",
          age(o.metadata.creationTimestamp),
        ],
      };
    case "Endpoints":
      return {
        headers: ["NAME", "ENDPOINTS", "AGE"],
        row: (o) => {
          const e = o as Endpoints;
          const eps = (e.subsets ?? []).flatMap((s) =>
            (s.addresses ?? []).flatMap((a) =>
              (s.ports ?? [{ port: 0 }]).map((p) => `${a.ip}:${p.port}`)
            )
          );
          return [
            e.metadata.name!,
            eps.length
              ? eps.slice(0, 3).join(",") + (eps.length > 3 ? ` + ${eps.length - 3} more` : "")
              : "<none>",
            age(e.metadata.creationTimestamp),
          ];
        },
      };
    case "ConfigMap":
      return {
        headers: ["NAME", "DATA", "AGE"],
        row: (o) => {
          const c = o as ConfigMap;
          return [
            c.metadata.name!,
            String(Object.keys(c.data ?? {}).length + Object.keys(c.binaryData ?? {}).length),
            age(c.metadata.creationTimestamp),
          ];
        },
      };
    case "Secret":
      return {
        headers: ["NAME", "TYPE", "DATA", "AGE"],
        row: (o) => {
          const s = o as Secret;
          return [
            s.metadata.name!,
            s.type ?? "Opaque",
            String(Object.keys(s.data ?? {}).length),
            age(s.metadata.creationTimestamp),
          ];
        },
      };
    case "Event":
      return {
        headers: ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        row: (o) => {
          const e = o as Event;
          return [
            age(e.lastTimestamp ?? e.metadata.creationTimestamp),
            e.type ?? "Normal",
            e.reason ?? "",
            `${e.involvedObject.kind.toLowerCase()}/${e.involvedObject.name}`,
            e.message ?? "",
          ];
        },
      };
    case "Lease":
      return {
        headers: ["NAME", "HOLDER", "AGE"],
        row: (o) => {
          const l = o as Lease;
          return [
            l.metadata.name!,
            l.spec?.holderIdentity ?? "",
            age(l.metadata.creationTimestamp),
          ];
        },
      };
  }
  return {
    headers: ["NAME", "AGE"],
    row: (o) => [o.metadata.name!, age(o.metadata.creationTimestamp)],
  };
}

/**
 * Renders rows as aligned columns, kubectl style (three spaces between).
 *
 * @param headers The header row.
 * @param rows The rows.
 * @returns The lines.
 */
export function renderTable(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i])).join("   ").trimEnd();
  return [line(headers), ...rows.map(line)];
}
