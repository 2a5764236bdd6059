/**
 * The command line's side of the supervisor: `run`, `exec`, `start`,
 * `state`, `kill`, `delete`, `ps`, `pause` and `resume` as one request over
 * the root's unix socket (`create`, `run --detach` and `exec --detach` take
 * the direct path: what they start is the caller's to reap, as with runc).
 * This module is on every such call's start-up path, so it loads only the
 * flag parser and the protocol: no library, no `node:` modules, no FFI (the
 * supervisor takes the caller's stdin, stdout and stderr itself, with
 * pidfd_getfd(2) on the connection's peer), and a timer only while a
 * supervisor it started comes up. What is needed only once the request is
 * sent (`ps` output) loads then; signals go by name, so no signal table loads
 * at all (see docs/benchmarks.md).
 * `run` starts a supervisor when none answers; the others use one only if
 * it runs.
 *
 * @module
 */
import { type FlagSpec, parseFlags } from "./_flags.ts";
import { resolve } from "./_path.ts";
import {
  DEFAULT_IDLE_SECONDS,
  IDLE_ENV,
  jsonLine,
  LineReader,
  supervisorPaths,
  type SupervisorReply,
  type SupervisorRequest,
} from "./_supervisor_protocol.ts";

/** What {@linkcode viaSupervisor} needs from the command line. */
export interface ClientOptions {
  /** Writes one log line (the CLI's `--log`). */
  log: (level: string, msg: string) => void | Promise<void>;
  /** The URL of `main.ts`, to start a supervisor with and load modules from. */
  mainUrl: string;
  /** Called once the request is sent, while the supervisor serves it. */
  whileWaiting?: () => void;
  /**
   * Called with the exit code as soon as the answer is in (the connection
   * closed), in a process that ends there (the command): nothing else is
   * left to clean up first.
   */
  finish?: (code: number) => void;
}

/** Loads a module of this package that only some calls need. */
function load<T>(mainUrl: string, path: string): Promise<T> {
  // Not a literal specifier: Deno would read every module a literal
  // dynamic import names at start-up.
  return import(new URL(path, mainUrl).href);
}

const RUN_FLAGS: Record<string, FlagSpec> = {
  bundle: { type: "string", short: "b" },
  "pid-file": { type: "string" },
  detach: { type: "boolean", short: "d" },
  keep: { type: "boolean" },
};

/** How long a client waits for a supervisor it started to listen. */
const START_WAIT_MS = 10_000;

async function request(
  cmd: string,
  rest: string[],
  mainUrl: string,
): Promise<SupervisorRequest | null> {
  const exec = cmd === "exec"
    ? await load<typeof import("./_exec_args.ts")>(mainUrl, "./_exec_args.ts")
    : null;
  let parsed;
  try {
    const flags = cmd === "run"
      ? RUN_FLAGS
      : cmd === "kill"
      ? { all: { type: "boolean", short: "a" } } as Record<string, FlagSpec>
      : cmd === "delete"
      ? { force: { type: "boolean", short: "f" } } as Record<string, FlagSpec>
      : exec
      ? exec.EXEC_FLAGS
      : cmd === "ps"
      ? { format: { type: "string", short: "f" } } as Record<string, FlagSpec>
      : {};
    parsed = parseFlags(rest, flags, cmd === "exec");
  } catch {
    return null; // the direct path reports usage errors
  }
  const { values, positionals: p } = parsed;
  if (cmd === "kill") {
    if (p.length < 1 || p.length > 2) return null;
    return { op: "kill", id: p[0], signal: p[1] ?? "SIGTERM", all: values.all === true };
  }
  // A process that outlives the command (exec --detach, run --detach,
  // create) is the caller's to reap, as with runc: conmon and
  // containerd-shim are child subreapers that wait for it. So those take the
  // direct path, whose processes are reparented to the caller's reaper.
  if (values.detach) return null;
  if (exec) {
    // A terminal, or no command: the direct path says what is wrong.
    if (
      values.tty || values["console-socket"] !== undefined ||
      values["preserve-fds"] !== undefined || p.length < 1 ||
      (values.process === undefined && p.length < 2)
    ) return null;
    const pidFile = values["pid-file"] as string | undefined;
    return {
      op: "exec",
      id: p[0],
      pidFile: pidFile === undefined ? undefined : resolve(Deno.cwd(), pidFile),
      ...exec.execArgs(values, p),
    };
  }
  if (p.length !== 1) return null;
  const id = p[0];
  switch (cmd) {
    case "run": {
      // Descriptors from systemd's socket activation are handed on in this
      // process (the direct path), as --preserve-fds ones are.
      if (Deno.env.get("LISTEN_PID") === String(Deno.pid)) return null;
      const cwd = Deno.cwd();
      const pidFile = values["pid-file"] as string | undefined;
      return {
        op: "run",
        id,
        bundle: resolve(cwd, (values.bundle as string | undefined) ?? "."),
        pidFile: pidFile === undefined ? undefined : resolve(cwd, pidFile),
        keep: values.keep === true,
      };
    }
    case "delete":
      return { op: "delete", id, force: values.force === true };
    case "ps":
      if (values.format !== undefined && values.format !== "json" && values.format !== "table") {
        return null;
      }
      return { op: "ps", id };
    case "start":
    case "state":
    case "pause":
    case "resume":
      return { op: cmd, id };
  }
  return null;
}

