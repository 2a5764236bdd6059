/**
 * The store conformance suite: one set of behaviours every backend of the
 * object store must show, run unchanged against SQLite and etcd.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  AlreadyExistsError,
  type ApiObject,
  BadRequestError,
  type ConfigMap,
  ConflictError,
  ExpiredError,
  NotFoundError,
  type Pod,
  type WatchEvent,
} from "@tsk/api";
import type { ObjectStore } from "./object_store.ts";

/** What a backend's test gives the suite. */
export interface ConformanceTarget {
  /** The store under test. */
  store: ObjectStore;
  /** Other stores over the same backend data (several API servers), if any. */
  peers?: ObjectStore[];
}

function ns(): string {
  return `c-${crypto.randomUUID().slice(0, 8)}`;
}

function cm(namespace: string, name: string, labels: Record<string, string> = {}): ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace, labels },
    data: { v: "1" },
  };
}

function pod(namespace: string, name: string, nodeName?: string): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace },
    spec: {
      nodeName,
      containers: [{ name: "c", image: "busybox" }],
      terminationGracePeriodSeconds: 30,
    },
    status: { phase: "Pending" },
  };
}

/** Collects the next `n` events of a watch (ignoring bookmarks unless asked). */
async function take(
  it: AsyncIterable<WatchEvent>,
  n: number,
  opts: { bookmarks?: boolean } = {},
): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  if (n === 0) return out;
  for await (const ev of it) {
    if (ev.type === "BOOKMARK" && !opts.bookmarks) continue;
    out.push(ev);
    if (out.length === n) break;
  }
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

const rv = (o: ApiObject) => Number(o.metadata.resourceVersion);

/**
 * Runs the conformance cases as steps of the current test.
 *
 * @param t The test context.
 * @param target The store (and peers) under test.
 * @returns When every step has run.
 *
 * @example Run against an in-memory SQLite store
 * ```ts ignore
 * import { ObjectStore, SqliteKv } from "@tsk/sched";
 * import { runConformance } from "@tsk/sched/store-conformance";
 * Deno.test("sqlite store conforms", async (t) => {
 *   const store = new ObjectStore(new SqliteKv(":memory:"));
 *   try { await runConformance(t, { store }); } finally { await store.close(); }
 * });
 * ```
 */
