import assert from "node:assert/strict";
import { fileAuditSink } from "./audit.ts";

const entry = (i: number) => ({
  ts: "2026-01-01T00:00:00Z",
  requestId: String(i),
  user: "admin",
  groups: [],
  verb: "create",
  resource: "pods",
  code: 201,
  latencyMs: 1,
});

Deno.test("fileAuditSink() writes one JSON line per entry and rotates at maxBytes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sink = fileAuditSink(`${dir}/audit.log`, { maxBytes: 1000 });
    // Written in one go: the queued lines still rotate at maxBytes.
    await Promise.all(Array.from({ length: 20 }, (_, i) => sink.write(entry(i))));
    await sink.close();
    const current = (await Deno.readTextFile(`${dir}/audit.log`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    const rotated = (await Deno.readTextFile(`${dir}/audit.log.1`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.ok((await Deno.stat(`${dir}/audit.log`)).size <= 1000);
    assert.equal(current.at(-1).requestId, "19");
    assert.ok(rotated.length > 0);
    assert.equal((await Deno.stat(`${dir}/audit.log`)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fileAuditSink() keeps the order of entries and writes what is queued on close", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sink = fileAuditSink(`${dir}/audit.log`);
    const first = sink.write(entry(0));
    for (let i = 1; i < 100; i++) sink.write(entry(i));
    await first;
    await sink.close();
    const ids = (await Deno.readTextFile(`${dir}/audit.log`)).trim().split("\n").map((l) =>
      JSON.parse(l).requestId
    );
    assert.deepEqual(ids, Array.from({ length: 100 }, (_, i) => String(i)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
