/**
 * The `registry` program: `deno task registry [flags]`; see `--help`.
 *
 * @module
 */
import { HELP, loadConfig, type RegistryConfig } from "./config.ts";
import { startServer } from "./server.ts";
import { ConfigError } from "./errors.ts";
import { createRegistry } from "./app.ts";
import { Logger } from "./log.ts";

/** `registry gc`: one garbage-collection pass on a data directory no server holds. */
async function gcOnce(config: RegistryConfig): Promise<number> {
  const registry = await createRegistry(config.data, {
    log: new Logger({ level: config.logLevel }),
    gc: {
      graceMs: config.gc.grace,
      untaggedRetentionMs: config.gc.untaggedRetention,
      uploadTtlMs: config.gc.uploadTtl,
    },
  });
  try {
    const r = await registry.gc();
    console.log(
      `registry gc: removed ${r.manifests} manifests, ${r.links} links, ${r.blobs} blobs, ${r.uploads} uploads`,
    );
    return 0;
  } finally {
    registry.close();
  }
}

/**
 * Runs the registry program until SIGTERM or SIGINT, or `registry gc` once.
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
  const once = args[0] === "gc";
  let config;
  try {
    config = await loadConfig(once ? args.slice(1) : args);
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
  if (once) return await gcOnce(config);
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
