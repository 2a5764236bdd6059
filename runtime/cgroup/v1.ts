/**
 * The cgroup v1 backend: one directory per controller hierarchy
 * (`/sys/fs/cgroup/memory/tsk/<id>`, `/sys/fs/cgroup/pids/tsk/<id>`, ...).
 *
 * @module
 */
import {
  collectPids,
  normalizeCgroupPath,
  parseFlatKeyed,
  parseLimit,
  readOptional,
  removeEach,
  removeTree,
  signalPids,
  sumBlkio,
  waitFor,
  writeControl,
} from "./_util.ts";
import { CgroupError } from "./errors.ts";
import type { CgroupFs } from "./host.ts";
import type { CgroupManager, CgroupStats, SubCgroup } from "./manager.ts";
import type { LinuxDeviceCgroup, LinuxResources, LinuxThrottleDevice } from "./resources.ts";

/** The v1 controllers tsk uses. */
export const V1_CONTROLLERS: readonly string[] = [
  "cpu",
  "cpuacct",
  "cpuset",
  "memory",
  "pids",
  "blkio",
  "devices",
  "freezer",
  "hugetlb",
];

/**
 * The key of systemd's named v1 hierarchy (`name=systemd`, at
 * /sys/fs/cgroup/systemd) among a {@linkcode CgroupV1Manager}'s hierarchies:
 * joined like the controllers' ones, never written to.
 */
export const SYSTEMD_HIERARCHY = "name=systemd";

/** Options of {@linkcode CgroupV1Manager}. */
export interface CgroupV1Options {
  /**
   * The mount point of each available controller's hierarchy (and of
   * {@linkcode SYSTEMD_HIERARCHY}, when there).
   */
  controllers: Record<string, string>;
  /**
   * Filesystem operations.
   * @default {denoCgroupFs}
   */
  fs: CgroupFs;
  /**
   * How long destroy() and freeze() wait.
   * @default {5000}
   */
  timeoutMs?: number;
}

const USER_HZ = 100;
const F = "linux.resources";

/**
 * Encodes a device rule as the devices.allow / devices.deny line (`c 1:3 rwm`).
 *
 * @param rule The OCI rule.
 * @returns The line to write.
 *
 * @example /dev/null
 * ```ts
 * import { deviceRuleV1 } from "./v1.ts";
 * deviceRuleV1({ allow: true, type: "c", major: 1, minor: 3, access: "rwm" }); // "c 1:3 rwm"
 * ```
 */
export function deviceRuleV1(rule: LinuxDeviceCgroup): string {
  const num = (n: number | undefined) => (n === undefined || n === -1 ? "*" : String(n));
  return `${rule.type ?? "a"} ${num(rule.major)}:${num(rule.minor)} ${rule.access || "rwm"}`;
}

/**
 * Manages one cgroup across the v1 hierarchies. Built by
 * {@linkcode createCgroupManager}; construct directly only to force v1.
 *
 * @example Force the v1 backend on this host
 * ```ts
 * import { CgroupV1Manager } from "./v1.ts";
 * import { denoCgroupFs } from "./host.ts";
 * const cg = new CgroupV1Manager("/tsk/x", {
 *   controllers: { memory: "/sys/fs/cgroup/memory", pids: "/sys/fs/cgroup/pids" },
 *   fs: denoCgroupFs,
 * });
 * cg.dirs().memory; // "/sys/fs/cgroup/memory/tsk/x"
 * ```
 */
export class CgroupV1Manager implements CgroupManager {
  /** Always 1. */
  readonly version = 1 as const;
  /** The cgroup path relative to each hierarchy root. */
  readonly path: string;
  #mounts: Record<string, string>;
  #fs: CgroupFs;
  #timeoutMs: number;

  /**
   * Creates the manager; nothing touches the disk until create().
   *
   * @param path The cgroup path, like `/tsk/<id>`.
   * @param options The hierarchies and host.
   */
  constructor(path: string, options: CgroupV1Options) {
    this.path = normalizeCgroupPath(path);
    this.#mounts = { ...options.controllers };
    this.#fs = options.fs;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  /**
   * The cgroup's directory in each hierarchy.
   *
   * @returns Controller name → absolute directory.
   */
  dirs(): Record<string, string> {
    return Object.fromEntries(
      Object.entries(this.#mounts).map(([c, m]) => [c, `${m}${this.path}`]),
    );
  }

  #dir(controller: string, field: string): string {
    const mount = this.#mounts[controller];
    if (!mount) {
      throw new CgroupError(`the ${controller} cgroup controller is not mounted on this host`, {
        field,
      });
    }
    return `${mount}${this.path}`;
  }

  #uniqueDirs(): string[] {
    return [...new Set(Object.values(this.dirs()))];
  }

