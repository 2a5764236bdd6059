/**
 * Authentication: who is calling. A bearer token from the token table, or
 * the subject of a client certificate verified against the cluster CA
 * (CN is the user, O values the groups, as in Kubernetes).
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { UserInfo } from "@tsk/api";

/** One bearer token and the user it stands for. */
export interface TokenEntry {
  /** The secret token. */
  token: string;
  /** The user name. */
  user: string;
  /** The user's groups. @default [] */
  groups?: string[];
}

/** What a request presented. */
export interface Credentials {
  /** The bearer token from `Authorization: Bearer ...`. */
  bearer?: string;
  /** The subject of a client certificate the TLS layer verified. */
  certificate?: { commonName: string; organizations: string[] };
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * Maps credentials to a user. Tokens are kept only as SHA-256 digests.
 *
 * @example Authenticate a token
 * ```ts
 * import { Authenticator } from "@tsk/sched";
 * const authn = new Authenticator([{ token: "s3cret", user: "alice", groups: ["dev"] }]);
 * console.log(authn.authenticate({ bearer: "s3cret" })?.name); // "alice"
 * ```
 */
export class Authenticator {
  #tokens = new Map<string, UserInfo>();

  /**
   * Creates an authenticator.
   * @param tokens The token table.
   */
  constructor(tokens: TokenEntry[] = []) {
    for (const t of tokens) this.addToken(t);
  }

  /**
   * Adds a token.
   * @param entry The token and its user.
   */
  addToken(entry: TokenEntry): void {
    if (!entry.token || entry.token.length < 16) {
      throw new Error(`tokens[${entry.user}].token: expected at least 16 characters`);
    }
    this.#tokens.set(digest(entry.token), { name: entry.user, groups: entry.groups ?? [] });
  }

  /**
   * Finds the user for credentials: a client certificate wins over a token.
   * @param credentials What the request presented.
   * @returns The user, or undefined when nothing valid was presented.
   */
  authenticate(credentials: Credentials): UserInfo | undefined {
    if (credentials.certificate?.commonName) {
      return {
        name: credentials.certificate.commonName,
        groups: [...credentials.certificate.organizations, "system:authenticated"],
      };
    }
    if (credentials.bearer) {
      const u = this.#tokens.get(digest(credentials.bearer));
      if (u) return { name: u.name, groups: [...u.groups, "system:authenticated"] };
    }
    return undefined;
  }
}
