import assert from "node:assert/strict";
import { inTreeRegistry } from "../plugins/registry.ts";
import { makeNode, makePod } from "./builders.ts";
import { MemoryClient } from "./client.ts";
import { Framework } from "./framework.ts";
import { newPodInfo } from "./pod_info.ts";
import type { ProfileConfig } from "./profile.ts";
import { Snapshot } from "./snapshot.ts";
import { canSelectByUtilization } from "./utilization.ts";

function randomCluster(seed: number, nodes: number): { snap: Snapshot; rand: () => number } {
  const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const snap = new Snapshot();
  for (let i = 0; i < nodes; i++) {
    // Some nodes without memory or cpu, some nearly full, many alike (ties).
    const cpu = i % 17 === 0 ? "0" : `${1 + Math.floor(rand() * 4)}`;
    const mem = i % 23 === 0 ? "0" : `${1 + Math.floor(rand() * 4)}Gi`;
    const ni = snap.addNode(makeNode(`n${i}`, { allocatable: { cpu, memory: mem, pods: "50" } }));
    const placed = i % 3 === 0 ? 0 : Math.floor(rand() * 6);
    for (let k = 0; k < placed; k++) {
      const requests: Record<string, string> = k % 4 === 0 ? {} : {
        cpu: `${Math.floor(rand() * 4) * 250}m`,
        memory: `${Math.floor(rand() * 4) * 256}Mi`,
      };
      snap.addPod(newPodInfo(makePod(`p${i}-${k}`, { requests })), ni.name);
    }
  }
  return { snap, rand };
}

const profiles: Record<string, ProfileConfig> = {
  "default": { schedulerName: "s" },
  "MostAllocated, no balance": {
    schedulerName: "s",
    plugins: { score: { disabled: [{ name: "NodeResourcesBalancedAllocation" }] } },
    pluginConfig: [{
      name: "NodeResourcesFit",
      args: { scoringStrategy: { type: "MostAllocated" } },
    }],
  },
  "weighted cpu, balance weight 7": {
    schedulerName: "s",
    plugins: {
      multiPoint: { enabled: [{ name: "NodeResourcesBalancedAllocation", weight: 7 }] },
    },
    pluginConfig: [{
      name: "NodeResourcesFit",
      args: {
        scoringStrategy: {
          type: "LeastAllocated",
          resources: [{ name: "cpu", weight: 3 }, { name: "memory", weight: 1 }],
        },
      },
    }],
  },
  "balance only": {
    schedulerName: "s",
    plugins: { score: { disabled: [{ name: "NodeResourcesFit" }] } },
  },
};

for (const [label, profile] of Object.entries(profiles)) {
  Deno.test(`scoreAndSelect() matches prioritize() and selectHost() exactly: ${label}`, () => {
    for (const seed of [1, 7, 99]) {
      const { snap, rand } = randomCluster(seed, 300);
      const deps = { snapshot: snap, client: new MemoryClient() };
      // Same seed: the same tie-breaking draws when the totals agree.
      const fused = new Framework(profile, inTreeRegistry(), deps, { seed });
      const plain = new Framework(profile, inTreeRegistry(), deps, { seed });
      // The single pass must be what runs: the fused framework's bulk scorers may not.
      for (const p of fused.pluginsAt("score")) {
        if (p.utilizationScore) {
          (p as { addScores?: unknown }).addScores = () => {
            throw new Error(`${p.name}.addScores called: the single pass did not run`);
          };
        }
      }
      for (let i = 0; i < 200; i++) {
        const pod = newPodInfo(makePod(`new-${seed}-${i}`, {
          requests: i % 5 === 0 ? {} as Record<string, string> : {
            cpu: `${Math.floor(rand() * 8) * 125}m`,
            memory: `${Math.floor(rand() * 8) * 128}Mi`,
          },
        }));
        const s1 = fused.newCycleState();
        assert.equal(fused.runPreFilters(s1, pod).code, "Success");
        const feasible = fused.findFeasible(s1, pod).nodes.slice();
        if (feasible.length === 0) continue;
        const got = fused.scoreAndSelect(s1, pod, feasible);

        const s2 = plain.newCycleState();
        plain.runPreFilters(s2, pod);
        plain.findFeasible(s2, pod); // sizes its buffers
        const scores = plain.prioritize(s2, pod, feasible).slice();
        const want = plain.selectHost(feasible, scores);
        assert.equal(got.slot, want, `${label} seed ${seed} pod ${i}`);
        assert.equal(got.score, scores[want]);
        // And the per-node contract agrees up to rounding.
        const s3 = plain.newCycleState();
        let perNode = 0;
        for (const p of plain.pluginsAt("score")) {
          if (!s2.skipScore.has(p.name)) {
            perNode += plain.weightOf(p.name) * p.score!(s3, pod, snap.nodes[want]);
          }
        }
        assert.ok(Math.abs(perNode - got.score) < 1e-6, `${perNode} vs ${got.score}`);
        snap.addPod(pod, snap.nodes[got.slot].name);
      }
    }
  });
}

Deno.test("canSelectByUtilization() takes one allocation score and one balance score at most", () => {
  const least = { kind: "LeastAllocated", cpuFactor: 1, memoryFactor: 1 } as const;
  const most = { kind: "MostAllocated", cpuFactor: 1, memoryFactor: 1 } as const;
  const bal = { kind: "Balanced", cpuFactor: 1, memoryFactor: 0 } as const;
  assert.equal(canSelectByUtilization([]), false);
  assert.equal(canSelectByUtilization([bal]), true);
  assert.equal(canSelectByUtilization([least, bal]), true);
  assert.equal(canSelectByUtilization([bal, most]), true);
  assert.equal(canSelectByUtilization([least, most]), false);
  assert.equal(canSelectByUtilization([least, bal, bal]), false);
});

Deno.test("a pod with extended resources or a ratio strategy takes the per-plugin path", () => {
  const snap = new Snapshot();
  snap.addNode(
    makeNode("a", { allocatable: { cpu: "4", memory: "4Gi", "example.com/gpu": "2", pods: "9" } }),
  );
  snap.addNode(
    makeNode("b", { allocatable: { cpu: "4", memory: "8Gi", "example.com/gpu": "2", pods: "9" } }),
  );
  const fw = new Framework(
    {
      schedulerName: "s",
      pluginConfig: [{
        name: "NodeResourcesFit",
        args: {
          scoringStrategy: {
            type: "RequestedToCapacityRatio",
            requestedToCapacityRatio: {
              shape: [{ utilization: 0, score: 0 }, { utilization: 100, score: 10 }],
            },
          },
        },
      }],
    },
    inTreeRegistry(),
    { snapshot: snap, client: new MemoryClient() },
  );
  assert.equal(
    fw.plugins.get("NodeResourcesFit")!.utilizationScore!(
      fw.newCycleState(),
      newPodInfo(makePod("p")),
      1,
    ),
    undefined,
  );
  const pod = newPodInfo(makePod("p", { requests: { cpu: "1", memory: "1Gi" } }));
  const state = fw.newCycleState();
  fw.runPreFilters(state, pod);
  const { nodes } = fw.findFeasible(state, pod);
  const got = fw.scoreAndSelect(state, pod, nodes.slice());
  // RequestedToCapacityRatio with this shape packs: a (smaller memory) wins.
  assert.equal(snap.nodes[got.slot].name, "a");
});
