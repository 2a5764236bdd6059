/**
 * The cgroup manager contract and the factory that detects the host's cgroup
 * layout (pure v2, v1, or hybrid: v1 controllers plus an empty v2 hierarchy at
 * /sys/fs/cgroup/unified) and picks a backend: v2 where its controllers are
 * usable, v1 otherwise.
 *
 * @module
 */
import { CgroupError } from "./errors.ts";
import { type CgroupFs, denoCgroupFs } from "./host.ts";
import type { LinuxResources } from "./resources.ts";
import { CgroupV1Manager, SYSTEMD_HIERARCHY, V1_CONTROLLERS } from "./v1.ts";
import { applyDeviceRulesBpf } from "./bpf_devices.ts";
import { CgroupV2Manager, type DeviceRuleApplier } from "./v2.ts";

/** CPU statistics of a cgroup; times in microseconds. */
export interface CpuStats {
  /** Total CPU time used. */
  usageUsec: number;
  /** CPU time in user mode. */
  userUsec: number;
  /** CPU time in kernel mode. */
  systemUsec: number;
  /** CFS enforcement periods elapsed while the group was runnable. */
  nrPeriods: number;
  /** Periods in which the group was throttled. */
  nrThrottled: number;
  /** Total time the group was throttled. */
  throttledUsec: number;
}

/** Memory statistics of a cgroup, in bytes. */
export interface MemoryStats {
  /** Current usage. */
  usage: number;
  /** Highest usage seen (v1 memory.max_usage_in_bytes, v2 memory.peak; 0 when unknown). */
  maxUsage: number;
  /** The hard limit, or null when unlimited. */
  limit: number | null;
  /**
   * Times the group hit its limit and the OOM killer was invoked (v2
   * memory.events `oom`). v1 keeps no such counter, so there it equals
   * `oomKillEvents`.
   */
  oomEvents: number;
  /** Processes killed by the OOM killer in this group. */
  oomKillEvents: number;
}

/** Task statistics of a cgroup. */
export interface PidsStats {
  /** Tasks (threads included) in the group. */
  current: number;
  /** The pids.max limit, or null when unlimited. */
  limit: number | null;
}

/** Block I/O of a cgroup, summed over devices. */
export interface IoStats {
  /** Bytes read. */
  readBytes: number;
  /** Bytes written. */
  writeBytes: number;
  /** Read operations. */
  readOps: number;
  /** Write operations. */
  writeOps: number;
}

/** What {@linkcode CgroupManager.stats} reports. */
export interface CgroupStats {
  /** CPU usage and throttling. */
  cpu: CpuStats;
  /** Memory usage and OOM events. */
  memory: MemoryStats;
  /** Task count and limit. */
  pids: PidsStats;
  /** Block I/O (zeros when the io/blkio controller is absent). */
  io: IoStats;
}

/**
 * A sub-cgroup of a container's cgroup that a process goes into: a path
 * relative to that cgroup for every controller (key `""`) or for named v1
 * controllers, as runc's `exec --cgroup [controller[,controller]:]path`.
 */
export type SubCgroup = Readonly<Record<string, string>>;

/**
 * Parses runc's `--cgroup` values (`path` or `controller[,controller]:path`).
 *
 * @param values The values, one per flag given.
 * @param field The name errors give (the flag).
 * @returns The sub-cgroup by controller (`""`: every controller).
 * @throws {CgroupError} For an empty or escaping path, or a controller given twice.
 *
 * @example
 * ```ts
 * import { parseSubCgroup } from "./manager.ts";
 * console.log(parseSubCgroup(["cpu,cpuacct:batch", "tasks"], "--cgroup"));
 * // { cpu: "batch", cpuacct: "batch", "": "tasks" }
 * ```
 */
export function parseSubCgroup(values: readonly string[], field: string): SubCgroup {
  const out: Record<string, string> = {};
  for (const v of values) {
    const colon = v.indexOf(":");
    const controllers = colon < 0 ? [""] : v.slice(0, colon).split(",");
    const path = (colon < 0 ? v : v.slice(colon + 1)).replace(/^\/+/, "");
    const parts = path.split("/").filter((p) => p !== "" && p !== ".");
    if (parts.length === 0 || parts.includes("..")) {
      throw new CgroupError(
        `expected a path inside the container's cgroup, got ${JSON.stringify(v)}`,
        {
          field,
        },
      );
    }
    for (const c of controllers) {
      if (colon >= 0 && c === "") {
        throw new CgroupError(`empty controller name in ${JSON.stringify(v)}`, { field });
      }
      if (c in out) {
        throw new CgroupError(`${c === "" ? "a path for every controller" : c} given twice`, {
          field,
        });
      }
      out[c] = parts.join("/");
    }
  }
  return out;
}

