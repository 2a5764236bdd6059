import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { mappedStream, slotStats, WINDOW } from "./_mmap.ts";
import { loadConfig } from "./config.ts";
import { startServer } from "./server.ts";

function sha256(data: Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** Bytes that differ at every offset mod 251, so a misplaced window shows. */
function pattern(size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i % 251) ^ (i >>> 16);
  return out;
}

async function waitReleased(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (slotStats().reserved !== 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const s = slotStats();
  assert.equal(s.reserved, 0, "every mmap window is returned once responses settle");
  assert.equal(s.free, s.slots, "every slot is back in the pool");
}

Deno.test("blobs over Deno.serve come from mmap windows: whole, ranges across windows, aborted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-reg-mmap-" });
  const cfg = await loadConfig(["--port", "0", "--data", dir, "--log-level", "error"]);
  assert.notEqual(cfg, "help");
  if (cfg === "help") return;
  const srv = await startServer(cfg);
  try {
    const data = pattern(2 * WINDOW + 12345);
    const digest = sha256(data);
    let r = await fetch(`${srv.url}/v2/mmap/t/blobs/uploads/?digest=${digest}`, {
      method: "POST",
      body: data,
    });
    assert.equal(r.status, 201);
    await r.body?.cancel();
    const before = slotStats().slots;

    r = await fetch(`${srv.url}/v2/mmap/t/blobs/${digest}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("Content-Length"), String(data.byteLength));
    const got = new Uint8Array(await r.arrayBuffer());
    assert.equal(sha256(got), digest);
    assert.ok(slotStats().slots > before, "the body was served from mmap windows");
    await waitReleased();

    for (const [a, b] of [[WINDOW - 10, WINDOW + 10], [0, 0], [2 * WINDOW, data.length - 1]]) {
      r = await fetch(`${srv.url}/v2/mmap/t/blobs/${digest}`, {
        headers: { Range: `bytes=${a}-${b}` },
      });
      assert.equal(r.status, 206);
      assert.equal(r.headers.get("Content-Range"), `bytes ${a}-${b}/${data.length}`);
      assert.deepEqual(new Uint8Array(await r.arrayBuffer()), data.subarray(a, b + 1));
    }
    r = await fetch(`${srv.url}/v2/mmap/t/blobs/${digest}`, { headers: { Range: "bytes=-7" } });
    assert.deepEqual(new Uint8Array(await r.arrayBuffer()), data.subarray(data.length - 7));

    // A client that goes away mid-body: the windows still come back.
    const abort = new AbortController();
    r = await fetch(`${srv.url}/v2/mmap/t/blobs/${digest}`, { signal: abort.signal });
    await r.body!.getReader().read();
    abort.abort();
    await waitReleased();

    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(metrics, /registry_blob_bytes_sent_total \d+/);
    const sent = Number(/registry_blob_bytes_sent_total (\d+)/.exec(metrics)![1]);
    assert.ok(sent >= data.byteLength + 21 + 1 + 12345 + 7, `bytes sent counted: ${sent}`);
  } finally {
    await srv.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mappedStream: a chunk kept past its response reads zeros, never unmapped memory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-reg-mmap-" });
  try {
    const path = join(dir, "blob");
    const data = pattern(100_000);
    await Deno.writeFile(path, data);
    let settle!: () => void;
    const settled = new Promise<void>((r) => settle = r);
    const stream = mappedStream(path, 10, 50_000, settled, () => {});
    assert.ok(stream);
    const reader = stream.getReader();
    const { value } = await reader.read();
    assert.deepEqual(value, data.subarray(10, 50_010));
    settle();
    await settled;
    await new Promise((r) => setTimeout(r, 0));
    // The slot now holds zero pages in place of the file.
    assert.ok(value!.every((b) => b === 0));
    await assert.rejects(reader.read(), /already ended/);
    assert.equal(slotStats().reserved, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mappedStream: a file shorter than the range, or missing, is left to the copying path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-reg-mmap-" });
  try {
    const path = join(dir, "blob");
    await Deno.writeFile(path, pattern(1000));
    const never = new Promise<void>(() => {});
    assert.equal(mappedStream(path, 0, 1001, never, () => {}), null);
    assert.equal(mappedStream(path, 999, 2, never, () => {}), null);
    assert.equal(mappedStream(join(dir, "missing"), 0, 1, never, () => {}), null);
    assert.equal(slotStats().reserved, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
