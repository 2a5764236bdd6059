import assert from "node:assert/strict";
import type { ApiObject, ConfigMap, WatchEvent } from "@tsk/api";
import { ObjectStore } from "./object_store.ts";
import { SqliteKv } from "./sqlite.ts";

function configMap(name: string, data: Record<string, string>): ConfigMap {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "default" }, data };
}

Deno.test("an update that changes nothing, even with keys in another order, writes nothing", async () => {
  const store = new ObjectStore(new SqliteKv(":memory:"));
  try {
    const cm = await store.create(configMap("a", { x: "1", y: "2" }));
    const same = await store.update<ConfigMap>({ ...cm, data: { y: "2", x: "1" } });
    assert.equal(same.metadata.resourceVersion, cm.metadata.resourceVersion);
    const changed = await store.update<ConfigMap>({ ...cm, data: { x: "1", y: "3" } });
    assert.notEqual(changed.metadata.resourceVersion, cm.metadata.resourceVersion);
    // An undefined field is absent, as in JSON.
    const again = await store.update<ConfigMap>({ ...changed, binaryData: undefined });
    assert.equal(again.metadata.resourceVersion, changed.metadata.resourceVersion);
  } finally {
    await store.close();
  }
});

Deno.test("update stores and returns a copy: later changes to the caller's object do not leak", async () => {
  const store = new ObjectStore(new SqliteKv(":memory:"));
  try {
    const cm = await store.create(configMap("a", { x: "1" }));
    const mine = { ...cm, data: { x: "2" } };
    const out = await store.update<ConfigMap>(mine);
    mine.data.x = "changed after the call";
    assert.equal(out.data!.x, "2");
    assert.equal(
      (await store.get<ConfigMap>("configmaps", "a", { namespace: "default" })).data!.x,
      "2",
    );
    // A value that is not plain JSON is stored as JSON writes it.
    const when = new Date("2026-01-02T03:04:05.000Z");
    const dated = await store.update<ConfigMap>({
      ...out,
      data: { when } as unknown as Record<string, string>,
    });
    assert.equal(dated.data!.when, "2026-01-02T03:04:05.000Z");
  } finally {
    await store.close();
  }
});

Deno.test("watchers with and without a selector see an update, a relabel and a delete", async () => {
  const store = new ObjectStore(new SqliteKv(":memory:"));
  const abort = new AbortController();
  try {
    const cm = await store.create<ConfigMap>({
      ...configMap("a", { x: "1" }),
      metadata: { name: "a", namespace: "default", labels: { app: "web" } },
    });
    const collect = async (labelSelector?: string) => {
      const seen: string[] = [];
      for await (
        const ev of store.watch("configmaps", {
          resourceVersion: cm.metadata.resourceVersion,
          labelSelector,
          signal: abort.signal,
        }) as AsyncIterable<WatchEvent<ConfigMap>>
      ) {
        seen.push(
          `${ev.type} ${(ev.object as ConfigMap).data?.x ?? ""} ${
            ev.object.metadata.labels?.app ?? "-"
          }`,
        );
        if (seen.length === 3 && !labelSelector) break;
        if (seen.length === 2 && labelSelector) break;
      }
      return seen;
    };
    const all = collect();
    const web = collect("app=web");
    await new Promise((r) => setTimeout(r, 20));
    const u1 = await store.update<ConfigMap>({ ...cm, data: { x: "2" } });
    const u2 = await store.update<ConfigMap>({
      ...u1,
      metadata: { ...u1.metadata, labels: { app: "db" } },
    });
    await store.delete("configmaps", "a", {
      namespace: "default",
      resourceVersion: u2.metadata.resourceVersion,
    });
    assert.deepEqual(await all, ["MODIFIED 2 web", "MODIFIED 2 db", "DELETED 2 db"]);
    assert.deepEqual(await web, ["MODIFIED 2 web", "DELETED 2 db"]);
  } finally {
    abort.abort();
    await store.close();
  }
});

