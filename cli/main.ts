/**
 * `tsk`: the command line. Dispatches to the command groups in
 * `commands.ts`.
 *
 * @module
 */
import { type CommandIo, processIo, UsageError } from "./command.ts";
import { COMMANDS } from "./commands.ts";

/** The version printed by `tsk --version`. */
export const VERSION = "0.1.0";

function help(): string {
  const width = Math.max(8, ...COMMANDS.map((c) => c.name.length));
  return [
    "Usage: tsk <command> [args...]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run 'tsk <command> --help' for a command's flags.",
  ].join("\n");
}

/**
 * Runs `tsk` with the given arguments.
 *
 * @param args The arguments after `tsk`.
 * @param io Where output goes; the process's by default.
 * @returns The exit code: 0 on success, 2 on a usage error, 1 on any other error.
 *
 * @example Print the help
 * ```ts
 * import { main } from "@tsk/cli";
 * const code = await main(["--help"]);
 * ```
 */
export async function main(args: string[], io: CommandIo = processIo()): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.out(help());
    return name === undefined ? 2 : 0;
  }
  if (name === "--version") {
    io.out(`tsk ${VERSION}`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`tsk: unknown command ${JSON.stringify(name)}; run 'tsk --help' for the list`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`tsk ${name}: ${err.message}`);
      return 2;
    }
    io.err(`tsk ${name}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
