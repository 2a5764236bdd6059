import assert from "node:assert/strict";
import { ObjectStore } from "./object_store.ts";
import { SqliteKv } from "./sqlite.ts";
import { runConformance } from "./conformance.ts";

Deno.test("SQLite object store passes the store conformance suite", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-sqlite-" });
  const store = new ObjectStore(new SqliteKv(`${dir}/state.db`));
  try {
    await runConformance(t, { store });
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SqliteKv keeps its data and revision across reopen", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-sqlite-" });
  try {
    const kv = new SqliteKv(`${dir}/state.db`);
    const rev = await kv.create("/registry/x", "1");
    await kv.close();
    const again = new SqliteKv(`${dir}/state.db`);
    assert.equal((await again.get("/registry/x"))?.modRevision, rev);
    assert.equal(await again.revision(), rev);
    assert.ok((await again.create("/registry/y", "2")) > rev);
    await again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SqliteKv commits concurrent writes as one group and acknowledges each", async () => {
  const kv = new SqliteKv(":memory:");
  try {
    const revs = await Promise.all(
      Array.from({ length: 100 }, (_, i) => kv.create(`/k/${i}`, "v")),
    );
    assert.deepEqual([...revs].sort((a, b) => a - b), revs);
    const failing = await Promise.allSettled([
      kv.create("/k/1", "again"),
      kv.create("/k/new", "v"),
    ]);
    assert.equal(failing[0].status, "rejected");
    assert.equal(failing[1].status, "fulfilled");
  } finally {
    await kv.close();
  }
});
