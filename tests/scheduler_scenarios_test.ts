/**
 * Scenario tests of the scheduler through the real store: an ObjectStore on
 * a SQLite file, informers on nodes and pods, bindings written back.
 */
import assert from "node:assert/strict";
import { cpuMillis, type Event, memoryBytes, type Node, type Pod } from "@tsk/api";
import {
  makeNode,
  makePod,
  ObjectStore,
  type RunningScheduler,
  SqliteKv,
  startScheduler,
} from "@tsk/sched";

/**
 * An oracle independent of the scheduler's accounting: "" when the pods'
 * requests fit the node's allocatable, else what overflows.
 */
function fitsOnNode(node: Node, on: Pod[]): string {
  const a = node.status!.allocatable!;
  let cpu = 0, mem = 0;
  for (const p of on) {
    for (const c of p.spec.containers) {
      cpu += cpuMillis(c.resources?.requests?.cpu ?? "0");
      mem += memoryBytes(c.resources?.requests?.memory ?? "0");
    }
  }
  const out = [];
  if (cpu > cpuMillis(a.cpu)) out.push(`cpu ${cpu}m > ${a.cpu}`);
  if (mem > memoryBytes(a.memory)) out.push(`memory ${mem} > ${a.memory}`);
  if (on.length > Number(a.pods)) out.push(`pods ${on.length} > ${a.pods}`);
  return out.join(", ");
}

interface Cluster {
  store: ObjectStore;
  running: RunningScheduler;
  close(): Promise<void>;
}

