import assert from "node:assert/strict";
import { inTreeRegistry } from "../plugins/registry.ts";
import { makeNode, makePod } from "./builders.ts";
import { MemoryClient } from "./client.ts";
import { fitErrorMessage } from "./framework.ts";
import type { SchedulerConfig } from "./profile.ts";
import { type LogRecord, Scheduler } from "./scheduler.ts";
import { status } from "./status.ts";

const fast: SchedulerConfig = {
  profiles: [{ schedulerName: "default-scheduler" }],
  podInitialBackoffSeconds: 0.001,
  podMaxBackoffSeconds: 0.001,
};

function setup(config: SchedulerConfig = fast) {
  const client = new MemoryClient();
  const logs: LogRecord[] = [];
  const registry = inTreeRegistry();
  const s = new Scheduler(client, { registry, config, log: (r) => logs.push(r) });
  return { client, logs, s, registry };
}

const binds = (c: MemoryClient) => c.calls.filter((x) => x.kind === "bind");
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

Deno.test("an unschedulable pod is retried when a node that fits it arrives", async () => {
  const { client, s, logs } = setup();
  s.onNodeAdd(makeNode("small", { allocatable: { cpu: "1", memory: "1Gi", pods: "10" } }));
  s.onPodAdd(makePod("big", { requests: { cpu: "2" } }));
  await s.runUntilIdle();
  assert.equal(binds(client).length, 0);
  const st = client.calls.find((c) => c.kind === "status");
  assert.equal(
    st?.kind === "status" &&
      st.condition.message?.startsWith("0/1 nodes are available: 1 Insufficient cpu."),
    true,
  );
  assert.ok(client.calls.some((c) => c.kind === "event" && c.reason === "FailedScheduling"));
  assert.ok(logs.some((l) => l.msg === "unschedulable" && l.pod === "default/big"));
  s.onNodeAdd(makeNode("large", { allocatable: { cpu: "4", memory: "1Gi", pods: "10" } }));
  await tick();
  await s.runUntilIdle();
  assert.deepEqual(binds(client), [{ kind: "bind", pod: "default/big", nodeName: "large" }]);
  assert.ok(
    s.metrics.render().includes(
      'scheduler_schedule_attempts_total{result="unschedulable",profile="default-scheduler"} 1',
    ),
  );
});

Deno.test("a refused binding is forgotten and retried", async () => {
  const { client, s } = setup();
  s.onNodeAdd(makeNode("n1", { allocatable: { cpu: "1", memory: "1Gi", pods: "10" } }));
  client.failBindings.add("default/p");
  s.onPodAdd(makePod("p", { requests: { cpu: "1" } }));
  await s.runUntilIdle();
  assert.equal(s.metrics.bindErrors, 1);
  assert.equal(s.snapshot.reqCpu[0], 0, "the assumed pod was forgotten");
  client.failBindings.clear();
  await tick();
  await s.runUntilIdle();
  assert.deepEqual(binds(client).map((b) => b.pod), ["default/p"]);
  assert.equal(s.snapshot.reqCpu[0], 1000);
});

Deno.test("a pod with a malformed request is logged and ignored; others still schedule", async () => {
  const { client, s, logs } = setup();
  s.onNodeAdd(makeNode("n1"));
  s.onPodAdd(makePod("bad", { requests: { cpu: "a lot" } }));
  s.onPodAdd(makePod("good"));
  await s.runUntilIdle();
  assert.deepEqual(binds(client).map((b) => b.pod), ["default/good"]);
  const err = logs.find((l) => l.msg === "ignoring pod");
  assert.match(String(err?.error), /spec\.containers\[0\]\.resources\.requests\.cpu/);
});

Deno.test("pods for another scheduler are left alone", async () => {
  const { client, s } = setup();
  s.onNodeAdd(makeNode("n1"));
  s.onPodAdd(makePod("theirs", { spec: { schedulerName: "other" } }));
  await s.runUntilIdle();
  assert.equal(client.calls.length, 0);
});

Deno.test("a plugin that throws yields an Error attempt and a retry, not a crash", async () => {
  const client = new MemoryClient();
  const registry = inTreeRegistry();
  let fail = true;
  registry.register("Flaky", () => ({
    name: "Flaky",
    filter: () => {
      if (fail) throw new Error("disk on fire");
      return status("Success");
    },
  }));
  const logs: LogRecord[] = [];
  const s = new Scheduler(client, {
    registry,
    log: (r) => logs.push(r),
    config: {
      ...fast,
      profiles: [{
        schedulerName: "default-scheduler",
        plugins: { filter: { enabled: [{ name: "Flaky" }] } },
      }],
    },
  });
  s.onNodeAdd(makeNode("n1"));
  s.onPodAdd(makePod("p"));
  await s.runUntilIdle();
  assert.equal(s.metrics.attemptsWith("error"), 1);
  assert.ok(
    logs.some((l) =>
      l.msg === "scheduling error" && l.plugin === "Flaky" && l.error === "disk on fire"
    ),
  );
  fail = false;
  await tick();
  await s.runUntilIdle();
  assert.deepEqual(binds(client).map((b) => b.pod), ["default/p"]);
});

