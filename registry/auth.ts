/**
 * Access control: none, htpasswd (bcrypt) basic auth, or bearer tokens from
 * the registry's own token endpoint, scoped to repositories and actions
 * (`repository:<name>:pull,push,delete`) as in Docker's token protocol.
 * Tokens are JWTs signed with HMAC-SHA256 through WebCrypto.
 *
 * @module
 */
import bcrypt from "bcryptjs";
import { createHash } from "node:crypto";
import { ConfigError, RegistryError } from "./errors.ts";

/** How clients authenticate. */
export type AuthMode = "none" | "htpasswd" | "token";

/** One access rule: which accounts may do which actions on which repositories. */
export interface AccessRule {
  /** An account name, or `*` for any authenticated account, or `anonymous`. */
  account: string;
  /** A repository name pattern; `*` matches any run of characters. */
  name: string;
  /** Actions granted: `pull`, `push`, `delete`, or `*`. */
  actions: string[];
}

/** Options for {@linkcode Auth}. */
export interface AuthOptions {
  /**
   * The mode.
   * @default "none"
   */
  mode?: AuthMode;
  /**
   * The htpasswd file's contents (bcrypt entries only), for `htpasswd` and `token`.
   * @default ""
   */
  htpasswd?: string;
  /**
   * Rules granting access. With none, every authenticated account may pull,
   * push and delete everywhere, and anonymous clients nothing.
   * @default []
   */
  access?: AccessRule[];
  /**
   * The service name in tokens and challenges.
   * @default "tsk-registry"
   */
  service?: string;
  /**
   * The token endpoint's URL in challenges; derived from the request when unset.
   * @default undefined
   */
  realm?: string;
  /**
   * Token lifetime in seconds.
   * @default 300
   */
  tokenTtl?: number;
  /**
   * The HMAC key for tokens; random per process when unset (tokens then die with it).
   * @default undefined
   */
  secret?: string;
  /**
   * The clock, in ms since the epoch.
   * @default Date.now
   */
  now?: () => number;
}

/** An access the request needs, in token-scope form. */
export interface Access {
  /** `repository`, or `registry` for the catalog. */
  type: "repository" | "registry";
  /** The repository name (or `catalog`). */
  name: string;
  /** `pull`, `push`, `delete` (or `*`). */
  actions: string[];
}

const ALL_ACTIONS = ["pull", "push", "delete"];

