import assert from "node:assert/strict";
import { inTreeRegistry } from "../plugins/registry.ts";
import { makeNode } from "./builders.ts";
import { MemoryClient } from "./client.ts";
import { Framework } from "./framework.ts";
import { Snapshot } from "./snapshot.ts";

Deno.test("selectHost() picks the best score and spreads ties uniformly", () => {
  const snapshot = new Snapshot();
  for (let i = 0; i < 4; i++) snapshot.addNode(makeNode(`n${i}`));
  const fw = new Framework({ schedulerName: "s" }, inTreeRegistry(), {
    snapshot,
    client: new MemoryClient(),
  }, { seed: 3 });
  const nodes = Int32Array.from([0, 1, 2, 3]);
  assert.equal(fw.selectHost(nodes, Float64Array.from([1, 5, 2, 4])), 1);
  const counts = [0, 0, 0, 0];
  const tied = Float64Array.from([7, 1, 7, 7]);
  for (let i = 0; i < 3000; i++) counts[fw.selectHost(nodes, tied)]++;
  assert.equal(counts[1], 0);
  for (const i of [0, 2, 3]) assert.ok(counts[i] > 850 && counts[i] < 1150, `counts ${counts}`);
});
