/**
 * The OCI runtime spec's `linux.resources` object, its validation, and the
 * conversions between cgroup v1 and v2 units that runc also applies.
 *
 * @module
 */
import { CgroupError } from "./errors.ts";

/** `linux.resources.memory`: limits in bytes; -1 means unlimited. */
export interface LinuxMemory {
  /** Hard limit (v1 memory.limit_in_bytes, v2 memory.max). */
  limit?: number;
  /** Soft limit (v1 memory.soft_limit_in_bytes, v2 memory.low). */
  reservation?: number;
  /** Memory plus swap limit (v1 memory.memsw.limit_in_bytes; v2 memory.swap.max = swap - limit). */
  swap?: number;
  /** Swap tendency 0-100 (v1 only). */
  swappiness?: number;
  /** Disable the OOM killer (v1 memory.oom_control; unsupported on v2). */
  disableOOMKiller?: boolean;
  /** Accepted for compatibility; hierarchy accounting is always on in current kernels. */
  useHierarchy?: boolean;
  /** Refuse a new limit below current usage. */
  checkBeforeUpdate?: boolean;
}

/** `linux.resources.cpu`. */
export interface LinuxCPU {
  /** Relative weight (v1 cpu.shares; v2 cpu.weight after conversion). */
  shares?: number;
  /** CFS quota in microseconds per period; -1 means unlimited. */
  quota?: number;
  /** CFS burst in microseconds. */
  burst?: number;
  /** CFS period in microseconds. */
  period?: number;
  /** CPUs the container may use, in list format (`0-3,6`). */
  cpus?: string;
  /** Memory nodes the container may use, in list format. */
  mems?: string;
  /** 1 makes the group SCHED_IDLE. */
  idle?: number;
}

/** `linux.resources.pids`. */
export interface LinuxPids {
  /** Maximum number of tasks; 0 or -1 means unlimited. */
  limit: number;
}

/** A per-device weight in `linux.resources.blockIO.weightDevice`. */
export interface LinuxWeightDevice {
  /** Device major number. */
  major: number;
  /** Device minor number. */
  minor: number;
  /** Weight 10-1000. */
  weight?: number;
}

/** A per-device rate limit in `linux.resources.blockIO.throttle*Device`. */
export interface LinuxThrottleDevice {
  /** Device major number. */
  major: number;
  /** Device minor number. */
  minor: number;
  /** Bytes or operations per second. */
  rate: number;
}

