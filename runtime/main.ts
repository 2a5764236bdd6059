/**
 * `tsk-runtime`: an OCI runtime command line that follows runc's, so tools
 * written for runc can drive it.
 *
 * ```
 * tsk-runtime [--root DIR] [--log FILE] [--log-format text|json] COMMAND [OPTIONS] [ID]
 * ```
 *
 * Overlay root filesystems are requested through the bundle's annotations
 * `dev.tsk.rootfs.lowerdirs` (colon-separated, uppermost first),
 * `dev.tsk.rootfs.upperdir` and `dev.tsk.rootfs.workdir`.
 *
 * @module
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { posix } from "node:path";
import { createContainer, listContainers, loadContainer } from "./container.ts";
import { RuntimeError } from "./errors.ts";
import type { Process } from "./spec/config.ts";
import { defaultSpec } from "./spec/default.ts";
import { DEFAULT_ROOT } from "./state.ts";
import { signalNumber, SIGNALS } from "./signals.ts";
import { featuresJson, VERSION } from "./features.ts";

/** The result of running the CLI: the process exit code. */
export type ExitCode = number;

interface Globals {
  root: string;
  log: string | undefined;
  logFormat: "text" | "json";
}

const USAGE = `tsk-runtime ${VERSION}: an OCI container runtime (runc-compatible command line)

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
  ps        list the processes in a container
  events    print statistics of a container (--stats)
  features  print the runtime's supported features as JSON
  spec      write a default config.json into a bundle

Global options:
  --root DIR          state directory (default ${DEFAULT_ROOT})
  --log FILE          also write log lines to FILE
  --log-format FMT    text or json (default text)
  --version, -v       print the version
  --help, -h          print this help

Overlay root filesystems: set the annotations dev.tsk.rootfs.lowerdirs
(colon-separated, uppermost first), dev.tsk.rootfs.upperdir and
dev.tsk.rootfs.workdir in config.json.`;

const HELP: Record<string, string> = {
  create:
    "Usage: tsk-runtime create [--bundle DIR] [--pid-file FILE] ID\n\nCreate a container from the bundle (default: current directory); its init waits for `start`.",
  start: "Usage: tsk-runtime start ID\n\nLet a created container execute its process.",
  state: "Usage: tsk-runtime state ID\n\nPrint the container's OCI state as JSON.",
  kill:
    "Usage: tsk-runtime kill [--all] ID [SIGNAL]\n\nSend SIGNAL (name or number, default SIGTERM) to the init, or with --all to every process.",
  delete:
    "Usage: tsk-runtime delete [--force] ID\n\nDelete a stopped or created container; --force kills a running one first.",
  run:
    "Usage: tsk-runtime run [--bundle DIR] [--pid-file FILE] [--detach] ID\n\nCreate and start a container, wait for it, delete it, and exit with its status.",
  exec:
    "Usage: tsk-runtime exec [--process FILE] [--detach] [--pid-file FILE] [--env K=V] [--cwd DIR] [--user UID[:GID]] ID [COMMAND ARGS...]\n\nRun a process in a running container; exits with its status unless --detach.",
  list: "Usage: tsk-runtime list [--format table|json] [--quiet]\n\nList containers.",
  ps:
    "Usage: tsk-runtime ps [--format table|json] ID\n\nList the processes in a container's cgroup.",
  events:
    "Usage: tsk-runtime events [--stats] [--interval SECONDS] ID\n\nPrint cgroup statistics as JSON: once with --stats, else every interval until the container stops.",
  features: "Usage: tsk-runtime features\n\nPrint the supported features as JSON (runc's format).",
  spec:
    "Usage: tsk-runtime spec [--bundle DIR]\n\nWrite a default config.json (as runc spec does).",
};

class UsageError extends RuntimeError {}

