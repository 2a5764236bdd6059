/**
 * What every path of `tsk-runtime` shares: global options, help texts, the
 * log and `ps` output. Kept free of the library; the supervised path loads
 * it only once its request is sent (see `_cli_main.ts`).
 *
 * @module
 */
import { DEFAULT_ROOT } from "./_defaults.ts";
import { VERSION } from "./version.ts";
import { type Command, logWrites } from "./_cli_main.ts";

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

/** Each command's help (every command of `COMMANDS` has one). */
export const HELP: Record<string, string> = {
  create:
    "Usage: tsk-runtime create [--bundle DIR] [--pid-file FILE] [--console-socket PATH] [--preserve-fds N] ID\n\nCreate a container from the bundle (default: current directory); its init waits for `start`.\nWith process.terminal, the master of the container's terminal is sent to the unix socket at PATH.\n--preserve-fds N hands fds 3 to 3+N-1 on (after systemd's LISTEN_FDS ones, when they are ours).",
  start: "Usage: tsk-runtime start ID\n\nLet a created container execute its process.",
  state: "Usage: tsk-runtime state ID\n\nPrint the container's OCI state as JSON.",
  kill:
    "Usage: tsk-runtime kill [--all] ID [SIGNAL]\n\nSend SIGNAL (name or number, default SIGTERM) to the init, or with --all to every process.",
  delete:
    "Usage: tsk-runtime delete [--force] ID\n\nDelete a stopped or created container; --force kills a running one first.",
  run:
    "Usage: tsk-runtime run [--bundle DIR] [--pid-file FILE] [--detach] [--console-socket PATH] [--preserve-fds N] ID\n\nCreate and start a container, wait for it, delete it, and exit with its status.\nWith process.terminal, the master of the container's terminal is sent to the unix socket at PATH.\n--preserve-fds N hands fds 3 to 3+N-1 on (after systemd's LISTEN_FDS ones, when they are ours).",
  exec:
    "Usage: tsk-runtime exec [--process FILE] [--detach] [--pid-file FILE] [--env K=V] [--cwd DIR] [--user UID[:GID]] [--additional-gids GID]... [--cap CAP]... [--tty --console-socket PATH] [--preserve-fds N] [--cgroup [CONTROLLER,...:]PATH]... [--ignore-paused] ID [COMMAND ARGS...]\n\nRun a process in a running container; exits with its status unless --detach.\nWith --tty (or process.terminal), the master of its terminal is sent to the unix socket at PATH.\n--preserve-fds N hands fds 3 to 3+N-1 on.\n--cgroup puts the process in an existing sub-cgroup of the container's (for the named v1 controllers, or all).\n--ignore-paused execs into a paused container too: the process runs once the container is resumed.\n--apparmor and --process-label are refused (no AppArmor or SELinux support).",
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
} satisfies Record<Command, string>;

/** Writes a log line to `--log` (and errors to stderr). */
export function log(g: Globals, level: string, msg: string): void {
  if (!logWrites(g, level)) return;
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

/** Columns padded to their widest cell, two spaces apart. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on Linux). */
const TICKS = 100;

/**
 * User names by uid, from the host's /etc/passwd (the first name of a uid).
 * For `ps` and `list`, as the `ps -ef` and runc list they follow print them.
 */
export function userNames(): Map<number, string> {
  const names = new Map<number, string>();
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const f = line.split(":");
      if (f.length >= 3 && f[2] !== "" && !names.has(Number(f[2]))) names.set(Number(f[2]), f[0]);
    }
  } catch { /* none */ }
  return names;
}

/** [D-]HH:MM:SS of a number of seconds, as ps prints TIME. */
function cpuTime(seconds: number): string {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const hms = [Math.floor(s / 3600) % 24, Math.floor(s / 60) % 60, s % 60]
    .map((n) => String(n).padStart(2, "0")).join(":");
  return d > 0 ? `${d}-${hms}` : hms;
}

/** ps's STIME: HH:MM for a process started today, MonDD before. */
function startTime(at: Date, now: Date): string {
  if (now.getTime() - at.getTime() < 86_400_000 && at.getDate() === now.getDate()) {
    return `${String(at.getHours()).padStart(2, "0")}:${String(at.getMinutes()).padStart(2, "0")}`;
  }
  const months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  return `${months.slice(at.getMonth() * 3, at.getMonth() * 3 + 3)}${
    String(at.getDate()).padStart(2, "0")
  }`;
}

/** ps's TTY for a stat tty_nr: ?, pts/N or ttyN. */
function ttyName(nr: number): string {
  if (nr === 0) return "?";
  const major = (nr >> 8) & 0xfff, minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `pts/${(major - 136) * 256 + minor}`;
  if (major === 4) return `tty${minor}`;
  return `${major}:${minor}`;
}

/**
 * `ps` output: the pids as JSON, or the table `ps -ef` prints for them, as
 * runc's `ps` (UID PID PPID C STIME TTY TIME CMD), read from /proc.
 */
export function psOutput(pids: number[], format: string | undefined): string {
  if (format === "json") return JSON.stringify(pids);
  const rows = [["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]];
  const names = userNames();
  const now = new Date();
  let boot = 0, uptime = 0;
  try {
    boot = Number(Deno.readTextFileSync("/proc/stat").match(/^btime (\d+)$/m)?.[1] ?? 0);
    uptime = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
  } catch { /* no /proc */ }
  for (const pid of pids) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      // Fields after the command (which may hold spaces and parentheses).
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const uid = Number(
        Deno.readTextFileSync(`/proc/${pid}/status`).match(/^Uid:\s+(\d+)/m)?.[1] ?? 0,
      );
      const cpu = (Number(f[11]) + Number(f[12])) / TICKS;
      const started = Number(f[19]) / TICKS;
      const alive = Math.max(uptime - started, 0.01);
      const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").join(" ").trim();
      rows.push([
        names.get(uid) ?? String(uid),
        String(pid),
        f[1],
        String(Math.min(Math.floor((cpu / alive) * 100), 99)),
        startTime(new Date((boot + started) * 1000), now),
        ttyName(Number(f[4])),
        cpuTime(cpu),
        cmdline || `[${comm}]`,
      ]);
    } catch { /* exited meanwhile */ }
  }
  return table(rows);
}