/** `linux.resources.blockIO`. */
export interface LinuxBlockIO {
  /** Weight 10-1000 (v1 blkio.weight or blkio.bfq.weight; v2 io.bfq.weight or io.weight). */
  weight?: number;
  /** Per-device weights. */
  weightDevice?: LinuxWeightDevice[];
  /** Read bytes per second per device. */
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  /** Write bytes per second per device. */
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  /** Read operations per second per device. */
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  /** Write operations per second per device. */
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

/** A device cgroup rule in `linux.resources.devices`. */
export interface LinuxDeviceCgroup {
  /** Allow (true) or deny (false) access. */
  allow: boolean;
  /** `a` (all), `c` (character) or `b` (block); default `a`. */
  type?: "a" | "b" | "c";
  /** Major number; missing or -1 means any. */
  major?: number;
  /** Minor number; missing or -1 means any. */
  minor?: number;
  /** Any of `r`, `w`, `m`; default `rwm`. */
  access?: string;
}

/** The OCI runtime spec's `linux.resources` object, as far as tsk supports it. */
export interface LinuxResources {
  /** Device access rules, applied in order (a later rule overrides an earlier one). */
  devices?: LinuxDeviceCgroup[];
  /** Memory limits. */
  memory?: LinuxMemory;
  /** CPU limits. */
  cpu?: LinuxCPU;
  /** Task count limit. */
  pids?: LinuxPids;
  /** Block IO weights and limits. */
  blockIO?: LinuxBlockIO;
  /** Raw cgroup v2 files to write (`{"memory.high": "64M"}`); v2 only. */
  unified?: Record<string, string>;
  /** Hugepage limits by page size (the hugetlb controller; kubelet sends 0 for every size). */
  hugepageLimits?: LinuxHugepageLimit[];
}

/** One hugepage limit: `pageSize` as the kernel names it (`2MB`, `1GB`, `64KB`), `limit` in bytes. */
export interface LinuxHugepageLimit {
  /** The page size, `<number><KB|MB|GB>`. */
  pageSize: string;
  /** The most bytes of pages of that size (0: none). */
  limit: number;
}

const RESOURCE_KEYS = ["devices", "memory", "cpu", "pids", "blockIO", "unified", "hugepageLimits"];
const UNSUPPORTED_RESOURCES: Record<string, string> = {
  network: "network classid and priorities are not supported by tsk",
  rdma: "rdma limits are not supported by tsk",
};
const MEMORY_KEYS = [
  "limit",
  "reservation",
  "swap",
  "swappiness",
  "disableOOMKiller",
  "useHierarchy",
  "checkBeforeUpdate",
];
const UNSUPPORTED_MEMORY: Record<string, string> = {
  kernel: "kernel memory limits are not supported by current kernels",
  kernelTCP: "kernel TCP memory limits are not supported by tsk",
};
const CPU_KEYS = ["shares", "quota", "burst", "period", "cpus", "mems", "idle"];
const UNSUPPORTED_CPU: Record<string, string> = {
  realtimeRuntime: "real-time scheduling limits are not supported by tsk",
  realtimePeriod: "real-time scheduling limits are not supported by tsk",
};
const BLOCKIO_KEYS = [
  "weight",
  "weightDevice",
  "throttleReadBpsDevice",
  "throttleWriteBpsDevice",
  "throttleReadIOPSDevice",
  "throttleWriteIOPSDevice",
];
const UNSUPPORTED_BLOCKIO: Record<string, string> = {
  leafWeight: "leaf weights existed only in the removed CFQ scheduler",
};
const CPU_LIST = /^(\d+(-\d+)?)(,\d+(-\d+)?)*$/;

/**
 * Drops the `keys` of `obj` that are 0: runc reads a 0 as "not set", and
 * Docker and containerd send 0 for every limit nobody asked for (including
 * ones tsk does not support, such as kernel memory).
 */
function dropZeros(obj: unknown, keys: readonly string[]): void {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return;
  const o = obj as Record<string, unknown>;
  for (const k of keys) if (o[k] === 0) delete o[k];
}

/** The limits an update's 0 leaves as they are (-1 lifts a pids limit; moby sends 0 for "not asked"). */
const ZERO_UNCHANGED: Record<string, readonly string[]> = {
  memory: ["limit", "reservation", "swap", "kernel", "kernelTCP"],
  cpu: ["shares", "quota", "period", "realtimeRuntime", "realtimePeriod"],
  blockIO: ["weight", "leafWeight"],
  pids: ["limit"],
};

/**
 * A copy of an update's resources without the limits it gives as 0: runc
 * leaves those as they are, and Docker and containerd send 0 for every limit
 * not asked for.
 *
 * @param resources The update, as given.
 * @returns The limits it changes.
 *
 * @example `docker update --pids-limit 40`, as containerd passes it on
 * ```ts
 * import { withoutZeroLimits } from "./resources.ts";
 * withoutZeroLimits({ memory: { limit: 0 }, pids: { limit: 40 } }); // { memory: {}, pids: { limit: 40 } }
 * ```
 */
export function withoutZeroLimits(resources: LinuxResources): LinuxResources {
  const out = structuredClone(resources) as Record<string, unknown>;
  for (const [group, keys] of Object.entries(ZERO_UNCHANGED)) dropZeros(out[group], keys);
  return out as LinuxResources;
}

function fail(field: string, message: string): never {
  throw new CgroupError(message, { field });
}

function checkObject(
  value: unknown,
  path: string,
  known: string[],
  unsupported: Record<string, string> = {},
): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    fail(path, "expected an object");
  }
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (obj[key] === undefined || obj[key] === null) continue;
    if (Object.hasOwn(unsupported, key)) fail(`${path}.${key}`, unsupported[key]);
    if (!known.includes(key)) {
      fail(`${path}.${key}`, `unknown field; expected one of ${known.join(", ")}`);
    }
  }
  return obj;
}