/** One container's cgroup, in whichever hierarchy the host uses. */
export interface CgroupManager {
  /** The cgroup version this manager drives. */
  readonly version: 1 | 2;
  /** The cgroup path relative to each hierarchy root, like `/tsk/abc`. */
  readonly path: string;
  /** The directories of this cgroup, by controller (v2: one entry, `unified`). */
  dirs(): Record<string, string>;
  /** Creates the cgroup (and its parents), enabling controllers where needed. */
  create(): Promise<void>;
  /**
   * Moves a process (all its threads) into the cgroup, or into an existing
   * sub-cgroup of it (`sub`, see {@linkcode SubCgroup}).
   */
  apply(pid: number, sub?: SubCgroup): Promise<void>;
  /** Writes the OCI resources to the cgroup's control files. */
  set(resources: LinuxResources): Promise<void>;
  /** Reads CPU, memory and pids statistics. */
  stats(): Promise<CgroupStats>;
  /** Whether the OOM killer has killed a process in this cgroup. */
  oomKilled(): Promise<boolean>;
  /** The pids of the processes in the cgroup and its descendants. */
  pids(): Promise<number[]>;
  /** Sends a signal to every process in the cgroup (SIGKILL by default). */
  killAll(signal?: Deno.Signal): Promise<void>;
  /** Freezes every process in the cgroup and waits until they are frozen. */
  freeze(): Promise<void>;
  /** Thaws a frozen cgroup. */
  thaw(): Promise<void>;
  /** Waits until the cgroup is empty, then removes it everywhere; idempotent. */
  destroy(): Promise<void>;
}

/** Options of {@linkcode createCgroupManager} and {@linkcode detectCgroups}. */
export interface CgroupManagerOptions {
  /**
   * Where the cgroup filesystems are mounted.
   * @default {"/sys/fs/cgroup"}
   */
  root?: string;
  /**
   * Force a version instead of detecting it. With 2 and a hybrid host, pass
   * the unified mount as `root` (`/sys/fs/cgroup/unified`).
   * @default {"auto"}
   */
  version?: 1 | 2 | "auto";
  /**
   * The filesystem operations (a test double can replace them).
   * @default {denoCgroupFs}
   */
  fs?: CgroupFs;
  /**
   * How long destroy() waits for the cgroup to empty and freeze() for the
   * kernel to report the group frozen.
   * @default {5000}
   */
  timeoutMs?: number;
  /**
   * What enforces device rules on cgroup v2 (v1 writes devices.allow/deny).
   * @default {applyDeviceRulesBpf}
   */
  devices?: DeviceRuleApplier;
  /**
   * Where the kernel lists its hugepage sizes, which cgroup v2 checks a
   * spec's hugepage limits against before writing anything (a test double
   * can replace it).
   * @default {"/sys/kernel/mm/hugepages"}
   */
  hugepagesDir?: string;
}

/** The layout {@linkcode detectCgroups} found. */
export type CgroupLayout =
  | { version: 2; root: string; controllers: string[] }
  | { version: 1; root: string; controllers: Record<string, string> };

const V2_WANTED = ["memory", "pids"];

