import assert from "node:assert/strict";
import { makeNode, makePod } from "../scheduler/builders.ts";
import { NodeInfo } from "../scheduler/node_info.ts";
import { newPodInfo } from "../scheduler/pod_info.ts";
import { fits as nameFits } from "./node_name.ts";
import { fits as portsFits } from "./node_ports.ts";
import { fits as cordonFits } from "./node_unschedulable.ts";

Deno.test("NodeUnschedulable keeps pods off cordoned nodes unless tolerated", () => {
  const cordoned = new NodeInfo(makeNode("n", { unschedulable: true }));
  assert.equal(cordonFits(newPodInfo(makePod("p")), cordoned), false);
  const tolerant = newPodInfo(makePod("q", {
    spec: {
      tolerations: [{
        key: "node.kubernetes.io/unschedulable",
        operator: "Exists",
        effect: "NoSchedule",
      }],
    },
  }));
  assert.equal(cordonFits(tolerant, cordoned), true);
  assert.equal(cordonFits(newPodInfo(makePod("p")), new NodeInfo(makeNode("m"))), true);
});

Deno.test("NodeName matches only the named node", () => {
  const pod = newPodInfo(makePod("p", { spec: { nodeName: "a" } }));
  assert.equal(nameFits(pod, new NodeInfo(makeNode("a"))), true);
  assert.equal(nameFits(pod, new NodeInfo(makeNode("b"))), false);
  assert.equal(nameFits(newPodInfo(makePod("q")), new NodeInfo(makeNode("b"))), true);
});

Deno.test("NodePorts rejects a host port in use on the same protocol and address", () => {
  const withPort = (name: string, port: number, protocol = "TCP", hostIP?: string) =>
    newPodInfo(makePod(name, {
      spec: {
        containers: [{
          name: "c",
          image: "x",
          ports: [{ containerPort: 80, hostPort: port, protocol: protocol as "TCP", hostIP }],
        }],
      },
    }));
  const node = new NodeInfo(makeNode("n"));
  node.addPod(withPort("a", 8080));
  assert.equal(portsFits(withPort("b", 8080), node), false);
  assert.equal(portsFits(withPort("c", 8080, "UDP"), node), true);
  assert.equal(portsFits(withPort("d", 9090), node), true);
  assert.equal(portsFits(withPort("e", 8080, "TCP", "10.0.0.1"), node), false, "wildcard taken");
  node.removePod(withPort("a", 8080));
  assert.equal(portsFits(withPort("b", 8080), node), true);
});
