import assert from "node:assert/strict";
import { makeNode, makePod } from "../scheduler/builders.ts";
import { NodeInfo } from "../scheduler/node_info.ts";
import { newPodInfo } from "../scheduler/pod_info.ts";
import { intolerablePreferNoSchedule, tolerates, untoleratedTaint } from "./taint_toleration.ts";

const gpu = { key: "dedicated", value: "gpu", effect: "NoSchedule" as const };

Deno.test("tolerates() follows Equal, Exists, empty key and empty effect", () => {
  assert.equal(tolerates({ key: "dedicated", value: "gpu", effect: "NoSchedule" }, gpu), true);
  assert.equal(tolerates({ key: "dedicated", value: "cpu", effect: "NoSchedule" }, gpu), false);
  assert.equal(tolerates({ key: "dedicated", operator: "Exists" }, gpu), true);
  assert.equal(tolerates({ operator: "Exists" }, gpu), true);
  assert.equal(tolerates({ key: "dedicated", value: "gpu", effect: "NoExecute" }, gpu), false);
  assert.equal(tolerates({ value: "gpu" }, gpu), false, "an empty key needs Exists");
});

Deno.test("untoleratedTaint() ignores PreferNoSchedule and finds NoExecute", () => {
  const node = new NodeInfo(makeNode("n", {
    taints: [{ key: "spot", effect: "PreferNoSchedule" }, { key: "drain", effect: "NoExecute" }],
  }));
  assert.equal(untoleratedTaint(newPodInfo(makePod("p")), node)?.key, "drain");
  const tolerant = newPodInfo(
    makePod("q", { spec: { tolerations: [{ key: "drain", operator: "Exists" }] } }),
  );
  assert.equal(untoleratedTaint(tolerant, node), undefined);
});

Deno.test("intolerablePreferNoSchedule() counts only soft taints not tolerated", () => {
  const node = new NodeInfo(makeNode("n", {
    taints: [
      { key: "a", effect: "PreferNoSchedule" },
      { key: "b", effect: "PreferNoSchedule" },
      gpu,
    ],
  }));
  assert.equal(intolerablePreferNoSchedule(newPodInfo(makePod("p")), node), 2);
  const p = newPodInfo(
    makePod("q", {
      spec: { tolerations: [{ key: "a", operator: "Exists", effect: "PreferNoSchedule" }] },
    }),
  );
  assert.equal(intolerablePreferNoSchedule(p, node), 1);
  const noSched = newPodInfo(
    makePod("r", {
      spec: { tolerations: [{ key: "b", operator: "Exists", effect: "NoSchedule" }] },
    }),
  );
  assert.equal(
    intolerablePreferNoSchedule(noSched, node),
    2,
    "a NoSchedule toleration does not count",
  );
});
