/**
 * A pool of pre-started init stages (DESIGN.md): each is a Deno process
 * already running `init.ts` as PID 1 of its own new PID namespace, blocked
 * reading its configuration. Taking one removes Deno's start-up from the
 * path of creating a container. A pooled init opens the container's stdio
 * itself from `/proc/<runtime pid>/fd/<n>` paths in its configuration.
 *
 * @module
 */
import { closeStage, type InitProcess, spawnStage } from "./parent.ts";
import { linuxSyscalls, type Syscalls } from "./syscalls.ts";

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
export class InitPool {
  #idle: InitProcess[] = [];
  #size: number;
  #sys: Syscalls;
  #closed = false;
  #refilling = false;

  /**
   * Starts `size` idle inits.
   * @param options Size and host.
   */
  constructor(options: InitPoolOptions = {}) {
    this.#size = options.size ?? 2;
    this.#sys = options.sys ?? linuxSyscalls();
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
    this.#scheduleRefill();
    return init;
  }

  #spawn(): InitProcess {
    return spawnStage(this.#sys, { stdio: [null, null, null], pidNamespace: { kind: "new" } });
  }

  #fill(): void {
    while (!this.#closed && this.#idle.length < this.#size) this.#idle.push(this.#spawn());
  }

  #scheduleRefill(): void {
    if (this.#refilling || this.#closed) return;
    this.#refilling = true;
    setTimeout(() => {
      this.#refilling = false;
      this.#fill();
    }, 0);
  }

  /** Stops every idle init and reaps it. */
  async close(): Promise<void> {
    this.#closed = true;
    const idle = this.#idle.splice(0);
    for (const init of idle) closeStage(this.#sys, init);
    await Promise.all(idle.map((i) => this.#sys.waitpidAsync(i.pid).catch(() => {})));
  }
}
