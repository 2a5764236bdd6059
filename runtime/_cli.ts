/**
 * The direct path of `tsk-runtime`: each command loads the library and does
 * its work in this process (`--no-supervisor`, or the commands the
 * supervisor does not serve).
 *
 * @module
 */
import { type FlagSpec, parseFlags } from "./_flags.ts";
import * as posix from "./_path.ts";
import { RuntimeError } from "./errors.ts";
import type { ExitStatus } from "./container.ts";
import { signalNumber, SIGNALS } from "./signals.ts";
import { closeStage, type InitProcess, spawnStage } from "./parent.ts";
import { linuxSyscalls } from "./syscalls.ts";
import { unknownSyscalls } from "./seccomp/profile.ts";
import type { Spec } from "./spec/config.ts";
import type { InitSource } from "./pool.ts";
import { type Globals, HELP, log, psOutput, table, userNames } from "./_cli_common.ts";
import { EXEC_FLAGS, execArgs, execProcess } from "./_exec_args.ts";
import { type ConsoleProxy, openConsole, specWantsTerminal } from "./_console.ts";
import { MAX_FDS } from "./_unix_socket.ts";
import { runcEventJson, runcStats } from "./_runc_events.ts";

// The library (validation, cgroups, seccomp) loads after `create` and `run`
// have started the container's init, so the two Deno start-ups overlap.
type Lib = typeof import("./container.ts");

/** The result of running the CLI: the process exit code. */
export type ExitCode = number;

class UsageError extends RuntimeError {}

/** The name of the user owning `path` (the host's /etc/passwd), `#<uid>` without one, as runc's list. */
function ownerOf(path: string, names: Map<number, string>): string {
  let uid: number | null;
  try {
    uid = Deno.statSync(path).uid;
  } catch {
    return "";
  }
  return uid === null ? "" : names.get(uid) ?? `#${uid}`;
}

function one(positionals: string[], cmd: string): string {
  if (positionals.length !== 1) {
    throw new UsageError(`${cmd}: expected exactly one container id\n\n${HELP[cmd]}`);
  }
  return positionals[0];
}

function reportExit(g: Globals, id: string, s: ExitStatus): ExitStatus {
  if (s.oomKilled) log(g, "warning", `container ${id} had a process killed by the OOM killer`);
  log(g, "info", `container ${id} exited: ${JSON.stringify(s)}`);
  return s;
}

function statusCode(s: { exitCode: number | null; signal?: number }): number {
  if (s.exitCode !== null) return s.exitCode;
  return 128 + (s.signal ?? 0);
}

/**
 * Runs one command on the direct path.
 *
 * @param g Global options.
 * @param cmd The command.
 * @param rest Its arguments.
 * @returns The exit code.
 */