/** Starts a supervisor for `root` in its own session, detached from this process. */
function spawnSupervisor(root: string, mainUrl: string): number | null {
  const main = new URL(mainUrl);
  if (main.protocol !== "file:") return null;
  const idle = Deno.env.get(IDLE_ENV) ?? String(DEFAULT_IDLE_SECONDS);
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-config",
        "--no-lock",
        main.pathname,
        "--root",
        root,
        "supervisor",
        "--idle-timeout",
        idle,
      ],
      cwd: "/",
      detached: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    child.unref();
    return child.pid;
  } catch {
    return null;
  }
}

function exited(pid: number): boolean {
  try {
    return /\) [ZX] /.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return true;
  }
}

async function connectUnix(path: string): Promise<Deno.UnixConn | null> {
  try {
    return await Deno.connect({ transport: "unix", path });
  } catch {
    return null; // nothing listens, or a root too long for a socket path
  }
}

async function connect(
  root: string,
  start: string | null,
  first?: Promise<Deno.UnixConn | null>,
): Promise<Deno.UnixConn | null> {
  const { socket } = supervisorPaths(root);
  const conn = await (first ?? connectUnix(socket));
  if (conn !== null || start === null) return conn;
  const pid = spawnSupervisor(root, start);
  if (pid === null) return null;
  for (let waited = 0; waited < START_WAIT_MS; waited += 5) {
    await new Promise((r) => setTimeout(r, 5));
    const conn = await connectUnix(socket);
    if (conn !== null) return conn;
    // It gave up (another one won the lock and then went away, or it failed).
    if (exited(pid)) return await connectUnix(socket);
  }
  return null;
}

