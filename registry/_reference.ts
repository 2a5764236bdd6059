/**
 * Validation of the names the distribution spec defines: repository names
 * and tags here; digests by `@tsk/image`, turned into the spec's error code.
 *
 * @module
 */
import { type ParsedDigest, parseDigest as parseImageDigest } from "@tsk/image";
import { RegistryError } from "./errors.ts";

const NAME_COMPONENT = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*";
const NAME_RE = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

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

/**
 * Parses a digest, throwing DIGEST_INVALID when its form is wrong or its
 * algorithm is not one the registry can verify (sha256, sha512).
 */
export function parseDigest(digest: string, field = "digest"): ParsedDigest {
  try {
    return parseImageDigest(digest, field);
  } catch (err) {
    throw new RegistryError("DIGEST_INVALID", (err as Error).message, { cause: err });
  }
}

/** Whether a string looks like a digest (has a colon), as opposed to a tag. */
export function looksLikeDigest(ref: string): boolean {
  return ref.includes(":");
}