function log(g: Globals, level: string, msg: string): void {
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

function one(positionals: string[], cmd: string): string {
  if (positionals.length !== 1) {
    throw new UsageError(`${cmd}: expected exactly one container id\n\n${HELP[cmd]}`);
  }
  return positionals[0];
}

function statusCode(s: { exitCode: number | null; signal?: number }): number {
  if (s.exitCode !== null) return s.exitCode;
  return 128 + (s.signal ?? 0);
}

/**
 * Runs the command line and returns the exit code.
 *
 * @param args The arguments (without the program name).
 * @returns The exit code.
 *
 * @example Print the version
 * ```ts
 * import { main } from "./main.ts";
 * const code = await main(["--version"]);
 * ```
 */
export async function main(args: string[]): Promise<ExitCode> {
  const g: Globals = { root: DEFAULT_ROOT, log: undefined, logFormat: "text" };
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    const [flag, inline] = a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, undefined];
    const value = () => inline ?? args[++i];
    if (flag === "--root") g.root = value();
    else if (flag === "--log") g.log = value();
    else if (flag === "--log-format") {
      const f = value();
      if (f !== "text" && f !== "json") {
        console.error(`tsk-runtime: --log-format: expected text or json, got ${f}`);
        return 2;
      }
      g.logFormat = f;
    } else if (flag === "--debug" || flag === "--no-new-keyring") continue;
    else if (flag === "--systemd-cgroup") {
      console.error("tsk-runtime: --systemd-cgroup: not supported by tsk-runtime");
      return 2;
    } else if (flag === "--version" || flag === "-v") {
      console.log(`tsk-runtime version ${VERSION}\nspec: 1.2.0`);
      return 0;
    } else if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      return 0;
    } else if (a.startsWith("-")) {
      console.error(`tsk-runtime: unknown global option ${a}\n\n${USAGE}`);
      return 2;
    } else break;
  }
  const cmd = args[i];
  const rest = args.slice(i + 1);
  if (cmd === undefined) {
    console.error(USAGE);
    return 2;
  }
  if (!(cmd in HELP)) {
    console.error(`tsk-runtime: unknown command ${cmd}\n\n${USAGE}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(HELP[cmd]);
    return 0;
  }
  g.root = posix.resolve(g.root);
  try {
    return await dispatch(g, cmd, rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`tsk-runtime: ${e.message}`);
      return 2;
    }
    const err = e as Error;
    log(g, "error", err.message);
    return 1;
  }
}

function parse(cmd: string, rest: string[], options: ParseArgsOptionsConfig) {
  try {
    return parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${cmd}: ${(e as Error).message}\n\n${HELP[cmd]}`);
  }
}

