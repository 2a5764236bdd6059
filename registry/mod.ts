/**
 * `@tsk/registry`: an OCI distribution-spec registry on Hono, with its
 * metadata in SQLite and blobs as files addressed by digest.
 *
 * Run it with `deno task registry --port 5000 --data DIR`, or embed it:
 *
 * @example Serve in-process
 * ```ts
 * import { createRegistry } from "@tsk/registry";
 * const reg = await createRegistry(await Deno.makeTempDir());
 * const res = await reg.app.request("/v2/");
 * console.log(res.status); // 200
 * reg.close();
 * ```
 *
 * @module
 */
export {
  createRegistry,
  type Registry,
  type RegistryApp,
  type RegistryOptions,
  type ServeBindings,
} from "./app.ts";
export { Activity } from "./context.ts";
export { type RegistryServer, startServer } from "./server.ts";
export {
  HELP,
  loadConfig,
  type LoadConfigOptions,
  parseDuration,
  type RegistryConfig,
} from "./config.ts";
export {
  ConfigError,
  ERROR_CODES,
  type ErrorCode,
  RegistryError,
  type RegistryErrorOptions,
} from "./errors.ts";
export {
  type Access,
  type AccessRule,
  Auth,
  type AuthMode,
  type AuthOptions,
  parseHtpasswd,
  parseScope,
} from "./auth.ts";
export type { GcOptions, GcResult } from "./gc.ts";
export { MetadataLockedError } from "./metadata.ts";
export { Logger, type LoggerOptions, type LogLevel } from "./log.ts";
export { Metrics } from "./metrics.ts";

if (import.meta.main) {
  // `deno run -A jsr:@tsk/registry` starts the program (DESIGN.md).
  const { main } = await import("./main.ts");
  Deno.exit(await main(Deno.args));
}
