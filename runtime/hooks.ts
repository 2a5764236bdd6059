/**
 * The runtime-spec's lifecycle hooks: each a program started with the
 * container's state (JSON) on its stdin, its `args` as argv (so `args[0]`
 * need not be the path) and exactly its `env`, killed after `timeout`
 * seconds. {@linkcode runHooks} runs them from the runtime (prestart,
 * createRuntime, poststart, poststop); {@linkcode runHooksSync} from the init
 * stage inside the container's namespaces (createContainer before
 * pivot_root, startContainer before the process's program), which has no
 * event loop to spare. A hook that fails or times out throws an error naming
 * it (`hooks.createRuntime[0]`) with what it printed.
 *
 * @module
 */
import type { Hook, Hooks } from "./spec/config.ts";
import { RuntimeError } from "./errors.ts";
import type { ContainerStatus } from "./state.ts";
import type { Syscalls, WaitStatus } from "./syscalls.ts";

/** The state a hook reads on its stdin (runtime-spec's state). */
export interface HookState {
  /** The spec's version. */
  ociVersion: string;
  /** Container id. */
  id: string;
  /** `creating` for the create hooks, `created` for startContainer, then `running`, `stopped`. */
  status: ContainerStatus | "creating";
  /** The init's pid on the host (absent once stopped). */
  pid?: number;
  /** Absolute bundle path. */
  bundle: string;
  /** The spec's annotations. */
  annotations: Record<string, string>;
}

/**
 * Reports a poststart or poststop hook that failed: the runtime-spec asks
 * for a warning, and the lifecycle goes on.
 *
 * @param e The hook's error.
 *
 * @example
 * ```ts ignore
 * await runHooks(sys, "poststop", spec.hooks, state).catch(hookWarning);
 * ```
 */
export function hookWarning(e: unknown): void {
  console.error(`tsk-runtime: warning: ${(e as Error).message}`);
}

/** What a hook printed that goes into the error when it fails. */
const OUTPUT_LIMIT = 4096;
/** F_SETPIPE_SZ: room for a large state, written before the hook starts. */
const F_SETPIPE_SZ = 1031;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

/** Spawns `hook` with `state` on stdin and its output into a pipe; returns the pid and the pipe. */
function spawnHook(sys: Syscalls, hook: Hook, state: HookState, field: string) {
  const input = new TextEncoder().encode(JSON.stringify(state));
  const [inRead, inPipe] = sys.pipe();
  let inWrite = inPipe;
  let outRead = -1, outWrite = -1;
  try {
    if (input.length > 65536) sys.fcntl(inWrite, F_SETPIPE_SZ, Math.min(input.length, 1 << 20));
    if (input.length > (1 << 20)) {
      throw new RuntimeError(`${field}: the container's state is too large for its stdin`);
    }
    for (let off = 0; off < input.length;) off += sys.write(inWrite, input.subarray(off));
    sys.close(inWrite);
    inWrite = -1;
    [outRead, outWrite] = sys.pipe();
    const args = hook.args?.length ? hook.args : [hook.path];
    const pid = sys.spawn({
      path: hook.path,
      argv: args,
      env: hook.env ?? [],
      fds: [inRead, outWrite, outWrite],
      pidNamespace: { kind: "inherit" },
      setsid: false,
    });
    return { pid, output: outRead };
  } catch (e) {
    if (outRead >= 0) sys.close(outRead);
    throw e instanceof RuntimeError && e.message.startsWith(`${field}: `)
      ? e
      : new RuntimeError(`${field}: cannot run ${hook.path}: ${(e as Error).message}`, {
        cause: e,
      });
  } finally {
    sys.close(inRead);
    if (inWrite >= 0) sys.close(inWrite);
    if (outWrite >= 0) sys.close(outWrite);
  }
}

function failure(field: string, hook: Hook, st: WaitStatus | null, output: Uint8Array): Error {
  const how = st === null
    ? `did not finish within ${hook.timeout} s and was killed`
    : st.exitCode !== null
    ? `exited with status ${st.exitCode}`
    : `was killed by signal ${st.signal}`;
  const said = new TextDecoder().decode(output.subarray(0, OUTPUT_LIMIT)).trim();
  return new RuntimeError(`${field}: ${hook.path} ${how}${said ? `: ${said}` : ""}`);
}