export async function runConformance(
  t: Deno.TestContext,
  target: ConformanceTarget,
): Promise<void> {
  const { store } = target;

  await t.step("create sets uid, resourceVersion, generation, creationTimestamp", async () => {
    const n = ns();
    const created = await store.create(cm(n, "a"));
    assert.match(created.metadata.uid ?? "", /^[0-9a-f-]{36}$/);
    assert.ok(rv(created) > 0);
    assert.equal(created.metadata.generation, 1);
    assert.match(created.metadata.creationTimestamp ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const got = await store.get<ConfigMap>("configmaps", "a", { namespace: n });
    assert.deepEqual(got, created);
  });

  await t.step(
    "create of an existing name fails with AlreadyExists and keeps the first",
    async () => {
      const n = ns();
      await store.create(cm(n, "a"));
      const dup = cm(n, "a");
      dup.data = { v: "2" };
      await assert.rejects(store.create(dup), AlreadyExistsError);
      assert.equal((await store.get<ConfigMap>("configmaps", "a", { namespace: n })).data?.v, "1");
    },
  );

  await t.step("generateName gets a random suffix", async () => {
    const n = ns();
    const o = cm(n, "");
    delete o.metadata.name;
    o.metadata.generateName = "web-";
    const a = await store.create(o);
    const b = await store.create(o);
    assert.match(a.metadata.name ?? "", /^web-[a-z0-9]{5}$/);
    assert.notEqual(a.metadata.name, b.metadata.name);
  });

  await t.step("bad names are refused and nothing is stored", async () => {
    const n = ns();
    await assert.rejects(store.create(cm(n, "a/b")), BadRequestError);
    await assert.rejects(store.create({ ...cm(n, "x"), kind: "Nope" }), BadRequestError);
    assert.equal((await store.list("configmaps", { namespace: n })).items.length, 0);
  });

  await t.step("get of a missing object is NotFound naming it", async () => {
    await assert.rejects(store.get("configmaps", "missing", { namespace: ns() }), (e) => {
      assert.ok(e instanceof NotFoundError);
      assert.match(e.message, /configmaps "missing" not found/);
      return true;
    });
  });

  await t.step(
    "update with a stale resourceVersion is a Conflict; a fresh one applies",
    async () => {
      const n = ns();
      const a = await store.create(cm(n, "a"));
      const b = structuredClone(a);
      a.data = { v: "2" };
      const a2 = await store.update(a);
      assert.ok(rv(a2) > rv(a));
      b.data = { v: "3" };
      await assert.rejects(store.update(b), (e) => {
        assert.ok(e instanceof ConflictError);
        assert.match(e.message, /has been modified.*read it again and retry/);
        return true;
      });
      assert.equal((await store.get<ConfigMap>("configmaps", "a", { namespace: n })).data?.v, "2");
      const c = structuredClone(a2);
      delete c.metadata.resourceVersion;
      c.data = { v: "4" };
      assert.equal((await store.update(c)).data?.v, "4");
    },
  );

  await t.step("update of a missing object is NotFound", async () => {
    await assert.rejects(store.update(cm(ns(), "none")), NotFoundError);
  });

  await t.step("generation moves with the spec, not with metadata or status", async () => {
    const n = ns();
    const p = await store.create(pod(n, "p"));
    p.metadata.labels = { a: "b" };
    const p2 = await store.update(p);
    assert.equal(p2.metadata.generation, 1);
    p2.spec.containers[0].image = "busybox:2";
    const p3 = await store.update(p2);
    assert.equal(p3.metadata.generation, 2);
    p3.status = { phase: "Running" };
    const p4 = await store.update(p3, { subresource: "status" });
    assert.equal(p4.metadata.generation, 2);
  });

  await t.step(
    "the status subresource writes only status; a main update keeps status",
    async () => {
      const n = ns();
      const p = await store.create(pod(n, "p"));
      const s = structuredClone(p);
      s.status = { phase: "Running" };
      s.spec.containers[0].image = "ignored";
      const s2 = await store.update(s, { subresource: "status" });
      assert.equal(s2.status?.phase, "Running");
      assert.equal(s2.spec.containers[0].image, "busybox");
      s2.status = { phase: "Failed" };
      s2.metadata.labels = { x: "y" };
      const s3 = await store.update(s2);
      assert.equal(s3.status?.phase, "Running");
      assert.deepEqual(s3.metadata.labels, { x: "y" });
    },
  );

  await t.step("list filters by namespace, labels and fields", async () => {
    const n1 = ns();
    const n2 = ns();
    await store.create(cm(n1, "a", { app: "web", tier: "front" }));
    await store.create(cm(n1, "b", { app: "web", tier: "back" }));
    await store.create(cm(n1, "c", { app: "db" }));
    await store.create(cm(n2, "a", { app: "web" }));
    const names = (l: { items: ApiObject[] }) => l.items.map((i) => i.metadata.name).sort();
    assert.deepEqual(names(await store.list("configmaps", { namespace: n1 })), ["a", "b", "c"]);
    assert.deepEqual(
      names(await store.list("configmaps", { namespace: n1, labelSelector: "app=web,tier!=back" })),
      ["a"],
    );
    assert.deepEqual(
      names(
        await store.list("configmaps", { namespace: n1, labelSelector: "app in (web,db),!tier" }),
      ),
      ["c"],
    );
    assert.deepEqual(
      names(await store.list("configmaps", { namespace: n1, fieldSelector: "metadata.name=b" })),
      ["b"],
    );
    const all = await store.list("configmaps", { labelSelector: "app=web" });
    assert.ok(all.items.filter((i) => [n1, n2].includes(i.metadata.namespace!)).length === 3);
    assert.ok(Number(all.metadata.resourceVersion) > 0);
    await assert.rejects(store.list("configmaps", { labelSelector: "a in" }), BadRequestError);
  });

  await t.step("pagination returns every item exactly once", async () => {
    const n = ns();
    for (let i = 0; i < 23; i++) {
      await store.create(cm(n, `o${String(i).padStart(2, "0")}`, { even: String(i % 2 === 0) }));
    }
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await store.list("configmaps", { namespace: n, limit: 5, continue: token });
      assert.ok(page.items.length <= 5);
      seen.push(...page.items.map((i) => i.metadata.name!));
      token = page.metadata.continue;
      pages++;
    } while (token);
    assert.equal(pages, 5);
    assert.deepEqual(seen, [...seen].sort());
    assert.equal(new Set(seen).size, 23);
    const evens: string[] = [];
    token = undefined;
    do {
      const page: { items: ApiObject[]; metadata: { continue?: string } } = await store.list(
        "configmaps",
        {
          namespace: n,
          limit: 4,
          continue: token,
          labelSelector: "even=true",
        },
      );
      evens.push(...page.items.map((i) => i.metadata.name!));
      token = page.metadata.continue;
    } while (token);
    assert.equal(evens.length, 12);
    await assert.rejects(
      store.list("configmaps", { namespace: n, continue: "garbage" }),
      BadRequestError,
    );
  });

  await t.step("delete removes the object; preconditions are checked", async () => {
    const n = ns();
    const a = await store.create(cm(n, "a"));
    await assert.rejects(
      store.delete("configmaps", "a", { namespace: n, resourceVersion: String(rv(a) - 1) }),
      ConflictError,
    );
    await assert.rejects(
      store.delete("configmaps", "a", { namespace: n, uid: "other" }),
      ConflictError,
    );
    const gone = await store.delete("configmaps", "a", {
      namespace: n,
      resourceVersion: String(rv(a)),
    });
    assert.equal(gone.metadata.name, "a");
    await assert.rejects(store.get("configmaps", "a", { namespace: n }), NotFoundError);
    await assert.rejects(store.delete("configmaps", "a", { namespace: n }), NotFoundError);
  });

  await t.step("finalizers hold a deleted object until the last one is removed", async () => {
    const n = ns();
    const o = cm(n, "a");
    o.metadata.finalizers = ["example.com/cleanup", "example.com/other"];
    await store.create(o);
    const marked = await store.delete("configmaps", "a", { namespace: n });
    assert.ok(marked.metadata.deletionTimestamp);
    const still = await store.get("configmaps", "a", { namespace: n });
    assert.ok(still.metadata.deletionTimestamp);
    // A client cannot clear the deletion mark.
    delete still.metadata.deletionTimestamp;
    still.metadata.finalizers = ["example.com/other"];
    const one = await store.update(still);
    assert.ok(one.metadata.deletionTimestamp);
    one.metadata.finalizers = [];
    await store.update(one);
    await assert.rejects(store.get("configmaps", "a", { namespace: n }), NotFoundError);
  });

  await t.step("a bound pod is deleted gracefully; grace 0 finishes it", async () => {
    const n = ns();
    await store.create(pod(n, "unbound"));
    await store.delete("pods", "unbound", { namespace: n });
    await assert.rejects(store.get("pods", "unbound", { namespace: n }), NotFoundError);
    await store.create(pod(n, "bound", "node-1"));
    const marked = await store.delete<Pod>("pods", "bound", { namespace: n });
    assert.equal(marked.metadata.deletionGracePeriodSeconds, 30);
    assert.ok(marked.metadata.deletionTimestamp);
    assert.ok((await store.get("pods", "bound", { namespace: n })).metadata.deletionTimestamp);
    await store.delete("pods", "bound", { namespace: n, gracePeriodSeconds: 0 });
    await assert.rejects(store.get("pods", "bound", { namespace: n }), NotFoundError);
  });

  await t.step(
    "watch delivers ADDED, MODIFIED, DELETED in order and resumes from any version",
    async () => {
      const n = ns();
      const start = await store.list("configmaps", { namespace: n });
      const from = start.metadata.resourceVersion!;
      const a = await store.create(cm(n, "a"));
      a.data = { v: "2" };
      const a2 = await store.update(a);
      await store.create(cm(n, "b"));
      await store.delete("configmaps", "a", { namespace: n });
      const ctl = new AbortController();
      const events = await withTimeout(
        take(
          store.watch("configmaps", { namespace: n, resourceVersion: from, signal: ctl.signal }),
          4,
        ),
        10000,
        "watch replay",
      );
      ctl.abort();
      assert.deepEqual(events.map((e) => [e.type, e.object.metadata.name]), [
        ["ADDED", "a"],
        ["MODIFIED", "a"],
        ["ADDED", "b"],
        ["DELETED", "a"],
      ]);
      const rvs = events.map((e) => rv(e.object));
      assert.deepEqual(rvs, [...rvs].sort((x, y) => x - y));
      assert.equal(new Set(rvs).size, 4);
      // Resume after the second event: only the rest.
      const ctl2 = new AbortController();
      const rest = await withTimeout(
        take(
          store.watch("configmaps", {
            namespace: n,
            resourceVersion: a2.metadata.resourceVersion,
            signal: ctl2.signal,
          }),
          2,
        ),
        10000,
        "watch resume",
      );
      ctl2.abort();
      assert.deepEqual(rest.map((e) => [e.type, e.object.metadata.name]), [["ADDED", "b"], [
        "DELETED",
        "a",
      ]]);
    },
  );

  await t.step("a live watch sees writes made after it started, in order", async () => {
    const n = ns();
    const ctl = new AbortController();
    const it = store.watch("configmaps", {
      namespace: n,
      resourceVersion: (await store.list("configmaps")).metadata.resourceVersion,
      signal: ctl.signal,
    });
    const got = take(it, 20);
    for (let i = 0; i < 20; i++) await store.create(cm(n, `x${i}`));
    const events = await withTimeout(got, 10000, "live watch");
    ctl.abort();
    assert.deepEqual(
      events.map((e) => e.object.metadata.name),
      Array.from({ length: 20 }, (_, i) => `x${i}`),
    );
  });

  await t.step("a watch without resourceVersion starts with the existing objects", async () => {
    const n = ns();
    await store.create(cm(n, "a"));
    await store.create(cm(n, "b"));
    const ctl = new AbortController();
    const it = store.watch("configmaps", { namespace: n, signal: ctl.signal });
    const first = await withTimeout(take(it, 2), 10000, "initial events");
    assert.deepEqual(first.map((e) => [e.type, e.object.metadata.name]), [["ADDED", "a"], [
      "ADDED",
      "b",
    ]]);
    ctl.abort();
  });

  await t.step("a selector watch turns leaving the selection into DELETED", async () => {
    const n = ns();
    const from = (await store.list("configmaps")).metadata.resourceVersion;
    const a = await store.create(cm(n, "a", { app: "web" }));
    a.metadata.labels = { app: "db" };
    const a2 = await store.update(a);
    a2.metadata.labels = { app: "web" };
    await store.update(a2);
    await store.create(cm(n, "other", { app: "db" }));
    const ctl = new AbortController();
    const ev = await withTimeout(
      take(
        store.watch("configmaps", {
          namespace: n,
          labelSelector: "app=web",
          resourceVersion: from,
          signal: ctl.signal,
        }),
        3,
      ),
      10000,
      "selector watch",
    );
    ctl.abort();
    assert.deepEqual(ev.map((e) => e.type), ["ADDED", "DELETED", "ADDED"]);
  });

  await t.step(
    "a watch from a compacted version fails with Expired telling to relist",
    async () => {
      const n = ns();
      const old = await store.create(cm(n, "a"));
      for (let i = 0; i < 3; i++) await store.create(cm(n, `b${i}`));
      await store.compact(await store.kv.revision());
      const it = store.watch("configmaps", {
        namespace: n,
        resourceVersion: old.metadata.resourceVersion,
      });
      await assert.rejects(withTimeout(take(it, 1), 10000, "expired watch"), (e) => {
        assert.ok(e instanceof ExpiredError, String(e));
        assert.equal(e.code, 410);
        assert.match(e.message, /too old.*list again/);
        return true;
      });
    },
  );

  await t.step("bookmarks carry a version no older than the last event", async () => {
    const n = ns();
    const from = (await store.list("configmaps")).metadata.resourceVersion;
    const a = await store.create(cm(n, "a"));
    const ctl = new AbortController();
    const it = store.watch("configmaps", {
      namespace: n,
      resourceVersion: from,
      allowBookmarks: true,
      bookmarkIntervalMs: 50,
      signal: ctl.signal,
    });
    const ev = await withTimeout(take(it, 2, { bookmarks: true }), 10000, "bookmark");
    ctl.abort();
    assert.equal(ev[0].type, "ADDED");
    assert.equal(ev[1].type, "BOOKMARK");
    assert.ok(rv(ev[1].object) >= rv(a));
  });

  await t.step("concurrent creates all succeed with distinct versions", async () => {
    const n = ns();
    const made = await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.create(cm(n, `p${i}`))),
    );
    assert.equal(new Set(made.map(rv)).size, 50);
    assert.equal((await store.list("configmaps", { namespace: n })).items.length, 50);
  });

  await t.step("concurrent updates at the same version: exactly one wins", async () => {
    const n = ns();
    const a = await store.create(cm(n, "a"));
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => store.update({ ...a, data: { v: `n${i}` } })),
    );
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    for (const r of results) {
      if (r.status === "rejected") assert.ok(r.reason instanceof ConflictError);
    }
  });

  for (const [i, peer] of (target.peers ?? []).entries()) {
    await t.step(
      `peer store ${i + 1} sees the same objects, versions and watch stream`,
      async () => {
        const n = ns();
        const from = (await store.list("configmaps")).metadata.resourceVersion;
        const ctl = new AbortController();
        const got = take(
          peer.watch("configmaps", { namespace: n, resourceVersion: from, signal: ctl.signal }),
          3,
        );
        const a = await store.create(cm(n, "a"));
        const onPeer = await peer.get<ConfigMap>("configmaps", "a", { namespace: n });
        assert.equal(onPeer.metadata.resourceVersion, a.metadata.resourceVersion);
        onPeer.data = { v: "peer" };
        await peer.update(onPeer);
        await assert.rejects(store.update(a), ConflictError);
        await store.delete("configmaps", "a", { namespace: n });
        const ev = await withTimeout(got, 10000, "peer watch");
        ctl.abort();
        assert.deepEqual(ev.map((e) => e.type), ["ADDED", "MODIFIED", "DELETED"]);
      },
    );
  }
}