Deno.test("preemption through the scheduler evicts the lowest-priority pod and nominates its node", async () => {
  const { client, s } = setup();
  client.onDelete = (pod) => s.onPodDelete(pod);
  s.onNodeAdd(makeNode("n1", { allocatable: { cpu: "2", memory: "4Gi", pods: "10" } }));
  s.onPodAdd(
    makePod("low", { requests: { cpu: "1" }, priority: 1, spec: { nodeName: "n1", priority: 1 } }),
  );
  s.onPodAdd(
    makePod("mid", { requests: { cpu: "1" }, priority: 5, spec: { nodeName: "n1", priority: 5 } }),
  );
  s.onPodAdd(makePod("vip", { requests: { cpu: "1" }, priority: 10 }));
  await s.runUntilIdle();
  assert.deepEqual(client.calls.filter((c) => c.kind === "delete").map((c) => c.pod), [
    "default/low",
  ]);
  const st = client.calls.find((c) => c.kind === "status");
  assert.equal(st?.kind === "status" ? st.nominatedNodeName : undefined, "n1");
  await tick();
  await s.runUntilIdle();
  assert.deepEqual(binds(client).map((b) => b.pod), ["default/vip"]);
  assert.equal(s.metrics.preemptionVictims, 1);
});

Deno.test("a pod with preemptionPolicy Never does not preempt", async () => {
  const { client, s } = setup();
  s.onNodeAdd(makeNode("n1", { allocatable: { cpu: "1", memory: "4Gi", pods: "10" } }));
  s.onPodAdd(
    makePod("low", { requests: { cpu: "1" }, priority: 1, spec: { nodeName: "n1", priority: 1 } }),
  );
  s.onPodAdd(
    makePod("polite", {
      requests: { cpu: "1" },
      priority: 10,
      spec: { preemptionPolicy: "Never" },
    }),
  );
  await s.runUntilIdle();
  assert.equal(client.calls.filter((c) => c.kind === "delete").length, 0);
  const st = client.calls.find((c) => c.kind === "status");
  assert.match(st?.kind === "status" ? st.condition.message ?? "" : "", /preemptionPolicy=Never/);
});

Deno.test("fitErrorMessage() orders reasons by count and counts each reason of a node", () => {
  const cpuMem = status("Unschedulable", ["Insufficient cpu", "Insufficient memory"]);
  const cpu = status("Unschedulable", ["Insufficient cpu"]);
  const taint = status("UnschedulableAndUnresolvable", [
    "node(s) had untolerated taint {dedicated: gpu}",
  ]);
  const msg = fitErrorMessage({ rejected: [cpuMem, cpu, cpu, taint], nodeCount: 4 });
  assert.equal(
    msg,
    "0/4 nodes are available: 3 Insufficient cpu, 1 Insufficient memory, 1 node(s) had untolerated taint {dedicated: gpu}.",
  );
});

Deno.test("the metrics render attempts, latency histograms and queue depth", async () => {
  const { s } = setup();
  s.onNodeAdd(makeNode("n1"));
  s.onPodAdd(makePod("p"));
  await s.runUntilIdle();
  const text = s.metrics.render();
  assert.match(
    text,
    /scheduler_schedule_attempts_total\{result="scheduled",profile="default-scheduler"\} 1/,
  );
  assert.match(text, /scheduler_pod_scheduling_duration_seconds_count 1/);
  assert.match(text, /scheduler_pending_pods\{queue="active"\} 0/);
  assert.match(text, /scheduler_scheduling_attempt_duration_seconds_bucket\{le="\+Inf"\} 1/);
});

Deno.test("a nominated node's freed resources are held for the preemptor, not taken by lower-priority pods", async () => {
  let now = 0;
  const client = new MemoryClient();
  const s = new Scheduler(client, {
    registry: inTreeRegistry(),
    config: { ...fast, podInitialBackoffSeconds: 1, podMaxBackoffSeconds: 1 },
    log: () => {},
    now: () => now, // the preemptor's backoff ends only when the test says
  });
  client.onDelete = () => {}; // victims leave only when the test says (graceful deletion)
  s.onNodeAdd(makeNode("n1", { allocatable: { cpu: "2", memory: "4Gi", pods: "10" } }));
  const low = makePod("low", {
    requests: { cpu: "2" },
    priority: 1,
    spec: { nodeName: "n1", priority: 1 },
  });
  s.onPodAdd(low);
  s.onPodAdd(makePod("vip", { requests: { cpu: "2" }, priority: 10 }));
  await s.runUntilIdle();
  assert.deepEqual(client.calls.filter((c) => c.kind === "delete").map((c) => c.pod), [
    "default/low",
  ]);
  // The victim is gone; a low-priority pod arrives while the preemptor is still backing off.
  s.onPodDelete(low);
  s.onPodAdd(makePod("sneaky", { requests: { cpu: "1" }, priority: 0 }));
  await s.runUntilIdle();
  assert.deepEqual(binds(client), [], "sneaky must not take the held resources");
  now += 1500;
  await s.runUntilIdle();
  assert.deepEqual(binds(client).map((b) => b.pod), ["default/vip"]);
});

Deno.test("a node heartbeat does not requeue unschedulable pods; a real change does", async () => {
  const { client, s } = setup();
  const node = makeNode("n1", { allocatable: { cpu: "1", memory: "1Gi", pods: "10" } });
  s.onNodeAdd(node);
  s.onPodAdd(makePod("big", { requests: { cpu: "2" } }));
  await s.runUntilIdle();
  const beat = structuredClone(node);
  beat.status!.conditions = [{
    type: "Ready",
    status: "True",
    lastHeartbeatTime: "2026-01-01T00:00:10Z",
  }];
  s.onNodeUpdate(beat);
  assert.deepEqual(s.queue.depth(), { active: 0, backoff: 0, unschedulable: 1 });
  const bigger = structuredClone(beat);
  bigger.status!.allocatable = { cpu: "4", memory: "1Gi", pods: "10" };
  s.onNodeUpdate(bigger);
  await tick();
  await s.runUntilIdle();
  assert.deepEqual(binds(client).map((b) => b.pod), ["default/big"]);
});