async function cluster(nodes: Node[], seed = 7): Promise<Cluster> {
  const dir = await Deno.makeTempDir({ prefix: "tsk-sched-" });
  const store = new ObjectStore(new SqliteKv(`${dir}/state.db`));
  for (const n of nodes) await store.create(n);
  const running = startScheduler(store, { log: () => {}, seed });
  await running.synced;
  return {
    store,
    running,
    async close() {
      await running.stop();
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function pods(store: ObjectStore): Promise<Pod[]> {
  return (await store.list<Pod>("pods")).items;
}

/** Polls until `check` returns a value (not undefined) or times out. */
async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  ms = 20000,
  every = 20,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

async function allBound(store: ObjectStore, n: number): Promise<Pod[]> {
  return await waitFor(`${n} pods bound`, async () => {
    const ps = await pods(store);
    return ps.filter((p) => p.spec.nodeName).length >= n ? ps : undefined;
  });
}

async function podScheduledMessage(store: ObjectStore, name: string): Promise<string> {
  return await waitFor(`PodScheduled=False on ${name}`, async () => {
    const p = await store.get<Pod>("pods", name, { namespace: "default" });
    return p.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False")
      ?.message;
  });
}

Deno.test("scheduler spreads replicas evenly across zones", async () => {
  const zones = ["a", "b", "c"];
  const c = await cluster(
    Array.from({ length: 6 }, (_, i) => makeNode(`n${i}`, { labels: { zone: zones[i % 3] } })),
  );
  try {
    for (let i = 0; i < 9; i++) {
      await c.store.create(makePod(`web-${i}`, {
        labels: { app: "web" },
        requests: { cpu: "100m" },
        spec: {
          topologySpreadConstraints: [{
            maxSkew: 1,
            topologyKey: "zone",
            whenUnsatisfiable: "DoNotSchedule",
            labelSelector: { matchLabels: { app: "web" } },
          }],
        },
      }));
    }
    const bound = await allBound(c.store, 9);
    const zoneOf = new Map((await c.store.list<Node>("nodes")).items.map((n) => [
      n.metadata.name,
      n.metadata.labels!.zone,
    ]));
    const perZone = new Map<string, number>();
    for (const p of bound) {
      const z = zoneOf.get(p.spec.nodeName!)!;
      perZone.set(z, (perZone.get(z) ?? 0) + 1);
    }
    assert.deepEqual([...perZone.values()].sort(), [3, 3, 3]);
  } finally {
    await c.close();
  }
});

Deno.test("required anti-affinity keeps replicas on separate nodes and reports why the extra one waits", async () => {
  const c = await cluster(Array.from({ length: 4 }, (_, i) => makeNode(`n${i}`)));
  const anti = {
    affinity: {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [{
          labelSelector: { matchLabels: { app: "db" } },
          topologyKey: "kubernetes.io/hostname",
        }],
      },
    },
  };
  try {
    for (let i = 0; i < 5; i++) {
      await c.store.create(makePod(`db-${i}`, { labels: { app: "db" }, spec: anti }));
    }
    const bound = await allBound(c.store, 4);
    const nodes = bound.filter((p) => p.spec.nodeName).map((p) => p.spec.nodeName);
    assert.equal(new Set(nodes).size, 4, `replicas share a node: ${nodes}`);
    const pending = bound.find((p) => !p.spec.nodeName)!;
    const msg = await podScheduledMessage(c.store, pending.metadata.name!);
    assert.equal(
      msg.startsWith("0/4 nodes are available: 4 node(s) didn't match pod anti-affinity rules."),
      true,
      msg,
    );
    // The Event is written after the status: wait for it too.
    await waitFor("a FailedScheduling event", async () => {
      const events = (await c.store.list<Event>("events", { namespace: "default" })).items;
      return events.some((e) =>
          e.reason === "FailedScheduling" && e.involvedObject.name === pending.metadata.name
        )
        ? true
        : undefined;
    });
    // Deleting one replica makes room: the pending one is requeued and bound.
    const victim = bound.find((p) => p.spec.nodeName)!;
    await c.store.delete("pods", victim.metadata.name!, {
      namespace: "default",
      gracePeriodSeconds: 0,
    });
    await waitFor("pending replica bound", async () => {
      const p = await c.store.get<Pod>("pods", pending.metadata.name!, { namespace: "default" });
      return p.spec.nodeName;
    });
  } finally {
    await c.close();
  }
});

Deno.test("taints are respected and the aggregate message counts each reason", async () => {
  const gpu = { key: "dedicated", value: "gpu", effect: "NoSchedule" as const };
  const c = await cluster([
    makeNode("cpu-0", { allocatable: { cpu: "2", memory: "8Gi", pods: "110" } }),
    makeNode("gpu-0", { taints: [gpu], allocatable: { cpu: "8", memory: "8Gi", pods: "110" } }),
    makeNode("gpu-1", { taints: [gpu], allocatable: { cpu: "8", memory: "8Gi", pods: "110" } }),
  ]);
  try {
    for (let i = 0; i < 4; i++) {
      await c.store.create(makePod(`plain-${i}`, { requests: { cpu: "100m" } }));
    }
    await c.store.create(makePod("tolerant", {
      requests: { cpu: "4" },
      spec: {
        tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" }],
      },
    }));
    const bound = await allBound(c.store, 5);
    for (const p of bound.filter((p) => p.metadata.name!.startsWith("plain-"))) {
      assert.equal(p.spec.nodeName, "cpu-0", `${p.metadata.name} went to a tainted node`);
    }
    assert.match(bound.find((p) => p.metadata.name === "tolerant")!.spec.nodeName!, /^gpu-/);
    await c.store.create(makePod("big", { requests: { cpu: "3" } }));
    const msg = await podScheduledMessage(c.store, "big");
    assert.match(msg, /^0\/3 nodes are available: /);
    assert.match(msg, /2 node\(s\) had untolerated taint \{dedicated: gpu\}/);
    assert.match(msg, /1 Insufficient cpu/);
  } finally {
    await c.close();
  }
});

Deno.test("removing a taint from a node schedules the pods that waited for it", async () => {
  const c = await cluster([
    makeNode("only", { taints: [{ key: "maintenance", effect: "NoSchedule" }] }),
  ]);
  try {
    await c.store.create(makePod("waiting", { requests: { cpu: "100m" } }));
    const msg = await podScheduledMessage(c.store, "waiting");
    assert.match(msg, /1 node\(s\) had untolerated taint \{maintenance: \}/);
    const node = await c.store.get<Node>("nodes", "only");
    await c.store.update({ ...node, spec: { ...node.spec, taints: [] } });
    const bound = await waitFor("waiting bound", async () => {
      const p = await c.store.get<Pod>("pods", "waiting", { namespace: "default" });
      return p.spec.nodeName;
    });
    assert.equal(bound, "only");
  } finally {
    await c.close();
  }
});

Deno.test("preemption evicts the fewest, lowest-priority victims and the preemptor then binds", async () => {
  const small = { cpu: "4", memory: "8Gi", pods: "110" };
  const c = await cluster([
    makeNode("a", { allocatable: small }),
    makeNode("b", { allocatable: small }),
  ]);
  try {
    // a: two priority-1 pods of 2 cpu. b: a priority-5 pod of 2 cpu, a priority-1 and a
    // priority-0 pod of 1 cpu. The priority-3 preemptor needs 2 cpu: on a, one victim
    // suffices; on b it takes two (b-mid outranks the preemptor and is never a victim).
    const place = async (name: string, node: string, cpu: string, priority: number) =>
      await c.store.create(makePod(name, {
        requests: { cpu },
        priority,
        spec: { nodeName: node, priority },
      }));
    await place("a-low-1", "a", "2", 1);
    await place("a-low-2", "a", "2", 1);
    await place("b-mid", "b", "2", 5);
    await place("b-low", "b", "1", 1);
    await place("b-lowest", "b", "1", 0);
    await c.store.create(makePod("urgent", { requests: { cpu: "2" }, priority: 3 }));
    await waitFor("a victim marked for deletion", async () => {
      const ps = (await pods(c.store)).filter((p) => p.metadata.deletionTimestamp);
      return ps.length > 0 ? ps : undefined;
    });
    await new Promise((r) => setTimeout(r, 300));
    const victims = (await pods(c.store)).filter((p) => p.metadata.deletionTimestamp);
    assert.equal(victims.length, 1, `victims: ${victims.map((p) => p.metadata.name)}`);
    assert.equal(victims[0].spec.nodeName, "a");
    assert.match(victims[0].metadata.name!, /^a-low-/);
    const urgent = await c.store.get<Pod>("pods", "urgent", { namespace: "default" });
    assert.equal(urgent.status?.nominatedNodeName, "a");
    // The node agent finishes the graceful deletion.
    for (const v of victims) {
      await c.store.delete("pods", v.metadata.name!, {
        namespace: "default",
        gracePeriodSeconds: 0,
      });
    }
    const node = await waitFor("urgent bound", async () => {
      const p = await c.store.get<Pod>("pods", "urgent", { namespace: "default" });
      return p.spec.nodeName;
    });
    assert.equal(node, "a");
  } finally {
    await c.close();
  }
});

Deno.test("after thousands of random pods no node holds more than it has", async () => {
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const nodes = Array.from({ length: 60 }, (_, i) =>
    makeNode(`n${i}`, {
      allocatable: {
        cpu: `${1 + Math.floor(rand() * 8)}`,
        memory: `${1 + Math.floor(rand() * 16)}Gi`,
        pods: `${5 + Math.floor(rand() * 60)}`,
      },
    }));
  const c = await cluster(nodes);
  try {
    const N = 2000;
    const creates = [];
    for (let i = 0; i < N; i++) {
      creates.push(c.store.create(makePod(`p${i}`, {
        requests: {
          cpu: `${10 + Math.floor(rand() * 300)}m`,
          memory: `${16 + Math.floor(rand() * 600)}Mi`,
        },
      })));
    }
    await Promise.all(creates);
    // Wait until every pod is bound or has been found unschedulable.
    const all = await waitFor(
      "every pod decided",
      async () => {
        const ps = await pods(c.store);
        const decided = ps.filter((p) =>
          p.spec.nodeName ||
          p.status?.conditions?.some((x) => x.type === "PodScheduled" && x.status === "False")
        );
        return decided.length === N ? ps : undefined;
      },
      120000,
      250,
    );
    const nodeObjs = (await c.store.list<Node>("nodes")).items;
    const byNode = new Map<string, Pod[]>();
    for (const p of all) {
      if (p.spec.nodeName) byNode.set(p.spec.nodeName, [...(byNode.get(p.spec.nodeName) ?? []), p]);
    }
    const bound = [...byNode.values()].reduce((n, l) => n + l.length, 0);
    assert.ok(bound > N / 2, `only ${bound} of ${N} bound`);
    for (const n of nodeObjs) {
      const on = byNode.get(n.metadata.name!) ?? [];
      const verdict = fitsOnNode(n, on);
      assert.equal(verdict, "", `node ${n.metadata.name}: ${verdict}`);
    }
    // A pod left pending must not fit anywhere (nodes only filled up after its attempt).
    for (const p of all.filter((p) => !p.spec.nodeName)) {
      for (const n of nodeObjs) {
        const verdict = fitsOnNode(n, [...(byNode.get(n.metadata.name!) ?? []), p]);
        assert.notEqual(verdict, "", `${p.metadata.name} pending but fits ${n.metadata.name}`);
      }
    }
  } finally {
    await c.close();
  }
});
