import assert from "node:assert/strict";
import { makeNode, makePod } from "../scheduler/builders.ts";
import { newPodInfo, type PodInfo } from "../scheduler/pod_info.ts";
import { Snapshot } from "../scheduler/snapshot.ts";
import type { PodAffinityTerm } from "../scheduler/types.ts";
import { fits } from "./inter_pod_affinity.ts";

function zones(): Snapshot {
  const s = new Snapshot();
  for (const [n, z] of [["a1", "a"], ["a2", "a"], ["b1", "b"]]) {
    s.addNode(makeNode(n, { labels: { zone: z } }));
  }
  s.addNode(makeNode("nolabel"));
  return s;
}

const term = (app: string, topologyKey = "zone", namespaces?: string[]): PodAffinityTerm => ({
  labelSelector: { matchLabels: { app } },
  topologyKey,
  namespaces,
});

function pod(name: string, labels: Record<string, string>, aff: {
  affinity?: PodAffinityTerm[];
  anti?: PodAffinityTerm[];
}, namespace?: string): PodInfo {
  return newPodInfo(makePod(name, {
    labels,
    namespace,
    spec: {
      affinity: {
        podAffinity: aff.affinity
          ? { requiredDuringSchedulingIgnoredDuringExecution: aff.affinity }
          : undefined,
        podAntiAffinity: aff.anti
          ? { requiredDuringSchedulingIgnoredDuringExecution: aff.anti }
          : undefined,
      },
    },
  }));
}

Deno.test("required affinity allows only domains holding a matching pod", () => {
  const s = zones();
  s.addPod(pod("db", { app: "db" }, {}), "a1");
  const web = pod("web", { app: "web" }, { affinity: [term("db")] });
  assert.equal(fits(web, s.nodeInfo("a2")!, s).code, "Success", "same zone, other node");
  assert.equal(fits(web, s.nodeInfo("b1")!, s).code, "UnschedulableAndUnresolvable");
  assert.equal(fits(web, s.nodeInfo("nolabel")!, s).code, "UnschedulableAndUnresolvable");
});

Deno.test("the first pod of a group that matches its own affinity may go anywhere labelled", () => {
  const s = zones();
  const first = pod("w0", { app: "web" }, { affinity: [term("web")] });
  assert.equal(fits(first, s.nodeInfo("b1")!, s).code, "Success");
  const stranger = pod("x", { app: "x" }, { affinity: [term("web")] });
  assert.equal(fits(stranger, s.nodeInfo("b1")!, s).code, "UnschedulableAndUnresolvable");
});

Deno.test("required anti-affinity rejects the domain of a matching pod, not unlabelled nodes", () => {
  const s = zones();
  s.addPod(pod("db0", { app: "db" }, {}), "a1");
  const db = pod("db1", { app: "db" }, { anti: [term("db")] });
  assert.equal(fits(db, s.nodeInfo("a2")!, s).code, "Unschedulable");
  assert.equal(fits(db, s.nodeInfo("b1")!, s).code, "Success");
  assert.equal(fits(db, s.nodeInfo("nolabel")!, s).code, "Success");
});

Deno.test("an existing pod's anti-affinity keeps matching newcomers out (symmetry)", () => {
  const s = zones();
  s.addPod(pod("loner", { app: "loner" }, { anti: [term("noisy")] }), "a1");
  const noisy = pod("n", { app: "noisy" }, {});
  const r = fits(noisy, s.nodeInfo("a2")!, s);
  assert.equal(r.code, "Unschedulable");
  assert.deepEqual(r.reasons, ["node(s) didn't satisfy existing pods anti-affinity rules"]);
  assert.equal(fits(noisy, s.nodeInfo("b1")!, s).code, "Success");
  assert.equal(fits(pod("q", { app: "quiet" }, {}), s.nodeInfo("a1")!, s).code, "Success");
});

Deno.test("terms only see pods in their namespaces", () => {
  const s = zones();
  s.addPod(pod("db0", { app: "db" }, {}, "other"), "a1");
  const here = pod("db1", { app: "db" }, { anti: [term("db")] });
  assert.equal(fits(here, s.nodeInfo("a2")!, s).code, "Success", "default ns sees no db");
  const wide = pod("db2", { app: "db" }, { anti: [term("db", "zone", ["other"])] });
  assert.equal(fits(wide, s.nodeInfo("a2")!, s).code, "Unschedulable");
});

Deno.test("removing a pod lifts its anti-affinity", () => {
  const s = zones();
  s.addPod(pod("db0", { app: "db" }, { anti: [term("db", "kubernetes.io/hostname")] }), "a1");
  const db = pod("db1", { app: "db" }, {});
  assert.equal(fits(db, s.nodeInfo("a1")!, s).code, "Unschedulable");
  s.removePod("default/db0");
  assert.equal(fits(db, s.nodeInfo("a1")!, s).code, "Success");
});
