/**
 * The cgroup v2 backend: one directory in the unified hierarchy, controllers
 * enabled through each ancestor's cgroup.subtree_control.
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
  sumIoStat,
  waitFor,
  writeControl,
} from "./_util.ts";
import { CgroupError } from "./errors.ts";
import type { CgroupFs } from "./host.ts";
import type { CgroupManager, CgroupStats, SubCgroup } from "./manager.ts";
import {
  blkioWeightToIoWeight,
  cpuSharesToWeight,
  type LinuxDeviceCgroup,
  type LinuxHugepageLimit,
  type LinuxResources,
  memorySwapToV2,
} from "./resources.ts";

/** The v2 controllers tsk enables for its cgroups when the parent offers them. */
export const V2_CONTROLLERS: readonly string[] = ["cpu", "cpuset", "io", "memory", "pids"];

/**
 * Applies device rules to a v2 cgroup directory (v2 has no devices files:
 * the rules become a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the
 * directory).
 */
export type DeviceRuleApplier = (dir: string, rules: LinuxDeviceCgroup[]) => Promise<void>;

/** Options of {@linkcode CgroupV2Manager}. */
export interface CgroupV2Options {
  /** The mount point of the unified hierarchy. */
  root: string;
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
  /**
   * What enforces device rules. Without one, set() refuses device rules
   * with an error naming `linux.resources.devices`.
   * @default {undefined}
   */
  devices?: DeviceRuleApplier;
  /**
   * Where the kernel lists its hugepage sizes (one `hugepages-<n>kB`
   * directory each): set() checks each limit's size there before its first
   * write, since a cgroup's `hugetlb.<size>.max` files appear only once
   * hugetlb is enabled for it, itself a write.
   * @default {"/sys/kernel/mm/hugepages"}
   */
  hugepagesDir?: string;
}

const F = "linux.resources";

/**
 * A hugepage size as hugetlb's control files name it (`hugetlb.2MB.max`),
 * from sysfs's directory name (`hugepages-2048kB`), or `null` for another
 * name.
 *
 * @example
 * ```ts
 * import { hugepageSizeName } from "./v2.ts";
 * hugepageSizeName("hugepages-2048kB"); // "2MB"
 * hugepageSizeName("hugepages-1048576kB"); // "1GB"
 * hugepageSizeName("hugepages-64kB"); // "64KB"
 * ```
 */
export function hugepageSizeName(dir: string): string | null {
  const m = /^hugepages-(\d+)kB$/.exec(dir);
  if (!m) return null;
  const kB = Number(m[1]);
  // As the kernel's hugetlb cgroup names them (mem_fmt): GB from 1 GB on,
  // MB from 1 MB on, else KB.
  if (kB >= 1 << 20) return `${Math.floor(kB / (1 << 20))}GB`;
  if (kB >= 1 << 10) return `${Math.floor(kB / (1 << 10))}MB`;
  return `${kB}KB`;
}

/**
 * Manages one cgroup in the unified (v2) hierarchy. Built by
 * {@linkcode createCgroupManager}; construct directly to force v2, e.g. on
 * the controller-less unified hierarchy of a hybrid host.
 *
 * @example A v2 cgroup on a hybrid host's unified hierarchy
 * ```ts
 * import { CgroupV2Manager } from "./v2.ts";
 * import { denoCgroupFs } from "./host.ts";
 * const cg = new CgroupV2Manager("/tsk/x", { root: "/sys/fs/cgroup/unified", fs: denoCgroupFs });
 * cg.dirs().unified; // "/sys/fs/cgroup/unified/tsk/x"
 * ```
 */
export class CgroupV2Manager implements CgroupManager {
  /** Always 2. */
  readonly version = 2 as const;
  /** The cgroup path relative to the hierarchy root. */
  readonly path: string;
  #root: string;
  #dirPath: string;
  #fs: CgroupFs;
  #timeoutMs: number;
  #devices?: DeviceRuleApplier;
  #hugepagesDir: string;

  /**
   * Creates the manager; nothing touches the disk until create().
   *
   * @param path The cgroup path, like `/tsk/<id>`.
   * @param options The hierarchy and host.
   */
  constructor(path: string, options: CgroupV2Options) {
    this.path = normalizeCgroupPath(path);
    this.#root = options.root.replace(/\/+$/, "");
    this.#dirPath = `${this.#root}${this.path}`;
    this.#fs = options.fs;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#devices = options.devices;
    this.#hugepagesDir = options.hugepagesDir ?? "/sys/kernel/mm/hugepages";
  }