export async function runDirect(g: Globals, cmd: string, rest: string[]): Promise<ExitCode> {
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

function parse(cmd: string, rest: string[], options: Record<string, FlagSpec>) {
  try {
    return parseFlags(rest, options, cmd === "exec");
  } catch (e) {
    throw new UsageError(`${cmd}: ${(e as Error).message}\n\n${HELP[cmd]}`);
  }
}

/**
 * For `create` and `run`: the init stage, spawned before the library
 * (`container.ts`) is loaded (new PID namespace, this process's stdio,
 * network namespace made while idle). The container takes it as a one-shot
 * pool; a spec that wants another PID namespace leaves it, and it is
 * stopped. Spawning it before this module's own imports too (from
 * `_cli_main.ts`, about 10 ms sooner) made no difference end to end (40
 * alternating `run --no-supervisor` each: 143.4 against 145.6 ms): the
 * command's loading and the init's start-up share the two cores.
 */
function earlyInit(): InitSource & { release(): Promise<void> } {
  const sys = linuxSyscalls();
  let init: InitProcess | undefined;
  try {
    init = spawnStage(sys, {
      stdio: [0, 1, 2],
      pidNamespace: { kind: "new" },
      prepareNamespaces: true,
    });
    init.stdioReady = true;
    // Into a cgroup at once, while it is still one thread; a container under
    // the default parent adopts it by rename.
    const pid = init.pid;
    init.cgroup = import("./pool.ts").then((m) => m.prepareCgroup(pid, "/tsk-runtime"));
  } catch {
    init = undefined; // createContainer spawns its own
  }
  return {
    take() {
      const i = init;
      init = undefined;
      return i;
    },
    async release() {
      if (init === undefined) return;
      closeStage(sys, init); // it reads end of file and exits
      await sys.waitpidAsync(init.pid).catch(() => {});
      const cg = await init.cgroup;
      await cg?.destroy().catch(() => {});
      init = undefined;
    },
  };
}

async function dispatch(g: Globals, cmd: string, rest: string[]): Promise<ExitCode> {
  const early = cmd === "create" || cmd === "run" ? earlyInit() : undefined;
  try {
    const lib = cmd === "features" || cmd === "spec" ? undefined : await import("./container.ts");
    return await dispatchWith(g, cmd, rest, lib!, early);
  } finally {
    await early?.release();
  }
}

async function dispatchWith(
  g: Globals,
  cmd: string,
  rest: string[],
  lib: Lib,
  early: InitSource | undefined,
): Promise<ExitCode> {
  const { createContainer, listContainers, loadContainer } = lib ?? {};
  switch (cmd) {
    case "create": {
      const { values, positionals } = parse(cmd, rest, {
        bundle: { type: "string", short: "b" },
        "pid-file": { type: "string" },
        "console-socket": { type: "string" },
        "no-pivot": { type: "boolean" },
        "no-new-keyring": { type: "boolean" },
        "preserve-fds": { type: "string" },
      });
      rejectUnsupported(values);
      const id = one(positionals, cmd);
      const handed = handedFds(values);
      const c = await createContainer(id, {
        bundle: (values.bundle as string | undefined) ?? Deno.cwd(),
        root: g.root,
        pidFile: values["pid-file"] as string | undefined,
        stdio: { stdin: "inherit", stdout: "inherit", stderr: "inherit" },
        pool: early,
        consoleSocket: values["console-socket"] as string | undefined,
        preserveFds: handed.fds,
        env: handed.env,
        noNewKeyring: values["no-new-keyring"] === true,
      });
      warnUnknownSyscalls(g, c.spec);
      log(g, "info", `created container ${id}`);
      return 0;
    }
    case "start": {
      const { positionals } = parse(cmd, rest, {});
      const c = await loadContainer(one(positionals, cmd), { root: g.root });
      await c.start();
      return 0;
    }
    case "update": {
      const { values, positionals } = parse(cmd, rest, {
        resources: { type: "string", short: "r" },
        memory: { type: "string" },
        "memory-reservation": { type: "string" },
        "memory-swap": { type: "string" },
        "cpu-quota": { type: "string" },
        "cpu-period": { type: "string" },
        "cpu-share": { type: "string" },
        "cpuset-cpus": { type: "string" },
        "cpuset-mems": { type: "string" },
        "pids-limit": { type: "string" },
        "blkio-weight": { type: "string" },
      });
      const c = await loadContainer(one(positionals, cmd), { root: g.root });
      const file = values.resources as string | undefined;
      const r: Record<string, Record<string, unknown>> = file === undefined ? {} : JSON.parse(
        file === "-" ? await new Response(Deno.stdin.readable).text() : Deno.readTextFileSync(file),
      );
      const num = (flag: string) => {
        const v = values[flag] as string | undefined;
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!Number.isInteger(n)) {
          throw new UsageError(`update: --${flag}: expected an integer, got ${v}`);
        }
        return n;
      };
      const set = (group: string, key: string, value: unknown) => {
        if (value !== undefined) (r[group] ??= {})[key] = value;
      };
      set("memory", "limit", num("memory"));
      set("memory", "reservation", num("memory-reservation"));
      set("memory", "swap", num("memory-swap"));
      set("cpu", "quota", num("cpu-quota"));
      set("cpu", "period", num("cpu-period"));
      set("cpu", "shares", num("cpu-share"));
      set("cpu", "cpus", values["cpuset-cpus"]);
      set("cpu", "mems", values["cpuset-mems"]);
      set("pids", "limit", num("pids-limit"));
      set("blockIO", "weight", num("blkio-weight"));
      await c.update(r);
      return 0;
    }
    case "pause":
    case "resume": {
      const { positionals } = parse(cmd, rest, {});
      const c = await loadContainer(one(positionals, cmd), { root: g.root });
      await (cmd === "pause" ? c.pause() : c.resume());
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
        "preserve-fds": { type: "string" },
      });
      rejectUnsupported(values);
      const id = one(positionals, cmd);
      const handed = handedFds(values);
      const bundle = (values.bundle as string | undefined) ?? Deno.cwd();
      // A terminal without a console socket, in the foreground: this command
      // holds the terminal's master and copies to and from it, as runc's run.
      const proxy = !values.detach && values["console-socket"] === undefined &&
          specWantsTerminal(bundle)
        ? openConsole()
        : null;
      const opts = {
        bundle,
        root: g.root,
        pidFile: values["pid-file"] as string | undefined,
        stdio: { stdin: "inherit", stdout: "inherit", stderr: "inherit" } as const,
        pool: early,
        consoleSocket: proxy?.path ?? values["console-socket"] as string | undefined,
        preserveFds: handed.fds,
        env: handed.env,
        noNewKeyring: values["no-new-keyring"] === true,
      };
      if (proxy) {
        try {
          return await runWithTerminal(g, id, opts, proxy, values.keep === true, lib);
        } finally {
          proxy.close();
        }
      }
      if (values.detach) {
        const c = await createContainer(id, opts);
        warnUnknownSyscalls(g, c.spec);
        await c.start();
        return 0;
      }
      if (values.keep) {
        const c = await createContainer(id, opts);
        warnUnknownSyscalls(g, c.spec);
        await c.start();
        const stop = forwardSignals((s) => c.kill(s));
        try {
          return statusCode(reportExit(g, id, await c.wait()));
        } finally {
          stop();
        }
      }
      let forward: ((s: number) => void) | undefined;
      const stop = forwardSignals((s) => forward?.(s));
      try {
        const c = await createContainer(id, opts);
        warnUnknownSyscalls(g, c.spec);
        forward = (s) => c.kill(s);
        try {
          await c.start();
          return statusCode(reportExit(g, id, await c.wait()));
        } finally {
          await c.delete({ force: true });
        }
      } finally {
        stop();
      }
    }
    case "exec":
      return await execCommand(g, rest, lib);
    case "list": {
      const { values } = parse(cmd, rest, {
        format: { type: "string", short: "f" },
        quiet: { type: "boolean", short: "q" },
      });
      const names = userNames();
      const all = (await listContainers({ root: g.root })).map((s) => ({
        ...s,
        owner: ownerOf(posix.join(g.root, s.id), names),
      }));
      if (values.quiet) { for (const s of all) console.log(s.id); }
      else if (values.format === "json") console.log(JSON.stringify(all));
      else {
        const rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]];
        for (const s of all) {
          rows.push([s.id, String(s.pid), s.status, s.bundle, s.created, s.owner]);
        }
        console.log(table(rows));
      }
      return 0;
    }
    case "ps": {
      const { values, positionals } = parse(cmd, rest, { format: { type: "string", short: "f" } });
      const c = await loadContainer(one(positionals, cmd), { root: g.root });
      console.log(psOutput(await c.pids(), values.format as string | undefined));
      return 0;
    }
    case "events": {
      const { values, positionals } = parse(cmd, rest, {
        stats: { type: "boolean" },
        interval: { type: "string" },
      });
      const id = one(positionals, cmd);
      const c = await loadContainer(id, { root: g.root });
      let ooms = -1;
      const print = async () => {
        const data = await c.stats();
        console.log(runcEventJson({ type: "stats", id, data: runcStats(data) }));
        // runc's events also report OOM kills as they happen.
        if (ooms >= 0 && data.memory.oomKillEvents > ooms) {
          console.log(JSON.stringify({ type: "oom", id }));
        }
        ooms = data.memory.oomKillEvents;
      };
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
      console.log(JSON.stringify((await import("./features.ts")).featuresJson(), null, 2));
      return 0;
    case "spec": {
      const { values } = parse(cmd, rest, { bundle: { type: "string", short: "b" } });
      const file = posix.join((values.bundle as string | undefined) ?? ".", "config.json");
      try {
        const { defaultSpec } = await import("./spec/default.ts");
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

/**
 * The descriptors a command hands to the container's process as 3, 4, ...:
 * systemd's socket activation ones (`LISTEN_FDS` for this pid, with the
 * environment that tells the process, as runc sets it), then
 * `--preserve-fds N` more.
 */
function handedFds(
  values: Record<string, unknown>,
  activation = true,
): { fds: number[]; env: string[] } {
  const text = values["preserve-fds"] as string | undefined;
  const extra = text === undefined ? 0 : Number(text);
  if (!Number.isInteger(extra) || extra < 0) {
    throw new UsageError(`--preserve-fds: expected a number of descriptors, got ${text}`);
  }
  const listen = activation ? listenFds() : 0;
  // With the stdio, all go to the init in one message (SCM_RIGHTS).
  if (listen + extra > MAX_FDS - 3) {
    throw new UsageError(
      `--preserve-fds: at most ${MAX_FDS - 3} descriptors in all, got ${listen + extra}` +
        (listen > 0 ? ` (${listen} from LISTEN_FDS)` : ""),
    );
  }
  const fds = Array.from({ length: listen + extra }, (_, i) => 3 + i);
  for (const fd of fds) {
    try {
      Deno.readLinkSync(`/proc/self/fd/${fd}`);
    } catch {
      throw new UsageError(`--preserve-fds: descriptor ${fd} is not open`);
    }
  }
  return { fds, env: listen > 0 ? [`LISTEN_FDS=${listen}`, "LISTEN_PID=1"] : [] };
}

/** How many descriptors systemd passed this process (`LISTEN_FDS`, when `LISTEN_PID` is ours). */
function listenFds(): number {
  if (Deno.env.get("LISTEN_PID") !== String(Deno.pid)) return 0;
  const n = Number(Deno.env.get("LISTEN_FDS"));
  return Number.isInteger(n) && n > 0 ? n : 0;
}

/** `run` of a spec with a terminal, the command holding its master (see _console.ts). */
async function runWithTerminal(
  g: Globals,
  id: string,
  opts: import("./container.ts").CreateContainerOptions,
  proxy: ConsoleProxy,
  keep: boolean,
  lib: Lib,
): Promise<ExitCode> {
  let forward: ((s: number) => void) | undefined;
  const stop = forwardSignals((s) => forward?.(s));
  try {
    const c = await lib.createContainer(id, opts);
    warnUnknownSyscalls(g, c.spec);
    forward = (s) => c.kill(s);
    try {
      const pumping = proxy.pump();
      await c.start();
      const st = await c.wait();
      // What the container wrote last is still in the terminal.
      await Promise.race([pumping, new Promise((r) => setTimeout(r, 2000))]);
      return statusCode(reportExit(g, id, st));
    } finally {
      if (!keep) await c.delete({ force: true });
    }
  } finally {
    stop();
  }
}

function rejectUnsupported(values: Record<string, unknown>): void {
  if (values["no-pivot"]) {
    throw new UsageError("--no-pivot: not supported by tsk-runtime (pivot_root is always used)");
  }
}

async function execCommand(g: Globals, rest: string[], lib: Lib): Promise<ExitCode> {
  const { loadContainer } = lib;
  const { values, positionals } = parse("exec", rest, EXEC_FLAGS);
  if (positionals.length < 1) throw new UsageError(`exec: expected ID\n\n${HELP.exec}`);
  const id = positionals[0];
  const c = await loadContainer(id, { root: g.root });
  if (values.process === undefined && positionals.length < 2) {
    throw new UsageError(`exec: expected a command or --process\n\n${HELP.exec}`);
  }
  const a = execArgs(values, positionals);
  const process = execProcess(c.spec.process, a);
  const cgroup = a.cgroups?.length
    ? (await import("./cgroup/manager.ts")).parseSubCgroup(a.cgroups, "--cgroup")
    : undefined;
  // A terminal without a console socket, in the foreground: this command
  // holds it (see _console.ts), as runc's exec -t.
  const proxy = process.terminal && !values.detach && values["console-socket"] === undefined
    ? openConsole()
    : null;
  try {
    // Detached or not, the process gets this command's stdio, as under runc
    // (conmon reads a detached exec's output from the pipes it passed).
    const stdio = { stdin: "inherit", stdout: "inherit", stderr: "inherit" } as const;
    const p = await c.exec(process, {
      stdio,
      consoleSocket: proxy?.path ?? values["console-socket"] as string | undefined,
      preserveFds: handedFds(values, false).fds,
      ignorePaused: a.ignorePaused,
      cgroup,
    });
    if (values["pid-file"]) Deno.writeTextFileSync(values["pid-file"] as string, String(p.pid));
    if (values.detach) return 0;
    const pumping = proxy?.pump();
    const stop = forwardSignals((s) => Deno.kill(p.pid, signalName(s)));
    try {
      const st = await p.wait();
      if (pumping) await Promise.race([pumping, new Promise((r) => setTimeout(r, 2000))]);
      return statusCode(st);
    } finally {
      stop();
    }
  } finally {
    proxy?.close();
  }
}

/** Logs the profile's system call names that match nothing (as runc, which ignores them). */
function warnUnknownSyscalls(g: Globals, spec: Spec): void {
  const seccomp = spec.linux?.seccomp;
  if (!seccomp) return;
  for (const w of unknownSyscalls(seccomp, "linux.seccomp")) log(g, "warning", `${w}: ignored`);
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