Deno.test("an update at a remembered revision is still refused once another writer moved the object", async () => {
  const kv = new SqliteKv(":memory:");
  const mine = new ObjectStore(kv);
  const theirs = new ObjectStore(kv, { recentObjects: 0 });
  try {
    const cm = await mine.create(configMap("a", { x: "1" }));
    const moved = await theirs.update<ConfigMap>({ ...cm, data: { x: "theirs" } });
    await assert.rejects(
      () => mine.update<ConfigMap>({ ...cm, data: { x: "mine" } }),
      (e: Error) => e.name === "ConflictError",
    );
    await theirs.delete("configmaps", "a", { namespace: "default" });
    await assert.rejects(
      () => mine.update<ConfigMap>({ ...moved, data: { x: "mine" } }),
      (e: Error) => e.name === "NotFoundError",
    );
    const got = await theirs.list<ConfigMap>("configmaps");
    assert.equal(got.items.length, 0);
  } finally {
    await mine.close();
  }
});

Deno.test("changing an object the store returned does not change what a later update merges onto", async () => {
  const store = new ObjectStore(new SqliteKv(":memory:"));
  try {
    const pod = await store.create<ApiObject>({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace: "default" },
      spec: { containers: [{ name: "c", image: "busybox" }] },
      status: { phase: "Pending" },
    });
    const created = structuredClone(pod);
    (pod as { status: { phase: string } }).status.phase = "Changed by the caller";
    pod.metadata.uid = "not-the-uid";
    const bound = await store.update({
      ...created,
      spec: { ...(created as unknown as { spec: object }).spec, nodeName: "n1" },
    });
    assert.equal((bound as unknown as { status: { phase: string } }).status.phase, "Pending");
    assert.equal(bound.metadata.uid, created.metadata.uid);
    const stored = await store.get("pods", "p", { namespace: "default" });
    assert.deepEqual(stored, bound);
    assert.equal(bound.metadata.generation, 2);
  } finally {
    await store.close();
  }
});

Deno.test("a watcher changing the object it receives does not change what the store merges onto next", async () => {
  const store = new ObjectStore(new SqliteKv(":memory:"));
  const abort = new AbortController();
  try {
    const cm = await store.create(configMap("a", { x: "1" }));
    const first = async () => {
      for await (
        const ev of store.watch("configmaps", {
          resourceVersion: cm.metadata.resourceVersion,
          signal: abort.signal,
        })
      ) {
        (ev.object as ConfigMap).data!.x = "scribbled by a watcher";
        ev.object.metadata.uid = "scribbled";
        return;
      }
    };
    const second = async () => {
      for await (
        const ev of store.watch("configmaps", {
          resourceVersion: cm.metadata.resourceVersion,
          signal: abort.signal,
        })
      ) {
        return ev.object as ConfigMap;
      }
      return undefined;
    };
    const [, seen] = await Promise.all([
      first(),
      second(),
      store.update<ConfigMap>({ ...cm, data: { x: "2" } }),
    ]);
    const stored = await store.get<ConfigMap>("configmaps", "a", { namespace: "default" });
    assert.equal(stored.data!.x, "2");
    assert.equal(stored.metadata.uid, cm.metadata.uid);
    // The next update merges onto what was written, not onto what a watcher changed.
    const next = await store.update<ConfigMap>({ ...stored, data: { x: "3" } });
    assert.equal(next.metadata.uid, cm.metadata.uid);
    // Watchers share one decoded object per change (decoded once for all of them).
    assert.ok(seen);
  } finally {
    abort.abort();
    await store.close();
  }
});

Deno.test("the object an update returns is what a read returns: undefined fields dropped as in JSON", async () => {
  const store = new ObjectStore(new SqliteKv(":memory:"));
  try {
    const cm = await store.create(configMap("a", { x: "1" }));
    const out = await store.update<ConfigMap>({
      ...cm,
      data: { x: "2", gone: undefined as unknown as string },
      binaryData: undefined,
    });
    const read = await store.get<ConfigMap>("configmaps", "a", { namespace: "default" });
    assert.deepEqual(out, read);
    assert.equal("binaryData" in out, false);
    assert.equal("gone" in out.data!, false);
  } finally {
    await store.close();
  }
});
