import assert from "node:assert/strict";
import type { Event } from "@tsk/api";
import { ObjectStore } from "../store/object_store.ts";
import { SqliteKv } from "../store/sqlite.ts";
import { expireEvents } from "./event_ttl.ts";

const ev = (name: string, lastTimestamp: string): Event => ({
  apiVersion: "v1",
  kind: "Event",
  metadata: { name, namespace: "default" },
  involvedObject: { kind: "Pod", name: "p" },
  lastTimestamp,
});

Deno.test("expireEvents() deletes only the events older than the TTL", async () => {
  const store = new ObjectStore(new SqliteKv(":memory:"));
  try {
    await store.create(ev("old", "2026-01-01T00:00:00Z"));
    await store.create(ev("new", "2026-01-01T00:59:00Z"));
    const n = await expireEvents(store, {
      ttlSeconds: 3600,
      now: new Date("2026-01-01T01:30:00Z"),
    });
    assert.equal(n, 1);
    assert.deepEqual((await store.list("events")).items.map((e) => e.metadata.name), ["new"]);
  } finally {
    await store.close();
  }
});
