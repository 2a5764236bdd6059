/**
 * Validation of the names the distribution spec defines: repository names,
 * tags and digests. Kept private until `@tsk/image` exports digest parsing.
 *
 * @module
 */
import { RegistryError } from "./errors.ts";

const NAME_COMPONENT = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*";
const NAME_RE = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST_RE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

/** Digest algorithms the registry can verify, with their hex length. */
export const DIGEST_ALGORITHMS: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };

/** The longest repository name accepted, as in the distribution registry. */
export const MAX_NAME_LENGTH = 255;

/** Throws NAME_INVALID unless `name` is a valid repository name. */
export function checkName(name: string): void {
  if (name.length > MAX_NAME_LENGTH || !NAME_RE.test(name)) {
    throw new RegistryError(
      "NAME_INVALID",
      `name: expected a repository name matching ${NAME_RE.source}, got ${JSON.stringify(name)}`,
    );
  }
}

/** Whether `ref` is a valid tag. */
export function isTag(ref: string): boolean {
  return TAG_RE.test(ref);
}

/** A parsed digest. */
export interface ParsedDigest {
  algorithm: string;
  hex: string;
}

/**
 * Parses a digest, throwing DIGEST_INVALID when its form is wrong or its
 * algorithm is not one the registry can verify.
 */
export function parseDigest(digest: string, field = "digest"): ParsedDigest {
  const m = DIGEST_RE.exec(digest);
  if (!m) {
    throw new RegistryError(
      "DIGEST_INVALID",
      `${field}: expected algorithm:hex, got ${JSON.stringify(digest)}`,
    );
  }
  const [, algorithm, hex] = m;
  const len = DIGEST_ALGORITHMS[algorithm];
  if (len === undefined) {
    throw new RegistryError(
      "DIGEST_INVALID",
      `${field}: unsupported algorithm ${algorithm}: expected sha256 or sha512`,
    );
  }
  if (hex.length !== len || !/^[a-f0-9]+$/.test(hex)) {
    throw new RegistryError(
      "DIGEST_INVALID",
      `${field}: expected ${len} lowercase hex characters after ${algorithm}:, got ${
        JSON.stringify(hex)
      }`,
    );
  }
  return { algorithm, hex };
}

/** Whether a string looks like a digest (has a colon), as opposed to a tag. */
export function looksLikeDigest(ref: string): boolean {
  return ref.includes(":");
}