async function readControllers(fs: CgroupFs, dir: string): Promise<string[] | undefined> {
  try {
    return (await fs.readFile(`${dir}/cgroup.controllers`)).trim().split(/\s+/).filter(Boolean);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

async function v1Controllers(fs: CgroupFs, root: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  let dirs: string[] = [];
  try {
    dirs = await fs.subdirs(root);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  // Co-mounted hierarchies appear as "cpu,cpuacct" (often with symlinks).
  for (const d of dirs) {
    for (const c of d.split(",")) {
      if (V1_CONTROLLERS.includes(c) && !found[c] && await fs.exists(`${root}/${d}/cgroup.procs`)) {
        found[c] = `${root}/${d}`;
      }
    }
  }
  for (const c of V1_CONTROLLERS) {
    if (!found[c] && await fs.exists(`${root}/${c}/cgroup.procs`)) found[c] = `${root}/${c}`;
  }
  // systemd's named hierarchy, without controllers: a container gets its own
  // cgroup there too (nothing is set in it), as with runc, so that it sees
  // its own and not the host's tree.
  if (Object.keys(found).length > 0 && await fs.exists(`${root}/systemd/cgroup.procs`)) {
    found[SYSTEMD_HIERARCHY] = `${root}/systemd`;
  }
  return found;
}

/**
 * Detects how cgroups are laid out under `root`: a v2 hierarchy with the
 * memory and pids controllers (at the root, or at `unified/` on a hybrid
 * host) wins; otherwise the v1 controllers found are used.
 *
 * @param options Where to look and how.
 * @returns The layout.
 * @throws {CgroupError} When neither layout is usable.
 *
 * @example Detect this host's layout
 * ```ts
 * import { detectCgroups } from "./manager.ts";
 * const layout = await detectCgroups();
 * console.log(layout.version);
 * ```
 */
export async function detectCgroups(options: CgroupManagerOptions = {}): Promise<CgroupLayout> {
  const fs = options.fs ?? denoCgroupFs;
  const root = (options.root ?? "/sys/fs/cgroup").replace(/\/+$/, "");
  const want = options.version ?? "auto";
  const pure = await readControllers(fs, root);
  if (pure !== undefined && want !== 1) {
    return { version: 2, root, controllers: pure };
  }
  const unified = await readControllers(fs, `${root}/unified`);
  if (want !== 1 && unified && V2_WANTED.every((c) => unified.includes(c))) {
    return { version: 2, root: `${root}/unified`, controllers: unified };
  }
  if (want === 2) {
    throw new CgroupError(
      `Cannot use cgroup v2: no cgroup.controllers at ${root}${
        unified ? ` and ${root}/unified lacks the memory and pids controllers` : ""
      }`,
    );
  }
  const v1 = await v1Controllers(fs, root);
  if (Object.keys(v1).length > 0) return { version: 1, root, controllers: v1 };
  throw new CgroupError(
    `Cannot manage cgroups: ${root} has neither a cgroup v2 hierarchy (cgroup.controllers) nor cgroup v1 controllers (${
      V1_CONTROLLERS.join(", ")
    }); mount cgroup2 at ${root} or pass options.root`,
  );
}

// The host's layout does not change while we run: detect it once per root
// and version (only for the real filesystem; injected ones are not cached).
const layouts = new Map<string, Promise<CgroupLayout>>();
function cachedLayout(options: CgroupManagerOptions): Promise<CgroupLayout> {
  if (options.fs) return detectCgroups(options);
  const key = `${options.root ?? ""}|${options.version ?? "auto"}`;
  let p = layouts.get(key);
  if (!p) {
    p = detectCgroups(options);
    layouts.set(key, p);
    p.catch(() => layouts.delete(key));
  }
  return p;
}

/**
 * Creates the manager for one cgroup, choosing the backend by detection
 * (done once per root and version for the real filesystem).
 * Nothing is created on disk until {@linkcode CgroupManager.create}.
 *
 * @param path The cgroup path relative to each hierarchy root (`/tsk/<id>`).
 * @param options Where the hierarchies are, and overrides.
 * @returns The manager.
 * @throws {CgroupError} When the path is malformed or no cgroup layout fits.
 *
 * @example Limit a process to 64 MiB and 100 tasks
 * ```ts
 * import { createCgroupManager } from "./manager.ts";
 * const cg = await createCgroupManager(`/tsk/demo-${crypto.randomUUID()}`);
 * await cg.create();
 * try {
 *   await cg.set({ memory: { limit: 64 << 20 }, pids: { limit: 100 } });
 *   const child = new Deno.Command("sleep", { args: ["0.1"] }).spawn();
 *   await cg.apply(child.pid);
 *   await child.status;
 *   console.log((await cg.stats()).pids);
 * } finally {
 *   await cg.destroy();
 * }
 * ```
 */
export async function createCgroupManager(
  path: string,
  options: CgroupManagerOptions = {},
): Promise<CgroupManager> {
  const layout = await cachedLayout(options);
  const fs = options.fs ?? denoCgroupFs;
  const timeoutMs = options.timeoutMs ?? 5000;
  if (layout.version === 2) {
    const devices = options.devices ?? applyDeviceRulesBpf;
    return new CgroupV2Manager(path, {
      root: layout.root,
      fs,
      timeoutMs,
      devices,
      hugepagesDir: options.hugepagesDir,
    });
  }
  return new CgroupV1Manager(path, { controllers: layout.controllers, fs, timeoutMs });
}
