/**
 * The `tsk-runtime` command line behind `main.ts`: global options, then the
 * supervised path (`_supervisor_client.ts`) or the direct one (`_cli.ts`,
 * loaded on demand). Every call loads this module's static graph, so it
 * imports only what a supervised request needs before it is sent (seven
 * small modules, no library, no FFI); help texts, the log and the version
 * load when used (see docs/benchmarks.md).
 *
 * @module
 */
import { parseFlags } from "./_flags.ts";
import { resolve } from "./_path.ts";
import { DEFAULT_ROOT } from "./_defaults.ts";
import type { Globals } from "./_cli_common.ts";
import { viaSupervisor } from "./_supervisor_client.ts";
import { DEFAULT_IDLE_SECONDS, IDLE_ENV, NO_SUPERVISOR_ENV } from "./_supervisor_protocol.ts";

/** The commands, each with a help text in `_cli_common.ts`. */
export const COMMANDS = [
  "create",
  "start",
  "state",
  "kill",
  "delete",
  "run",
  "exec",
  "list",
  "update",
  "pause",
  "resume",
  "ps",
  "events",
  "features",
  "supervisor",
  "spec",
] as const;

/** A command's name. */
export type Command = typeof COMMANDS[number];

type Common = typeof import("./_cli_common.ts");

/**
 * Whether a log line of `level` goes anywhere: to the `--log` file, and
 * errors to stderr too.
 *
 * @param g Global options.
 * @param level The line's level.
 * @returns Whether `log` would write it.
 */
export function logWrites(g: Globals, level: string): boolean {
  return Boolean(g.log) || level === "error";
}

function common(mainUrl: string): Promise<Common> {
  return import(new URL("./_cli_common.ts", mainUrl).href);
}

/** The result of running the CLI: the process exit code. */
export type ExitCode = number;

/** Commands the supervisor serves when it runs (`run` starts it). */
const SUPERVISED = new Set([
  "run",
  "start",
  "state",
  "kill",
  "delete",
  "exec",
  "ps",
  "pause",
  "resume",
]);

function noSupervisorEnv(): boolean {
  const v = Deno.env.get(NO_SUPERVISOR_ENV);
  return v !== undefined && v !== "" && v !== "0";
}

function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

async function supervisorCommand(g: Globals, rest: string[], mainUrl: string): Promise<ExitCode> {
  let seconds = DEFAULT_IDLE_SECONDS;
  let watch: string | null | undefined;
  try {
    const { values, positionals } = parseFlags(rest, {
      "idle-timeout": { type: "string" },
      watch: { type: "string" },
    });
    if (values.watch !== undefined) {
      watch = String(values.watch) === "" ? null : resolve(String(values.watch));
      if (watch !== null && !isDirectory(watch)) {
        throw new Error(`--watch: ${watch} is not a directory`);
      }
    }
    if (positionals.length > 0) throw new Error(`unexpected argument ${positionals[0]}`);
    // The flag wins over the environment; each is named when it is wrong.
    const [source, text] = values["idle-timeout"] !== undefined
      ? ["--idle-timeout", String(values["idle-timeout"])]
      : [IDLE_ENV, Deno.env.get(IDLE_ENV)];
    if (text !== undefined) {
      seconds = text.trim() === "" ? NaN : Number(text);
      if (!(seconds >= 0)) {
        throw new Error(
          `${source}: expected a number of seconds (0: never), got ${JSON.stringify(text)}`,
        );
      }
    }
  } catch (e) {
    const { HELP } = await common(mainUrl);
    console.error(`tsk-runtime: supervisor: ${(e as Error).message}\n\n${HELP.supervisor}`);
    return 2;
  }
  const sup: typeof import("./supervisor.ts") = await import(
    new URL("./supervisor.ts", mainUrl).href
  );
  const { runSupervisor } = sup;
  return await runSupervisor({ root: g.root, idleTimeoutMs: seconds * 1000, watch });
}

/** What the process running the command line adds to {@linkcode main}. */
export interface MainOptions {
  /**
   * Called once a supervised request is sent, while the supervisor serves
   * it: work that can wait until then (the command's own exit) goes here.
   */
  whileWaiting?: () => void;
  /**
   * Ends the process with the exit code of a supervised command as soon as
   * its answer is in (see `ClientOptions.finish` in _supervisor_client.ts).
   */
  finish?: (code: number) => void;
}

/**
 * Runs the command line and returns the exit code.
 *
 * @param args The arguments (without the program name).
 * @param mainUrl The URL of `main.ts` in the source tree: modules loaded on
 *   demand, and the supervisor's command, are found from it.
 * @param options What the process adds (see {@linkcode MainOptions}).
 * @returns The exit code.
 *
 * @example Print the version
 * ```ts ignore
 * import { main } from "./_cli_main.ts";
 * const code = await main(["--version"], new URL("./main.ts", import.meta.url).href);
 * ```
 */
export async function main(
  args: string[],
  mainUrl: string,
  options: MainOptions = {},
): Promise<ExitCode> {
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
      const { VERSION } = await import(new URL("./version.ts", mainUrl).href);
      console.log(`tsk-runtime version ${VERSION}\nspec: 1.2.0`);
      return 0;
    } else if (flag === "--help" || flag === "-h") {
      console.log((await common(mainUrl)).USAGE);
      return 0;
    } else if (a.startsWith("-")) {
      console.error(`tsk-runtime: unknown global option ${a}\n\n${(await common(mainUrl)).USAGE}`);
      return 2;
    } else break;
  }
  const cmd = args[i];
  const rest = args.slice(i + 1);
  if (cmd === undefined) {
    console.error((await common(mainUrl)).USAGE);
    return 2;
  }
  if (!(COMMANDS as readonly string[]).includes(cmd)) {
    console.error(`tsk-runtime: unknown command ${cmd}\n\n${(await common(mainUrl)).USAGE}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log((await common(mainUrl)).HELP[cmd]);
    return 0;
  }
  g.root = resolve(g.root);
  if (cmd === "supervisor") return await supervisorCommand(g, rest, mainUrl);
  if (SUPERVISED.has(cmd) && !g.noSupervisor) {
    // The log's module loads while the supervisor serves, and only when
    // something will be written.
    let loaded: Promise<Common> | undefined;
    const code = await viaSupervisor(g.root, cmd, rest, {
      log: async (level, msg) => {
        if (logWrites(g, level)) (await (loaded ??= common(mainUrl))).log(g, level, msg);
      },
      mainUrl,
      whileWaiting: () => {
        if (g.log) loaded ??= common(mainUrl);
        options.whileWaiting?.();
      },
      finish: options.finish,
    });
    if (code !== null) return code;
  }
  const cli: typeof import("./_cli.ts") = await import(new URL("./_cli.ts", mainUrl).href);
  return await cli.runDirect(g, cmd, rest);
}