async function dispatch(g: Globals, cmd: string, rest: string[]): Promise<ExitCode> {
  switch (cmd) {
    case "create": {
      const { values, positionals } = parse(cmd, rest, {
        bundle: { type: "string", short: "b" },
        "pid-file": { type: "string" },
        "console-socket": { type: "string" },
        "no-pivot": { type: "boolean" },
        "no-new-keyring": { type: "boolean" },
      });
      rejectUnsupported(values);
      const id = one(positionals, cmd);
      await createContainer(id, {
        bundle: (values.bundle as string | undefined) ?? Deno.cwd(),
        root: g.root,
        pidFile: values["pid-file"] as string | undefined,
        stdio: { stdin: "inherit", stdout: "inherit", stderr: "inherit" },
      });
      log(g, "info", `created container ${id}`);
      return 0;
    }
    case "start": {
      const { positionals } = parse(cmd, rest, {});
      const c = await loadContainer(one(positionals, cmd), { root: g.root });
      await c.start();
      return 0;
    }
    case "state": {
      const { positionals } = parse(cmd, rest, {});
      const c = await loadContainer(one(positionals, cmd), { root: g.root });
      console.log(JSON.stringify(c.state(), null, 2));
      return 0;
    }
    case "kill": {
      const { values, positionals } = parse(cmd, rest, { all: { type: "boolean", short: "a" } });
      if (positionals.length < 1 || positionals.length > 2) {
        throw new UsageError(`kill: expected ID [SIGNAL]\n\n${HELP.kill}`);
      }
      const c = await loadContainer(positionals[0], { root: g.root });
      const sig = positionals[1] ?? "SIGTERM";
      if (values.all) {
        const n = signalNumber(sig);
        const name = Object.entries(SIGNALS).find(([, v]) => v === n)?.[0];
        for (const pid of await c.pids()) {
          try {
            Deno.kill(pid, (name ?? "SIGTERM") as Deno.Signal);
          } catch { /* exited */ }
        }
      } else {
        c.kill(sig);
      }
      return 0;
    }
    case "delete": {
      const { values, positionals } = parse(cmd, rest, { force: { type: "boolean", short: "f" } });
      const c = await loadContainer(one(positionals, cmd), { root: g.root });
      await c.delete({ force: values.force as boolean | undefined });
      return 0;
    }
    case "run": {
      const { values, positionals } = parse(cmd, rest, {
        bundle: { type: "string", short: "b" },
        "pid-file": { type: "string" },
        detach: { type: "boolean", short: "d" },
        "console-socket": { type: "string" },
        "no-pivot": { type: "boolean" },
        "no-new-keyring": { type: "boolean" },
        "keep": { type: "boolean" },
      });
      rejectUnsupported(values);
      const id = one(positionals, cmd);
      const opts = {
        bundle: (values.bundle as string | undefined) ?? Deno.cwd(),
        root: g.root,
        pidFile: values["pid-file"] as string | undefined,
        stdio: { stdin: "inherit", stdout: "inherit", stderr: "inherit" } as const,
      };
      if (values.detach) {
        const c = await createContainer(id, opts);
        await c.start();
        return 0;
      }
      if (values.keep) {
        const c = await createContainer(id, opts);
        await c.start();
        const stop = forwardSignals((s) => c.kill(s));
        try {
          return statusCode(await c.wait());
        } finally {
          stop();
        }
      }
      let forward: ((s: number) => void) | undefined;
      const stop = forwardSignals((s) => forward?.(s));
      try {
        const c = await createContainer(id, opts);
        forward = (s) => c.kill(s);
        try {
          await c.start();
          return statusCode(await c.wait());
        } finally {
          await c.delete({ force: true });
        }
      } finally {
        stop();
      }
    }
    case "exec":
      return await execCommand(g, rest);
    case "list": {
      const { values } = parse(cmd, rest, {
        format: { type: "string", short: "f" },
        quiet: { type: "boolean", short: "q" },
      });
      const all = await listContainers({ root: g.root });
      if (values.quiet) { for (const s of all) console.log(s.id); }
      else if (values.format === "json") console.log(JSON.stringify(all));
      else {
        const rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED"]];
        for (const s of all) rows.push([s.id, String(s.pid), s.status, s.bundle, s.created]);
        console.log(table(rows));
      }
      return 0;
    }
    case "ps": {
      const { values, positionals } = parse(cmd, rest, { format: { type: "string", short: "f" } });
      const c = await loadContainer(one(positionals, cmd), { root: g.root });
      const pids = await c.pids();
      if (values.format === "json") {
        console.log(JSON.stringify(pids));
        return 0;
      }
      const rows = [["PID", "CMD"]];
      for (const pid of pids) {
        let cmdline = "";
        try {
          cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").join(" ").trim();
        } catch { /* exited */ }
        rows.push([String(pid), cmdline]);
      }
      console.log(table(rows));
      return 0;
    }
    case "events": {
      const { values, positionals } = parse(cmd, rest, {
        stats: { type: "boolean" },
        interval: { type: "string" },
      });
      const id = one(positionals, cmd);
      const c = await loadContainer(id, { root: g.root });
      const print = async () =>
        console.log(JSON.stringify({ type: "stats", id, data: await c.stats() }));
      if (values.stats) {
        await print();
        return 0;
      }
      const seconds = Number(String(values.interval ?? "5").replace(/s$/, ""));
      if (!(seconds > 0)) {
        throw new UsageError(`events: --interval: expected seconds, got ${values.interval}`);
      }
      while (c.state().status !== "stopped") {
        await print();
        await new Promise((r) => setTimeout(r, seconds * 1000));
      }
      return 0;
    }
    case "features":
      console.log(JSON.stringify(featuresJson(), null, 2));
      return 0;
    case "spec": {
      const { values } = parse(cmd, rest, { bundle: { type: "string", short: "b" } });
      const file = posix.join((values.bundle as string | undefined) ?? ".", "config.json");
      try {
        Deno.writeTextFileSync(file, JSON.stringify(defaultSpec(), null, 2) + "\n", {
          createNew: true,
        });
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists) {
          throw new RuntimeError(`spec: ${file} already exists`);
        }
        throw e;
      }
      return 0;
    }
  }
  return 2;
}

