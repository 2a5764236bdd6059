/**
 * Content digests (`sha256:<64 hex>`): parsing, validation, computing and
 * verifying, also while streaming.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { DigestMismatchError, ValidationError } from "../errors.ts";

/** A content digest such as `sha256:e3b0c442...`. */
export type Digest = string;

/** Digest algorithms we compute and accept, with the length of their hex. */
const ALGORITHMS: Record<string, number> = { sha256: 64, sha512: 128 };

/** A digest split into its algorithm and its lower-case hex encoding. */
export interface ParsedDigest {
  /** `sha256` or `sha512`. */
  algorithm: "sha256" | "sha512";
  /** The lower-case hex encoding. */
  hex: string;
}

/**
 * Parses and validates a digest.
 *
 * @param value The value to check (anything: it comes from JSON).
 * @param field The field it came from, named in the error.
 * @returns The algorithm and hex.
 * @throws {ValidationError} When it is not `sha256:<64 hex>` or `sha512:<128 hex>`.
 *
 * @example Split a digest
 * ```ts
 * import { parseDigest } from "@tsk/image";
 * const d = parseDigest("sha256:" + "a".repeat(64));
 * console.log(d.algorithm); // "sha256"
 * ```
 */
export function parseDigest(value: unknown, field = "digest"): ParsedDigest {
  if (typeof value === "string") {
    const m = /^([a-z0-9]+):([a-f0-9]+)$/.exec(value);
    if (m && ALGORITHMS[m[1]] === m[2].length) {
      return { algorithm: m[1] as ParsedDigest["algorithm"], hex: m[2] };
    }
  }
  throw new ValidationError(field, `expected sha256:<64 hex>, got ${show(value)}`);
}

/**
 * Returns whether a value is a well-formed digest.
 *
 * @param value Anything.
 * @returns True for `sha256:<64 hex>` and `sha512:<128 hex>`.
 *
 * @example Check a digest
 * ```ts
 * import { isDigest } from "@tsk/image";
 * console.log(isDigest("sha256:abc")); // false
 * ```
 */
export function isDigest(value: unknown): value is Digest {
  try {
    parseDigest(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Computes the sha256 digest of some bytes.
 *
 * @param data The bytes, or a string encoded as UTF-8.
 * @returns `sha256:<hex>`.
 *
 * @example Digest of nothing
 * ```ts
 * import { sha256Digest } from "@tsk/image";
 * console.log(sha256Digest(new Uint8Array())); // sha256:e3b0c442...
 * ```
 */
export function sha256Digest(data: Uint8Array | string): Digest {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/**
 * Checks that bytes hash to a digest.
 *
 * @param data The bytes.
 * @param expected The digest they must have.
 * @throws {DigestMismatchError} When they do not.
 * @throws {ValidationError} When `expected` is not a digest.
 *
 * @example Verify a blob
 * ```ts
 * import { sha256Digest, verifyDigest } from "@tsk/image";
 * const bytes = new TextEncoder().encode("hi");
 * verifyDigest(bytes, sha256Digest(bytes));
 * ```
 */
export function verifyDigest(data: Uint8Array, expected: string): void {
  const verifier = new DigestVerifier(expected);
  verifier.update(data);
  verifier.verify();
}

/**
 * Hashes bytes as they stream past and checks them against an expected
 * digest at the end (also usable without one, to learn the digest).
 *
 * @example Verify while streaming
 * ```ts
 * import { DigestVerifier, sha256Digest } from "@tsk/image";
 * const bytes = new TextEncoder().encode("hello");
 * const v = new DigestVerifier(sha256Digest(bytes));
 * v.update(bytes.subarray(0, 2));
 * v.update(bytes.subarray(2));
 * v.verify();
 * ```
 */
export class DigestVerifier {
  /** The digest the bytes must have, if one was given. */
  readonly expected: Digest | undefined;
  /** How many bytes have passed. */
  size = 0;
  #hash: Hash;
  #algorithm: string;
  #result: Digest | undefined;

  /**
   * Starts a hash.
   *
   * @param expected The digest to check against; its algorithm is used. Without it, sha256.
   */
  constructor(expected?: string) {
    if (expected !== undefined) {
      const parsed = parseDigest(expected, "expected digest");
      this.expected = expected as Digest;
      this.#algorithm = parsed.algorithm;
    } else {
      this.#algorithm = "sha256";
    }
    this.#hash = createHash(this.#algorithm);
  }

  /**
   * Adds bytes to the hash.
   *
   * @param chunk The next bytes.
   */
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.size += chunk.byteLength;
  }

  /**
   * Finishes the hash.
   *
   * @returns The digest of every byte passed to `update`.
   */
  digest(): Digest {
    this.#result ??= `${this.#algorithm}:${this.#hash.digest("hex")}`;
    return this.#result;
  }

  /**
   * Finishes the hash and checks it.
   *
   * @returns The digest.
   * @throws {DigestMismatchError} When an expected digest was given and differs.
   */
  verify(): Digest {
    const actual = this.digest();
    if (this.expected !== undefined && actual !== this.expected) {
      throw new DigestMismatchError(this.expected, actual);
    }
    return actual;
  }
}

/**
 * Returns a transform stream that passes bytes through unchanged and, when
 * the input ends, fails the stream if they did not hash to `expected`. So a
 * reader never sees the end of a stream with a wrong digest.
 *
 * @param expected The digest the bytes must have.
 * @param size The exact length the bytes must have, when known.
 * @returns The stream and its verifier (for the digest and size afterwards).
 *
 * @example Verify a download as it streams
 * ```ts
 * import { sha256Digest, verifyingStream } from "@tsk/image";
 * const bytes = new TextEncoder().encode("x");
 * const { stream } = verifyingStream(sha256Digest(bytes));
 * await new Response(new Blob([bytes]).stream().pipeThrough(stream)).arrayBuffer();
 * ```
 */
export function verifyingStream(
  expected: string,
  size?: number,
): { stream: TransformStream<Uint8Array, Uint8Array>; verifier: DigestVerifier } {
  const verifier = new DigestVerifier(expected);
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      verifier.update(chunk);
      if (size !== undefined && verifier.size > size) {
        throw new DigestMismatchError(expected, `more than ${size} bytes`);
      }
      controller.enqueue(chunk);
    },
    flush() {
      if (size !== undefined && verifier.size !== size) {
        throw new DigestMismatchError(expected, `${verifier.size} bytes instead of ${size}`);
      }
      verifier.verify();
    },
  });
  return { stream, verifier };
}

function show(value: unknown): string {
  const s = typeof value === "string" ? JSON.stringify(value) : String(value);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