async function writeAll(conn: Deno.UnixConn, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

function printOut(text: string): void {
  const data = new TextEncoder().encode(text);
  for (let off = 0; off < data.length;) off += Deno.stdout.writeSync(data.subarray(off));
}

function statusCode(r: Extract<SupervisorReply, { type: "exit" }>): number {
  return r.exitCode ?? 128 + (r.signal ?? 0);
}

/**
 * Runs `cmd` through the root's supervisor.
 *
 * @param root The absolute state root.
 * @param cmd The command (`run`, `exec`, `start`, `state`, `kill`, `delete`,
 *   `ps`, `pause`, `resume`).
 * @param rest Its arguments.
 * @param options The log, and where `main.ts` is.
 * @returns The exit code, or `null` when the command should take the direct
 *   path (no supervisor for a command that does not start one, arguments
 *   the direct path must judge, or no supervisor could be reached).
 */
export async function viaSupervisor(
  root: string,
  cmd: string,
  rest: string[],
  options: ClientOptions,
): Promise<number | null> {
  // Connecting (about 1 ms: Deno's first socket) overlaps reading the
  // arguments; a supervisor is started only once they make a request.
  let early: Promise<Deno.UnixConn | null> | undefined = connectUnix(
    supervisorPaths(root).socket,
  );
  const req = await request(cmd, rest, options.mainUrl);
  if (req === null) {
    (await early)?.close();
    return null;
  }
  const starts = req.op === "run";
  // `ps` gets the pids; the table (or JSON) is made here, as the direct path makes it.
  const format = cmd === "ps" ? parseFlags(rest, { format: { type: "string", short: "f" } }) : null;
  const common = format
    ? await load<typeof import("./_cli_common.ts")>(options.mainUrl, "./_cli_common.ts")
    : null;
  const render = format && common
    ? (out: string) => common.psOutput(JSON.parse(out) as number[], format.values.format as string)
    : undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    const conn = await connect(root, starts ? options.mainUrl : null, early);
    early = undefined;
    if (conn === null) return null;
    const result = await exchange(conn, req, options, render);
    if (result === "direct") return null;
    if (result !== "retry") return result;
  }
  return null;
}

async function exchange(
  conn: Deno.UnixConn,
  req: SupervisorRequest,
  options: ClientOptions,
  render?: (output: string) => string,
): Promise<number | "retry" | "direct"> {
  const { log } = options;
  const end = (code: number) => {
    if (!options.finish) return;
    try {
      conn.close();
    } catch { /* closed */ }
    options.finish(code);
  };
  const forward: [Deno.Signal, () => void][] = [];
  let accepted = false;
  try {
    try {
      await writeAll(conn, jsonLine(req));
    } catch {
      return "retry";
    }
    options.whileWaiting?.();
    if (req.op === "run" || req.op === "exec") {
      // By name: the supervisor has the signal table (loading it here cost
      // 0.7-0.9 ms of CPU just as the supervisor and the init need both cores).
      for (const s of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"] as const) {
        const h = () => {
          writeAll(conn, jsonLine({ op: "signal", signal: s })).catch(() => {
            /* the supervisor went away */
          });
        };
        Deno.addSignalListener(s, h);
        forward.push([s, h]);
      }
    }
    const reader = new LineReader();
    const buf = new Uint8Array(65536);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch {
        n = null;
      }
      if (n === null || n === 0) break;
      for (const m of reader.push(buf.subarray(0, n)) as SupervisorReply[]) {
        switch (m.type) {
          case "accepted":
            accepted = true;
            continue;
          case "warning":
            console.error(`tsk-runtime: warning: ${m.message}`);
            continue;
          case "started":
            continue;
          case "direct":
          case "stdio":
            // It could not take our stdio, or the command must serve this
            // itself (a terminal): the direct path serves.
            await log("debug", `supervisor: ${m.message}`);
            return "direct";
          case "exit":
            if (m.oomKilled) {
              await log("warning", `container ${idOf(req)} had a process OOM-killed`);
            }
            await log("info", `container ${idOf(req)} exited: ${JSON.stringify(m)}`);
            end(statusCode(m));
            return statusCode(m);
          case "ok":
            if (m.output !== undefined) {
              printOut((render ? render(m.output) : m.output) + "\n");
            }
            end(0);
            return 0;
          case "error":
            await log("error", m.message);
            end(1);
            return 1;
        }
      }
    }
    // Closed before it was served (a supervisor shutting down): try again.
    if (!accepted) return "retry";
    await log(
      "error",
      `the supervisor exited while running ${idOf(req)}; the container stays: ` +
        `tsk-runtime delete --force ${idOf(req)}`,
    );
    return 1;
  } finally {
    for (const [s, h] of forward) Deno.removeSignalListener(s, h);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

function idOf(req: SupervisorRequest): string {
  return "id" in req ? req.id : "";
}
