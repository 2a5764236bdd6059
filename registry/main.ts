/**
 * The `registry` program: `deno task registry [flags]`; see `--help`.
 *
 * @module
 */
import { HELP, loadConfig } from "./config.ts";
import { startServer } from "./server.ts";
import { ConfigError } from "./errors.ts";

/**
 * Runs the registry program until SIGTERM or SIGINT.
 *
 * @param args The command-line arguments.
 * @returns The exit code.
 *
 * @example Print the help
 * ```ts
 * import { main } from "@tsk/registry/main";
 * const code = await main(["--help"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let config;
  try {
    config = await loadConfig(args);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`registry: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (config === "help") {
    console.log(HELP);
    return 0;
  }
  const server = await startServer(config);
  const stop = () => {
    server.shutdown();
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  await server.finished;
  await server.shutdown();
  Deno.removeSignalListener("SIGTERM", stop);
  Deno.removeSignalListener("SIGINT", stop);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    console.error(`registry: ${err instanceof Error ? err.message : String(err)}`);
    Deno.exit(1);
  }
}
