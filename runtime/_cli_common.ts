/**
 * What every path of `tsk-runtime` shares: global options, help texts and
 * the log. Kept free of the library: the supervised path loads it on every
 * call.
 *
 * @module
 */
import { DEFAULT_ROOT } from "./state.ts";
import { VERSION } from "./version.ts";
import type { Process } from "./spec/config.ts";
import type { FlagSpec, ParsedFlags } from "./_flags.ts";
import { resolve } from "./_path.ts";

/** Global options. */
export interface Globals {
  /** The state root. */
  root: string;
  /** Also write log lines here. */
  log: string | undefined;
  /** Log line format. */
  logFormat: "text" | "json";
  /** Take the direct path even for commands the supervisor serves. */
  noSupervisor: boolean;
}

export const USAGE =
  `tsk-runtime ${VERSION}: an OCI container runtime (runc-compatible command line)

Usage: tsk-runtime [global options] COMMAND [options] [ID]

Commands:
  create    create a container from a bundle (its init waits for start)
  start     start a created container
  state     print a container's OCI state as JSON
  kill      send a signal to a container's init (default SIGTERM)
  delete    delete a container (--force kills it if running)
  run       create, start and wait for a container; exits with its status
  exec      run a new process in a running container
  list      list containers
  update    change a container's cgroup limits
  pause     freeze a running container
  resume    thaw a paused container
  ps        list the processes in a container
  events    print statistics of a container (--stats)
  features  print the runtime's supported features as JSON
  spec      write a default config.json into a bundle
  supervisor  run the root's supervisor in the foreground

Global options:
  --root DIR          state directory (default ${DEFAULT_ROOT})
  --log FILE          also write log lines to FILE
  --log-format FMT    text or json (default text)
  --no-supervisor     do every command in this process (also TSK_RUNTIME_NO_SUPERVISOR=1)
  --version, -v       print the version
  --help, -h          print this help

Overlay root filesystems: set the annotations dev.tsk.rootfs.lowerdirs
(colon-separated, uppermost first), dev.tsk.rootfs.upperdir and
dev.tsk.rootfs.workdir in config.json.`;

export const HELP: Record<string, string> = {
  create:
    "Usage: tsk-runtime create [--bundle DIR] [--pid-file FILE] [--console-socket PATH] ID\n\nCreate a container from the bundle (default: current directory); its init waits for `start`.\nWith process.terminal, the master of the container's terminal is sent to the unix socket at PATH.",
  start: "Usage: tsk-runtime start ID\n\nLet a created container execute its process.",
  state: "Usage: tsk-runtime state ID\n\nPrint the container's OCI state as JSON.",
  kill:
    "Usage: tsk-runtime kill [--all] ID [SIGNAL]\n\nSend SIGNAL (name or number, default SIGTERM) to the init, or with --all to every process.",
  delete:
    "Usage: tsk-runtime delete [--force] ID\n\nDelete a stopped or created container; --force kills a running one first.",
  run:
    "Usage: tsk-runtime run [--bundle DIR] [--pid-file FILE] [--detach] [--console-socket PATH] ID\n\nCreate and start a container, wait for it, delete it, and exit with its status.\nWith process.terminal, the master of the container's terminal is sent to the unix socket at PATH.",
  exec:
    "Usage: tsk-runtime exec [--process FILE] [--detach] [--pid-file FILE] [--env K=V] [--cwd DIR] [--user UID[:GID]] [--tty --console-socket PATH] ID [COMMAND ARGS...]\n\nRun a process in a running container; exits with its status unless --detach.\nWith --tty (or process.terminal), the master of its terminal is sent to the unix socket at PATH.",
  list: "Usage: tsk-runtime list [--format table|json] [--quiet]\n\nList containers.",
  update:
    "Usage: tsk-runtime update [--resources FILE|-] [--memory BYTES] [--memory-reservation BYTES] [--memory-swap BYTES] [--cpu-quota US] [--cpu-period US] [--cpu-share N] [--cpuset-cpus LIST] [--cpuset-mems LIST] [--pids-limit N] [--blkio-weight N] ID\n\nChange a container's cgroup limits (--resources takes an OCI linux.resources JSON object).",
  pause: "Usage: tsk-runtime pause ID\n\nFreeze every process of a running container.",
  resume: "Usage: tsk-runtime resume ID\n\nThaw a paused container.",
  ps:
    "Usage: tsk-runtime ps [--format table|json] ID\n\nList the processes in a container's cgroup.",
  events:
    "Usage: tsk-runtime events [--stats] [--interval SECONDS] ID\n\nPrint cgroup statistics as JSON: once with --stats, else every interval until the container stops.",
  features: "Usage: tsk-runtime features\n\nPrint the supported features as JSON (runc's format).",
  supervisor:
    "Usage: tsk-runtime supervisor [--idle-timeout SECONDS] [--watch DIR]\n\nServe the root's containers from this process: keep pre-started inits warm, be the parent of the containers run starts and of exec's processes, record exit statuses; exit after SECONDS idle (0: never; default TSK_RUNTIME_SUPERVISOR_IDLE or 60). run starts one on demand.\nWhen a file under DIR changes (default: the runtime's own sources; '' watches nothing), hand over: stop serving so that the next command starts a supervisor from the new code, and exit once the containers this one runs have ended.",
  spec:
    "Usage: tsk-runtime spec [--bundle DIR]\n\nWrite a default config.json (as runc spec does).",
};

