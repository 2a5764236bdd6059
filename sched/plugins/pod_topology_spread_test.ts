import assert from "node:assert/strict";
import { makeNode, makePod } from "../scheduler/builders.ts";
import { CycleState } from "../scheduler/cycle_state.ts";
import { newPodInfo, type PodInfo } from "../scheduler/pod_info.ts";
import { Snapshot } from "../scheduler/snapshot.ts";
import type { TopologySpreadConstraint } from "../scheduler/types.ts";
import { MemoryClient } from "../scheduler/client.ts";
import { factory, fits, skew } from "./pod_topology_spread.ts";

function cluster(): Snapshot {
  const s = new Snapshot();
  s.addNode(makeNode("a", { labels: { zone: "a" } }));
  s.addNode(makeNode("b", { labels: { zone: "b" } }));
  s.addNode(makeNode("c", { labels: { zone: "c", disk: "hdd" } }));
  return s;
}

function spread(name: string, c: Partial<TopologySpreadConstraint>, extra = {}): PodInfo {
  return newPodInfo(makePod(name, {
    labels: { app: "w" },
    spec: {
      topologySpreadConstraints: [{
        maxSkew: 1,
        topologyKey: "zone",
        whenUnsatisfiable: "DoNotSchedule",
        labelSelector: { matchLabels: { app: "w" } },
        ...c,
      }],
      ...extra,
    },
  }));
}

Deno.test("skew() is the domain count plus self minus the global minimum", () => {
  assert.equal(skew(2, 1, 1), 2);
  assert.equal(skew(0, 0, 0), 0);
});

Deno.test("DoNotSchedule rejects a domain that would exceed maxSkew", () => {
  const s = cluster();
  s.addPod(spread("p1", {}), "a");
  s.addPod(spread("p2", {}), "b");
  const p = spread("p3", {});
  assert.equal(fits(p, s.nodeInfo("a")!, s).code, "Unschedulable");
  assert.equal(fits(p, s.nodeInfo("c")!, s).code, "Success");
  const loose = spread("p4", { maxSkew: 2 });
  assert.equal(fits(loose, s.nodeInfo("a")!, s).code, "Success");
});

Deno.test("nodes without the topology label are unresolvable", () => {
  const s = cluster();
  s.addNode(makeNode("bare"));
  assert.equal(fits(spread("p", {}), s.nodeInfo("bare")!, s).code, "UnschedulableAndUnresolvable");
});

Deno.test("only domains of nodes passing the pod's node selector count", () => {
  const s = cluster();
  s.addPod(spread("p1", {}), "c");
  // Restricted to zones a and b (no disk=hdd), zone c does not count toward the minimum.
  const p = spread("p2", {}, {
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: "disk", operator: "DoesNotExist" }] }],
        },
      },
    },
  });
  assert.equal(fits(p, s.nodeInfo("a")!, s).code, "Success");
});

Deno.test("minDomains raises the skew while too few domains exist", () => {
  const s = cluster();
  s.addPod(spread("p1", {}), "a");
  s.addPod(spread("p2", {}), "b");
  s.addPod(spread("p3", {}), "c");
  // Three domains, each with one pod; with minDomains 4 the global minimum is 0.
  const p = spread("p4", { minDomains: 4 });
  assert.equal(fits(p, s.nodeInfo("a")!, s).code, "Unschedulable");
  assert.equal(fits(spread("p5", { minDomains: 3 }), s.nodeInfo("a")!, s).code, "Success");
});

Deno.test("ScheduleAnyway scores emptier domains higher", () => {
  const s = cluster();
  s.addPod(spread("p1", {}), "a");
  s.addPod(spread("p2", {}), "a");
  s.addPod(spread("p3", {}), "b");
  const plugin = factory({}, {
    snapshot: s,
    client: new MemoryClient(),
    runFilters: () => {
      throw new Error("unused");
    },
    runPreFilters: () => {
      throw new Error("unused");
    },
  });
  const p = spread("p4", { whenUnsatisfiable: "ScheduleAnyway" });
  const state = new CycleState();
  const nodes = Int32Array.from([0, 1, 2]);
  assert.equal(plugin.preFilter!(state, p).code, "Skip", "no DoNotSchedule constraint");
  assert.equal(plugin.preScore!(state, p, nodes, 3).code, "Success");
  const out = new Float64Array(3);
  plugin.scoreAll!(state, p, nodes, 3, out);
  plugin.normalizeScore!(state, p, nodes, 3, out);
  assert.ok(out[2] > out[1] && out[1] > out[0], `scores ${[...out]}`);
  assert.equal(out[2], 100);
});

Deno.test("pods of one controller with no constraints are spread over hosts and zones by default", async () => {
  const { Scheduler } = await import("../scheduler/scheduler.ts");
  const { inTreeRegistry } = await import("./registry.ts");
  const client = new MemoryClient();
  // Resource scores off: only spreading tells the nodes apart (ties are random).
  const s = new Scheduler(client, {
    registry: inTreeRegistry(),
    log: () => {},
    config: {
      profiles: [{
        schedulerName: "default-scheduler",
        plugins: {
          score: {
            disabled: [{ name: "NodeResourcesFit" }, { name: "NodeResourcesBalancedAllocation" }],
          },
        },
      }],
    },
  });
  for (let i = 0; i < 6; i++) {
    s.onNodeAdd(makeNode(`n${i}`, { labels: { "topology.kubernetes.io/zone": `z${i % 3}` } }));
  }
  const owned = (name: string) => {
    const p = makePod(name, { requests: { cpu: "100m", memory: "100Mi" } });
    p.metadata.ownerReferences = [{
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      name: "web-1",
      uid: "rs-uid",
      controller: true,
    }];
    return p;
  };
  for (let i = 0; i < 6; i++) s.onPodAdd(owned(`web-${i}`));
  await s.runUntilIdle();
  const nodes = client.calls.filter((c) => c.kind === "bind").map((c) =>
    c.kind === "bind" ? c.nodeName : ""
  );
  assert.equal(new Set(nodes).size, 6, `replicas doubled up: ${nodes}`);
});

Deno.test("defaultConstraints with a labelSelector are refused naming the field", () => {
  assert.throws(
    () =>
      factory({
        defaultingType: "List",
        defaultConstraints: [{
          maxSkew: 1,
          topologyKey: "zone",
          whenUnsatisfiable: "ScheduleAnyway",
          labelSelector: { matchLabels: { a: "b" } },
        }],
      }, { snapshot: new Snapshot() } as never),
    /PodTopologySpread\.args\.defaultConstraints\[0\]\.labelSelector/,
  );
});
