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

Deno.test("SqliteKv's writer worker groups queued writes into few commits and reports each", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-sqlite-" });
  const commits: number[] = [];
  const kv = new SqliteKv(`${dir}/state.db`, { onCommit: (c) => commits.push(c.ops) });
  try {
    const revs = await Promise.all(
      Array.from({ length: 200 }, (_, i) => kv.create(`/k/${i}`, `v${i}`)),
    );
    assert.equal(new Set(revs).size, 200);
    assert.equal(commits.reduce((a, b) => a + b, 0), 200);
    assert.ok(commits.length < 200, `expected fewer commits than writes, got ${commits.length}`);
    // Values larger than the channel's first 1 MiB make it grow, both ways.
    const big = "é".repeat(3 << 20);
    const rev = await kv.create("/k/big", big);
    const next = await kv.update("/k/big", { value: big + "!", expect: rev });
    assert.equal((await kv.get("/k/big"))?.value, big + "!");
    await assert.rejects(kv.update("/k/big", { value: "stale", expect: rev }), /expected revision/);
    assert.equal((await kv.get("/k/big"))?.modRevision, next);
  } finally {
    await kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SqliteKv's watch gets the values of writes committed by the worker", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-sqlite-" });
  const kv = new SqliteKv(`${dir}/state.db`);
  const ac = new AbortController();
  try {
    const start = await kv.revision();
    const events = kv.watch("/w/", { after: start, signal: ac.signal })[Symbol.asyncIterator]();
    const first = events.next();
    const rev = await kv.create("/w/a", "one");
    await kv.update("/w/a", { value: "two", expect: rev });
    const a = (await first).value;
    const b = (await events.next()).value;
    assert.deepEqual([a.type, a.value, a.prevValue], ["put", "one", undefined]);
    assert.deepEqual([b.type, b.value, b.prevValue], ["put", "two", "one"]);
  } finally {
    ac.abort();
    await kv.close();
    await Deno.remove(dir, { recursive: true });
  }
});
