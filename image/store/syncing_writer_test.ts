import assert from "node:assert/strict";
import { SyncingWriter } from "./syncing_writer.ts";

Deno.test("SyncingWriter writes buffers in order and counts what landed", async () => {
  const path = await Deno.makeTempFile();
  const file = await Deno.open(path, { write: true });
  try {
    const out = new SyncingWriter(file, { earlySyncBytes: 1000 });
    const expected: number[] = [];
    for (let i = 0; i < 10; i++) {
      const bytes = new Uint8Array(300).fill(i);
      expected.push(...bytes);
      await out.write(bytes);
    }
    await out.sync();
    assert.equal(out.written, 3000);
    assert.deepEqual([...await Deno.readFile(path)], expected);
  } finally {
    file.close();
    await Deno.remove(path);
  }
});

Deno.test("SyncingWriter reports a failed write on the next call", async () => {
  const path = await Deno.makeTempFile();
  // Opened read-only: every write fails.
  const file = await Deno.open(path, { read: true });
  try {
    const out = new SyncingWriter(file);
    await out.write(new Uint8Array(10)); // starts; the failure comes later
    await assert.rejects(() => out.drain());
    await out.settle(); // never throws
    assert.equal(out.written, 0);
  } finally {
    file.close();
    await Deno.remove(path);
  }
});

Deno.test("SyncingWriter flushes in the background past earlySyncBytes", async () => {
  const path = await Deno.makeTempFile();
  const file = await Deno.open(path, { write: true });
  let syncs = 0;
  const syncData = file.syncData.bind(file);
  // Counts the calls; the real fdatasync still runs.
  file.syncData = () => {
    syncs++;
    return syncData();
  };
  try {
    const out = new SyncingWriter(file, { earlySyncBytes: 4096 });
    for (let i = 0; i < 8; i++) await out.write(new Uint8Array(4096));
    await out.drain();
    assert.ok(syncs >= 1, `expected a background flush, saw ${syncs}`);
    const before = syncs;
    await out.sync();
    assert.equal(syncs, before + 1);
  } finally {
    file.close();
    await Deno.remove(path);
  }
});
