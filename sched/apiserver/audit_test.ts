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
    for (let i = 0; i < 20; i++) sink.write(entry(i));
    sink.close();
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
