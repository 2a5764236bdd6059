import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { BlobStore } from "./storage.ts";

function sha256(b: Uint8Array): string {
  return `sha256:${createHash("sha256").update(b).digest("hex")}`;
}

/** A byte stream (as request bodies are) of `bytes` in chunks of `n`, failing after `failAt` bytes. */
function body(bytes: Uint8Array, n: number, failAt = Infinity): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    type: "bytes",
    pull(ctrl) {
      if (off >= failAt) {
        ctrl.error(new Error("connection reset"));
        return;
      }
      if (off >= bytes.length) {
        ctrl.close();
        ctrl.byobRequest?.respond(0);
        return;
      }
      const chunk = bytes.subarray(off, Math.min(off + n, failAt, bytes.length));
      const req = ctrl.byobRequest;
      if (req?.view) {
        const into = new Uint8Array(req.view.buffer, req.view.byteOffset, req.view.byteLength);
        const k = Math.min(into.length, chunk.length);
        into.set(chunk.subarray(0, k));
        off += k;
        req.respond(k);
      } else {
        ctrl.enqueue(chunk.slice());
        off += chunk.length;
      }
    },
  });
}

function random(n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, i + 65536));
  return b;
}

async function withStore(fn: (s: BlobStore) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsk-blobstore-" });
  try {
    const s = new BlobStore(dir);
    await s.init();
    await fn(s);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("BlobStore.append() stores a body spanning several buffers and hashes it", async () => {
  await withStore(async (s) => {
    const data = random((2 << 20) + 54_321);
    await s.createUpload("u");
    const n = await s.append("u", body(data, 70_001), 0);
    assert.equal(n, data.length);
    assert.deepEqual(await Deno.readFile(s.uploadPath("u")), data);
    assert.equal(await s.uploadDigest("u", "sha256", n), sha256(data));
    await s.syncUpload("u");
    await assert.rejects(s.syncUpload("missing"), Deno.errors.NotFound);
    // Plain (not byte) streams too, appended after the first part.
    await s.createUpload("v");
    const half = data.length >> 1;
    await s.append("v", new Blob([data.slice(0, half)]).stream(), 0);
    const m = await s.append(
      "v",
      new ReadableStream({
        start(c) {
          c.enqueue(data.slice(half));
          c.close();
        },
      }),
      half,
    );
    assert.equal(await s.uploadDigest("v", "sha256", m), sha256(data));
  });
});

Deno.test("BlobStore.append() keeps the bytes that arrived before a body broke", async () => {
  await withStore(async (s) => {
    const data = random(3 << 20);
    await s.createUpload("u");
    const cut = (1 << 20) + 300_000;
    const err = await s.append("u", body(data, 65_536, cut), 0).then(
      () => assert.fail("expected the append to fail"),
      (e: unknown) => e as Error & { written: number },
    );
    assert.equal(err.written, cut);
    assert.deepEqual(await Deno.readFile(s.uploadPath("u")), data.subarray(0, cut));
    // The upload resumes at that offset; its digest is then read from the file.
    const n = await s.append("u", body(data.subarray(cut), 50_000), cut);
    assert.equal(n, data.length);
    assert.equal(await s.uploadDigest("u", "sha256", n), sha256(data));
  });
});

Deno.test("BlobStore.append() refuses a body over the size limit and keeps what fits", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-blobstore-" });
  try {
    const s = new BlobStore(dir, { maxBlobSize: 1_500_000 });
    await s.init();
    await s.createUpload("u");
    const err = await s.append("u", body(random(2 << 20), 65_536), 0).then(
      () => assert.fail("expected the append to fail"),
      (e: unknown) => e as Error & { written: number },
    );
    assert.match(err.message, /exceeds the limit of 1500000 bytes/);
    assert.ok(err.written <= 1_500_000, `written ${err.written}`);
    assert.equal((await Deno.stat(s.uploadPath("u"))).size, err.written);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