function append(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length >= OUTPUT_LIMIT) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Runs the hooks of one kind in order from this process, each to its end;
 * the first to fail throws, unless `onFailure` is given: then each failure
 * goes to it and the rest still run (the runtime-spec's poststart and
 * poststop).
 *
 * @param sys The host.
 * @param name Which hooks (for the error: `hooks.<name>[i]`).
 * @param hooks The spec's `hooks`.
 * @param state The container's state, for their stdin.
 * @param onFailure Takes each failure instead of throwing the first.
 * @throws {RuntimeError} Naming the hook that failed, with what it printed.
 *
 * @example Run a spec's poststop hooks
 * ```ts ignore
 * import { linuxSyscalls, runHooks } from "@tsk/runtime";
 * await runHooks(linuxSyscalls(), "poststop", spec.hooks, {
 *   ociVersion: "1.2.0", id: "web", status: "stopped", bundle: "/b", annotations: {},
 * });
 * ```
 */
export async function runHooks(
  sys: Syscalls,
  name: keyof Hooks,
  hooks: Hooks | undefined,
  state: HookState,
  onFailure?: (e: unknown) => void,
): Promise<void> {
  const list = hooks?.[name] ?? [];
  for (let i = 0; i < list.length; i++) {
    try {
      await runHook(sys, list[i], `hooks.${name}[${i}]`, state);
    } catch (e) {
      if (onFailure === undefined) throw e;
      onFailure(e);
    }
  }
}

async function runHook(sys: Syscalls, hook: Hook, field: string, state: HookState): Promise<void> {
  const { pid, output } = spawnHook(sys, hook, state, field);
  let said: Uint8Array = new Uint8Array(0);
  const reading = (async () => {
    const buf = new Uint8Array(4096);
    try {
      for (let n; (n = await sys.readAsync(output, buf)) > 0;) {
        said = append(said, buf.subarray(0, n));
      }
    } catch { /* closed */ }
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const exited = sys.waitpidAsync(pid);
  const st = await (hook.timeout === undefined ? exited : Promise.race([
    exited,
    new Promise<null>((r) => (timer = setTimeout(() => r(null), hook.timeout! * 1000))),
  ]));
  clearTimeout(timer);
  if (st === null) {
    try {
      sys.kill(pid, 9);
    } catch { /* gone */ }
    await exited;
  }
  await reading;
  sys.close(output);
  if (st === null || st.exitCode !== 0) throw failure(field, hook, st, said);
}

/**
 * As {@linkcode runHooks}, without an event loop: for the init stage, which
 * runs createContainer and startContainer hooks in the container's
 * namespaces. It waits by polling (1 ms) and reaps what it started.
 *
 * @param sys The host.
 * @param name Which hooks.
 * @param hooks The spec's `hooks`.
 * @param state The container's state, for their stdin.
 * @throws {RuntimeError} Naming the hook that failed, with what it printed.
 *
 * @example A startContainer hook, as the init runs it
 * ```ts
 * import { linuxSyscalls, runHooksSync } from "@tsk/runtime";
 * runHooksSync(linuxSyscalls(), "startContainer", {
 *   startContainer: [{ path: "/bin/true" }],
 * }, { ociVersion: "1.2.0", id: "web", status: "created", pid: 1, bundle: "/b", annotations: {} });
 * ```
 */
export function runHooksSync(
  sys: Syscalls,
  name: keyof Hooks,
  hooks: Hooks | undefined,
  state: HookState,
): void {
  const list = hooks?.[name] ?? [];
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < list.length; i++) {
    const hook = list[i], field = `hooks.${name}[${i}]`;
    const { pid, output } = spawnHook(sys, hook, state, field);
    sys.fcntl(output, F_SETFL, O_NONBLOCK);
    let said: Uint8Array = new Uint8Array(0);
    const buf = new Uint8Array(4096);
    const drain = () => {
      for (;;) {
        let n: number;
        try {
          n = sys.read(output, buf);
        } catch {
          return; // EAGAIN: nothing more yet
        }
        if (n <= 0) return;
        said = append(said, buf.subarray(0, n));
      }
    };
    const deadline = hook.timeout === undefined ? Infinity : Date.now() + hook.timeout * 1000;
    let st: WaitStatus | null = null;
    try {
      while ((st = sys.waitpidNoHang(pid)) === null) {
        drain();
        if (Date.now() >= deadline) {
          try {
            sys.kill(pid, 9);
          } catch { /* gone */ }
          while (sys.waitpidNoHang(pid) === null) Atomics.wait(nap, 0, 0, 1);
          break;
        }
        Atomics.wait(nap, 0, 0, 1);
      }
      drain();
    } finally {
      sys.close(output);
    }
    if (st === null || st.exitCode !== 0) throw failure(field, hook, st, said);
  }
}
