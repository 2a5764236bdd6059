/**
 * The registry program serves the same bytes with and without `--no-mmap`:
 * whole blobs, a range inside the first mmap window and one crossing into
 * the second (windows are 16 MiB).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256, startRegistry } from "./_registry_fixtures.ts";

const SIZE = 20 * 1024 * 1024;

for (const flags of [[], ["--no-mmap"]]) {
  const label = flags.length ? "with --no-mmap" : "with mmap (the default)";
  Deno.test(`registry serves blobs and ranges byte for byte ${label}`, async () => {
    const tmp = await Deno.makeTempDir({ prefix: "tsk-reg-mmap-" });
    const reg = await startRegistry(join(tmp, "data"), flags);
    try {
      const data = new Uint8Array(SIZE);
      for (let i = 0; i < SIZE; i++) data[i] = (i * 2654435761) >>> 24;
      const digest = sha256(data);
      const put = await fetch(`${reg.url}/v2/mm/ap/blobs/uploads/?digest=${digest}`, {
        method: "POST",
        headers: { "Content-Type": "application/octet-stream" },
        body: data,
      });
      await put.body?.cancel();
      assert.equal(put.status, 201);

      const whole = await fetch(`${reg.url}/v2/mm/ap/blobs/${digest}`);
      assert.equal(whole.status, 200);
      const got = new Uint8Array(await whole.arrayBuffer());
      assert.equal(got.byteLength, SIZE);
      assert.equal(sha256(got), digest);

      for (const [start, end] of [[1000, 5000], [16 * 1024 * 1024 - 10, 16 * 1024 * 1024 + 10]]) {
        const r = await fetch(`${reg.url}/v2/mm/ap/blobs/${digest}`, {
          headers: { Range: `bytes=${start}-${end}` },
        });
        assert.equal(r.status, 206);
        assert.deepEqual(new Uint8Array(await r.arrayBuffer()), data.subarray(start, end + 1));
      }
    } finally {
      await reg.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  });
}
