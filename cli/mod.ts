/**
 * `@tsk/cli`: the `tsk` command. Run it with `deno task tsk <command>`.
 *
 * @example Run a command in-process
 * ```ts
 * import { main } from "@tsk/cli";
 * await main(["--version"]);
 * ```
 *
 * @module
 */
export { main, VERSION } from "./main.ts";
export { type Command, type CommandIo, processIo, UsageError } from "./command.ts";
export { COMMANDS } from "./commands.ts";

if (import.meta.main) {
  const { main } = await import("./main.ts");
  Deno.exit(await main(Deno.args));
}
