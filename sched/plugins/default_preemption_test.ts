import assert from "node:assert/strict";
import { makeNode, makePod } from "../scheduler/builders.ts";
import { CycleState } from "../scheduler/cycle_state.ts";
import { NodeInfo } from "../scheduler/node_info.ts";
import { newPodInfo, type PodInfo } from "../scheduler/pod_info.ts";
import { moreImportant, pickCandidate, selectVictimsOnNode } from "./default_preemption.ts";
import { fits } from "./node_resources_fit.ts";
import { status } from "../scheduler/status.ts";

const pod = (name: string, cpu: string, priority: number, ts = "2026-01-01T00:00:00Z") => {
  const p = makePod(name, { requests: { cpu }, priority });
  p.metadata.creationTimestamp = ts;
  return newPodInfo(p);
};

// Filters reduced to resource fit: enough to choose victims on one node.
const handle = {
  runFilters: (_s: CycleState, p: PodInfo, n: NodeInfo) =>
    fits(p, n).length === 0 ? status("Success") : status("Unschedulable", fits(p, n)),
};

Deno.test("selectVictimsOnNode() evicts only what is needed, least important first", () => {
  const node = new NodeInfo(
    makeNode("n", { allocatable: { cpu: "4", memory: "8Gi", pods: "10" } }),
  );
  for (const p of [pod("a", "1", 1), pod("b", "1", 2), pod("c", "1", 3), pod("d", "1", 20)]) {
    node.addPod(p);
  }
  const victims = selectVictimsOnNode(handle, new CycleState(), pod("vip", "2", 10), node)!;
  assert.deepEqual(victims.map((v) => v.key), ["default/b", "default/a"]);
  assert.equal(node.pods.size, 4, "the real node is untouched");
});

Deno.test("selectVictimsOnNode() gives up when even every lower-priority pod is not enough", () => {
  const node = new NodeInfo(
    makeNode("n", { allocatable: { cpu: "2", memory: "8Gi", pods: "10" } }),
  );
  node.addPod(pod("high", "2", 50));
  assert.equal(selectVictimsOnNode(handle, new CycleState(), pod("vip", "1", 10), node), undefined);
});

Deno.test("pickCandidate() prefers the lowest top priority, then the lowest sum, then the fewest", () => {
  const n = (name: string) => new NodeInfo(makeNode(name));
  const c = (name: string, ...victims: PodInfo[]) => ({ node: n(name), victims });
  assert.equal(
    pickCandidate([c("a", pod("x", "1", 5)), c("b", pod("y", "1", 1), pod("z", "1", 1))]).node.name,
    "b",
    "lower top priority wins over fewer victims",
  );
  assert.equal(
    pickCandidate([
      c("a", pod("x", "1", 3), pod("w", "1", 3)),
      c("b", pod("y", "1", 3), pod("z", "1", 0)),
    ])
      .node.name,
    "b",
  );
  assert.equal(
    pickCandidate([c("a", pod("x", "1", 3), pod("w", "1", 3)), c("b", pod("y", "1", 3))]).node.name,
    "b",
  );
});

Deno.test("moreImportant() orders by priority, then age", () => {
  const old = pod("old", "1", 5, "2026-01-01T00:00:00Z");
  const young = pod("young", "1", 5, "2026-06-01T00:00:00Z");
  const top = pod("top", "1", 9);
  assert.deepEqual([young, top, old].sort(moreImportant).map((p) => p.key), [
    "default/top",
    "default/old",
    "default/young",
  ]);
});
