/**
 * `tsk-runtime`: an OCI runtime command line that follows runc's, so tools
 * written for runc can drive it.
 *
 * ```
 * tsk-runtime [--root DIR] [--log FILE] [--log-format text|json] COMMAND [OPTIONS] [ID]
 * ```
 *
 * `run`, `create`, `start`, `state`, `kill` and `delete` go through the
 * root's supervisor (`supervisor.ts`), started on demand by `run` and
 * `create`; `--no-supervisor` or `TSK_RUNTIME_NO_SUPERVISOR=1` keeps every
 * command in this process.
 *
 * Overlay root filesystems are requested through the bundle's annotations
 * `dev.tsk.rootfs.lowerdirs` (colon-separated, uppermost first),
 * `dev.tsk.rootfs.upperdir` and `dev.tsk.rootfs.workdir`.
 *
 * @module
 */
import { resolve } from "./_path.ts";
import { DEFAULT_ROOT } from "./state.ts";
import { VERSION } from "./version.ts";
import { type Globals, HELP, log, USAGE } from "./_cli_common.ts";
import { viaSupervisor } from "./_supervisor_client.ts";
import { IDLE_ENV, NO_SUPERVISOR_ENV } from "./_supervisor_protocol.ts";

/** The result of running the CLI: the process exit code. */
export type ExitCode = number;

/** Commands the supervisor serves when it runs (`run` and `create` start it). */
const SUPERVISED = new Set(["run", "create", "start", "state", "kill", "delete"]);

function noSupervisorEnv(): boolean {
  const v = Deno.env.get(NO_SUPERVISOR_ENV);
  return v !== undefined && v !== "" && v !== "0";
}

async function supervisorCommand(g: Globals, rest: string[]): Promise<ExitCode> {
  const { parseFlags } = await import("./_flags.ts");
  let seconds = Number(Deno.env.get(IDLE_ENV) ?? 60);
  try {
    const { values, positionals } = parseFlags(rest, { "idle-timeout": { type: "string" } });
    if (positionals.length > 0) throw new Error(`unexpected argument ${positionals[0]}`);
    if (values["idle-timeout"] !== undefined) seconds = Number(values["idle-timeout"]);
    if (!(seconds >= 0)) {
      throw new Error(`--idle-timeout: expected seconds, got ${values["idle-timeout"]}`);
    }
  } catch (e) {
    console.error(`tsk-runtime: supervisor: ${(e as Error).message}\n\n${HELP.supervisor}`);
    return 2;
  }
  const { runSupervisor } = await import("./supervisor.ts");
  return await runSupervisor({ root: g.root, idleTimeoutMs: seconds * 1000 });
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
  const g: Globals = {
    root: DEFAULT_ROOT,
    log: undefined,
    logFormat: "text",
    noSupervisor: noSupervisorEnv(),
  };
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
    } else if (flag === "--no-supervisor") g.noSupervisor = true;
    else if (flag === "--debug" || flag === "--no-new-keyring") continue;
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
  g.root = resolve(g.root);
  if (cmd === "supervisor") return await supervisorCommand(g, rest);
  if (SUPERVISED.has(cmd) && !g.noSupervisor) {
    const code = await viaSupervisor(g.root, cmd, rest, (level, msg) => log(g, level, msg));
    if (code !== null) return code;
  }
  const { runDirect } = await import("./_cli.ts");
  return await runDirect(g, cmd, rest);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
