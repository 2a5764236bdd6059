import assert from "node:assert/strict";
import { makeNode, makePod } from "./builders.ts";
import { newPodInfo } from "./pod_info.ts";
import { QuantityError } from "./resources.ts";
import { Snapshot } from "./snapshot.ts";

Deno.test("the snapshot's arrays follow pods added and removed", () => {
  const s = new Snapshot();
  s.addNode(makeNode("n1", { allocatable: { cpu: "2", memory: "1Gi", pods: "10" } }));
  const p = newPodInfo(makePod("p", { requests: { cpu: "500m", memory: "100Mi" } }));
  s.addPod(p, "n1");
  assert.deepEqual([s.reqCpu[0], s.reqMem[0], s.reqPods[0]], [500, 100 * 1024 * 1024, 1]);
  s.removePod(p.key);
  assert.deepEqual([s.reqCpu[0], s.reqMem[0], s.reqPods[0]], [0, 0, 0]);
});

Deno.test("removing a node moves the last node into its slot and keeps pods attached", () => {
  const s = new Snapshot();
  for (let i = 0; i < 3; i++) s.addNode(makeNode(`n${i}`));
  const p = newPodInfo(makePod("p", { requests: { cpu: "1" } }));
  s.addPod(p, "n2");
  s.removeNode("n0");
  assert.equal(s.count, 2);
  assert.equal(s.nodes[0].name, "n2");
  assert.equal(p.nodeIndex, 0);
  assert.equal(s.reqCpu[0], 1000);
  s.removePod(p.key);
  assert.equal(s.reqCpu[0], 0);
});

Deno.test("a pod bound to a node not seen yet is attached when the node arrives", () => {
  const s = new Snapshot();
  const p = newPodInfo(makePod("p", { requests: { cpu: "1" } }));
  s.addPod(p, "late");
  assert.equal(p.nodeIndex, -1);
  s.addNode(makeNode("late"));
  assert.equal(s.reqCpu[s.nodeInfo("late")!.index], 1000);
});

Deno.test("a node with a malformed allocatable changes nothing", () => {
  const s = new Snapshot();
  s.addNode(makeNode("n", { allocatable: { cpu: "2", memory: "1Gi", pods: "10" } }));
  assert.throws(() => s.updateNode(makeNode("n", { allocatable: { cpu: "lots" } })), QuantityError);
  assert.equal(s.allocCpu[0], 2000);
  assert.throws(() => s.addNode(makeNode("m", { allocatable: { memory: "-1Gi" } })), /memory/);
  assert.equal(s.count, 1);
});

Deno.test("topology indexes are rebuilt when node labels change", () => {
  const s = new Snapshot();
  s.addNode(makeNode("n", { labels: { zone: "a" } }));
  assert.deepEqual(s.topology("zone").values, ["a"]);
  s.updateNode(makeNode("n", { labels: { zone: "b" } }));
  assert.deepEqual(s.topology("zone").values, ["b"]);
});

