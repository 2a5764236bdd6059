/**
 * Builds the API client for a command: `$TSK_HOME/config`, with
 * `--server` and `TSK_SERVER` over its URL.
 *
 * @module
 */
import { ApiClient, loadClientConfig } from "@tsk/api";
import type { CommandIo } from "./command.ts";

/**
 * Creates the client a command talks to.
 *
 * @param io The command's IO (for the environment).
 * @param server The `--server` flag, if given.
 * @returns The client; close it when done.
 */
export async function clientFor(io: CommandIo, server?: string): Promise<ApiClient> {
  const config = await loadClientConfig({ env: io.env, server });
  return new ApiClient(config, { userAgent: "tsk-cli/0.1.0" });
}

/** The flags every API command takes, for node:util parseArgs. */
export const COMMON_FLAGS = {
  namespace: { type: "string", short: "n" },
  "all-namespaces": { type: "boolean", short: "A" },
  server: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The help lines of the common flags. */
export const COMMON_HELP = `  -n, --namespace NS       the namespace (default "default")
  -A, --all-namespaces     every namespace (lists)
      --server URL         the API server (overrides $TSK_HOME/config and TSK_SERVER)
  -h, --help               show this help`;
