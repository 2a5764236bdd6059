import assert from "node:assert/strict";
import { makeNode, makePod } from "../scheduler/builders.ts";
import { NodeInfo } from "../scheduler/node_info.ts";
import { newPodInfo } from "../scheduler/pod_info.ts";
import { fits, preferredScore } from "./node_affinity.ts";

const node = (labels: Record<string, string>) => new NodeInfo(makeNode("n", { labels }));

Deno.test("fits() ANDs nodeSelector with required terms that are ORed", () => {
  const pod = newPodInfo(makePod("p", {
    spec: {
      nodeSelector: { disk: "ssd" },
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] },
              { matchExpressions: [{ key: "zone", operator: "In", values: ["b"] }] },
            ],
          },
        },
      },
    },
  }));
  assert.equal(fits(pod, node({ disk: "ssd", zone: "b" })), true);
  assert.equal(fits(pod, node({ disk: "hdd", zone: "b" })), false);
  assert.equal(fits(pod, node({ disk: "ssd", zone: "c" })), false);
});

Deno.test("fits() supports NotIn, DoesNotExist, Gt and Lt", () => {
  const pod = newPodInfo(makePod("p", {
    spec: {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{
              matchExpressions: [
                { key: "zone", operator: "NotIn", values: ["a"] },
                { key: "spot", operator: "DoesNotExist" },
                { key: "cores", operator: "Gt", values: ["4"] },
                { key: "cores", operator: "Lt", values: ["64"] },
              ],
            }],
          },
        },
      },
    },
  }));
  assert.equal(fits(pod, node({ zone: "b", cores: "8" })), true);
  assert.equal(fits(pod, node({ zone: "a", cores: "8" })), false);
  assert.equal(fits(pod, node({ zone: "b", cores: "8", spot: "true" })), false);
  assert.equal(fits(pod, node({ zone: "b", cores: "4" })), false);
  assert.equal(fits(pod, node({ zone: "b", cores: "x" })), false);
});

Deno.test("a matchFields term on metadata.name selects one node", () => {
  const pod = newPodInfo(makePod("p", {
    spec: {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{
              matchFields: [{ key: "metadata.name", operator: "In", values: ["n"] }],
            }],
          },
        },
      },
    },
  }));
  assert.equal(fits(pod, node({})), true);
  assert.equal(fits(pod, new NodeInfo(makeNode("other"))), false);
});

Deno.test("preferredScore() sums the weights of matching terms", () => {
  const term = (key: string, v: string, weight: number) => ({
    weight,
    preference: { matchExpressions: [{ key, operator: "In" as const, values: [v] }] },
  });
  const pod = newPodInfo(makePod("p", {
    spec: {
      affinity: {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            term("zone", "a", 10),
            term("disk", "ssd", 3),
          ],
        },
      },
    },
  }));
  assert.equal(preferredScore(pod, node({ zone: "a", disk: "ssd" })), 13);
  assert.equal(preferredScore(pod, node({ zone: "b", disk: "ssd" })), 3);
  assert.equal(preferredScore(pod, node({})), 0);
});
