import assert from "node:assert/strict";
import { type ConfigMap, ExpiredError, Informer, type Store, type WatchOptions } from "@tsk/api";
import { ObjectStore, SqliteKv } from "@tsk/sched";

const cm = (name: string): ConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "default" },
});

Deno.test("Informer relists after an Expired watch and reports what changed meanwhile", async () => {
  const store = new ObjectStore(new SqliteKv(":memory:"));
  try {
    await store.create(cm("keep"));
    await store.create(cm("gone"));
    let watches = 0;
    // The first watch fails with Expired after the world changed behind it,
    // as when a watcher falls out of the server's history.
    const flaky: Store = {
      get: (r, n, o) => store.get(r, n, o),
      list: (r, o) => store.list(r, o),
      create: (o, x) => store.create(o, x),
      update: (o, x) => store.update(o, x),
      delete: (r, n, o) => store.delete(r, n, o),
      watch: <T extends ConfigMap>(r: string, o?: WatchOptions) => {
        watches++;
        if (watches === 1) {
          // deno-lint-ignore require-yield
          return (async function* () {
            await store.delete("configmaps", "gone", { namespace: "default" });
            await store.create(cm("new"));
            throw new ExpiredError("resourceVersion: too old; list again");
          })() as AsyncIterable<never>;
        }
        return store.watch<T>(r, o);
      },
    } as Store;
    const seen: string[] = [];
    const errors: unknown[] = [];
    const inf = new Informer<ConfigMap>(flaky, "configmaps", {
      backoffMs: 10,
      onError: (e) => errors.push(e),
    });
    inf.on({
      add: (o) => seen.push(`add ${o.metadata.name}`),
      delete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    await inf.start();
    const deadline = Date.now() + 10000;
    while (inf.lists < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(inf.lists, 2);
    assert.ok(errors[0] instanceof ExpiredError);
    assert.deepEqual(seen, ["add gone", "add keep", "add new", "delete gone"]);
    assert.deepEqual(inf.list().map((o) => o.metadata.name).sort(), ["keep", "new"]);
    // After the relist it watches again from the new list's version.
    await store.create(cm("later"));
    while (!inf.get("later", "default") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(inf.get("later", "default"));
    inf.stop();
    await inf.stopped();
  } finally {
    await store.close();
  }
});

Deno.test("Informer resyncs every cached object on its period", async () => {
  const store = new ObjectStore(new SqliteKv(":memory:"));
  try {
    await store.create(cm("a"));
    const updates: string[] = [];
    const inf = new Informer<ConfigMap>(store, "configmaps", { resyncMs: 30 });
    inf.on({ update: (o, n) => o === n && updates.push(n.metadata.name!) });
    await inf.start();
    const deadline = Date.now() + 5000;
    while (updates.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(updates.length >= 2);
    assert.ok(updates.every((n) => n === "a"));
    inf.stop();
    await inf.stopped();
  } finally {
    await store.close();
  }
});