  /** Creates the cgroup in every hierarchy; cpuset levels inherit their parent's cpus and mems. */
  async create(): Promise<void> {
    await Promise.all(
      this.#uniqueDirs().map(async (dir) => {
        try {
          await this.#fs.mkdir(dir);
        } catch (e) {
          throw new CgroupError(`Cannot create cgroup ${dir}: ${(e as Error).message}`, {
            cause: e,
          });
        }
      }),
    );
    const cpuset = this.#mounts.cpuset;
    if (cpuset) {
      // A v1 cpuset with empty cpus or mems refuses tasks: fill each level from its parent.
      let parent = cpuset;
      for (const part of this.path.slice(1).split("/")) {
        const dir = `${parent}/${part}`;
        for (const f of ["cpuset.cpus", "cpuset.mems"]) {
          const cur = await readOptional(this.#fs, `${dir}/${f}`);
          if (cur !== undefined && cur.trim() === "") {
            const from = (await readOptional(this.#fs, `${parent}/${f}`))?.trim() ?? "";
            await writeControl(this.#fs, `${dir}/${f}`, from, `${F}.cpu`);
          }
        }
        parent = dir;
      }
    }
  }

  /**
   * Moves a process into the cgroup in every hierarchy, or into an existing
   * sub-cgroup of it in some or all of them.
   *
   * @param pid The process.
   * @param sub Sub-cgroup paths by controller (`""`: every controller).
   */
  async apply(pid: number, sub?: SubCgroup): Promise<void> {
    const targets = sub === undefined ? this.#uniqueDirs() : await this.#subDirs(sub);
    await Promise.all(
      targets.map((dir) => writeControl(this.#fs, `${dir}/cgroup.procs`, String(pid), "pid")),
    );
  }

  /** The directory in each hierarchy that `sub` names (co-mounted controllers must agree). */
  async #subDirs(sub: SubCgroup): Promise<string[]> {
    const dirs = this.dirs();
    for (const c of Object.keys(sub)) {
      if (c !== "" && dirs[c] === undefined) {
        throw new CgroupError(`no ${c} hierarchy on this host (${Object.keys(dirs).join(", ")})`, {
          field: "cgroup",
        });
      }
    }
    const byDir = new Map<string, string>();
    for (const [c, dir] of Object.entries(dirs)) {
      const rel = sub[c] ?? sub[""];
      const target = rel === undefined ? dir : `${dir}/${rel}`;
      const other = byDir.get(dir);
      if (other !== undefined && other !== target) {
        throw new CgroupError(
          `${c} shares its hierarchy with another controller given another path: name them together (${c},...:path)`,
          { field: "cgroup" },
        );
      }
      byDir.set(dir, target);
    }
    for (const target of byDir.values()) {
      if (!(await this.#fs.exists(target))) {
        throw new CgroupError(`${target} does not exist (the sub-cgroup must be made first)`, {
          field: "cgroup",
        });
      }
    }
    return [...new Set(byDir.values())];
  }

  /**
   * Writes the OCI resources.
   *
   * @param r Validated resources (see validateResources).
   */
  async set(r: LinuxResources): Promise<void> {
    const fs = this.#fs;
    await this.#preflight(r);
    if (r.cpu) {
      const c = r.cpu;
      const w = (file: string, v: number | string, field: string) =>
        writeControl(
          fs,
          `${this.#dir("cpu", `${F}.cpu.${field}`)}/${file}`,
          String(v),
          `${F}.cpu.${field}`,
        );
      if (c.shares) await w("cpu.shares", c.shares, "shares");
      if (c.period) await w("cpu.cfs_period_us", c.period, "period");
      if (c.quota !== undefined && c.quota !== 0) await w("cpu.cfs_quota_us", c.quota, "quota");
      if (c.burst !== undefined) await w("cpu.cfs_burst_us", c.burst, "burst");
      if (c.idle !== undefined) await w("cpu.idle", c.idle, "idle");
      for (const k of ["cpus", "mems"] as const) {
        if (c[k]) {
          const dir = this.#dir("cpuset", `${F}.cpu.${k}`);
          await writeControl(fs, `${dir}/cpuset.${k}`, c[k]!, `${F}.cpu.${k}`);
        }
      }
    }
    if (r.memory) await this.#setMemory(r);
    if (r.pids) {
      const field = `${F}.pids.limit`;
      const v = r.pids.limit > 0 ? String(r.pids.limit) : "max";
      await writeControl(fs, `${this.#dir("pids", field)}/pids.max`, v, field);
    }
    if (r.blockIO) await this.#setBlkio(r);
    // #preflight checked the hierarchy and every page size.
    for (const [i, h] of (r.hugepageLimits ?? []).entries()) {
      const field = `${F}.hugepageLimits[${i}]`;
      await writeControl(fs, this.#hugetlbFile(h.pageSize, field), String(h.limit), field);
    }
    if (r.devices && r.devices.length > 0) {
      const dir = this.#dir("devices", `${F}.devices`);
      for (const [i, rule] of r.devices.entries()) {
        const file = rule.allow ? "devices.allow" : "devices.deny";
        await writeControl(fs, `${dir}/${file}`, deviceRuleV1(rule), `${F}.devices[${i}]`);
      }
    }
  }

  /** The limit file of one hugepage size. */
  #hugetlbFile(pageSize: string, field: string): string {
    return `${this.#dir("hugetlb", field)}/hugetlb.${pageSize}.limit_in_bytes`;
  }

  // Every check that can fail on a valid config runs before the first write,
  // so a refused set() leaves the cgroup as it was.
  async #preflight(r: LinuxResources): Promise<void> {
    if (r.unified && Object.keys(r.unified).length > 0) {
      throw new CgroupError("raw cgroup v2 files need a cgroup v2 host; this host uses v1", {
        field: `${F}.unified`,
      });
    }
    const c = r.cpu;
    if (c && (c.shares || c.period || c.quota || c.burst !== undefined || c.idle !== undefined)) {
      this.#dir("cpu", `${F}.cpu`);
    }
    if (r.hugepageLimits?.length && !this.#mounts.hugetlb) {
      throw new CgroupError("the hugetlb controller is not mounted on this host (cgroup v1)", {
        field: `${F}.hugepageLimits`,
      });
    }
    for (const [i, h] of (r.hugepageLimits ?? []).entries()) {
      const field = `${F}.hugepageLimits[${i}]`;
      if (!(await this.#fs.exists(this.#hugetlbFile(h.pageSize, field)))) {
        throw new CgroupError(`no ${h.pageSize} hugepages on this host`, { field });
      }
    }
    if (c?.cpus) this.#dir("cpuset", `${F}.cpu.cpus`);
    if (c?.mems) this.#dir("cpuset", `${F}.cpu.mems`);
    if (r.memory) {
      const dir = this.#dir("memory", `${F}.memory`);
      const swap = r.memory.swap;
      if (swap && !(await this.#fs.exists(`${dir}/memory.memsw.limit_in_bytes`))) {
        throw new CgroupError(
          "swap accounting is off on this host (no memory.memsw.limit_in_bytes)",
          {
            field: `${F}.memory.swap`,
          },
        );
      }
    }
    if (r.pids) this.#dir("pids", `${F}.pids.limit`);
    if (r.blockIO) this.#dir("blkio", `${F}.blockIO`);
    if (r.devices && r.devices.length > 0) this.#dir("devices", `${F}.devices`);
  }

  async #setMemory(r: LinuxResources): Promise<void> {
    const m = r.memory!;
    const fs = this.#fs;
    const dir = this.#dir("memory", `${F}.memory`);
    if (m.checkBeforeUpdate && m.limit && m.limit > 0) {
      const usage = parseLimit(await readOptional(fs, `${dir}/memory.usage_in_bytes`)) ?? 0;
      if (m.limit < usage) {
        throw new CgroupError(`limit ${m.limit} is below the current usage ${usage}`, {
          field: `${F}.memory.limit`,
        });
      }
    }
    const limit = m.limit !== undefined && m.limit !== 0 ? String(m.limit) : undefined;
    const swap = m.swap !== undefined && m.swap !== 0 ? String(m.swap) : undefined;
    const writeLimit = async () => {
      if (limit) {
        await writeControl(fs, `${dir}/memory.limit_in_bytes`, limit, `${F}.memory.limit`);
      }
    };
    if (swap && !(await fs.exists(`${dir}/memory.memsw.limit_in_bytes`))) {
      throw new CgroupError(
        "swap accounting is off on this host (no memory.memsw.limit_in_bytes)",
        {
          field: `${F}.memory.swap`,
        },
      );
    }
    const writeSwap = async () => {
      if (!swap) return;
      await writeControl(fs, `${dir}/memory.memsw.limit_in_bytes`, swap, `${F}.memory.swap`);
    };
    // memsw must stay >= limit at every step: raise memsw first when it grows.
    const curSwap = parseLimit(await readOptional(fs, `${dir}/memory.memsw.limit_in_bytes`));
    const newSwap = swap === undefined ? undefined : m.swap === -1 ? null : m.swap!;
    if (newSwap !== undefined && (newSwap === null || (curSwap !== null && newSwap > curSwap))) {
      await writeSwap();
      await writeLimit();
    } else {
      await writeLimit();
      await writeSwap();
    }
    if (m.reservation !== undefined && m.reservation !== 0) {
      await writeControl(
        fs,
        `${dir}/memory.soft_limit_in_bytes`,
        String(m.reservation),
        `${F}.memory.reservation`,
      );
    }
    if (m.swappiness !== undefined) {
      await writeControl(
        fs,
        `${dir}/memory.swappiness`,
        String(m.swappiness),
        `${F}.memory.swappiness`,
      );
    }
    if (m.disableOOMKiller) {
      await writeControl(fs, `${dir}/memory.oom_control`, "1", `${F}.memory.disableOOMKiller`);
    }
  }

  async #setBlkio(r: LinuxResources): Promise<void> {
    const b = r.blockIO!;
    const fs = this.#fs;
    const dir = this.#dir("blkio", `${F}.blockIO`);
    // Without CFQ the weights live in the bfq files.
    const pick = async (plain: string, bfq: string) =>
      (await fs.exists(`${dir}/${plain}`)) ? plain : bfq;
    if (b.weight) {
      const file = await pick("blkio.weight", "blkio.bfq.weight");
      await writeControl(fs, `${dir}/${file}`, String(b.weight), `${F}.blockIO.weight`);
    }
    for (const [i, d] of (b.weightDevice ?? []).entries()) {
      if (d.weight === undefined) continue;
      const file = await pick("blkio.weight_device", "blkio.bfq.weight_device");
      await writeControl(
        fs,
        `${dir}/${file}`,
        `${d.major}:${d.minor} ${d.weight}`,
        `${F}.blockIO.weightDevice[${i}]`,
      );
    }
    const throttles: [keyof typeof b, string][] = [
      ["throttleReadBpsDevice", "blkio.throttle.read_bps_device"],
      ["throttleWriteBpsDevice", "blkio.throttle.write_bps_device"],
      ["throttleReadIOPSDevice", "blkio.throttle.read_iops_device"],
      ["throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"],
    ];
    for (const [key, file] of throttles) {
      for (const [i, d] of ((b[key] as LinuxThrottleDevice[] | undefined) ?? []).entries()) {
        await writeControl(
          fs,
          `${dir}/${file}`,
          `${d.major}:${d.minor} ${d.rate}`,
          `${F}.blockIO.${key}[${i}]`,
        );
      }
    }
  }

  /**
   * Reads CPU, memory and pids statistics; controllers that are not mounted report zeros.
   *
   * @returns The statistics.
   */
  async stats(): Promise<CgroupStats> {
    const fs = this.#fs;
    const d = this.dirs();
    const read = (c: string, f: string) =>
      d[c] ? readOptional(fs, `${d[c]}/${f}`) : Promise.resolve(undefined);
    const cpuStat = parseFlatKeyed((await read("cpu", "cpu.stat")) ?? "");
    const acct = parseFlatKeyed((await read("cpuacct", "cpuacct.stat")) ?? "");
    const usageNs = Number((await read("cpuacct", "cpuacct.usage"))?.trim() ?? 0);
    const oom = parseFlatKeyed((await read("memory", "memory.oom_control")) ?? "");
    const oomKill = oom.get("oom_kill") ?? 0;
    const bytes = sumBlkio(await read("blkio", "blkio.throttle.io_service_bytes_recursive"));
    const ops = sumBlkio(await read("blkio", "blkio.throttle.io_serviced_recursive"));
    return {
      cpu: {
        usageUsec: Math.floor(usageNs / 1000),
        userUsec: ((acct.get("user") ?? 0) * 1e6) / USER_HZ,
        systemUsec: ((acct.get("system") ?? 0) * 1e6) / USER_HZ,
        nrPeriods: cpuStat.get("nr_periods") ?? 0,
        nrThrottled: cpuStat.get("nr_throttled") ?? 0,
        throttledUsec: Math.floor((cpuStat.get("throttled_time") ?? 0) / 1000),
      },
      memory: {
        usage: parseLimit(await read("memory", "memory.usage_in_bytes")) ?? 0,
        maxUsage: parseLimit(await read("memory", "memory.max_usage_in_bytes")) ?? 0,
        limit: parseLimit(await read("memory", "memory.limit_in_bytes")),
        oomEvents: oomKill,
        oomKillEvents: oomKill,
      },
      pids: {
        current: parseLimit(await read("pids", "pids.current")) ?? 0,
        limit: parseLimit(await read("pids", "pids.max")),
      },
      io: {
        readBytes: bytes.read,
        writeBytes: bytes.write,
        readOps: ops.read,
        writeOps: ops.write,
      },
    };
  }

  /**
   * Whether the OOM killer has killed a process here.
   *
   * @returns True after an OOM kill.
   */
  async oomKilled(): Promise<boolean> {
    // One file, not the whole stats(): this runs on every container's exit.
    const dir = this.dirs().memory;
    if (!dir) return false;
    const oom = parseFlatKeyed((await readOptional(this.#fs, `${dir}/memory.oom_control`)) ?? "");
    return (oom.get("oom_kill") ?? 0) > 0;
  }

  #procsDir(): string | undefined {
    const d = this.dirs();
    return d.pids ?? d.freezer ?? d.memory ?? Object.values(d)[0];
  }

  /**
   * The processes in the cgroup and its descendants.
   *
   * @returns Their pids.
   */
  async pids(): Promise<number[]> {
    const dir = this.#procsDir();
    return dir ? await collectPids(this.#fs, dir) : [];
  }

  /**
   * Signals every process; with a freezer, the group is frozen while
   * signalling so that a process cannot fork away from the kill.
   *
   * @param signal The signal.
   */
  async killAll(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    const freezer = Boolean(this.#mounts.freezer) &&
      await this.#fs.exists(`${this.dirs().freezer}/freezer.state`);
    if (freezer) await this.freeze();
    try {
      signalPids(await this.pids(), signal);
    } finally {
      if (freezer) await this.thaw();
    }
  }

  async #setFreezer(state: "FROZEN" | "THAWED"): Promise<void> {
    const field = "freezer";
    const file = `${this.#dir("freezer", field)}/freezer.state`;
    const reached = (want: string, ms: number) =>
      waitFor(async () => (await readOptional(this.#fs, file))?.trim() === want, ms);
    if (state === "THAWED") {
      await writeControl(this.#fs, file, "THAWED", field);
      if (!(await reached("THAWED", this.#timeoutMs))) {
        throw new CgroupError(`Cannot thaw ${file}: timed out`);
      }
      return;
    }
    // A task that cannot enter the refrigerator keeps the group FREEZING
    // for ever: a thread group in execve waits (unfreezable) for threads the
    // freezer already holds. As runc does, thaw and try again; on giving up
    // leave the group thawed, never half frozen.
    const deadline = Date.now() + this.#timeoutMs;
    for (let attempt = 1;; attempt++) {
      await writeControl(this.#fs, file, "FROZEN", field);
      const slice = Math.min(50 * attempt, Math.max(0, deadline - Date.now()));
      if (await reached("FROZEN", slice)) return;
      await writeControl(this.#fs, file, "THAWED", field);
      await reached("THAWED", this.#timeoutMs);
      if (Date.now() >= deadline) {
        throw new CgroupError(
          `Cannot freeze ${file}: still FREEZING after ${this.#timeoutMs} ms (${attempt} attempts); thawed again`,
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Freezes the cgroup (v1 freezer) and waits for FROZEN. */
  freeze(): Promise<void> {
    return this.#setFreezer("FROZEN");
  }

  /** Thaws the cgroup. */
  thaw(): Promise<void> {
    return this.#setFreezer("THAWED");
  }

  /** Waits for the cgroup to empty, then removes it from every hierarchy; idempotent. */
  async destroy(): Promise<void> {
    // Usually empty by now (its init was reaped): one rmdir per hierarchy,
    // nothing listed first; a busy one falls back to waiting below.
    if (await removeEach(this.#fs, this.#uniqueDirs())) return;
    const dir = this.#procsDir();
    if (dir) {
      const empty = await waitFor(
        async () => (await collectPids(this.#fs, dir)).length === 0,
        this.#timeoutMs,
      );
      if (!empty) {
        throw new CgroupError(
          `Cannot destroy cgroup ${this.path}: processes remain after ${this.#timeoutMs} ms (${
            (await collectPids(this.#fs, dir)).join(", ")
          }); kill them first with killAll()`,
        );
      }
    }
    await Promise.all(this.#uniqueDirs().map((d) => removeTree(this.#fs, d, this.#timeoutMs)));
  }
}
