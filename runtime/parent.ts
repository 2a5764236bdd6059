/**
 * The parent stage: starts the init stage (a Deno process running
 * `init.ts`) as PID 1 of a new (or joined) PID namespace, hands it its
 * configuration and waits for it to report `ready`. Descriptors are closed on
 * purpose at each hand-off: the child gets only its stdio and its two pipe
 * ends (fds 3 and 4, both close-on-exec in the child's own exec), and the
 * parent closes the child's ends as soon as the spawn returns.
 *
 * @module
 */
import * as posix from "./_path.ts";
import {
  type CgroupsMessage,
  encodeMessage,
  type HooksDoneMessage,
  type InitReply,
  LATE_BIND_LOG_ENV,
  type ParentMessage,
  readMessageAsync,
} from "./_messages.ts";
import { ConfigError, RuntimeError } from "./errors.ts";
import type { CgroupManager } from "./cgroup/manager.ts";
import type { Mount } from "./spec/config.ts";
import { MS, O, type SpawnPidNamespace, type Syscalls } from "./syscalls.ts";
import { initEntry } from "./_init_bundle.ts";
import { sendWithFds } from "./_unix_socket.ts";

/** A started, not yet configured init or exec stage. */
export interface InitProcess {
  /** Host pid of the stage. */
  pid: number;
  /** Parent's end of the configuration socket. */
  configFd: number;
  /** Parent's read end of the reply pipe. */
  replyFd: number;
  /**
   * A cgroup the init was already moved into (by a pool), resolving to
   * `null` if that failed; the container adopts it by renaming.
   */
  cgroup?: Promise<CgroupManager | null>;
  /** The init was spawned with the container's stdio already in place. */
  stdioReady?: boolean;
}

/** Where read-only bind mounts of the Deno binary live (see {@linkcode runtimeExecutable}). */
export const EXE_DIR = "/run/tsk-runtime-exe";

let cachedExe: string | undefined;

/**
 * The path the init stage is spawned from: a read-only bind mount of the
 * Deno binary (one per binary, kept for the host's lifetime), so that a
 * container process that got hold of the init's executable still cannot open
 * it for writing (CVE-2019-5736: EROFS).
 *
 * @param sys The host.
 * @returns The path to spawn.
 */