function checkInt(
  obj: Record<string, unknown>,
  key: string,
  path: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): void {
  const v = obj[key];
  if (v === undefined || v === null) return;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
    fail(`${path}.${key}`, `expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
}

function checkBool(obj: Record<string, unknown>, key: string, path: string): void {
  const v = obj[key];
  if (v !== undefined && v !== null && typeof v !== "boolean") {
    fail(`${path}.${key}`, `expected a boolean, got ${JSON.stringify(v)}`);
  }
}

function checkDeviceList(
  value: unknown,
  path: string,
  rateKey: "weight" | "rate",
): void {
  if (value === undefined || value === null) return;
  if (!Array.isArray(value)) fail(path, "expected an array");
  value.forEach((d, i) => {
    const p = `${path}[${i}]`;
    const obj = checkObject(d, p, ["major", "minor", rateKey]);
    for (const k of ["major", "minor"]) {
      if (obj[k] === undefined) fail(`${p}.${k}`, "required");
      checkInt(obj, k, p, 0, 0xffffffff);
    }
    if (rateKey === "rate") {
      if (obj.rate === undefined) fail(`${p}.rate`, "required");
      checkInt(obj, "rate", p, 0);
    } else {
      checkInt(obj, "weight", p, 10, 1000);
    }
  });
}

/**
 * Checks a `linux.resources` object from config.json. Fields tsk cannot
 * enforce are refused with an error naming them rather than ignored.
 *
 * @param value The parsed JSON value.
 * @param path The field path for messages.
 * @returns The same value, typed.
 * @throws {CgroupError} With `field` set, for the first problem found.
 *
 * @example Validate a memory and pids limit
 * ```ts
 * import { validateResources } from "./resources.ts";
 * const r = validateResources(
 *   { memory: { limit: 64 << 20 }, pids: { limit: 100 } },
 *   "linux.resources",
 * );
 * ```
 */
export function validateResources(value: unknown, path: string): LinuxResources {
  const r = checkObject(value, path, RESOURCE_KEYS, UNSUPPORTED_RESOURCES);

  if (r.memory !== undefined && r.memory !== null) {
    const p = `${path}.memory`;
    dropZeros(r.memory, Object.keys(UNSUPPORTED_MEMORY));
    const m = checkObject(r.memory, p, MEMORY_KEYS, UNSUPPORTED_MEMORY);
    checkInt(m, "limit", p, -1);
    checkInt(m, "reservation", p, -1);
    checkInt(m, "swap", p, -1);
    checkInt(m, "swappiness", p, 0, 100);
    for (const k of ["disableOOMKiller", "useHierarchy", "checkBeforeUpdate"]) checkBool(m, k, p);
    const limit = m.limit as number | undefined;
    const swap = m.swap as number | undefined;
    if (swap !== undefined && swap > 0) {
      if (limit === undefined || limit <= 0) {
        fail(`${p}.swap`, "a swap limit needs a memory limit (memory.limit) as well");
      }
      if (swap < limit) {
        fail(`${p}.swap`, `memory+swap limit ${swap} is below the memory limit ${limit}`);
      }
    }
    if (limit !== undefined && limit > 0 && limit < 4096) {
      fail(`${p}.limit`, `a limit of ${limit} bytes is below one page`);
    }
  }

  if (r.cpu !== undefined && r.cpu !== null) {
    const p = `${path}.cpu`;
    dropZeros(r.cpu, Object.keys(UNSUPPORTED_CPU));
    const c = checkObject(r.cpu, p, CPU_KEYS, UNSUPPORTED_CPU);
    checkInt(c, "shares", p, 0, 262144);
    checkInt(c, "quota", p, -1);
    // 0 leaves the quota as it is (runc's reading); -1 lifts it.
    if (typeof c.quota === "number" && c.quota > 0 && c.quota < 1000) {
      fail(`${p}.quota`, `the kernel's smallest quota is 1000 microseconds, got ${c.quota}`);
    }
    checkInt(c, "burst", p, 0);
    checkInt(c, "period", p, 0, 1000000);
    if (typeof c.period === "number" && c.period !== 0 && c.period < 1000) {
      fail(`${p}.period`, `expected 1000 to 1000000 microseconds, got ${c.period}`);
    }
    checkInt(c, "idle", p, 0, 1);
    for (const k of ["cpus", "mems"]) {
      const v = c[k];
      if (v === undefined || v === null) continue;
      if (typeof v !== "string" || (v !== "" && !CPU_LIST.test(v))) {
        fail(`${p}.${k}`, `expected a list like "0-3,6", got ${JSON.stringify(v)}`);
      }
    }
  }

  if (r.hugepageLimits !== undefined && r.hugepageLimits !== null) {
    const p = `${path}.hugepageLimits`;
    if (!Array.isArray(r.hugepageLimits)) fail(p, "expected an array");
    (r.hugepageLimits as unknown[]).forEach((h, i) => {
      const q = `${p}[${i}]`;
      const o = checkObject(h, q, ["pageSize", "limit"]);
      if (typeof o.pageSize !== "string" || !/^\d+[KMG]B$/.test(o.pageSize)) {
        fail(`${q}.pageSize`, `expected a size like 2MB or 1GB, got ${JSON.stringify(o.pageSize)}`);
      }
      if (o.limit === undefined) fail(`${q}.limit`, "required");
      checkInt(o, "limit", q, 0);
    });
  }

  if (r.pids !== undefined && r.pids !== null) {
    const p = `${path}.pids`;
    const pids = checkObject(r.pids, p, ["limit"]);
    if (pids.limit === undefined) fail(`${p}.limit`, "required");
    checkInt(pids, "limit", p, -1);
  }

  if (r.blockIO !== undefined && r.blockIO !== null) {
    const p = `${path}.blockIO`;
    // 0 leaves a weight unset, as with runc (Docker sends 0 when none is asked).
    dropZeros(r.blockIO, ["weight", ...Object.keys(UNSUPPORTED_BLOCKIO)]);
    const b = checkObject(r.blockIO, p, BLOCKIO_KEYS, UNSUPPORTED_BLOCKIO);
    checkInt(b, "weight", p, 10, 1000);
    checkDeviceList(b.weightDevice, `${p}.weightDevice`, "weight");
    for (const k of BLOCKIO_KEYS.slice(2)) checkDeviceList(b[k], `${p}.${k}`, "rate");
  }

  if (r.devices !== undefined && r.devices !== null) {
    const p = `${path}.devices`;
    if (!Array.isArray(r.devices)) fail(p, "expected an array of device rules");
    r.devices.forEach((d: unknown, i: number) => {
      const dp = `${p}[${i}]`;
      const o = checkObject(d, dp, ["allow", "type", "major", "minor", "access"]);
      if (typeof o.allow !== "boolean") fail(`${dp}.allow`, "expected a boolean");
      if (o.type !== undefined && o.type !== null && !["a", "b", "c"].includes(o.type as string)) {
        fail(`${dp}.type`, `expected "a", "b" or "c", got ${JSON.stringify(o.type)}`);
      }
      checkInt(o, "major", dp, -1, 0xffffffff);
      checkInt(o, "minor", dp, -1, 0xffffffff);
      if (
        o.access !== undefined && o.access !== null &&
        (typeof o.access !== "string" || !/^[rwm]*$/.test(o.access))
      ) {
        fail(`${dp}.access`, `expected letters from "rwm", got ${JSON.stringify(o.access)}`);
      }
    });
  }

  if (r.unified !== undefined && r.unified !== null) {
    const p = `${path}.unified`;
    const u = checkObject(r.unified, p, Object.keys(r.unified as object));
    for (const [k, v] of Object.entries(u)) {
      if (!/^[a-z0-9_]+\.[a-z0-9_.]+$/.test(k)) {
        fail(`${p}.${k}`, "expected a cgroup file name like memory.high");
      }
      if (typeof v !== "string") fail(`${p}.${k}`, "expected a string value");
      if (["cgroup.procs", "cgroup.threads", "cgroup.kill", "cgroup.subtree_control"].includes(k)) {
        fail(`${p}.${k}`, "this file is managed by the runtime, not by resources");
      }
    }
  }
  return value as LinuxResources;
}