Deno.test("term counts and anti-affinity carriers stay exact through adds, removals and node changes", () => {
  const s = new Snapshot();
  for (let i = 0; i < 8; i++) s.addNode(makeNode(`n${i}`, { labels: { zone: `z${i % 3}` } }));
  const anti = (name: string, app: string) =>
    newPodInfo(makePod(name, {
      labels: { app },
      spec: {
        affinity: {
          podAntiAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [{
              labelSelector: { matchLabels: { app } },
              topologyKey: "zone",
            }],
          },
        },
      },
    }));
  const probe = anti("probe", "a");
  const term = probe.requiredAntiAffinity[0];
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 16807) % 2147483647) % n;
  const placed = new Map<string, string>();
  const brute = () => {
    const topo = s.topology("zone");
    const want = new Int32Array(topo.values.length);
    for (const [key, node] of placed) {
      const pi = s.pods.get(key)!;
      if (pi.labels.app === "a") want[topo.idOf.get(s.nodeInfo(node)!.labels.zone)!]++;
    }
    return want;
  };
  for (let step = 0; step < 300; step++) {
    const op = rand(10);
    if (op < 6) {
      const name = `p${rand(40)}`;
      const node = `n${rand(8)}`;
      s.addPod(anti(name, rand(2) ? "a" : "b"), node);
      placed.set(`default/${name}`, node);
    } else if (op < 9) {
      const name = `default/p${rand(40)}`;
      s.removePod(name);
      placed.delete(name);
    } else {
      const i = rand(8);
      s.updateNode(makeNode(`n${i}`, { labels: { zone: `z${rand(4)}` } }));
    }
    assert.deepEqual([...s.termMatchCounts(term).counts], [...brute()], `step ${step}`);
    const carriers = s.antiAffinityCarriers().get(term);
    assert.deepEqual(
      [...(carriers ?? new Int32Array(brute().length))],
      [...brute()],
      `carriers, step ${step}`,
    );
  }
});

Deno.test("minFree() and the packed utilization inputs follow placements, removals and node changes", () => {
  const snap = new Snapshot();
  let seed = 11;
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const brute = () => {
    let cpu = Infinity, memory = Infinity, pods = Infinity;
    for (let i = 0; i < snap.count; i++) {
      cpu = Math.min(cpu, snap.freeCpu[i]);
      memory = Math.min(memory, snap.freeMem[i]);
      pods = Math.min(pods, snap.freePods[i]);
    }
    return { cpu, memory, pods };
  };
  assert.deepEqual({ ...snap.minFree() }, brute());
  const placed: string[] = [];
  for (let step = 0; step < 3000; step++) {
    const r = rand();
    if (r < 0.05 || snap.count === 0) {
      snap.addNode(makeNode(`n${step}`, {
        allocatable: { cpu: `${1 + Math.floor(rand() * 4)}`, memory: "4Gi", pods: "8" },
      }));
    } else if (r < 0.07 && snap.count > 1) {
      snap.removeNode(snap.nodes[Math.floor(rand() * snap.count)].name);
    } else if (r < 0.6) {
      const pod = newPodInfo(makePod(`p${step}`, {
        requests: { cpu: `${Math.floor(rand() * 500)}m`, memory: `${Math.floor(rand() * 512)}Mi` },
      }));
      snap.addPod(pod, snap.nodes[Math.floor(rand() * snap.count)].name);
      placed.push(pod.key);
    } else if (placed.length > 0) {
      snap.removePod(placed.splice(Math.floor(rand() * placed.length), 1)[0]);
    }
    if (step % 7 === 0) {
      assert.deepEqual({ ...snap.minFree() }, brute(), `step ${step}`);
      for (let i = 0; i < snap.count; i++) {
        const u = snap.utilization.subarray(4 * i, 4 * i + 4);
        assert.deepEqual([...u], [snap.nzCpu[i], snap.nzMem[i], snap.invCpu[i], snap.invMem[i]]);
      }
    }
  }
});

Deno.test("a quantity parsed once is read from the cache with its unit; a bad one still names the field", () => {
  const s = new Snapshot();
  s.addNode(makeNode("a", { allocatable: { cpu: "2", memory: "2", pods: "2" } }));
  // "2" is 2000 milli-CPU but 2 bytes and 2 pods: the cache keeps units apart.
  assert.deepEqual([s.allocCpu[0], s.allocMem[0], s.allocPods[0]], [2000, 2, 2]);
  assert.throws(
    () => s.addNode(makeNode("b", { allocatable: { cpu: "2", memory: "-2" } })),
    /node b: status\.allocatable\.memory: expected a non-negative quantity/,
  );
  assert.throws(
    () => s.addNode(makeNode("c", { allocatable: { cpu: "2", memory: "-2" } })),
    /node c: status\.allocatable\.memory/,
  );
});