export function runtimeExecutable(sys: Syscalls): string {
  if (cachedExe !== undefined) return cachedExe;
  const real = Deno.realPathSync(Deno.execPath());
  const st = Deno.statSync(real);
  const path = posix.join(EXE_DIR, `deno-${st.dev}-${st.ino}`);
  const isReadOnlyCopy = () => {
    try {
      const t = Deno.statSync(path);
      return t.ino === st.ino && t.dev === st.dev && (sys.mountFlags(path) & MS.RDONLY) !== 0;
    } catch {
      return false;
    }
  };
  if (!isReadOnlyCopy()) {
    Deno.mkdirSync(EXE_DIR, { recursive: true, mode: 0o700 });
    try {
      Deno.writeFileSync(path, new Uint8Array(0), { createNew: true, mode: 0o500 });
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    sys.mount(real, path, null, MS.BIND, null);
    sys.mount(null, path, null, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV, null);
    // Another runtime may have raced us; stacked read-only mounts are harmless.
  }
  cachedExe = path;
  return path;
}

const DENO_ARGV = [
  "deno",
  "run",
  "--allow-all",
  "--no-config",
  "--no-lock",
  "--quiet",
  "--no-prompt",
  "--no-npm",
];

// The init runs a few hundred lines once: no V8 worker threads (fewer
// threads to start and to move between cgroups) and a small heap. An idle
// (pooled) init also compiles every function up front while it waits,
// rather than on first call on the container's start path: to bytecode
// (--no-lazy) and on to baseline machine code (--always-sparkplug), which
// runs the set-up 1.1-1.6 ms faster than the interpreter (configuration to
// execve, 25 runs each). An init that is needed at once must not: that work
// would be on the start path.
const V8_FLAGS = "--single-threaded,--max-old-space-size=64";

/** Only what Deno needs to find its cache reaches the stage. */
function stageEnv(): string[] {
  return Object.entries(Deno.env.toObject())
    .filter(([k]) =>
      k.startsWith("DENO_") || k === "HOME" || k === "XDG_CACHE_HOME" || k === LATE_BIND_LOG_ENV
    )
    .map(([k, v]) => `${k}=${v}`);
}

/**
 * The init module's specifier for `deno run`: a cached single-file bundle of
 * `init.ts` when one can be built (it starts 10-15 ms sooner), else the module.
 */
export function initModule(): string {
  return initEntry(new URL("./init.ts", import.meta.url), EXE_DIR);
}

function initArgv(idle: boolean): string[] {
  const mod = initModule();
  const v8 = `--v8-flags=${V8_FLAGS}${idle ? ",--no-lazy,--always-sparkplug" : ""}`;
  return mod.startsWith("/") ? [...DENO_ARGV, v8, "--no-remote", mod] : [...DENO_ARGV, v8, mod];
}

/** Options for {@linkcode spawnStage}. */
export interface SpawnStageOptions {
  /** The child's fds 0, 1, 2 (parent descriptors; `null` for /dev/null). */
  stdio: [number | null, number | null, number | null];
  /** PID namespace of the child. */
  pidNamespace: SpawnPidNamespace;
  /**
   * Let the stage create its network, UTS and IPC namespaces before its
   * configuration arrives (for pooled inits).
   * @default false
   */
  prepareNamespaces?: boolean;
  /**
   * The stage will idle (in a pool) before its configuration arrives: spend
   * that time compiling every function and binding every libc symbol.
   * Leave it off for a stage configured at once (the CLI's early init),
   * where that work would only delay the container.
   * @default false
   */
  idle?: boolean;
}

/**
 * Spawns the init (or exec) stage. The child starts Deno and blocks reading
 * its configuration; nothing container-specific has happened yet.
 *
 * @param sys The host.
 * @param options stdio and PID namespace.
 * @returns The stage's pid and the parent's pipe ends.
 */
export function spawnStage(sys: Syscalls, options: SpawnStageOptions): InitProcess {
  const exe = runtimeExecutable(sys);
  // The configuration goes over a socket: a pooled init gets the
  // container's stdio with it (SCM_RIGHTS).
  const [configRead, configWrite] = sys.socketpair();
  const [replyRead, replyWrite] = sys.pipe();
  try {
    const pid = sys.spawn({
      path: exe,
      argv: [
        ...initArgv(options.idle ?? false),
        ...(options.prepareNamespaces ? ["--prepare-namespaces"] : []),
        ...(options.idle ? ["--idle"] : []),
      ],
      env: stageEnv(),
      fds: [...options.stdio, configRead, replyWrite],
      pidNamespace: options.pidNamespace,
      setsid: true,
    });
    return { pid, configFd: configWrite, replyFd: replyRead };
  } catch (e) {
    sys.close(configWrite);
    sys.close(replyRead);
    throw e;
  } finally {
    sys.close(configRead);
    sys.close(replyWrite);
  }
}

/**
 * `sendConfig`: writes the stage's configuration and closes the socket, or
 * keeps it open for a {@linkcode CgroupsMessage} ({@linkcode sendCgroups}).
 *
 * @param sys The host.
 * @param init The stage.
 * @param msg The configuration.
 * @param options `keepOpen`: more follows; `fds`: descriptors that go with
 *   the message (the stage gets its own copies).
 */
export async function sendConfig(
  sys: Syscalls,
  init: InitProcess,
  msg: ParentMessage | CgroupsMessage | HooksDoneMessage,
  options: { keepOpen?: boolean; fds?: readonly number[] } = {},
): Promise<void> {
  const data = encodeMessage(msg);
  let off = 0;
  let done = false;
  try {
    if (options.fds && options.fds.length > 0) {
      // The descriptors ride on the first byte; a message that fits in one
      // chunk goes with them whole (one wake-up of the init, not two).
      const first = data.length <= 65536 ? data.length : 1;
      sendWithFds(init.configFd, data.subarray(0, first), options.fds);
      off = first;
    }
    while (off < data.length) {
      const chunk = data.subarray(off, off + 65536) as Uint8Array<ArrayBuffer>;
      const n = sys.write(init.configFd, chunk);
      off += n;
      if (off < data.length) await new Promise((r) => setTimeout(r, 0));
    }
    done = true;
  } finally {
    if (!done || !options.keepOpen) {
      sys.close(init.configFd);
      init.configFd = -1;
    }
  }
}

/**
 * `sendCgroups`: after a configuration sent without cgroup mounts, writes
 * them (the container's cgroup is in place, limits included) and closes
 * the pipe.
 *
 * @param sys The host.
 * @param init The stage.
 * @param cgroupMounts The host's cgroup mounts for the container.
 */
export async function sendCgroups(
  sys: Syscalls,
  init: InitProcess,
  cgroupMounts: Mount[],
  options: { keepOpen?: boolean } = {},
): Promise<void> {
  await sendConfig(sys, init, { type: "cgroups", cgroupMounts }, options);
}

/**
 * `waitForInitReady`: reads the stage's reply; its failure is rethrown
 * here, as a {@linkcode ConfigError} when it names a field.
 *
 * @param sys The host.
 * @param init The stage.
 * @param timeoutMs Kill the stage and fail after this long.
 * @param onHooks Runs the runtime's create hooks when the init pauses for
 *   them (it replied `hooks`); the stage is then waited for again.
 */
export async function waitForInitReady(
  sys: Syscalls,
  init: InitProcess,
  timeoutMs = 60_000,
  onHooks?: () => Promise<void>,
): Promise<void> {
  let reply: InitReply | null;
  let timedOut = false;
  try {
    for (;;) {
      // poll(2) rather than a timer: the first setTimeout of a Deno 2.9
      // process loads the node:timers machinery, 7-11 ms on every `create`.
      // poll also returns early on EINTR; it is simply asked again.
      const deadline = Date.now() + timeoutMs;
      while (!(await sys.pollReadable(init.replyFd, Math.max(0, deadline - Date.now())))) {
        if (Date.now() >= deadline) {
          // Killing the init closes the only write end: the read below ends.
          timedOut = true;
          try {
            sys.kill(init.pid, 9);
          } catch { /* already gone */ }
          break;
        }
      }
      reply = await readMessageAsync<InitReply>(sys, init.replyFd);
      if (reply?.type !== "hooks" || timedOut) break;
      // The init waits before pivot_root while the runtime's create hooks run.
      if (onHooks === undefined) {
        throw new RuntimeError("Cannot create container: the init paused for hooks nobody runs");
      }
      await onHooks();
    }
  } finally {
    sys.close(init.replyFd);
    init.replyFd = -1;
  }
  if (timedOut) {
    throw new RuntimeError(
      `Cannot create container: the init was not ready within ${timeoutMs} ms and was killed`,
    );
  }
  if (reply === null) {
    throw new RuntimeError("Cannot create container: the init process exited before it was ready");
  }
  if (reply.type === "hooks") {
    throw new RuntimeError("Cannot create container: the init paused for hooks twice");
  }
  if (reply.type === "error") {
    if (reply.field) {
      const prefix = `${reply.field}: `;
      const detail = reply.message.startsWith(prefix)
        ? reply.message.slice(prefix.length)
        : reply.message;
      throw new ConfigError(reply.field, detail);
    }
    throw new RuntimeError(`Cannot create container: ${reply.message}`);
  }
}

/** Closes whatever pipe ends of `init` are still open. */
export function closeStage(sys: Syscalls, init: InitProcess): void {
  for (const fd of [init.configFd, init.replyFd]) {
    if (fd >= 0) {
      try {
        sys.close(fd);
      } catch { /* already closed */ }
    }
  }
  init.configFd = -1;
  init.replyFd = -1;
}

/** Opens a descriptor for the child's stdio from a path, close-on-exec. */
export function openForStdio(sys: Syscalls, path: string, write: boolean): number {
  return sys.open(path, (write ? O.WRONLY : O.RDONLY) | O.CLOEXEC);
}