/**
 * Converts cgroup v1 `cpu.shares` (2-262144) to v2 `cpu.weight` (1-10000)
 * with the linear map runc and crun use, so 1024 shares become weight 39.
 *
 * @param shares The v1 shares; 0 means unset.
 * @returns The weight, or 0 for unset.
 *
 * @example Default shares
 * ```ts
 * import { cpuSharesToWeight } from "./resources.ts";
 * cpuSharesToWeight(1024); // 39
 * ```
 */
export function cpuSharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return 1 + Math.floor(((Math.max(shares, 2) - 2) * 9999) / 262142);
}

/**
 * Converts a v1 blkio weight (10-1000) to a v2 `io.weight` (1-10000), as runc does.
 *
 * @param weight The v1 weight; 0 means unset.
 * @returns The v2 weight, or 0 for unset.
 *
 * @example The middle weight
 * ```ts
 * import { blkioWeightToIoWeight } from "./resources.ts";
 * blkioWeightToIoWeight(500); // 4950
 * ```
 */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * Converts the OCI memory+swap limit to cgroup v2's `memory.swap.max`, which
 * counts swap alone: `swap - limit`, `max` for unlimited.
 *
 * @param swap The OCI `memory.swap` (memory plus swap, -1 unlimited).
 * @param limit The OCI `memory.limit`.
 * @returns The value to write, or `undefined` when nothing should be written.
 * @throws {CgroupError} When the pair cannot be expressed.
 *
 * @example 64 MiB of memory and 64 MiB of swap
 * ```ts
 * import { memorySwapToV2 } from "./resources.ts";
 * memorySwapToV2(128 << 20, 64 << 20); // "67108864"
 * ```
 */
