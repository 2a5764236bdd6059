import assert from "node:assert/strict";
import { makeNode, makePod } from "../scheduler/builders.ts";
import { NodeInfo } from "../scheduler/node_info.ts";
import { newPodInfo } from "../scheduler/pod_info.ts";
import { balanceScore, score } from "./node_resources_balanced_allocation.ts";

Deno.test("balanceScore() is 100 when balanced and falls with the difference", () => {
  assert.equal(balanceScore(0.3, 0.3), 100);
  assert.equal(balanceScore(1, 0), 50);
  assert.equal(balanceScore(2, 0), 50, "fractions are capped at 1");
});

Deno.test("score() prefers the node whose cpu and memory end up evenly used", () => {
  const node = (cpu: string, mem: string) =>
    new NodeInfo(makeNode("n", { allocatable: { cpu, memory: mem, pods: "10" } }));
  const pod = newPodInfo(makePod("p", { requests: { cpu: "1", memory: "1Gi" } }));
  const even = score(pod, node("4", "4Gi"));
  const skewed = score(pod, node("4", "16Gi"));
  assert.equal(even, 100);
  assert.ok(skewed < even);
});
