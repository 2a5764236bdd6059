import assert from "node:assert/strict";
import {
  DigestVerifier,
  isDigest,
  parseDigest,
  sha256Digest,
  verifyDigest,
  verifyingStream,
} from "./digest.ts";
import { DigestMismatchError, ValidationError } from "../errors.ts";

const EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

Deno.test("sha256Digest() matches the well-known digest of nothing", () => {
  assert.equal(sha256Digest(new Uint8Array()), EMPTY);
  assert.equal(sha256Digest(""), EMPTY);
});

Deno.test("parseDigest() rejects bad digests and names the field", () => {
  for (
    const bad of [
      "",
      "sha256:",
      "sha256:ABC",
      "md5:" + "a".repeat(32),
      "sha256:" + "a".repeat(63),
      7,
    ]
  ) {
    assert.throws(
      () => parseDigest(bad, "manifests[2].digest"),
      (e: unknown) =>
        e instanceof ValidationError && e.field === "manifests[2].digest" &&
        e.message.startsWith("manifests[2].digest: expected sha256:<64 hex>"),
    );
  }
  assert.equal(parseDigest(EMPTY).algorithm, "sha256");
  assert.equal(parseDigest("sha512:" + "0".repeat(128)).algorithm, "sha512");
  assert.ok(isDigest(EMPTY));
  assert.ok(!isDigest("sha256:" + "A".repeat(64)));
});

Deno.test("verifyDigest() throws DigestMismatchError on altered content", () => {
  const bytes = new TextEncoder().encode("hello");
  verifyDigest(bytes, sha256Digest(bytes));
  assert.throws(
    () => verifyDigest(new TextEncoder().encode("hellO"), sha256Digest(bytes)),
    DigestMismatchError,
  );
});

Deno.test("DigestVerifier hashes in chunks the same as at once", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(10000));
  const v = new DigestVerifier();
  for (let i = 0; i < bytes.length; i += 333) v.update(bytes.subarray(i, i + 333));
  assert.equal(v.digest(), sha256Digest(bytes));
  assert.equal(v.size, 10000);
});

Deno.test("verifyingStream() errors the stream on a wrong digest or size", async () => {
  const bytes = new TextEncoder().encode("content");
  const ok = verifyingStream(sha256Digest(bytes), bytes.length);
  const got = new Uint8Array(
    await new Response(new Blob([bytes]).stream().pipeThrough(ok.stream)).arrayBuffer(),
  );
  assert.deepEqual(got, bytes);
  const bad = verifyingStream(EMPTY);
  await assert.rejects(
    new Response(new Blob([bytes]).stream().pipeThrough(bad.stream)).arrayBuffer(),
    DigestMismatchError,
  );
  const short = verifyingStream(sha256Digest(bytes), 3);
  await assert.rejects(
    new Response(new Blob([bytes]).stream().pipeThrough(short.stream)).arrayBuffer(),
    DigestMismatchError,
  );
});