export function memorySwapToV2(
  swap: number | undefined,
  limit: number | undefined,
): string | undefined {
  if (swap === undefined || swap === 0) return undefined;
  if (swap === -1) return "max";
  if (limit === undefined || limit <= 0) {
    throw new CgroupError("a swap limit needs a memory limit", {
      field: "linux.resources.memory.swap",
    });
  }
  if (swap < limit) {
    throw new CgroupError(`memory+swap limit ${swap} is below the memory limit ${limit}`, {
      field: "linux.resources.memory.swap",
    });
  }
  return String(swap - limit);
}

/**
 * The device rules every container gets besides its spec's own (runc's):
 * deny everything, then allow mknod of any device and use of /dev/null,
 * zero, full, random, urandom, tty, ptmx, pts/* and net/tun. Not the host's
 * console (5:1): a container's /dev/console is a pts.
 */
export const DEFAULT_DEVICE_RULES: readonly LinuxDeviceCgroup[] = Object.freeze([
  { allow: false, access: "rwm" },
  { allow: true, type: "c", access: "m" },
  { allow: true, type: "b", access: "m" },
  { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 5, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 7, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 8, access: "rwm" },
  { allow: true, type: "c", major: 1, minor: 9, access: "rwm" },
  { allow: true, type: "c", major: 5, minor: 0, access: "rwm" },
  { allow: true, type: "c", major: 5, minor: 2, access: "rwm" },
  { allow: true, type: "c", major: 136, access: "rwm" },
  { allow: true, type: "c", major: 10, minor: 200, access: "rwm" },
] as LinuxDeviceCgroup[]);