/** Writes a log line to `--log` (and errors to stderr). */
export function log(g: Globals, level: string, msg: string): void {
  const line = g.logFormat === "json"
    ? JSON.stringify({ level, msg, time: new Date().toISOString() })
    : `${new Date().toISOString()} ${level}: ${msg}`;
  if (g.log) {
    try {
      Deno.writeTextFileSync(g.log, line + "\n", { append: true });
    } catch { /* the log is best effort */ }
  }
  if (level === "error") console.error(g.logFormat === "json" ? line : `tsk-runtime: ${msg}`);
}

/** `exec`'s options that shape the process, as the command line gives them. */
export interface ExecArgs {
  /** `--process FILE`: the whole process (absolute path). */
  processFile?: string;
  /** The command after the id, when there is no `--process`. */
  args: string[];
  /** `--env K=V`, appended to the container's environment. */
  env: string[];
  /** `--cwd`. */
  cwd?: string;
  /** `--user UID[:GID]`. */
  user?: string;
  /** `--no-new-privs`. */
  noNewPrivs?: boolean;
  /** `--tty`: a terminal (with `--console-socket`). */
  tty?: boolean;
}

/** `exec`'s flags (everything after the id is the command). */
export const EXEC_FLAGS: Record<string, FlagSpec> = {
  process: { type: "string", short: "p" },
  detach: { type: "boolean", short: "d" },
  "pid-file": { type: "string" },
  env: { type: "string", short: "e", multiple: true },
  cwd: { type: "string" },
  user: { type: "string", short: "u" },
  tty: { type: "boolean", short: "t" },
  "console-socket": { type: "string" },
  "no-new-privs": { type: "boolean" },
};

/**
 * `exec`'s parsed flags as {@linkcode ExecArgs} (`--process` made absolute).
 *
 * @param values The flags.
 * @param positionals The id, then the command.
 * @returns What shapes the process.
 */
export function execArgs(values: ParsedFlags["values"], positionals: string[]): ExecArgs {
  const file = values.process as string | undefined;
  return {
    processFile: file === undefined ? undefined : resolve(Deno.cwd(), file),
    args: positionals.slice(1),
    env: (values.env as string[] | undefined) ?? [],
    cwd: values.cwd as string | undefined,
    user: values.user as string | undefined,
    noNewPrivs: values["no-new-privs"] === true,
    tty: values.tty === true,
  };
}

/**
 * The process `exec` runs: `--process FILE` as it is, or the container's own
 * process with the command, environment, working directory and user given
 * (as runc's exec).
 *
 * @param base The container's `process`.
 * @param a The options given.
 * @returns The process to run.
 */
export function execProcess(base: Process, a: ExecArgs): Process {
  if (a.processFile !== undefined) {
    try {
      return JSON.parse(Deno.readTextFileSync(a.processFile)) as Process;
    } catch (e) {
      throw new Error(`exec: --process ${a.processFile}: ${(e as Error).message}`);
    }
  }
  const process = structuredClone(base);
  process.args = a.args;
  process.env = [...(process.env ?? []), ...a.env];
  if (a.cwd !== undefined) process.cwd = a.cwd;
  if (a.user !== undefined) {
    const [uid, gid] = a.user.split(":");
    process.user = { uid: Number(uid), gid: Number(gid ?? 0) };
  }
  if (a.noNewPrivs) process.noNewPrivileges = true;
  process.terminal = a.tty === true;
  return process;
}

/** Columns padded to their widest cell, two spaces apart. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

/** `ps` output: the pids as JSON, or a table with each one's command line. */
export function psOutput(pids: number[], format: string | undefined): string {
  if (format === "json") return JSON.stringify(pids);
  const rows = [["PID", "CMD"]];
  for (const pid of pids) {
    let cmdline = "";
    try {
      cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").join(" ").trim();
    } catch { /* exited */ }
    rows.push([String(pid), cmdline]);
  }
  return table(rows);
}
