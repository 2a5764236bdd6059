/**
 * `events` output in runc's schema (the `stats` event's `data`), so that a
 * tool that reads `runc events --stats` reads tsk-runtime's: CPU times in
 * nanoseconds under `cpu.usage`, memory under `memory.usage`, block I/O as
 * `blkio` entries. Block I/O is summed over devices (entries without
 * `major` and `minor`); the cpuset, hugetlb, Intel RDT and network parts
 * are present and empty.
 *
 * @module
 */
import type { CgroupStats } from "./cgroup/manager.ts";

/**
 * What the v1 kernel reports for an unlimited memory cgroup (2^63 - 4096),
 * as runc passes it on. A JavaScript number holds it exactly but prints it
 * rounded (9223372036854772000): {@linkcode runcEventJson} writes its digits.
 */
const UNLIMITED = 9223372036854771712;
const UNLIMITED_DIGITS = "9223372036854771712";

/** One runc blkio entry. */
interface BlkioEntry {
  op: string;
  value: number;
}

/** A `stats` event's `data` in runc's schema. */
export interface RuncStats {
  cpu: {
    usage: { total?: number; kernel: number; user: number };
    throttling: { periods?: number; throttledPeriods?: number; throttledTime?: number };
  };
  cpuset: Record<string, never>;
  memory: { usage: { limit: number; usage?: number; max?: number; failcnt: number } };
  pids: { current?: number; limit?: number };
  blkio: { ioServiceBytesRecursive?: BlkioEntry[]; ioServicedRecursive?: BlkioEntry[] };
  hugetlb: Record<string, never>;
  "intel_rdt": Record<string, never>;
  "network_interfaces": null;
}

/** `value` when it is not zero (runc's `omitempty`). */
function nz(value: number): number | undefined {
  return value === 0 ? undefined : value;
}

function entries(read: number, write: number): BlkioEntry[] | undefined {
  if (read === 0 && write === 0) return undefined;
  return [
    { op: "Read", value: read },
    { op: "Write", value: write },
    { op: "Total", value: read + write },
  ];
}

/**
 * Turns a container's cgroup statistics into runc's `events` schema.
 *
 * @param s The statistics (`Container.stats()`).
 * @returns The `data` of a `{"type": "stats"}` event.
 *
 * @example A container that used 2 ms of CPU
 * ```ts
 * import { runcStats } from "./_runc_events.ts";
 * const data = runcStats({
 *   cpu: { usageUsec: 2000, userUsec: 1000, systemUsec: 1000, nrPeriods: 0, nrThrottled: 0, throttledUsec: 0 },
 *   memory: { usage: 4096, maxUsage: 8192, limit: null, oomEvents: 0, oomKillEvents: 0 },
 *   pids: { current: 1, limit: 20 },
 *   io: { readBytes: 0, writeBytes: 0, readOps: 0, writeOps: 0 },
 * });
 * console.log(data.cpu.usage.total); // 2000000
 * ```
 */
export function runcStats(s: CgroupStats): RuncStats {
  return {
    cpu: {
      usage: {
        total: nz(s.cpu.usageUsec * 1000),
        kernel: s.cpu.systemUsec * 1000,
        user: s.cpu.userUsec * 1000,
      },
      throttling: {
        periods: nz(s.cpu.nrPeriods),
        throttledPeriods: nz(s.cpu.nrThrottled),
        throttledTime: nz(s.cpu.throttledUsec * 1000),
      },
    },
    cpuset: {},
    memory: {
      usage: {
        limit: s.memory.limit ?? UNLIMITED,
        usage: nz(s.memory.usage),
        max: nz(s.memory.maxUsage),
        failcnt: 0,
      },
    },
    pids: { current: nz(s.pids.current), limit: nz(s.pids.limit ?? 0) },
    blkio: {
      ioServiceBytesRecursive: entries(s.io.readBytes, s.io.writeBytes),
      ioServicedRecursive: entries(s.io.readOps, s.io.writeOps),
    },
    hugetlb: {},
    "intel_rdt": {},
    "network_interfaces": null,
  };
}

/**
 * One `events` line as runc prints it: the event as JSON, with the
 * "unlimited" memory figure in its exact digits.
 *
 * @param event `{type, id, data}`.
 * @returns The JSON text.
 *
 * @example
 * ```ts
 * import { runcEventJson } from "./_runc_events.ts";
 * console.log(runcEventJson({ type: "oom", id: "web" })); // {"type":"oom","id":"web"}
 * ```
 */
export function runcEventJson(event: { type: string; id: string; data?: unknown }): string {
  const marker = "\u0000unlimited\u0000";
  return JSON.stringify(event, (_, v) => (v === UNLIMITED ? marker : v))
    .replaceAll(JSON.stringify(marker), UNLIMITED_DIGITS);
}
