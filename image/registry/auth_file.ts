/**
 * Registry credentials from the auth files Docker, Podman and skopeo write
 * (`{"auths": {"HOST": {"auth": base64("user:password")}}}`), so images push
 * and pull where `docker login` or `podman login` has been done.
 *
 * @module
 */
import { join } from "node:path";
import { tskHome } from "@tsk/api/home";
import { ValidationError } from "../errors.ts";
import type { Credentials } from "./auth.ts";

/** Options for {@linkcode loadCredentials}. */
export interface LoadCredentialsOptions {
  /**
   * The environment (`REGISTRY_AUTH_FILE`, `TSK_HOME`, `XDG_RUNTIME_DIR`, `HOME`, `DOCKER_CONFIG`).
   * @default Deno.env.toObject()
   */
  env?: Record<string, string | undefined>;
}

/**
 * Returns the auth files consulted, in order: `$REGISTRY_AUTH_FILE`,
 * `$TSK_HOME/auth.json`, `$XDG_RUNTIME_DIR/containers/auth.json`,
 * `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`).
 *
 * @param options The environment.
 * @returns The paths.
 *
 * @example Where credentials are looked for
 * ```ts
 * import { authFiles } from "@tsk/image";
 * console.log(authFiles({ env: { TSK_HOME: "/tmp/tsk", HOME: "/root" } }));
 * ```
 */
export function authFiles(options: LoadCredentialsOptions = {}): string[] {
  const env = options.env ?? Deno.env.toObject();
  const files: string[] = [];
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE);
  try {
    files.push(join(tskHome({ env }), "auth.json"));
  } catch { /* neither TSK_HOME nor HOME: skip */ }
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, "containers", "auth.json"));
  if (env.DOCKER_CONFIG) files.push(join(env.DOCKER_CONFIG, "config.json"));
  else if (env.HOME) files.push(join(env.HOME, ".docker", "config.json"));
  return files;
}

function decode(entry: Record<string, unknown>, where: string): Credentials | undefined {
  if (typeof entry.auth === "string" && entry.auth !== "") {
    let text: string;
    try {
      text = new TextDecoder().decode(Uint8Array.from(atob(entry.auth), (c) => c.charCodeAt(0)));
    } catch (err) {
      throw new ValidationError(`${where}.auth`, "expected base64 of USER:PASSWORD", {
        cause: err,
      });
    }
    const i = text.indexOf(":");
    if (i <= 0) throw new ValidationError(`${where}.auth`, "expected base64 of USER:PASSWORD");
    return { username: text.slice(0, i), password: text.slice(i + 1) };
  }
  if (typeof entry.username === "string" && typeof entry.password === "string") {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/**
 * Finds credentials for a registry host in the auth files (the first file
 * that names the host wins). Entries keyed by a URL (`https://HOST/v1/`)
 * match their host too. Credential helpers (`credsStore`) are not run.
 *
 * @param host The registry's `host[:port]`.
 * @param options The environment.
 * @returns The credentials, or undefined.
 * @throws {ValidationError} When an auth file is malformed, naming the file and entry.
 *
 * @example Credentials for a local registry
 * ```ts
 * import { loadCredentials } from "@tsk/image";
 * const creds = await loadCredentials("localhost:5000", { env: { TSK_HOME: "/nonexistent" } });
 * console.log(creds); // undefined
 * ```
 */
export async function loadCredentials(
  host: string,
  options: LoadCredentialsOptions = {},
): Promise<Credentials | undefined> {
  for (const file of authFiles(options)) {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) {
        continue;
      }
      throw err;
    }
    let doc: { auths?: Record<string, Record<string, unknown>> };
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new ValidationError(file, `expected JSON: ${(err as Error).message}`, { cause: err });
    }
    for (const [key, entry] of Object.entries(doc.auths ?? {})) {
      const keyHost = key.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
      if (keyHost !== host) continue;
      const creds = decode(entry ?? {}, `${file}: auths[${JSON.stringify(key)}]`);
      if (creds) return creds;
    }
  }
  return undefined;
}
