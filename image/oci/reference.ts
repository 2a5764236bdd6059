/**
 * Image references: `[registry/]repository[:tag][@digest]`, as Docker and
 * the distribution spec write them.
 *
 * @module
 */
import { ValidationError } from "../errors.ts";
import { type Digest, parseDigest } from "./digest.ts";

/** A parsed image reference. */
export interface Reference {
  /** The registry host (with port), when the reference names one: `localhost:5000`. */
  registry?: string;
  /** The repository path: `library/busybox`, `team/app`. */
  repository: string;
  /** The tag, when given. */
  tag?: string;
  /** The digest, when given. */
  digest?: Digest;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?$/;

/**
 * Parses an image reference. The first path component is a registry when it
 * contains `.` or `:` or is `localhost`, as in Docker.
 *
 * @param text The reference, e.g. `localhost:5000/team/app:1.0`.
 * @param field The field it came from, named in errors.
 * @returns The parts.
 * @throws {ValidationError} When a part is malformed, naming it.
 *
 * @example Parse a reference with a registry and tag
 * ```ts
 * import { parseReference } from "@tsk/image";
 * const r = parseReference("localhost:5000/team/app:1.0");
 * console.log(r.registry, r.repository, r.tag); // localhost:5000 team/app 1.0
 * ```
 */
export function parseReference(text: string, field = "reference"): Reference {
  if (typeof text !== "string" || text === "" || text.length > 4096) {
    throw new ValidationError(
      field,
      `expected an image reference such as app:1.0, got ${JSON.stringify(text)}`,
    );
  }
  let rest = text;
  let digest: Digest | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    parseDigest(rest.slice(at + 1), `${field} digest`);
    digest = rest.slice(at + 1) as Digest;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) {
      throw new ValidationError(
        `${field} tag`,
        `expected [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, got ${JSON.stringify(tag)}`,
      );
    }
  }
  const parts = rest.split("/");
  let registry: string | undefined;
  if (parts.length > 1 && (/[.:]/.test(parts[0]) || parts[0] === "localhost")) {
    registry = parts.shift()!;
    if (!HOST.test(registry)) {
      throw new ValidationError(
        `${field} registry`,
        `expected host[:port], got ${JSON.stringify(registry)}`,
      );
    }
  }
  for (const p of parts) {
    if (!COMPONENT.test(p)) {
      throw new ValidationError(
        `${field} repository`,
        `expected lower-case components of [a-z0-9._-] separated by /, got ${
          JSON.stringify(parts.join("/"))
        }`,
      );
    }
  }
  const ref: Reference = { repository: parts.join("/") };
  if (registry) ref.registry = registry;
  if (tag) ref.tag = tag;
  if (digest) ref.digest = digest;
  return ref;
}

/**
 * Formats a reference back to text.
 *
 * @param ref The parts.
 * @returns `[registry/]repository[:tag][@digest]`.
 *
 * @example Round-trip a reference
 * ```ts
 * import { formatReference, parseReference } from "@tsk/image";
 * console.log(formatReference(parseReference("app:1"))); // "app:1"
 * ```
 */
export function formatReference(ref: Reference): string {
  return `${ref.registry ? ref.registry + "/" : ""}${ref.repository}${
    ref.tag ? ":" + ref.tag : ""
  }${ref.digest ? "@" + ref.digest : ""}`;
}
