import assert from "node:assert/strict";
import type { Event, Pod } from "@tsk/api";
import { ObjectStore } from "../store/object_store.ts";
import { SqliteKv } from "../store/sqlite.ts";
import { makePod } from "./builders.ts";
import { StoreClient } from "./store_client.ts";

async function withStore(f: (store: ObjectStore) => Promise<void>): Promise<void> {
  const store = new ObjectStore(new SqliteKv(":memory:"));
  try {
    await f(store);
  } finally {
    await store.close();
  }
}

const get = (store: ObjectStore, name: string) =>
  store.get<Pod>("pods", name, { namespace: "default" });

Deno.test("bind() re-reads a pod changed since the scheduler saw it, then binds", async () => {
  await withStore(async (store) => {
    const seen = await store.create(makePod("p"));
    await store.update({ ...seen, metadata: { ...seen.metadata, labels: { touched: "yes" } } });
    const [err] = await new StoreClient(store).bind([{ pod: seen, nodeName: "n1" }]);
    assert.equal(err, null);
    const now = await get(store, "p");
    assert.equal(now.spec.nodeName, "n1");
    assert.equal(now.metadata.labels?.touched, "yes", "the other writer's change is kept");
  });
});

Deno.test("bind() refuses a pod already bound elsewhere and leaves it there", async () => {
  await withStore(async (store) => {
    const seen = await store.create(makePod("p"));
    await store.update({ ...seen, spec: { ...seen.spec, nodeName: "other" } });
    const [err] = await new StoreClient(store).bind([{ pod: seen, nodeName: "n1" }]);
    assert.match(String(err), /already bound to other/);
    assert.equal((await get(store, "p")).spec.nodeName, "other");
  });
});

Deno.test("bind() refuses a pod replaced by a new one of the same name", async () => {
  await withStore(async (store) => {
    const seen = await store.create(makePod("p"));
    await store.delete("pods", "p", { namespace: "default", gracePeriodSeconds: 0 });
    const fresh = makePod("p");
    fresh.metadata.uid = undefined;
    await store.create(fresh);
    const [err] = await new StoreClient(store).bind([{ pod: seen, nodeName: "n1" }]);
    assert.match(String(err), /pod not found/);
    assert.equal((await get(store, "p")).spec.nodeName, undefined, "the new pod is untouched");
  });
});

Deno.test("bind() of a deleted pod reports not found", async () => {
  await withStore(async (store) => {
    const seen = await store.create(makePod("p"));
    await store.delete("pods", "p", { namespace: "default", gracePeriodSeconds: 0 });
    const [err] = await new StoreClient(store).bind([{ pod: seen, nodeName: "n1" }]);
    assert.match(String(err), /pod not found/);
  });
});

Deno.test("updatePodStatus() sets PodScheduled and keeps the transition time while it stays False", async () => {
  await withStore(async (store) => {
    const pod = await store.create(makePod("p"));
    const c = new StoreClient(store);
    const cond = (message: string, t: string) => ({
      type: "PodScheduled",
      status: "False" as const,
      reason: "Unschedulable",
      message,
      lastTransitionTime: t,
    });
    await c.updatePodStatus(pod, { condition: cond("first", "2026-01-01T00:00:00Z") });
    await c.updatePodStatus(pod, {
      condition: cond("second", "2026-01-02T00:00:00Z"),
      nominatedNodeName: "n1",
    });
    const now = await get(store, "p");
    const ps = now.status?.conditions?.filter((x) => x.type === "PodScheduled") ?? [];
    assert.equal(ps.length, 1);
    assert.equal(ps[0].message, "second");
    assert.equal(ps[0].lastTransitionTime, "2026-01-01T00:00:00Z");
    assert.equal(now.status?.nominatedNodeName, "n1");
  });
});

Deno.test("recordEvent() creates an Event about the pod", async () => {
  await withStore(async (store) => {
    const pod = await store.create(makePod("p"));
    await new StoreClient(store).recordEvent({
      pod,
      type: "Warning",
      reason: "FailedScheduling",
      message: "0/1 nodes are available: 1 Insufficient cpu.",
    });
    const events = (await store.list<Event>("events", { namespace: "default" })).items;
    assert.equal(events.length, 1);
    assert.equal(events[0].involvedObject.name, "p");
    assert.equal(events[0].involvedObject.uid, pod.metadata.uid);
    assert.equal(events[0].source?.component, "default-scheduler");
  });
});
