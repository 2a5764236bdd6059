import assert from "node:assert/strict";
import { makePod } from "./builders.ts";
import { newPodInfo } from "./pod_info.ts";
import { SchedulingQueue } from "./queue.ts";

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const pod = (name: string, priority = 0) => newPodInfo(makePod(name, { priority }));

Deno.test("pop() returns higher priority first, then first in first out", () => {
  const q = new SchedulingQueue();
  q.add(pod("a", 1));
  q.add(pod("b", 5));
  q.add(pod("c", 1));
  assert.deepEqual([q.pop()?.key, q.pop()?.key, q.pop()?.key, q.pop()], [
    "default/b",
    "default/a",
    "default/c",
    undefined,
  ]);
});

Deno.test("an unschedulable pod waits for an event its rejecting plugin registered, then backs off", () => {
  const c = clock();
  const q = new SchedulingQueue({
    now: c.now,
    initialBackoffMs: 1000,
    pluginEvents: new Map([["NodeResourcesFit", ["NodeAdd", "AssignedPodDelete"] as const]]),
  });
  q.add(pod("p"));
  const p = q.pop()!;
  p.unschedulablePlugins = new Set(["NodeResourcesFit"]);
  q.addUnschedulable(p);
  assert.deepEqual(q.depth(), { active: 0, backoff: 0, unschedulable: 1 });
  q.onEvent("NodeUpdate"); // not registered by the plugin
  assert.equal(q.pop(), undefined);
  q.onEvent("NodeAdd");
  assert.deepEqual(q.depth(), { active: 0, backoff: 1, unschedulable: 0 });
  assert.equal(q.pop(), undefined, "still backing off");
  c.advance(1000);
  assert.equal(q.pop()?.key, "default/p");
});

Deno.test("backoff doubles per attempt up to the maximum", () => {
  const c = clock();
  const q = new SchedulingQueue({ now: c.now, initialBackoffMs: 100, maxBackoffMs: 300 });
  q.add(pod("p"));
  const waits: number[] = [];
  let p = q.pop()!;
  for (let i = 0; i < 4; i++) {
    q.addBackoff(p);
    let waited = 0;
    let next;
    while ((next = q.pop()) === undefined) {
      c.advance(10);
      waited += 10;
    }
    p = next;
    waits.push(waited);
  }
  assert.deepEqual(waits, [100, 200, 300, 300]);
});

Deno.test("an event during a pod's cycle sends it to backoff, not to the unschedulable pods", () => {
  const c = clock();
  const q = new SchedulingQueue({ now: c.now, initialBackoffMs: 50 });
  q.add(pod("p"));
  const p = q.pop()!;
  q.onEvent("AssignedPodDelete"); // arrives while p is being scheduled
  q.addUnschedulable(p);
  assert.deepEqual(q.depth(), { active: 0, backoff: 1, unschedulable: 0 });
});

Deno.test("a pod deleted while in flight is not requeued", () => {
  const q = new SchedulingQueue();
  q.add(pod("p"));
  const p = q.pop()!;
  q.delete(p.key);
  q.addUnschedulable(p);
  assert.equal(q.size, 0);
});

Deno.test("an update to an unschedulable pod makes it active at once", () => {
  const q = new SchedulingQueue();
  q.add(pod("p"));
  const p = q.pop()!;
  q.addUnschedulable(p);
  q.add(newPodInfo(makePod("p", { labels: { changed: "yes" } })));
  assert.equal(q.pop()?.pod.metadata.labels?.changed, "yes");
});

Deno.test("a status-only update does not retry an unschedulable pod", () => {
  const q = new SchedulingQueue();
  q.add(pod("p"));
  const p = q.pop()!;
  q.addUnschedulable(p);
  const withStatus = structuredClone(p.pod);
  withStatus.status = { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False" }] };
  q.add(newPodInfo(withStatus));
  assert.equal(q.pop(), undefined);
  assert.deepEqual(q.depth(), { active: 0, backoff: 0, unschedulable: 1 });
});
