/**
 * A pool of pre-started init stages (DESIGN.md): each is a Deno process
 * already running `init.ts` as PID 1 of its own new PID namespace, blocked
 * reading its configuration. Taking one removes Deno's start-up from the
 * path of creating a container. A pooled init gets the container's stdio
 * with its configuration (SCM_RIGHTS on its configuration socket).
 *
 * @module
 */
import { closeStage, type InitProcess, spawnStage } from "./parent.ts";
import { type CgroupManager, createCgroupManager } from "./cgroup/manager.ts";
import { DEFAULT_DEVICE_RULES } from "./cgroup/resources.ts";
import { linuxSyscalls, type Syscalls } from "./syscalls.ts";

const REFILL_DELAY_MS = 50;

/** Where idle inits wait unless {@linkcode InitPoolOptions.cgroupParent} says otherwise. */
export const POOL_CGROUP_PARENT = "/tsk-runtime";

/**
 * Whether `pid` sleeps reading a unix socket (an idle init waiting for its
 * configuration): the kernel function is `unix_stream_read_generic` here,
 * `unix_stream_data_wait` on older kernels.
 */
function waitingForConfig(pid: number): boolean {
  try {
    return /^unix_stream_/.test(Deno.readTextFileSync(`/proc/${pid}/wchan`));
  } catch {
    return false;
  }
}

/**
 * Moves a fresh init into a new cgroup under `parent`, which a container
 * with a cgroup under the same parent adopts by renaming it.
 *
 * @param pid The init.
 * @param parent The cgroup parent (`/tsk-runtime`).
 * @returns The cgroup, or `null` if preparing it failed (then nothing is left).
 */
export async function prepareCgroup(pid: number, parent: string): Promise<CgroupManager | null> {
  let m: CgroupManager | undefined;
  try {
    m = await createCgroupManager(`${parent}/.pool-${crypto.randomUUID()}`);
    await m.create();
    await m.apply(pid);
    // Most containers use exactly the default device rules: write them
    // now, and a container that adopts this cgroup skips them.
    await m.set({ devices: [...DEFAULT_DEVICE_RULES] });
    return m;
  } catch {
    await m?.destroy().catch(() => {});
    return null;
  }
}

/** Options for {@linkcode removeOrphanPoolCgroups}. */
export interface RemoveOrphanPoolCgroupsOptions {
  /**
   * Leave a cgroup younger than this alone: a live pool makes its cgroup a
   * moment before it moves the init in.
   * @default {60000}
   */
  minAgeMs?: number;
}

/**
 * Removes the cgroups that idle inits of a pool whose process died (a
 * SIGKILLed supervisor, say) left under `parent`: every `.pool-*` child that
 * holds no process and is older than `minAgeMs`. A pool that closes removes
 * its own; a live pool's cgroups always hold their init.
 *
 * @param parent The pools' cgroup parent (`/tsk-runtime`).
 * @param options How old an empty cgroup must be.
 * @returns The cgroup paths removed.
 *
 * @example Clean up after pools that died
 * ```ts ignore
 * import { removeOrphanPoolCgroups } from "@tsk/runtime";
 * console.log(await removeOrphanPoolCgroups("/tsk-runtime"));
 * ```
 */
export async function removeOrphanPoolCgroups(
  parent: string,
  options: RemoveOrphanPoolCgroupsOptions = {},
): Promise<string[]> {
  const minAgeMs = options.minAgeMs ?? 60_000;
  const dir = Object.values((await createCgroupManager(parent)).dirs())[0];
  const removed: string[] = [];
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)]
      .filter((e) => e.isDirectory && e.name.startsWith(".pool-"))
      .map((e) => e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return removed;
    throw e;
  }
  for (const name of names) {
    try {
      const made = Deno.statSync(`${dir}/${name}`).mtime?.getTime() ?? Date.now();
      if (Date.now() - made < minAgeMs) continue;
      const m = await createCgroupManager(`${parent}/${name}`);
      if ((await m.pids()).length > 0) continue;
      await m.destroy();
      removed.push(m.path);
    } catch { /* gone meanwhile, or taken: leave it */ }
  }
  return removed;
}