function globToRegExp(glob: string): RegExp {
  const esc = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${esc}$`);
}

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromB64url(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/**
 * Parses an htpasswd file, keeping bcrypt entries.
 *
 * @param text The file's contents.
 * @returns Account name to bcrypt hash.
 */
export function parseHtpasswd(text: string): Map<string, string> {
  const users = new Map<string, string>();
  text.split("\n").forEach((line, i) => {
    line = line.trim();
    if (line === "" || line.startsWith("#")) return;
    const at = line.indexOf(":");
    const hash = line.slice(at + 1);
    if (at <= 0 || !/^\$2[aby]\$\d\d\$/.test(hash)) {
      throw new ConfigError(`htpasswd: line ${i + 1}: expected user:bcrypt-hash (htpasswd -B)`);
    }
    users.set(line.slice(0, at), hash);
  });
  return users;
}

/** Parses a scope string such as `repository:a/b:pull,push`. */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(":");
  const lastColon = scope.lastIndexOf(":");
  if (first < 0 || lastColon === first) return undefined;
  const type = scope.slice(0, first);
  if (type !== "repository" && type !== "registry") return undefined;
  return {
    type,
    name: scope.slice(first + 1, lastColon),
    actions: scope.slice(lastColon + 1).split(",").filter((a) => a !== ""),
  };
}

/**
 * The registry's authenticator.
 *
 * @example Allow everything
 * ```ts
 * import { Auth } from "@tsk/registry";
 * const auth = await Auth.create({ mode: "none" });
 * await auth.authorize(new Request("http://localhost/v2/"), []);
 * ```
 */
export class Auth {
  /** The mode. */
  readonly mode: AuthMode;
  #users: Map<string, string>;
  #rules: { account: string; name: RegExp; actions: string[] }[];
  #service: string;
  #realm: string | undefined;
  #ttl: number;
  #key: CryptoKey;
  #now: () => number;
  #verified = new Map<string, number>();

  private constructor(options: AuthOptions, key: CryptoKey) {
    this.mode = options.mode ?? "none";
    this.#users = parseHtpasswd(options.htpasswd ?? "");
    this.#rules = (options.access ?? []).map((r) => ({
      account: r.account,
      name: globToRegExp(r.name),
      actions: r.actions.includes("*") ? ALL_ACTIONS : r.actions,
    }));
    this.#service = options.service ?? "tsk-registry";
    this.#realm = options.realm;
    this.#ttl = options.tokenTtl ?? 300;
    this.#key = key;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Makes an authenticator.
   *
   * @param options Mode, users, rules, token settings.
   * @returns The authenticator.
   */
  static async create(options: AuthOptions = {}): Promise<Auth> {
    const mode = options.mode ?? "none";
    if (!["none", "htpasswd", "token"].includes(mode)) {
      throw new ConfigError(`auth.mode: expected none, htpasswd or token, got ${mode}`);
    }
    if (mode !== "none" && !options.htpasswd) {
      throw new ConfigError(`auth.htpasswd: required when auth.mode is ${mode}`);
    }
    const raw = options.secret
      ? new TextEncoder().encode(options.secret)
      : crypto.getRandomValues(new Uint8Array(32));
    const key = await crypto.subtle.importKey(
      "raw",
      raw,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    return new Auth(options, key);
  }

  /**
   * The actions `account` may do on `access` (anonymous when undefined).
   *
   * @param account The account, or undefined.
   * @param access What is asked.
   * @returns The granted subset of the actions.
   */
  allowed(account: string | undefined, access: Access): string[] {
    let granted: string[];
    if (this.#rules.length === 0) granted = account === undefined ? [] : ALL_ACTIONS;
    else {
      const set = new Set<string>();
      for (const r of this.#rules) {
        const who = r.account === "*"
          ? account !== undefined
          : r.account === "anonymous"
          ? true
          : r.account === account;
        if (who && (access.type === "registry" || r.name.test(access.name))) {
          r.actions.forEach((a) => set.add(a));
        }
      }
      granted = [...set];
    }
    if (access.type === "registry") {
      // The catalog goes to accounts that may pull everything.
      return account !== undefined && granted.includes("pull") ? access.actions : [];
    }
    return access.actions.filter((a) => granted.includes(a));
  }

  async #basic(req: Request): Promise<string | undefined> {
    const h = req.headers.get("Authorization");
    if (!h || !h.startsWith("Basic ")) return undefined;
    let user: string, pass: string;
    try {
      const dec = atob(h.slice(6).trim());
      const at = dec.indexOf(":");
      if (at < 0) throw new Error("no colon");
      user = dec.slice(0, at);
      pass = dec.slice(at + 1);
    } catch (err) {
      throw new RegistryError("UNAUTHORIZED", "Authorization: malformed basic credentials", {
        cause: err,
        headers: this.#challengeHeaders(req, []),
      });
    }
    const hash = this.#users.get(user);
    // bcrypt is slow on purpose; remember recent successes by a hash of the pair.
    const memo = createHash("sha256").update(`${user}\u0000${pass}\u0000${hash}`).digest("hex");
    const until = this.#verified.get(memo);
    if (until !== undefined && until > this.#now()) return user;
    if (hash === undefined || !(await bcrypt.compare(pass, hash))) {
      throw new RegistryError(
        "UNAUTHORIZED",
        `Authorization: wrong user name or password for ${user}`,
        {
          headers: this.#challengeHeaders(req, []),
        },
      );
    }
    if (this.#verified.size > 10_000) this.#verified.clear();
    this.#verified.set(memo, this.#now() + 60_000);
    return user;
  }

  #realmFor(req: Request): string {
    return this.#realm ?? `${new URL(req.url).origin}/token`;
  }

  #challengeHeaders(req: Request, needed: Access[], error?: string): Record<string, string> {
    if (this.mode === "token") {
      let v = `Bearer realm="${this.#realmFor(req)}",service="${this.#service}"`;
      if (needed.length > 0) {
        v += `,scope="${
          needed.map((a) => `${a.type}:${a.name}:${a.actions.join(",")}`).join(" ")
        }"`;
      }
      if (error) v += `,error="${error}"`;
      return { "WWW-Authenticate": v };
    }
    return { "WWW-Authenticate": `Basic realm="${this.#service}"` };
  }

  /**
   * Checks that the request may do everything in `needed`; throws
   * UNAUTHORIZED (with a challenge) or DENIED otherwise.
   *
   * @param req The request.
   * @param needed The accesses needed; empty for just being signed in.
   * @returns The account name, if any.
   */
  async authorize(req: Request, needed: Access[]): Promise<string | undefined> {
    if (this.mode === "none") return undefined;
    if (this.mode === "htpasswd") {
      const user = await this.#basic(req);
      const anonymousOk = needed.length > 0 &&
        needed.every((a) => this.allowed(undefined, a).length === a.actions.length);
      if (user === undefined && !anonymousOk) {
        throw new RegistryError("UNAUTHORIZED", "Authorization: credentials required", {
          headers: this.#challengeHeaders(req, needed),
        });
      }
      for (const a of needed) {
        if (this.allowed(user, a).length !== a.actions.length) {
          throw new RegistryError(
            "DENIED",
            `access: ${user ?? "anonymous"} may not ${a.actions.join(",")} ${a.name}`,
          );
        }
      }
      return user;
    }
    const h = req.headers.get("Authorization");
    if (!h || !h.startsWith("Bearer ")) {
      throw new RegistryError("UNAUTHORIZED", "Authorization: a bearer token is required", {
        headers: this.#challengeHeaders(req, needed),
      });
    }
    const claims = await this.verifyToken(h.slice(7).trim()).catch((err) => {
      throw new RegistryError("UNAUTHORIZED", `Authorization: ${(err as Error).message}`, {
        cause: err,
        headers: this.#challengeHeaders(req, needed, "invalid_token"),
      });
    });
    for (const a of needed) {
      const have = new Set<string>();
      for (const g of claims.access) {
        if (g.type === a.type && g.name === a.name) g.actions.forEach((x) => have.add(x));
      }
      if (!a.actions.every((x) => have.has(x))) {
        throw new RegistryError(
          "UNAUTHORIZED",
          `Authorization: the token does not grant ${a.actions.join(",")} on ${a.name}`,
          { headers: this.#challengeHeaders(req, needed, "insufficient_scope") },
        );
      }
    }
    return claims.sub || undefined;
  }

  /**
   * Signs a token for `account` granting `access`.
   *
   * @param account The subject ("" for anonymous).
   * @param access The grants.
   * @returns The JWT.
   */
  async signToken(account: string, access: Access[]): Promise<string> {
    const now = Math.floor(this.#now() / 1000);
    const enc = new TextEncoder();
    const head = b64url(enc.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
    const body = b64url(enc.encode(JSON.stringify({
      iss: this.#service,
      sub: account,
      aud: this.#service,
      iat: now,
      nbf: now - 5,
      exp: now + this.#ttl,
      jti: crypto.randomUUID(),
      access,
    })));
    const sig = await crypto.subtle.sign("HMAC", this.#key, enc.encode(`${head}.${body}`));
    return `${head}.${body}.${b64url(new Uint8Array(sig))}`;
  }

  /**
   * Verifies a token's signature, audience and lifetime.
   *
   * @param token The JWT.
   * @returns Its subject and grants.
   */
  async verifyToken(token: string): Promise<{ sub: string; access: Access[] }> {
    const parts = token.split(".");
    if (parts.length !== 3) throw new Error("token: expected a JWT of three parts");
    const ok = await crypto.subtle.verify(
      "HMAC",
      this.#key,
      fromB64url(parts[2]),
      new TextEncoder().encode(`${parts[0]}.${parts[1]}`),
    );
    if (!ok) throw new Error("token: bad signature");
    const claims = JSON.parse(new TextDecoder().decode(fromB64url(parts[1])));
    const now = Math.floor(this.#now() / 1000);
    if (claims.aud !== this.#service) throw new Error(`token: audience is not ${this.#service}`);
    if (typeof claims.exp !== "number" || claims.exp < now) throw new Error("token: expired");
    if (typeof claims.nbf === "number" && claims.nbf > now) throw new Error("token: not yet valid");
    return {
      sub: String(claims.sub ?? ""),
      access: Array.isArray(claims.access) ? claims.access : [],
    };
  }

  /**
   * The token endpoint (`GET /token?service=&scope=`): authenticates with
   * basic credentials (or none, for anonymous grants) and returns a token
   * for the requested scopes that the account is allowed.
   *
   * @param req The request.
   * @returns The token response.
   */
  async tokenResponse(req: Request): Promise<Response> {
    if (this.mode !== "token") {
      throw new RegistryError("UNSUPPORTED", "token: the registry does not use token auth", {
        status: 404,
      });
    }
    const user = await this.#basic(req);
    const url = new URL(req.url);
    const access: Access[] = [];
    for (const s of url.searchParams.getAll("scope").flatMap((v) => v.split(" "))) {
      const a = parseScope(s);
      if (!a) continue;
      const actions = this.allowed(user, a);
      if (actions.length > 0) access.push({ ...a, actions });
    }
    const token = await this.signToken(user ?? "", access);
    return Response.json({
      token,
      access_token: token,
      expires_in: this.#ttl,
      issued_at: new Date(this.#now()).toISOString(),
    });
  }
}