function rejectUnsupported(values: Record<string, unknown>): void {
  if (values["console-socket"] !== undefined) {
    throw new UsageError("--console-socket: not supported by tsk-runtime (no terminals)");
  }
  if (values["no-pivot"]) {
    throw new UsageError("--no-pivot: not supported by tsk-runtime (pivot_root is always used)");
  }
}

async function execCommand(g: Globals, rest: string[]): Promise<ExitCode> {
  const { values, positionals } = parse("exec", rest, {
    process: { type: "string", short: "p" },
    detach: { type: "boolean", short: "d" },
    "pid-file": { type: "string" },
    env: { type: "string", short: "e", multiple: true },
    cwd: { type: "string" },
    user: { type: "string", short: "u" },
    tty: { type: "boolean", short: "t" },
    "no-new-privs": { type: "boolean" },
  });
  if (values.tty) throw new UsageError("exec: --tty: not supported by tsk-runtime (no terminals)");
  if (positionals.length < 1) throw new UsageError(`exec: expected ID\n\n${HELP.exec}`);
  const id = positionals[0];
  const c = await loadContainer(id, { root: g.root });
  let process: Process;
  if (values.process !== undefined) {
    process = JSON.parse(Deno.readTextFileSync(values.process as string)) as Process;
  } else {
    if (positionals.length < 2) {
      throw new UsageError(`exec: expected a command or --process\n\n${HELP.exec}`);
    }
    process = structuredClone(c.spec.process);
    process.args = positionals.slice(1);
    process.env = [...(process.env ?? []), ...((values.env as string[] | undefined) ?? [])];
    if (values.cwd !== undefined) process.cwd = values.cwd as string;
    if (values.user !== undefined) {
      const [uid, gid] = (values.user as string).split(":");
      process.user = { uid: Number(uid), gid: Number(gid ?? 0) };
    }
    if (values["no-new-privs"]) process.noNewPrivileges = true;
  }
  const stdio = values.detach
    ? { stdin: "null", stdout: "null", stderr: "null" } as const
    : { stdin: "inherit", stdout: "inherit", stderr: "inherit" } as const;
  const p = await c.exec(process, { stdio });
  if (values["pid-file"]) Deno.writeTextFileSync(values["pid-file"] as string, String(p.pid));
  if (values.detach) return 0;
  const stop = forwardSignals((s) => Deno.kill(p.pid, signalName(s)));
  try {
    return statusCode(await p.wait());
  } finally {
    stop();
  }
}

function signalName(n: number): Deno.Signal {
  return (Object.entries(SIGNALS).find(([, v]) => v === n)?.[0] ?? "SIGTERM") as Deno.Signal;
}

function forwardSignals(send: (signal: number) => void): () => void {
  const sigs: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];
  const handlers = sigs.map((s) => {
    const h = () => {
      try {
        send(SIGNALS[s]);
      } catch { /* gone */ }
    };
    Deno.addSignalListener(s, h);
    return [s, h] as const;
  });
  return () => handlers.forEach(([s, h]) => Deno.removeSignalListener(s, h));
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