/** Anything that hands out pre-started, unconfigured inits. */
export interface InitSource {
  /** An idle init, or `undefined` when none is ready. */
  take(): InitProcess | undefined;
}

/** Options for {@linkcode InitPool}. */
export interface InitPoolOptions {
  /**
   * How many idle inits to keep.
   * @default 2
   */
  size?: number;
  /**
   * The host.
   * @default linuxSyscalls()
   */
  sys?: Syscalls;
  /**
   * Idle inits wait in a cgroup under this parent, which a container whose
   * cgroup has the same parent adopts by renaming (much cheaper than moving
   * a multi-threaded process between cgroup v1 hierarchies); `null` turns
   * this off.
   * @default "/tsk-runtime"
   */
  cgroupParent?: string | null;
}

/**
 * Pre-started init processes for {@linkcode createContainer}'s `pool`
 * option. Close it when done: idle inits exit when their pipe closes.
 *
 * @example Create containers from a pool
 * ```ts ignore
 * import { createContainer, InitPool } from "@tsk/runtime";
 * const pool = new InitPool({ size: 2 });
 * const c = await createContainer("fast", { bundle: "/tmp/bundle", pool });
 * pool.close();
 * ```
 */
export class InitPool implements InitSource {
  #idle: InitProcess[] = [];
  #size: number;
  #sys: Syscalls;
  #closed = false;
  #refilling = false;
  #cgroupParent: string | null;

  /**
   * Starts `size` idle inits.
   * @param options Size and host.
   */
  constructor(options: InitPoolOptions = {}) {
    this.#size = options.size ?? 2;
    this.#sys = options.sys ?? linuxSyscalls();
    this.#cgroupParent = options.cgroupParent === undefined
      ? POOL_CGROUP_PARENT
      : options.cgroupParent;
    this.#fill();
  }

  /** How many inits wait idle. */
  get idle(): number {
    return this.#idle.length;
  }

  /**
   * Takes an idle init, or `undefined` when none is ready; refills soon after.
   * @returns A started, unconfigured init.
   */
  take(): InitProcess | undefined {
    const init = this.#idle.shift();
    if (init) {
      try {
        this.#sys.setpriority(init.pid, 0);
      } catch { /* it died; the config write will tell */ }
    }
    this.#scheduleRefill();
    return init;
  }

  #spawn(): InitProcess {
    const init = spawnStage(this.#sys, {
      stdio: [null, null, null],
      pidNamespace: { kind: "new" },
      prepareNamespaces: true,
      idle: true,
    });
    // Idle inits start at low priority so refilling does not take CPU from
    // containers being created; take() restores the default.
    try {
      this.#sys.setpriority(init.pid, 10);
    } catch { /* not fatal */ }
    if (this.#cgroupParent !== null) init.cgroup = prepareCgroup(init.pid, this.#cgroupParent);
    return init;
  }

  #fill(): void {
    while (!this.#closed && this.#idle.length < this.#size) this.#idle.push(this.#spawn());
  }

  #scheduleRefill(): void {
    if (this.#refilling || this.#closed) return;
    this.#refilling = true;
    // Refill a little later: starting Deno and preparing its cgroup right
    // away would compete for CPU with the container that just took an init.
    setTimeout(() => {
      this.#refilling = false;
      this.#fill();
    }, REFILL_DELAY_MS);
  }

  /**
   * Resolves once the pool is full and every idle init has finished starting
   * (it blocks reading its configuration) and sits in its cgroup.
   * @param timeoutMs Give up after this long.
   * @returns Whether the pool became ready in time.
   */
  async ready(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.#idle.length >= this.#size) {
        await Promise.all(this.#idle.map((i) => i.cgroup));
        if (this.#idle.every((i) => waitingForConfig(i.pid))) return true;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    return false;
  }

  /** Stops every idle init and reaps it. */
  async close(): Promise<void> {
    this.#closed = true;
    const idle = this.#idle.splice(0);
    for (const init of idle) closeStage(this.#sys, init);
    await Promise.all(idle.map(async (i) => {
      await this.#sys.waitpidAsync(i.pid).catch(() => {});
      const cg = await i.cgroup;
      await cg?.destroy().catch(() => {});
    }));
  }
}
