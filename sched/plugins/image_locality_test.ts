import assert from "node:assert/strict";
import { makeNode, makePod } from "../scheduler/builders.ts";
import { newPodInfo } from "../scheduler/pod_info.ts";
import { Snapshot } from "../scheduler/snapshot.ts";
import { MAX_CONTAINER_THRESHOLD, MIN_THRESHOLD, scaledScore, score } from "./image_locality.ts";

const MB = 1024 * 1024;

Deno.test("scaledScore() is 0 below 23 MB and 100 at 1000 MB per container", () => {
  assert.equal(scaledScore(MIN_THRESHOLD - 1, 1), 0);
  assert.equal(scaledScore(MAX_CONTAINER_THRESHOLD, 1), 100);
  assert.equal(scaledScore(5 * MAX_CONTAINER_THRESHOLD, 1), 100);
  assert.ok(scaledScore(MAX_CONTAINER_THRESHOLD, 2) < 100);
});

Deno.test("score() favours nodes holding the image, discounted by how widely it is spread", () => {
  const s = new Snapshot();
  const big = { names: ["docker.io/library/postgres:16"], sizeBytes: 800 * MB };
  s.addNode(makeNode("has", { images: [big] }));
  for (let i = 0; i < 3; i++) s.addNode(makeNode(`no${i}`));
  const pod = newPodInfo(makePod("p", { image: "postgres:16" }));
  const has = score(pod, s.nodeInfo("has")!, s);
  assert.equal(score(pod, s.nodeInfo("no0")!, s), 0);
  assert.ok(has > 0, "normalized names match");
  // The same image on every node says little: a lower score per node.
  for (let i = 0; i < 3; i++) s.updateNode(makeNode(`no${i}`, { images: [big] }));
  assert.ok(score(pod, s.nodeInfo("has")!, s) > has);
});
