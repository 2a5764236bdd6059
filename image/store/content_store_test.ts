import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { ContentStore } from "./content_store.ts";
import { sha256Digest } from "../oci/digest.ts";
import { DigestMismatchError, ImageError, NotFoundError, ValidationError } from "../errors.ts";

async function withStore(fn: (s: ContentStore, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "tsk-cs-" });
  try {
    await fn(new ContentStore(dir), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ContentStore.put() streams, hashes and stores at the digest path", async () => {
  await withStore(async (s, dir) => {
    const bytes = new Uint8Array(randomBytes(200_000));
    const stream = new Blob([bytes]).stream();
    let seen = 0;
    const info = await s.put(stream, { onProgress: (n) => (seen = n) });
    assert.equal(info.digest, sha256Digest(bytes));
    assert.equal(info.size, bytes.length);
    assert.equal(seen, bytes.length);
    assert.equal(s.path(info.digest), join(dir, "blobs", "sha256", info.digest.slice(7)));
    assert.deepEqual(await s.get(info.digest), bytes);
    const streamed = new Uint8Array(await new Response(await s.open(info.digest)).arrayBuffer());
    assert.deepEqual(streamed, bytes);
    assert.deepEqual(await s.list(), [info.digest]);
  });
});

Deno.test("ContentStore.put() with a wrong expected digest stores nothing", async () => {
  await withStore(async (s, dir) => {
    await assert.rejects(
      s.put("abc", { expected: sha256Digest("abd") }),
      DigestMismatchError,
    );
    await assert.rejects(s.put("abc", { size: 2 }), DigestMismatchError);
    assert.deepEqual(await s.list(), []);
    assert.deepEqual([...Deno.readDirSync(join(dir, "ingest"))], []);
  });
});

/** A byte stream (as fetch bodies are) handing out `bytes` in chunks of `n`. */
function byteStream(bytes: Uint8Array, n: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    type: "bytes",
    pull(ctrl) {
      if (off >= bytes.length) {
        ctrl.close();
        ctrl.byobRequest?.respond(0);
        return;
      }
      const chunk = bytes.subarray(off, off + n);
      off += chunk.length;
      const req = ctrl.byobRequest;
      if (req?.view) {
        const into = new Uint8Array(req.view.buffer, req.view.byteOffset, req.view.byteLength);
        const k = Math.min(into.length, chunk.length);
        into.set(chunk.subarray(0, k));
        off -= chunk.length - k;
        req.respond(k);
      } else ctrl.enqueue(chunk.slice());
    },
  });
}

Deno.test("ContentStore.put() reads byte streams into its buffers across many writes", async () => {
  await withStore(async (s, dir) => {
    const bytes = new Uint8Array(randomBytes((3 << 20) + 12_345));
    const stream = byteStream(bytes, 70_001);
    assert.ok(stream.getReader({ mode: "byob" }).releaseLock() === undefined);
    let seen = 0;
    const info = await s.put(stream, {
      expected: sha256Digest(bytes),
      size: bytes.length,
      onProgress: (n) => (seen = n),
    });
    assert.equal(info.digest, sha256Digest(bytes));
    assert.equal(seen, bytes.length);
    assert.deepEqual(await s.get(info.digest), bytes);
    // A wrong digest, a longer and a shorter stream than announced: nothing is stored.
    const other = new Uint8Array(randomBytes(1_500_000));
    await assert.rejects(
      s.put(byteStream(other, 65536), { expected: sha256Digest("not these bytes") }),
      DigestMismatchError,
    );
    await assert.rejects(
      s.put(byteStream(other, 65536), { size: other.length - 1 }),
      /more than 1499999 bytes/,
    );
    await assert.rejects(
      s.put(byteStream(other, 65536), { size: other.length + 1 }),
      /1500000 bytes instead of 1500001/,
    );
    assert.deepEqual(await s.list(), [info.digest]);
    assert.deepEqual([...Deno.readDirSync(join(dir, "ingest"))], []);
  });
});

Deno.test("ContentStore concurrent writers of the same blob all succeed", async () => {
  await withStore(async (s) => {
    const bytes = new Uint8Array(randomBytes(300_000));
    const chunks = (n: number) =>
      (async function* () {
        for (let i = 0; i < bytes.length; i += n) {
          await new Promise((r) => setTimeout(r, 0));
          yield bytes.slice(i, i + n);
        }
      })();
    const results = await Promise.all([1000, 4096, 7777, 65536].map((n) => s.put(chunks(n))));
    for (const r of results) assert.equal(r.digest, sha256Digest(bytes));
    assert.deepEqual(await s.get(results[0].digest), bytes);
    assert.equal((await s.list()).length, 1);
  });
});

Deno.test("ContentStore.get() detects a blob altered on disk", async () => {
  await withStore(async (s) => {
    const { digest } = await s.put("original");
    await Deno.writeTextFile(s.path(digest), "tampered");
    await assert.rejects(
      s.get(digest),
      (e: unknown) => e instanceof ImageError && /corrupt/.test(String(e)),
    );
    await assert.rejects(new Response(await s.open(digest)).arrayBuffer(), DigestMismatchError);
  });
});

Deno.test("ContentStore refuses malformed digests so no path escapes the store", async () => {
  await withStore(async (s) => {
    assert.throws(() => s.path("sha256:../../etc/passwd"), ValidationError);
    await assert.rejects(s.get("sha256:" + "0".repeat(64)), NotFoundError);
  });
});
