import assert from "node:assert/strict";
import { makeNode, makePod } from "../scheduler/builders.ts";
import { CycleState } from "../scheduler/cycle_state.ts";
import { NodeInfo } from "../scheduler/node_info.ts";
import { newPodInfo } from "../scheduler/pod_info.ts";
import { SchedulerConfigError } from "../scheduler/registry.ts";
import { Snapshot } from "../scheduler/snapshot.ts";
import type { Status } from "../scheduler/status.ts";
import { MemoryClient } from "../scheduler/client.ts";
import type { Handle } from "../scheduler/plugin.ts";
import { factory, fits, leastAllocated, mostAllocated, ratioScorer } from "./node_resources_fit.ts";

/**
 * Runs the bulk filter over every node of `snap` and asserts that it keeps
 * exactly the nodes the per-node filter passes, with the same reasons for
 * the others; returns what it kept.
 */
function bulkFilterAgrees(
  p: ReturnType<typeof factory>,
  state: CycleState,
  pod: ReturnType<typeof newPodInfo>,
  snap: Snapshot,
): { nodes: Int32Array; n: number; kept: Set<number> } {
  const nodes = Int32Array.from({ length: snap.count }, (_, i) => i);
  const rejected: (Status | undefined)[] = [];
  const n = p.filterAll!(state, pod, nodes, snap.count, rejected);
  const kept = new Set(nodes.subarray(0, n));
  for (let i = 0; i < snap.count; i++) {
    const s = p.filter!(state, pod, snap.nodes[i]);
    assert.equal(kept.has(i), s.code === "Success", `node ${i}`);
    if (!kept.has(i)) assert.deepEqual(rejected[i]?.reasons, s.reasons);
  }
  return { nodes, n, kept };
}

function handle(snapshot: Snapshot): Handle {
  return {
    snapshot,
    client: new MemoryClient(),
    runFilters: () => {
      throw new Error("unused");
    },
    runPreFilters: () => {
      throw new Error("unused");
    },
  };
}

Deno.test("fits() names every resource the node lacks", () => {
  const node = new NodeInfo(makeNode("n", { allocatable: { cpu: "1", memory: "1Gi", pods: "1" } }));
  node.addPod(newPodInfo(makePod("old", { requests: { cpu: "500m" } })));
  const pod = newPodInfo(makePod("p", { requests: { cpu: "600m", memory: "2Gi" } }));
  assert.deepEqual(fits(pod, node), ["Too many pods", "Insufficient cpu", "Insufficient memory"]);
});

Deno.test("fits() accepts a pod that exactly fills the node", () => {
  const node = new NodeInfo(makeNode("n", { allocatable: { cpu: "1", memory: "1Gi", pods: "2" } }));
  node.addPod(newPodInfo(makePod("old", { requests: { cpu: "400m", memory: "512Mi" } })));
  const pod = newPodInfo(makePod("p", { requests: { cpu: "600m", memory: "512Mi" } }));
  assert.deepEqual(fits(pod, node), []);
});

Deno.test("fits() checks extended resources and ignores those the pod does not request", () => {
  const node = new NodeInfo(makeNode("n", {
    allocatable: { cpu: "4", memory: "4Gi", pods: "10", "nvidia.com/gpu": "1" },
  }));
  const gpu2 = newPodInfo(makePod("p", { requests: { "nvidia.com/gpu": "2" } }));
  assert.deepEqual(fits(gpu2, node), ["Insufficient nvidia.com/gpu"]);
  const fpga = newPodInfo(makePod("q", { requests: { "example.com/fpga": "1" } }));
  assert.deepEqual(fits(fpga, node), ["Insufficient example.com/fpga"]);
  assert.deepEqual(fits(newPodInfo(makePod("r", { requests: { cpu: "1" } })), node), []);
});

Deno.test("init containers count by their maximum, overhead on top", () => {
  const pod = newPodInfo(makePod("p", {
    requests: { cpu: "200m" },
    spec: {
      initContainers: [{ name: "i", image: "x", resources: { requests: { cpu: "1" } } }],
      overhead: { cpu: "100m" },
    },
  }));
  assert.equal(pod.req.requests.milliCpu, 1100);
});

