/**
 * The per-root supervisor (the containerd-shim / conmon shape): one
 * long-lived process per state root that keeps an {@linkcode InitPool}
 * warm, is the parent of every init it creates (a `run`'s) and of every
 * process it execs, records exit statuses in the container's state
 * directory (`exit.json`), and serves the `tsk-runtime` command line over
 * `<root>/.supervisor/sock`. A `run` then costs the command line one small
 * Deno start-up and a socket round trip instead of two Deno start-ups and
 * the library's load. What outlives its command (`create`, `run --detach`,
 * `exec --detach`) is not started here: as under runc it is the caller's to
 * reap.
 *
 * State lives in the state directory, not in the supervisor: a container
 * whose supervisor died is still listed, killable and deletable through the
 * library (its init is then reaped by the host's init, so its exit status
 * is unknown, as with a runc container whose shim died).
 *
 * @module
 */
import {
  type Container,
  createContainer,
  type ExitStatus,
  loadContainer,
  relocateContainer,
} from "./container.ts";
import { InitPool, POOL_CGROUP_PARENT, removeOrphanPoolCgroups } from "./pool.ts";
import { parseSubCgroup } from "./cgroup/manager.ts";
import type { InitProcess } from "./parent.ts";
import { ConfigError, RuntimeError } from "./errors.ts";
import { DEFAULT_ROOT, statePaths, validateId } from "./state.ts";
import { signalName, signalNumber } from "./signals.ts";
import { execProcess } from "./_exec_args.ts";
import { unknownSyscalls } from "./seccomp/profile.ts";
import { linuxSyscalls, O } from "./syscalls.ts";
import {
  acceptUnix,
  connectUnix,
  listenUnix,
  peerFds,
  recvWithFds,
  sendWithFds,
  shutdownSocket,
  sleepSync,
  tryLock,
} from "./_unix_socket.ts";
import {
  jsonLine,
  LineReader,
  type SignalMessage,
  supervisorPaths,
  type SupervisorReply,
  type SupervisorRequest,
} from "./_supervisor_protocol.ts";
import * as posix from "./_path.ts";

/** Options for {@linkcode Supervisor.start}. */
export interface SupervisorOptions {
  /**
   * The state root this supervisor serves.
   * @default "/run/tsk-runtime"
   */
  root?: string;
  /**
   * Exit after this long with no container to supervise and no client
   * connected; 0 never exits on its own.
   * @default 60_000
   */
  idleTimeoutMs?: number;
  /**
   * Idle inits kept warm.
   * @default 2
   */
  poolSize?: number;
  /**
   * How long to wait for another supervisor of the same root to let go of
   * the lock (it may be shutting down) before giving up.
   * @default 2_000
   */
  lockWaitMs?: number;
  /**
   * A directory of the runtime's own sources. When a file in it changes (an
   * upgrade, a checkout), the supervisor hands over: it stops listening and
   * releases the root, so the next command starts a supervisor from the new
   * code, and it keeps only supervising (reaping, recording exit statuses)
   * the containers it already runs, exiting when the last one ends. `null`
   * watches nothing.
   * @default the directory this module was loaded from, when it is a file
   */
  watch?: string | null;
}

/** The runtime's source directory, when this module runs from files. */
function ownSources(): string | null {
  const url = new URL(".", import.meta.url);
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : null;
}

/** Source files whose change means new code: modules, not editors' or caches' files. */
const SOURCE = /\.(ts|js|json)$/;

/** A connection serving a `run` or an `exec`. */
interface Client {
  /** The connection. */
  fd: number;
  /** The caller's stdin, stdout and stderr (the handler closes them). */
  stdio: number[];
  /** What the caller sent after its request (signals). */
  reader: LineReader;
  /** Answers the caller. */
  send: (r: SupervisorReply) => void;
}

interface Supervised {
  container: Container;
  exit: Promise<ExitStatus>;
}

const LOG_ROTATE_BYTES = 8 << 20;

/**
 * A running supervisor. Start one with {@linkcode Supervisor.start}; the
 * `tsk-runtime` command line starts one on demand (`tsk-runtime supervisor`
 * runs one in the foreground).
 *
 * @example Serve a state root until idle
 * ```ts ignore
 * import { Supervisor } from "@tsk/runtime";
 * const s = await Supervisor.start({ root: "/run/tsk-runtime", idleTimeoutMs: 30_000 });
 * if (s) await s.done;
 * ```
 */