  /**
   * The cgroup's directory.
   *
   * @returns `{ unified: dir }`.
   */
  dirs(): Record<string, string> {
    return { unified: this.#dirPath };
  }

  /** Creates the directory and enables the wanted controllers down the path. */
  async create(): Promise<void> {
    const fs = this.#fs;
    let dir = this.#root;
    for (const part of this.path.slice(1).split("/")) {
      const offered = ((await readOptional(fs, `${dir}/cgroup.controllers`)) ?? "")
        .trim().split(/\s+/).filter((c) => V2_CONTROLLERS.includes(c));
      const enabled = ((await readOptional(fs, `${dir}/cgroup.subtree_control`)) ?? "")
        .trim().split(/\s+/);
      const missing = offered.filter((c) => !enabled.includes(c));
      if (missing.length > 0) {
        await writeControl(
          fs,
          `${dir}/cgroup.subtree_control`,
          missing.map((c) => `+${c}`).join(" "),
          "linux.cgroupsPath",
        );
      }
      dir = `${dir}/${part}`;
      if (!(await fs.exists(dir))) {
        try {
          await fs.mkdir(dir);
        } catch (e) {
          throw new CgroupError(`Cannot create cgroup ${dir}: ${(e as Error).message}`, {
            cause: e,
          });
        }
      }
    }
  }

  /**
   * Moves a process into the cgroup, or into an existing sub-cgroup of it.
   *
   * @param pid The process.
   * @param sub The sub-cgroup's path under key `""` (one hierarchy: no controller names).
   */
  async apply(pid: number, sub?: SubCgroup): Promise<void> {
    let dir = this.#dirPath;
    if (sub !== undefined) {
      const named = Object.keys(sub).filter((c) => c !== "");
      if (named.length > 0) {
        throw new CgroupError(
          `cgroup v2 has one hierarchy: give the sub-cgroup without controllers (${
            named.join(",")
          })`,
          { field: "cgroup" },
        );
      }
      if (sub[""] !== undefined) dir = `${dir}/${sub[""]}`;
      if (!(await this.#fs.exists(dir))) {
        throw new CgroupError(`${dir} does not exist (the sub-cgroup must be made first)`, {
          field: "cgroup",
        });
      }
    }
    await writeControl(this.#fs, `${dir}/cgroup.procs`, String(pid), "pid");
  }

  async #controllers(): Promise<string[]> {
    const text = await readOptional(this.#fs, `${this.#dirPath}/cgroup.controllers`);
    return (text ?? "").trim().split(/\s+/).filter(Boolean);
  }

  async #need(controller: string, field: string): Promise<void> {
    if (!(await this.#controllers()).includes(controller)) {
      throw new CgroupError(
        `the ${controller} controller is not available in ${this.#dirPath} (cgroup.controllers lists: ${
          (await this.#controllers()).join(" ") || "none"
        })`,
        { field },
      );
    }
  }

  async #write(file: string, value: string, field: string): Promise<void> {
    await writeControl(this.#fs, `${this.#dirPath}/${file}`, value, field);
  }

  /**
   * Writes the OCI resources, converting v1 units the way runc does.
   *
   * @param r Validated resources (see validateResources).
   */
  // Every check that can fail on a valid config runs before the first write,
  // so a refused set() leaves the cgroup as it was.
  async #preflight(r: LinuxResources): Promise<void> {
    const m = r.memory;
    if (m) {
      const p = `${F}.memory`;
      if (m.swappiness !== undefined) {
        throw new CgroupError("cgroup v2 has no per-cgroup swappiness", {
          field: `${p}.swappiness`,
        });
      }
      if (m.disableOOMKiller) {
        throw new CgroupError("cgroup v2 cannot disable the OOM killer", {
          field: `${p}.disableOOMKiller`,
        });
      }
      await this.#need("memory", p);
      if (memorySwapToV2(m.swap, m.limit) !== undefined) {
        if (!(await this.#fs.exists(`${this.#dirPath}/memory.swap.max`))) {
          throw new CgroupError("swap accounting is off on this host (no memory.swap.max)", {
            field: `${p}.swap`,
          });
        }
      }
    }
    const c = r.cpu;
    if (c && (c.shares || c.quota || c.period || c.burst !== undefined || c.idle !== undefined)) {
      await this.#need("cpu", `${F}.cpu`);
    }
    if (c?.cpus) await this.#need("cpuset", `${F}.cpu.cpus`);
    if (c?.mems) await this.#need("cpuset", `${F}.cpu.mems`);
    if (r.pids) await this.#need("pids", `${F}.pids.limit`);
    if (r.hugepageLimits?.length) {
      await this.#need("hugetlb", `${F}.hugepageLimits`);
      const sizes = (await this.#fs.subdirs(this.#hugepagesDir).catch(() => []))
        .map(hugepageSizeName);
      for (const [i, h] of r.hugepageLimits.entries()) {
        if (!sizes.includes(h.pageSize)) {
          throw new CgroupError(`no ${h.pageSize} hugepages on this host`, {
            field: `${F}.hugepageLimits[${i}]`,
          });
        }
      }
    }
    if (r.blockIO) await this.#need("io", `${F}.blockIO`);
    if (r.devices && r.devices.length > 0 && !this.#devices) {
      throw new CgroupError(
        "device rules on cgroup v2 need a BPF device program, and no device rule applier was given",
        { field: `${F}.devices` },
      );
    }
    for (const file of Object.keys(r.unified ?? {})) {
      const controller = file.split(".")[0];
      if (controller !== "cgroup" && !(await this.#fs.exists(`${this.#dirPath}/${file}`))) {
        await this.#need(controller, `${F}.unified.${file}`);
      }
    }
  }

  async set(r: LinuxResources): Promise<void> {
    await this.#preflight(r);
    if (r.memory) {
      const m = r.memory;
      const p = `${F}.memory`;
      if (m.swappiness !== undefined) {
        throw new CgroupError("cgroup v2 has no per-cgroup swappiness", {
          field: `${p}.swappiness`,
        });
      }
      if (m.disableOOMKiller) {
        throw new CgroupError("cgroup v2 cannot disable the OOM killer", {
          field: `${p}.disableOOMKiller`,
        });
      }
      await this.#need("memory", p);
      if (m.checkBeforeUpdate && m.limit && m.limit > 0) {
        const usage = parseLimit(await readOptional(this.#fs, `${this.#dirPath}/memory.current`));
        if (usage !== null && m.limit < usage) {
          throw new CgroupError(`limit ${m.limit} is below the current usage ${usage}`, {
            field: `${p}.limit`,
          });
        }
      }
      const swap = memorySwapToV2(m.swap, m.limit);
      if (swap !== undefined) {
        if (!(await this.#fs.exists(`${this.#dirPath}/memory.swap.max`))) {
          throw new CgroupError("swap accounting is off on this host (no memory.swap.max)", {
            field: `${p}.swap`,
          });
        }
        await this.#write("memory.swap.max", swap, `${p}.swap`);
      }
      if (m.limit !== undefined && m.limit !== 0) {
        await this.#write("memory.max", m.limit === -1 ? "max" : String(m.limit), `${p}.limit`);
      }
      if (m.reservation !== undefined && m.reservation !== 0) {
        const v = m.reservation === -1 ? "max" : String(m.reservation);
        await this.#write("memory.low", v, `${p}.reservation`);
      }
    }
    if (r.cpu) {
      const c = r.cpu;
      const p = `${F}.cpu`;
      if (c.shares || c.quota || c.period || c.burst !== undefined || c.idle !== undefined) {
        await this.#need("cpu", p);
      }
      if (c.shares) {
        await this.#write("cpu.weight", String(cpuSharesToWeight(c.shares)), `${p}.shares`);
      }
      if (c.quota || c.period) {
        const cur = ((await readOptional(this.#fs, `${this.#dirPath}/cpu.max`)) ?? "max 100000")
          .trim().split(/\s+/);
        const quota = c.quota === undefined || c.quota === 0
          ? cur[0]
          : c.quota < 0
          ? "max"
          : String(c.quota);
        const period = c.period ? String(c.period) : cur[1] ?? "100000";
        await this.#write("cpu.max", `${quota} ${period}`, c.quota ? `${p}.quota` : `${p}.period`);
      }
      if (c.burst !== undefined) await this.#write("cpu.max.burst", String(c.burst), `${p}.burst`);
      if (c.idle !== undefined) await this.#write("cpu.idle", String(c.idle), `${p}.idle`);
      for (const k of ["cpus", "mems"] as const) {
        if (c[k]) {
          await this.#need("cpuset", `${p}.${k}`);
          await this.#write(`cpuset.${k}`, c[k]!, `${p}.${k}`);
        }
      }
    }
    if (r.pids) {
      const p = `${F}.pids.limit`;
      await this.#need("pids", p);
      await this.#write("pids.max", r.pids.limit > 0 ? String(r.pids.limit) : "max", p);
    }
    if (r.blockIO) await this.#setIo(r);
    if (r.devices && r.devices.length > 0) {
      if (!this.#devices) {
        throw new CgroupError(
          "device rules on cgroup v2 need a BPF device program, and no device rule applier was given",
          { field: `${F}.devices` },
        );
      }
      await this.#devices(this.#dirPath, r.devices);
    }
    for (const [file, value] of Object.entries(r.unified ?? {})) {
      const field = `${F}.unified.${file}`;
      const controller = file.split(".")[0];
      if (controller !== "cgroup" && !(await this.#fs.exists(`${this.#dirPath}/${file}`))) {
        await this.#need(controller, field);
      }
      await this.#write(file, value, field);
    }
    await this.setHugepageLimits(r.hugepageLimits ?? []);
  }

  /**
   * Writes `hugetlb.<size>.max` for each limit (a page size the kernel does
   * not have is named by its field).
   *
   * @param limits The spec's `hugepageLimits`.
   */
  async setHugepageLimits(limits: readonly LinuxHugepageLimit[]): Promise<void> {
    if (limits.length === 0) return;
    // Enabled down the path only for a cgroup that has hugepage limits.
    await this.#enable("hugetlb", `${F}.hugepageLimits`);
    for (const [i, h] of limits.entries()) {
      const field = `${F}.hugepageLimits[${i}]`;
      const file = `hugetlb.${h.pageSize}.max`;
      if (!(await this.#fs.exists(`${this.#dirPath}/${file}`))) {
        await this.#need("hugetlb", field);
        throw new CgroupError(`no ${h.pageSize} hugepages on this host (no ${file})`, { field });
      }
      await this.#write(file, String(h.limit), field);
    }
  }

  /** Enables `controller` in each ancestor's cgroup.subtree_control where it is offered and off. */
  async #enable(controller: string, field: string): Promise<void> {
    const fs = this.#fs;
    let dir = this.#root;
    for (const part of this.path.slice(1).split("/")) {
      const offered = ((await readOptional(fs, `${dir}/cgroup.controllers`)) ?? "").trim()
        .split(/\s+/);
      const enabled = ((await readOptional(fs, `${dir}/cgroup.subtree_control`)) ?? "").trim()
        .split(/\s+/);
      if (!offered.includes(controller)) return;
      if (!enabled.includes(controller)) {
        await writeControl(fs, `${dir}/cgroup.subtree_control`, `+${controller}`, field);
      }
      dir = `${dir}/${part}`;
    }
  }

  async #setIo(r: LinuxResources): Promise<void> {
    const b = r.blockIO!;
    const p = `${F}.blockIO`;
    await this.#need("io", p);
    // With BFQ the weight keeps its v1 range; io.weight needs the conversion.
    const bfq = await this.#fs.exists(`${this.#dirPath}/io.bfq.weight`);
    const file = bfq ? "io.bfq.weight" : "io.weight";
    const conv = (w: number) => String(bfq ? w : blkioWeightToIoWeight(w));
    if (b.weight) {
      await this.#write(file, bfq ? conv(b.weight) : `default ${conv(b.weight)}`, `${p}.weight`);
    }
    for (const [i, d] of (b.weightDevice ?? []).entries()) {
      if (d.weight !== undefined) {
        await this.#write(
          file,
          `${d.major}:${d.minor} ${conv(d.weight)}`,
          `${p}.weightDevice[${i}]`,
        );
      }
    }
    const keys = [
      ["throttleReadBpsDevice", "rbps"],
      ["throttleWriteBpsDevice", "wbps"],
      ["throttleReadIOPSDevice", "riops"],
      ["throttleWriteIOPSDevice", "wiops"],
    ] as const;
    for (const [key, name] of keys) {
      for (const [i, d] of (b[key] ?? []).entries()) {
        await this.#write("io.max", `${d.major}:${d.minor} ${name}=${d.rate}`, `${p}.${key}[${i}]`);
      }
    }
  }

  /**
   * Reads CPU, memory and pids statistics; files of controllers that are not
   * enabled report zeros (cpu.stat's usage is always there).
   *
   * @returns The statistics.
   */
  async stats(): Promise<CgroupStats> {
    const read = (f: string) => readOptional(this.#fs, `${this.#dirPath}/${f}`);
    const cpu = parseFlatKeyed((await read("cpu.stat")) ?? "");
    const events = parseFlatKeyed((await read("memory.events")) ?? "");
    const io = sumIoStat(await read("io.stat"));
    return {
      cpu: {
        usageUsec: cpu.get("usage_usec") ?? 0,
        userUsec: cpu.get("user_usec") ?? 0,
        systemUsec: cpu.get("system_usec") ?? 0,
        nrPeriods: cpu.get("nr_periods") ?? 0,
        nrThrottled: cpu.get("nr_throttled") ?? 0,
        throttledUsec: cpu.get("throttled_usec") ?? 0,
      },
      memory: {
        usage: parseLimit(await read("memory.current")) ?? 0,
        maxUsage: parseLimit(await read("memory.peak")) ?? 0,
        limit: parseLimit(await read("memory.max")),
        oomEvents: events.get("oom") ?? 0,
        oomKillEvents: events.get("oom_kill") ?? 0,
      },
      pids: {
        current: parseLimit(await read("pids.current")) ?? 0,
        limit: parseLimit(await read("pids.max")),
      },
      io: {
        readBytes: io.get("rbytes") ?? 0,
        writeBytes: io.get("wbytes") ?? 0,
        readOps: io.get("rios") ?? 0,
        writeOps: io.get("wios") ?? 0,
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
    const events = parseFlatKeyed(
      (await readOptional(this.#fs, `${this.#dirPath}/memory.events`)) ?? "",
    );
    return (events.get("oom_kill") ?? 0) > 0;
  }

  /**
   * The processes in the cgroup and its descendants.
   *
   * @returns Their pids.
   */
  pids(): Promise<number[]> {
    return collectPids(this.#fs, this.#dirPath);
  }

  /**
   * Signals every process: SIGKILL through cgroup.kill when the kernel has
   * it (5.14+), otherwise freeze, signal each process, thaw.
   *
   * @param signal The signal.
   */
  async killAll(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    if (!(await this.#fs.exists(this.#dirPath))) return;
    if (signal === "SIGKILL" && (await this.#fs.exists(`${this.#dirPath}/cgroup.kill`))) {
      await this.#write("cgroup.kill", "1", "signal");
      return;
    }
    await this.freeze();
    try {
      signalPids(await this.pids(), signal);
    } finally {
      await this.thaw();
    }
  }

  async #setFrozen(frozen: boolean): Promise<void> {
    const want = frozen ? 1 : 0;
    await this.#write("cgroup.freeze", String(want), "freezer");
    const ok = await waitFor(async () => {
      const ev = parseFlatKeyed(
        (await readOptional(this.#fs, `${this.#dirPath}/cgroup.events`)) ?? "",
      );
      return ev.get("frozen") === want;
    }, this.#timeoutMs);
    if (!ok) {
      // Never leave a group half frozen: undo a freeze that did not settle.
      if (frozen) await this.#write("cgroup.freeze", "0", "freezer").catch(() => {});
      throw new CgroupError(
        `Cannot ${
          frozen ? "freeze" : "thaw"
        } ${this.#dirPath}: cgroup.events did not report frozen ${want}`,
      );
    }
  }

  /** Freezes the cgroup (cgroup.freeze) and waits until cgroup.events reports it. */
  freeze(): Promise<void> {
    return this.#setFrozen(true);
  }

  /** Thaws the cgroup. */
  thaw(): Promise<void> {
    return this.#setFrozen(false);
  }

  /** Waits for the cgroup to empty, then removes it and its children; idempotent. */
  async destroy(): Promise<void> {
    // Usually empty by now (its init was reaped): one rmdir, nothing listed
    // first; a busy one falls back to waiting below.
    if (await removeEach(this.#fs, [this.#dirPath])) return;
    if (!(await this.#fs.exists(this.#dirPath))) return;
    const empty = await waitFor(
      async () => (await this.pids()).length === 0,
      this.#timeoutMs,
    );
    if (!empty) {
      throw new CgroupError(
        `Cannot destroy cgroup ${this.#dirPath}: processes remain after ${this.#timeoutMs} ms (${
          (await this.pids()).join(", ")
        }); kill them first with killAll()`,
      );
    }
    await removeTree(this.#fs, this.#dirPath, this.#timeoutMs);
  }
}