Deno.test("leastAllocated and mostAllocated score the share free and used", () => {
  assert.equal(leastAllocated(250, 1000), 75);
  assert.equal(leastAllocated(1500, 1000), 0);
  assert.equal(mostAllocated(250, 1000), 25);
  assert.equal(mostAllocated(1500, 1000), 100);
  assert.equal(leastAllocated(0, 0), 0);
});

Deno.test("ratioScorer() interpolates the shape and rejects a bad one naming the field", () => {
  const f = ratioScorer([{ utilization: 0, score: 10 }, { utilization: 100, score: 0 }]);
  assert.equal(f(0, 100), 100);
  assert.equal(f(25, 100), 75);
  assert.throws(
    () => ratioScorer([{ utilization: 50, score: 1 }, { utilization: 10, score: 2 }]),
    (e: Error) => e instanceof SchedulerConfigError && /shape\[1\]\.utilization/.test(e.message),
  );
});

Deno.test("factory() rejects an unknown scoring strategy naming the field", () => {
  assert.throws(
    () => factory({ scoringStrategy: { type: "Random" } }, handle(new Snapshot())),
    /NodeResourcesFit\.args\.scoringStrategy\.type: expected/,
  );
});

Deno.test("the bulk filter and score agree with the per-node ones", () => {
  const snap = new Snapshot();
  let seed = 42;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < 200; i++) {
    const ni = snap.addNode(makeNode(`n${i}`, {
      allocatable: {
        cpu: `${1 + Math.floor(rand() * 8)}`,
        memory: `${1 + Math.floor(rand() * 8)}Gi`,
        pods: `${1 + Math.floor(rand() * 5)}`,
      },
    }));
    for (let k = 0; k < 3; k++) {
      snap.addPod(
        newPodInfo(
          makePod(`p${i}-${k}`, {
            requests: {
              cpu: `${Math.floor(rand() * 2000)}m`,
              memory: `${Math.floor(rand() * 2000)}Mi`,
            },
          }),
        ),
        ni.name,
      );
    }
  }
  for (const type of ["LeastAllocated", "MostAllocated"]) {
    const p = factory({ scoringStrategy: { type } }, handle(snap));
    const pod = newPodInfo(makePod("new", { requests: { cpu: "700m", memory: "600Mi" } }));
    const state = new CycleState();
    const { nodes, n, kept } = bulkFilterAgrees(p, state, pod, snap);
    const out = new Float64Array(snap.capacity);
    p.scoreAll!(state, pod, nodes.subarray(0, n), n, out);
    const total = new Float64Array(snap.capacity);
    p.addScores!(state, pod, nodes.subarray(0, n), n, total, 2, false);
    for (const i of kept) {
      const s = p.score!(state, pod, snap.nodes[i]);
      assert.ok(Math.abs(out[i] - s) < 1e-9, `${type} node ${i}: ${out[i]} vs ${s}`);
      assert.ok(Math.abs(total[i] - 2 * s) < 1e-9);
    }
  }
});

Deno.test("the bulk filter agrees with the per-node one whether or not every node has room", () => {
  const snap = new Snapshot();
  for (let i = 0; i < 50; i++) {
    snap.addNode(makeNode(`n${i}`, { allocatable: { cpu: "4", memory: "4Gi", pods: "3" } }));
  }
  const p = factory({}, handle(snap));
  const state = new CycleState();
  const check = (pod: ReturnType<typeof newPodInfo>) => bulkFilterAgrees(p, state, pod, snap).n;
  const small = newPodInfo(makePod("small", { requests: { cpu: "1", memory: "1Gi" } }));
  assert.equal(check(small), 50);
  // One node fills up: its cpu, then its pod slots.
  for (let k = 0; k < 3; k++) {
    snap.addPod(newPodInfo(makePod(`f${k}`, { requests: { cpu: "1" } })), "n7");
  }
  assert.equal(check(small), 49);
  assert.equal(check(newPodInfo(makePod("big", { requests: { cpu: "2" } }))), 49);
  snap.removePod("default/f0");
  assert.equal(check(small), 50);
});