export class Supervisor {
  readonly #root: string;
  readonly #paths: ReturnType<typeof supervisorPaths>;
  /** Where states of containers being deleted wait (see `#retire`); made on first use. */
  #holder: string | null = null;
  readonly #idleMs: number;
  readonly #pool: InitPool;
  readonly #listener: number;
  readonly #lockFd: number;
  readonly #live = new Map<string, Supervised>();
  /** Deletions still running after `run` answered, by container id. */
  readonly #cleanups = new Map<string, Promise<void>>();
  #connections = 0;
  #lastActive = Date.now();
  #closing = false;
  #done: Promise<void>;
  #onSignal = () => void this.close();
  #logFile: Deno.FsFile | null = null;
  #watcher: Deno.FsWatcher | null = null;
  /** Why it hands over to a new supervisor, once its sources changed. */
  #handOver: string | null = null;

  private constructor(root: string, lockFd: number, options: SupervisorOptions) {
    this.#root = root;
    this.#paths = supervisorPaths(root);
    this.#idleMs = options.idleTimeoutMs ?? 60_000;
    this.#lockFd = lockFd;
    try {
      // One generation of history: the log is rotated at start past 8 MiB.
      if (Deno.statSync(this.#paths.log).size > LOG_ROTATE_BYTES) {
        Deno.renameSync(this.#paths.log, `${this.#paths.log}.1`);
      }
    } catch { /* no log yet */ }
    try {
      Deno.removeSync(this.#paths.socket);
    } catch { /* none */ }
    this.#listener = listenUnix(this.#paths.socket);
    Deno.chmodSync(this.#paths.socket, 0o600);
    Deno.writeTextFileSync(this.#paths.pid, `${Deno.pid}\n`);
    this.#pool = new InitPool({ size: options.poolSize ?? 2 });
    Deno.addSignalListener("SIGTERM", this.#onSignal);
    Deno.addSignalListener("SIGINT", this.#onSignal);
    this.#log("info", "supervisor started", { pid: Deno.pid, socket: this.#paths.socket });
    const watch = options.watch === undefined ? ownSources() : options.watch;
    if (watch !== null) this.#watchSources(watch);
    this.#done = this.#acceptLoop();
  }

  /** Hands over to a new supervisor once a file under `dir` changes. */
  #watchSources(dir: string): void {
    try {
      this.#watcher = Deno.watchFs(dir, { recursive: true });
    } catch (e) {
      this.#log("warning", `cannot watch ${dir} for upgrades: ${(e as Error).message}`);
      return;
    }
    (async () => {
      for await (const ev of this.#watcher!) {
        const changed = ev.paths.find((p) => SOURCE.test(p));
        if (ev.kind === "access" || changed === undefined) continue;
        this.#handOver = `${changed} changed`;
        this.#log("info", "sources changed: handing over to a new supervisor", {
          reason: this.#handOver,
        });
        this.#closing = true;
        break;
      }
    })().catch(() => {/* closed */});
  }

  /**
   * Starts a supervisor for a state root, unless one already runs there.
   *
   * @param options The root, idle timeout and pool size.
   * @returns The supervisor, or `null` when another one holds the root.
   */
  static start(options: SupervisorOptions = {}): Promise<Supervisor | null> {
    const root = posix.resolve(options.root ?? DEFAULT_ROOT);
    Deno.mkdirSync(supervisorPaths(root).dir, { recursive: true, mode: 0o700 });
    const sys = linuxSyscalls();
    const fd = sys.open(
      supervisorPaths(root).lock,
      O.RDWR | 0o100 /* O_CREAT */ | O.CLOEXEC,
      0o600,
    );
    const deadline = Date.now() + (options.lockWaitMs ?? 2000);
    while (!tryLock(fd)) {
      // Another one holds the root: if it answers, it serves; wait only for
      // one that is shutting down (or still binding its socket).
      const probe = connectUnix(supervisorPaths(root).socket);
      if (probe !== null) sys.close(probe);
      if (probe !== null || Date.now() >= deadline) {
        sys.close(fd);
        return Promise.resolve(null);
      }
      sleepSync(10);
    }
    const s = new Supervisor(root, fd, options);
    s.#sweep();
    // The idle inits of a supervisor that was killed left their cgroups.
    removeOrphanPoolCgroups(POOL_CGROUP_PARENT).then((gone) => {
      if (gone.length > 0) s.#log("info", "removed orphaned pool cgroups", { cgroups: gone });
    }).catch((e) => s.#log("error", `orphaned pool cgroups: ${(e as Error).message}`));
    return Promise.resolve(s);
  }

  /** The socket clients connect to. */
  get socketPath(): string {
    return this.#paths.socket;
  }

  /** Resolves once the supervisor has stopped. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** How many containers it is the parent of and that still run. */
  get supervising(): number {
    return this.#live.size;
  }

  /**
   * Stops accepting, stops the idle inits and removes the socket and pid
   * file. Running containers keep running; their state stays in the root.
   *
   * @returns Resolves once stopped.
   */
  close(): Promise<void> {
    this.#closing = true;
    return this.#done;
  }

  #log(level: string, msg: string, fields: Record<string, unknown> = {}): void {
    const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields });
    try {
      // One descriptor for the supervisor's life: an open per line cost
      // about 0.1 ms, three lines a run.
      this.#logFile ??= Deno.openSync(this.#paths.log, { append: true, create: true });
      const data = new TextEncoder().encode(line + "\n");
      for (let off = 0; off < data.length;) off += this.#logFile.writeSync(data.subarray(off));
    } catch { /* the log is best effort */ }
  }

  async #acceptLoop(): Promise<void> {
    const sys = linuxSyscalls();
    try {
      while (!this.#closing) {
        const fd = await acceptUnix(this.#listener, 250);
        if (fd !== null) {
          this.#lastActive = Date.now();
          void this.#serve(fd);
          continue;
        }
        const idle = this.#connections === 0 && this.#live.size === 0;
        if (!idle) this.#lastActive = Date.now();
        else if (this.#idleMs > 0 && Date.now() - this.#lastActive >= this.#idleMs) {
          this.#log("info", "idle: exiting", { idleMs: this.#idleMs });
          break;
        }
      }
    } finally {
      // The socket first: a new client then starts a new supervisor, which
      // waits for our lock.
      for (const f of [this.#paths.socket, this.#paths.pid]) {
        try {
          Deno.removeSync(f);
        } catch { /* gone */ }
      }
      sys.close(this.#listener);
      this.#watcher?.close();
      Deno.removeSignalListener("SIGTERM", this.#onSignal);
      Deno.removeSignalListener("SIGINT", this.#onSignal);
      await this.#pool.close();
      await Promise.all(this.#cleanups.values());
      if (this.#handOver !== null) {
        // New code: let a new supervisor take the root now, and stay only
        // as the parent of what runs (as a containerd shim outlives an
        // upgraded containerd); `state`, `kill` and `delete` of these
        // containers go through the new one.
        sys.close(this.#lockFd);
        this.#log("info", "handed over: supervising what runs until it ends", {
          running: [...this.#live.keys()],
        });
        await this.#drain();
        this.#log("info", "supervisor stopped");
        this.#logFile?.close();
      } else {
        this.#log("info", "supervisor stopped", { running: [...this.#live.keys()] });
        this.#logFile?.close();
        sys.close(this.#lockFd);
      }
      if (this.#holder !== null) removeIfEmpty(this.#holder);
    }
  }

  /** Waits until no container it is the parent of runs, nor any client it serves. */
  async #drain(): Promise<void> {
    while (this.#live.size > 0 || this.#connections > 0) {
      await Promise.race([
        ...[...this.#live.values()].map((l) => l.exit),
        new Promise((r) => setTimeout(r, 250)),
      ]);
    }
    await Promise.all(this.#cleanups.values());
  }

  async #serve(fd: number): Promise<void> {
    const sys = linuxSyscalls();
    this.#connections++;
    const reader = new LineReader();
    let fds: number[] = [];
    const send = (r: SupervisorReply) => {
      try {
        sendWithFds(fd, jsonLine(r));
      } catch { /* the client went away */ }
    };
    try {
      let request: SupervisorRequest | undefined;
      while (request === undefined) {
        const got = await recvWithFds(fd);
        fds.push(...got.fds);
        if (got.data.length === 0) return;
        const line = reader.push(got.data)[0];
        if (line !== undefined) request = checkRequest(line);
      }
      const withStdio = request.op === "run" || request.op === "exec";
      if (withStdio && fds.length === 0) {
        // The caller's stdio, taken from its descriptor table: its client
        // then needs no FFI to pass them (see docs/benchmarks.md).
        try {
          fds = peerFds(fd, [0, 1, 2]);
        } catch (e) {
          send({ type: "stdio", message: `stdio: ${(e as Error).message}` });
          return;
        }
      }
      if (withStdio && fds.length !== 3) {
        send({ type: "stdio", message: `stdio: expected 3 descriptors, got ${fds.length}` });
        return;
      }
      send({ type: "accepted" });
      try {
        if (request.op === "run") {
          const mine = fds;
          fds = [];
          await this.#run(request, { fd, stdio: mine, reader, send });
        } else if (request.op === "exec") {
          await this.#exec(request, { fd, stdio: fds, reader, send });
        } else {
          const output = await this.#simple(request);
          send(output === undefined ? { type: "ok" } : { type: "ok", output });
        }
      } catch (e) {
        const message = (e as Error).message;
        this.#log("error", message, { op: request.op });
        send({ type: "error", message });
      }
    } catch (e) {
      const message = (e as Error).message;
      this.#log("error", `connection: ${message}`);
      if (e instanceof ConfigError) send({ type: "error", message });
    } finally {
      for (const f of fds) sys.close(f);
      shutdownSocket(fd);
      sys.close(fd);
      this.#connections--;
      this.#lastActive = Date.now();
    }
  }

  async #run(req: Extract<SupervisorRequest, { op: "run" }>, client: Client): Promise<void> {
    const { fd, stdio: fds, reader, send } = client;
    const sys = linuxSyscalls();
    // A container of the same id that `run` answered for may still be
    // being deleted: its cgroup has the same path.
    await this.#cleanups.get(req.id);
    // A poststart or poststop hook that fails: logged, and told to the caller.
    const warn = (message: string) => {
      this.#log("warning", message, { id: req.id });
      send({ type: "warning", message });
    };
    const t0 = performance.now();
    let c: Container;
    let taken: InitProcess | undefined;
    try {
      c = await createContainer(req.id, {
        bundle: req.bundle,
        root: this.#root,
        pidFile: req.pidFile,
        stdio: { stdin: fds[0], stdout: fds[1], stderr: fds[2] },
        // A pooled init gets the caller's stdio itself (SCM_RIGHTS): files,
        // sockets and FIFOs keep their offsets and flags.
        pool: { take: () => (taken = this.#pool.take()) },
        // `run` starts as it creates: the init goes from set-up straight to
        // execve, without waiting for a separate start.
        start: true,
        onWarning: warn,
      });
    } catch (e) {
      // A terminal without a console socket: the command holds it itself
      // (as runc's run), so it takes the direct path. Nothing was made yet.
      if (e instanceof ConfigError && e.field === "process.terminal") {
        send({ type: "direct", message: e.message });
        return;
      }
      throw e;
    } finally {
      // The init has its own copies now (or there is no container).
      for (const f of fds) sys.close(f);
    }
    // A `run` that deletes the container once it exits answers its client
    // with the status instead: exit.json is written only if the client went
    // away meanwhile (and the container then stays).
    const deletes = !req.keep;
    const exit = c.wait().then((st) => {
      this.#live.delete(c.id);
      if (deletes) this.#log("info", "exited", { id: c.id, ...st });
      else this.#recordExit(c.id, st);
      return st;
    });
    this.#live.set(c.id, { container: c, exit });
    this.#log("info", "created", { id: c.id, pid: c.pid, pooled: taken !== undefined });
    const seccomp = c.spec.linux?.seccomp;
    for (const w of seccomp ? unknownSyscalls(seccomp, "linux.seccomp") : []) {
      // As runc: a name no table has matches nothing.
      this.#log("warning", `${w}: ignored`, { id: c.id });
    }
    const t2 = performance.now();
    send({ type: "started", pid: c.pid });
    // The client going away means (as runc's, when `runc run` dies) that
    // the container stays behind.
    const pump = pumpSignals(fd, reader, (signal) => c.kill(signal));
    const st = await exit;
    const t3 = performance.now();
    const gone = pump.gone();
    if (gone && deletes) this.#writeExit(c.id, st);
    if (!gone && !req.keep) {
      // As runc's `run`: answer once everything is deleted, cgroups and
      // poststop hooks included. The state moves out of the root first (one
      // rename), so a supervisor that dies during the delete leaves it to
      // the next one; the moved state directory itself goes after the answer.
      await this.#retire(c, warn);
    }
    send({ type: "exit", ...st });
    const ms = (a: number, b: number) => Math.round((b - a) * 10) / 10;
    this.#log("info", "run done", {
      id: c.id,
      createAndStartMs: ms(t0, t2),
      waitMs: ms(t2, t3),
      deleteMs: ms(t3, performance.now()),
    });
    shutdownSocket(fd);
    await pump.done;
  }

  async #exec(req: Extract<SupervisorRequest, { op: "exec" }>, client: Client): Promise<void> {
    const { fd, stdio: fds, reader, send } = client;
    const sys = linuxSyscalls();
    const t0 = performance.now();
    const c = await this.#container(req.id);
    const process = execProcess(c.spec.process, req);
    // The stage is spawned with the caller's descriptors themselves (no
    // pool here: it must be born in the container's PID namespace).
    let p;
    try {
      p = await c.exec(process, {
        stdio: { stdin: fds[0], stdout: fds[1], stderr: fds[2] },
        ignorePaused: req.ignorePaused === true,
        cgroup: req.cgroups?.length ? parseSubCgroup(req.cgroups, "--cgroup") : undefined,
      });
    } catch (e) {
      // A terminal without a console socket: the command holds it itself.
      if (e instanceof ConfigError && e.field === "process.terminal") {
        send({ type: "direct", message: e.message });
        return;
      }
      throw e;
    }
    if (req.pidFile) Deno.writeTextFileSync(req.pidFile, `${p.pid}`);
    this.#log("info", "exec", {
      id: c.id,
      pid: p.pid,
      args: process.args,
      startMs: Math.round((performance.now() - t0) * 10) / 10,
    });
    send({ type: "started", pid: p.pid });
    for (const f of fds.splice(0)) sys.close(f);
    const pump = pumpSignals(fd, reader, (signal) => {
      Deno.kill(p.pid, signalName(signal) as Deno.Signal);
    });
    const st = await p.wait();
    send({ type: "exit", ...st });
    shutdownSocket(fd);
    await pump.done;
  }

  /**
   * Deletes a stopped container so that it is gone from the root at once
   * (its state directory moves to `.supervisor/deleting/<this supervisor's
   * holder>/<id>`, one rename: `state` and `list` no longer see it), then its
   * cgroup and poststop hooks, and resolves then; the moved state directory
   * is removed after that (a macrotask later: after the caller's answer).
   * The whole deletion is in `#cleanups` until done. A create of the same id
   * waits for it (so an id is never twice in the holder); so does shutdown;
   * a supervisor that died meanwhile leaves the moved state, which the next
   * one deletes ({@linkcode Supervisor.#sweep}).
   */
  async #retire(c: Container, onWarning?: (message: string) => void): Promise<void> {
    let holder: string;
    try {
      // One holder for the supervisor's life: a directory made and removed
      // per container was two more metadata writes on every `run`.
      holder = this.#holder ??= (() => {
        const dir = `${this.#paths.dir}/deleting/${crypto.randomUUID()}`;
        Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
        return dir;
      })();
      Deno.renameSync(statePaths(this.#root, c.id).dir, `${holder}/${c.id}`);
    } catch {
      // A holder removed from outside is made anew next time.
      this.#holder = null;
      await c.delete({ force: true, onWarning });
      return;
    }
    const id = c.id;
    const { released, done: deleted } = this.#deleteMoved(holder, id, c, onWarning);
    const done: Promise<void> = deleted.finally(() => {
      if (this.#cleanups.get(id) === done) this.#cleanups.delete(id);
    });
    this.#cleanups.set(id, done);
    await released;
  }

  /**
   * Deletes the container `id` whose state was moved under `holder`: `c`
   * itself when this supervisor holds it, else loaded from there. A holder
   * left by another supervisor goes once empty. `released` resolves once
   * the container is deleted (cgroup, poststop hooks) and `done` once its
   * moved state directory is gone too.
   */
  #deleteMoved(
    holder: string,
    id: string,
    c?: Container,
    onWarning?: (message: string) => void,
  ): { released: Promise<void>; done: Promise<void> } {
    let release = () => {};
    const released = new Promise<void>((r) => (release = r));
    const done = (async () => {
      try {
        const moved = c ? await relocateContainer(c, holder) : await loadContainer(id, {
          root: holder,
        });
        // Without poststop hooks, deleting again (the next supervisor's
        // sweep, should this one die before the directory goes) repeats
        // nothing: the directory can wait until the caller has its answer.
        const later = c !== undefined && !moved.spec.hooks?.poststop?.length;
        await moved.delete({
          force: true,
          onWarning: onWarning ??
            ((m) => this.#log("warning", m, { id })),
          keepStateDir: later,
        });
        release();
        if (later) {
          await new Promise((r) => setTimeout(r, 0));
          Deno.removeSync(`${holder}/${id}`, { recursive: true });
        }
      } catch (e) {
        // Kept: the next supervisor tries again.
        this.#log("error", `delete ${id}: ${(e as Error).message}`, { state: holder });
        return;
      } finally {
        release();
      }
      if (holder !== this.#holder) removeIfEmpty(holder);
    })();
    return { released, done };
  }

  /** Finishes deletions a previous supervisor left in `.supervisor/deleting`. */
  #sweep(): void {
    const dir = `${this.#paths.dir}/deleting`;
    let holders: Deno.DirEntry[];
    try {
      holders = [...Deno.readDirSync(dir)];
    } catch {
      return;
    }
    for (const h of holders) {
      const holder = `${dir}/${h.name}`;
      let ids: string[] = [];
      try {
        ids = [...Deno.readDirSync(holder)].map((e) => e.name);
      } catch { /* not a directory */ }
      if (ids.length === 0) {
        try {
          Deno.removeSync(holder, { recursive: true });
        } catch { /* gone */ }
        continue;
      }
      for (const id of ids) {
        const done: Promise<void> = this.#deleteMoved(holder, id).done.finally(() => {
          if (this.#cleanups.get(id) === done) this.#cleanups.delete(id);
        });
        this.#cleanups.set(id, done);
      }
    }
  }

  #recordExit(id: string, st: ExitStatus): void {
    this.#log("info", "exited", { id, ...st });
    this.#writeExit(id, st);
  }

  /** Writes a stopped container's exit status into its state directory. */
  #writeExit(id: string, st: ExitStatus): void {
    const { dir } = statePaths(this.#root, id);
    try {
      const tmp = `${dir}/exit.json.tmp`;
      Deno.writeTextFileSync(tmp, JSON.stringify({ ...st, at: new Date().toISOString() }));
      Deno.renameSync(tmp, `${dir}/exit.json`);
    } catch { /* deleted already */ }
  }

  async #container(id: string): Promise<Container> {
    return this.#live.get(id)?.container ?? await loadContainer(id, { root: this.#root });
  }

  async #simple(req: SupervisorRequest): Promise<string | undefined> {
    switch (req.op) {
      case "ping":
        return String(Deno.pid);
      case "start":
        await (await this.#container(req.id)).start();
        return undefined;
      case "state":
        return JSON.stringify((await this.#container(req.id)).state(), null, 2);
      case "pause":
        await (await this.#container(req.id)).pause();
        this.#log("info", "paused", { id: req.id });
        return undefined;
      case "resume":
        await (await this.#container(req.id)).resume();
        this.#log("info", "resumed", { id: req.id });
        return undefined;
      case "ps":
        return JSON.stringify(await (await this.#container(req.id)).pids());
      case "kill": {
        const c = await this.#container(req.id);
        if (!req.all) {
          c.kill(req.signal);
          return undefined;
        }
        const name = signalName(signalNumber(req.signal)) as Deno.Signal;
        for (const pid of await c.pids()) {
          try {
            Deno.kill(pid, name);
          } catch { /* exited */ }
        }
        return undefined;
      }
      case "delete": {
        const c = await this.#container(req.id);
        await c.delete({ force: req.force });
        this.#live.delete(req.id);
        return undefined;
      }
    }
    throw new RuntimeError(`Unknown request: ${JSON.stringify(req)}`);
  }
}

/** Removes the directory `dir` if it is empty (and exists). */
function removeIfEmpty(dir: string): void {
  try {
    Deno.removeSync(dir);
  } catch { /* not empty, or gone */ }
}

/**
 * Delivers the `signal` lines a waiting client forwards (a run's or an
 * exec's) until it closes the connection; `gone()` then says it went away.
 */
function pumpSignals(
  fd: number,
  reader: LineReader,
  deliver: (signal: number) => void,
): { done: Promise<void>; gone(): boolean } {
  const sys = linuxSyscalls();
  let gone = false;
  const done = (async () => {
    for (;;) {
      const got = await recvWithFds(fd, 4096);
      for (const f of got.fds) sys.close(f);
      if (got.data.length === 0) {
        gone = true;
        return;
      }
      for (const m of reader.push(got.data) as SignalMessage[]) {
        if (m.op !== "signal") continue;
        try {
          deliver(signalNumber(m.signal));
        } catch { /* not a signal, or exited meanwhile */ }
      }
    }
  })();
  return { done, gone: () => gone };
}

const OPS = new Set([
  "run",
  "start",
  "state",
  "kill",
  "delete",
  "pause",
  "resume",
  "ps",
  "exec",
  "ping",
]);

/**
 * Checks a request read from the socket (only root can connect, but it is
 * still input): every field it uses, named in the error as `request.<field>`.
 */
function checkRequest(value: unknown): SupervisorRequest {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError("request", "expected a JSON object");
  }
  const r = value as Record<string, unknown>;
  const str = (field: string, optional = false) => {
    const v = r[field];
    if (v === undefined && optional) return;
    if (typeof v !== "string" || v === "") {
      throw new ConfigError(
        `request.${field}`,
        `expected a non-empty string, got ${JSON.stringify(v)}`,
      );
    }
  };
  const bool = (field: string) => {
    if (r[field] !== undefined && typeof r[field] !== "boolean") {
      throw new ConfigError(
        `request.${field}`,
        `expected true or false, got ${JSON.stringify(r[field])}`,
      );
    }
  };
  const path = (field: string, optional = false) => {
    str(field, optional);
    if (r[field] !== undefined && !(r[field] as string).startsWith("/")) {
      throw new ConfigError(
        `request.${field}`,
        `expected an absolute path, got ${JSON.stringify(r[field])}`,
      );
    }
  };
  const strings = (field: string) => {
    const v = r[field];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
      throw new ConfigError(
        `request.${field}`,
        `expected an array of strings, got ${JSON.stringify(v)}`,
      );
    }
  };
  if (typeof r.op !== "string" || !OPS.has(r.op)) {
    throw new ConfigError(
      "request.op",
      `expected one of ${[...OPS].join(", ")}, got ${JSON.stringify(r.op)}`,
    );
  }
  if (r.op === "ping") return r as SupervisorRequest;
  str("id");
  try {
    validateId(r.id as string);
  } catch (e) {
    throw new ConfigError("request.id", (e as ConfigError).message.replace(/^id: /, ""));
  }
  if (r.op === "run") {
    path("bundle");
    path("pidFile", true);
    bool("keep");
  } else if (r.op === "kill") {
    str("signal");
    bool("all");
  } else if (r.op === "delete") {
    bool("force");
  } else if (r.op === "exec") {
    path("processFile", true);
    path("pidFile", true);
    bool("noNewPrivs");
    bool("tty");
    if (r.tty === true) {
      throw new ConfigError(
        "request.tty",
        "a terminal goes to a console socket: use the direct path",
      );
    }
    str("cwd", true);
    str("user", true);
    strings("args");
    strings("env");
    if (r.processFile === undefined && (r.args as string[]).length === 0) {
      throw new ConfigError("request.args", "expected a command, or request.processFile");
    }
  }
  return r as SupervisorRequest;
}

/**
 * Runs a supervisor in this process until it is idle for `idleTimeoutMs`
 * or gets SIGTERM (`tsk-runtime supervisor`).
 *
 * @param options As for {@linkcode Supervisor.start}.
 * @returns 0, also when another supervisor already serves the root.
 *
 * @example Serve until idle
 * ```ts ignore
 * import { runSupervisor } from "@tsk/runtime";
 * await runSupervisor({ root: "/run/tsk-runtime" });
 * ```
 */
export async function runSupervisor(options: SupervisorOptions = {}): Promise<number> {
  const s = await Supervisor.start(options);
  if (s === null) return 0;
  await s.done;
  return 0;
}
