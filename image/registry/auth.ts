/**
 * Registry authentication: `WWW-Authenticate` challenges, basic auth, and
 * bearer tokens fetched from the realm a challenge names (as Docker Hub and
 * the distribution registry's token auth use).
 *
 * @module
 */
import { RegistryError } from "../errors.ts";

/** A username and password (or identity token) for one registry. */
export interface Credentials {
  /** The user name. */
  username: string;
  /** The password or token. */
  password: string;
}

/** A parsed `WWW-Authenticate` challenge. */
export interface Challenge {
  /** `basic` or `bearer` (lower case). */
  scheme: string;
  /** The parameters: `realm`, `service`, `scope`, ... */
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header (the first challenge in it).
 *
 * @param header The header value.
 * @returns The scheme and parameters, or undefined when empty.
 *
 * @example Parse a bearer challenge
 * ```ts
 * import { parseChallenge } from "@tsk/image";
 * const c = parseChallenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"');
 * console.log(c?.params.service); // "reg"
 * ```
 */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2])) !== null) {
    if (p[0] === "") break;
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3];
  }
  return { scheme: m[1].toLowerCase(), params };
}

/** Options for {@linkcode Authenticator}. */
export interface AuthenticatorOptions {
  /**
   * Credentials for the registry (only ever sent to it and to the token
   * realm it names on the same host name or over https).
   * @default undefined (anonymous)
   */
  credentials?: Credentials;
  /**
   * The fetch used for token requests.
   * @default globalThis.fetch
   */
  fetch?: typeof fetch;
}

function basic(c: Credentials): string {
  const bytes = new TextEncoder().encode(`${c.username}:${c.password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/**
 * Produces `Authorization` headers for one registry host, answering its
 * challenges and caching tokens per scope.
 *
 * @example Answer a basic challenge
 * ```ts
 * import { Authenticator } from "@tsk/image";
 * const auth = new Authenticator("127.0.0.1:5000", { credentials: { username: "u", password: "p" } });
 * await auth.answer({ scheme: "basic", params: {} }, "repository:app:pull");
 * console.log(auth.header("repository:app:pull")); // "Basic dTpw"
 * ```
 */
export class Authenticator {
  /** The registry host (`host[:port]`) the credentials belong to. */
  readonly host: string;
  #creds?: Credentials;
  #fetch: typeof fetch;
  #scheme: "basic" | "bearer" | undefined;
  #tokens = new Map<string, { token: string; expires: number }>();
  #lastChallenge: Challenge | undefined;

  /**
   * Creates an authenticator for a registry host.
   *
   * @param host The registry's `host[:port]`.
   * @param options Credentials and the fetch to use.
   */
  constructor(host: string, options: AuthenticatorOptions = {}) {
    this.host = host;
    this.#creds = options.credentials;
    this.#fetch = options.fetch ?? fetch;
  }

  /**
   * Returns the Authorization header to send for a scope, if one is known.
   *
   * @param scope The scope the request needs (`repository:NAME:pull`).
   * @returns The header value, or undefined.
   */
  header(scope: string): string | undefined {
    if (this.#scheme === "basic" && this.#creds) return basic(this.#creds);
    if (this.#scheme === "bearer") {
      const t = this.#tokens.get(scope);
      if (t && t.expires > Date.now()) return `Bearer ${t.token}`;
    }
    return undefined;
  }

  /**
   * Answers a challenge for a scope: remembers basic, or fetches a token.
   *
   * @param challenge The parsed `WWW-Authenticate` header.
   * @param scope The scope the request needs.
   * @throws {RegistryError} When the challenge cannot be answered.
   */
  async answer(challenge: Challenge, scope: string): Promise<void> {
    this.#lastChallenge = challenge;
    if (challenge.scheme === "basic") {
      if (!this.#creds) {
        throw new RegistryError(
          `Registry ${this.host} requires credentials (basic auth)`,
          401,
          "UNAUTHORIZED",
        );
      }
      this.#scheme = "basic";
      return;
    }
    if (challenge.scheme !== "bearer") {
      throw new RegistryError(
        `Registry ${this.host}: unsupported auth scheme ${challenge.scheme}`,
        401,
      );
    }
    const realm = challenge.params.realm;
    if (!realm) {
      throw new RegistryError(`Registry ${this.host}: bearer challenge without a realm`, 401);
    }
    let url: URL;
    try {
      url = new URL(realm);
    } catch (err) {
      throw new RegistryError(
        `Registry ${this.host}: bad token realm ${JSON.stringify(realm)}`,
        401,
        undefined,
        {
          cause: err,
        },
      );
    }
    if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
    const scopes = new Set(
      [...scope.split(" "), ...(challenge.params.scope ?? "").split(" ")].filter(Boolean),
    );
    for (const s of scopes) url.searchParams.append("scope", s);
    const headers: Record<string, string> = {};
    const registryHostname = new URL(`http://${this.host}`).hostname;
    // Credentials go to the realm only when it is this registry's host name, or over TLS.
    if (this.#creds && (url.hostname === registryHostname || url.protocol === "https:")) {
      headers.authorization = basic(this.#creds);
    }
    const res = await this.#fetch(url, { headers, redirect: "error" }).catch((err) => {
      throw new RegistryError(
        `Cannot get a token from ${url.origin}: ${(err as Error).message}`,
        undefined,
        undefined,
        {
          cause: err,
        },
      );
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new RegistryError(
        `Token server ${url.origin} refused ${[...scopes].join(" ")}: HTTP ${res.status}`,
        res.status,
        res.status === 401 ? "UNAUTHORIZED" : "DENIED",
      );
    }
    const body = await res.json().catch(() => ({})) as Record<string, unknown>;
    const token = (body.token ?? body.access_token) as string | undefined;
    if (typeof token !== "string" || token === "") {
      throw new RegistryError(`Token server ${url.origin} answered without a token`, res.status);
    }
    const ttl = typeof body.expires_in === "number" ? body.expires_in : 60;
    this.#scheme = "bearer";
    this.#tokens.set(scope, { token, expires: Date.now() + Math.max(ttl - 5, 5) * 1000 });
  }

  /** The last challenge received (for error messages). */
  get lastChallenge(): Challenge | undefined {
    return this.#lastChallenge;
  }
}
