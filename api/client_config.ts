/**
 * The client config: where `tsk` (and any other client) finds the API
 * server and its credentials. The API server writes one for the admin to
 * `$TSK_HOME/config` on start; `--server` and `TSK_SERVER` override the URL
 * (DESIGN.md, "State and configuration").
 *
 * @module
 */
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { tskHome } from "./home.ts";

/** A client config, kubeconfig-like but flat: one server, one user. */
export interface ClientConfig {
  /** Always `tsk/v1`. */
  apiVersion: "tsk/v1";
  /** Always `Config`. */
  kind: "Config";
  /** The API server URL, e.g. `https://127.0.0.1:6443`. */
  server: string;
  /** The cluster CA certificate (PEM) the server's certificate chains to. */
  certificateAuthority?: string;
  /** The client certificate (PEM), for mTLS. */
  clientCertificate?: string;
  /** The client key (PEM), for mTLS. */
  clientKey?: string;
  /** A bearer token. */
  token?: string;
}

/** Raised when the client config is missing or malformed; names the file and the field. */
export class ClientConfigError extends Error {
  /** Creates the error. @param message The file, the field and the fix. @param options The cause. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ClientConfigError";
  }
}

/** Options of {@linkcode loadClientConfig}. */
export interface LoadClientConfigOptions {
  /** The environment (`TSK_HOME`, `TSK_SERVER`). @default Deno.env.toObject() */
  env?: Record<string, string | undefined>;
  /** A server URL that overrides the file's (`--server`). */
  server?: string;
  /** The config file. @default `$TSK_HOME/config` */
  path?: string;
}

/**
 * The default path of the client config.
 *
 * @param env The environment.
 * @returns `$TSK_HOME/config`.
 *
 * @example Where the config lives
 * ```ts
 * import { clientConfigPath } from "@tsk/api";
 * console.log(clientConfigPath({ TSK_HOME: "/tmp/t" })); // "/tmp/t/config"
 * ```
 */
export function clientConfigPath(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): string {
  return `${tskHome({ env })}/config`;
}

/**
 * Parses and checks a client config.
 *
 * @param text The YAML (or JSON) text.
 * @param source The file name, for messages.
 * @returns The config.
 * @throws {ClientConfigError} Naming the bad field.
 *
 * @example Parse a config
 * ```ts
 * import { parseClientConfig } from "@tsk/api";
 * const c = parseClientConfig("apiVersion: tsk/v1\nkind: Config\nserver: https://127.0.0.1:6443\n");
 * console.log(c.server);
 * ```
 */
export function parseClientConfig(text: string, source = "config"): ClientConfig {
  let v: unknown;
  try {
    v = parseYaml(text);
  } catch (err) {
    throw new ClientConfigError(`${source}: cannot parse YAML: ${String(err)}`, { cause: err });
  }
  if (v === null || typeof v !== "object") {
    throw new ClientConfigError(`${source}: expected a mapping`);
  }
  const c = v as Record<string, unknown>;
  if (typeof c.server !== "string" || !/^https?:\/\//.test(c.server)) {
    throw new ClientConfigError(`${source}: server: expected a URL like https://127.0.0.1:6443`);
  }
  for (const f of ["certificateAuthority", "clientCertificate", "clientKey", "token"]) {
    if (c[f] !== undefined && typeof c[f] !== "string") {
      throw new ClientConfigError(`${source}: ${f}: expected a string`);
    }
  }
  if ((c.clientCertificate === undefined) !== (c.clientKey === undefined)) {
    throw new ClientConfigError(`${source}: clientCertificate and clientKey: give both or neither`);
  }
  return { ...(c as unknown as ClientConfig), apiVersion: "tsk/v1", kind: "Config" };
}

/**
 * Loads the client config: the file, with `--server` or `TSK_SERVER` over
 * its server URL. Without a file, a server URL alone is enough.
 *
 * @param options Environment, override, path.
 * @returns The config.
 * @throws {ClientConfigError} When there is neither a file nor a server URL.
 *
 * @example Load with an override
 * ```ts
 * import { loadClientConfig } from "@tsk/api";
 * const c = await loadClientConfig({ env: { TSK_HOME: "/nonexistent" }, server: "http://127.0.0.1:1" });
 * console.log(c.server); // "http://127.0.0.1:1"
 * ```
 */
export async function loadClientConfig(
  options: LoadClientConfigOptions = {},
): Promise<ClientConfig> {
  const env = options.env ?? Deno.env.toObject();
  const path = options.path ?? clientConfigPath(env);
  const override = options.server ?? (env.TSK_SERVER || undefined);
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw new ClientConfigError(`${path}: cannot read: ${String(err)}`, { cause: err });
    }
  }
  if (text === undefined) {
    if (override) return { apiVersion: "tsk/v1", kind: "Config", server: override };
    throw new ClientConfigError(
      `${path}: not found: start the control plane (deno task scheduler) or pass --server / set TSK_SERVER`,
    );
  }
  const config = parseClientConfig(text, path);
  if (override) config.server = override;
  return config;
}

/**
 * Writes a client config with mode 0600 (it holds credentials).
 *
 * @param path The file.
 * @param config The config.
 * @returns When written.
 *
 * @example Write a config
 * ```ts
 * import { writeClientConfig } from "@tsk/api";
 * const path = await Deno.makeTempFile();
 * await writeClientConfig(path, { apiVersion: "tsk/v1", kind: "Config", server: "https://127.0.0.1:6443" });
 * ```
 */
export async function writeClientConfig(path: string, config: ClientConfig): Promise<void> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  if (dir) await Deno.mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(tmp, stringifyYaml(config), { mode: 0o600 });
  await Deno.rename(tmp, path);
}
