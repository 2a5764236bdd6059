/**
 * The scheduler as a client of the API server (as kube-scheduler runs): it
 * watches over HTTPS, binds through the API, and `tsk describe pod` shows
 * why a pod waits.
 */
import assert from "node:assert/strict";
import { type CommandIo, main } from "@tsk/cli";
import type { Pod } from "@tsk/api";
import { makeNode, makePod, startScheduler } from "@tsk/sched";
import { startTestControlPlane } from "./_control_plane.ts";

async function waitFor<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + 20000;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("the scheduler binds through the API server and tsk describe shows why a pod waits", async () => {
  const t = await startTestControlPlane();
  const running = startScheduler(t.admin, { log: () => {} });
  try {
    await running.synced;
    await t.admin.create(
      makeNode("node-a", { allocatable: { cpu: "2", memory: "4Gi", pods: "10" } }),
    );
    await t.admin.create(makePod("web", { requests: { cpu: "500m" } }));
    await t.admin.create(makePod("huge", { requests: { cpu: "8" } }));
    const node = await waitFor("web bound", async () => {
      const p = await t.admin.get<Pod>("pods", "web", { namespace: "default" });
      return p.spec.nodeName;
    });
    assert.equal(node, "node-a");
    await waitFor("huge marked unschedulable", async () => {
      const p = await t.admin.get<Pod>("pods", "huge", { namespace: "default" });
      return p.status?.conditions?.find((c) => c.type === "PodScheduled" && c.status === "False");
    });
    const out: string[] = [];
    const io: CommandIo = { out: (l) => out.push(l), err: (l) => out.push(l), env: t.env };
    assert.equal(await main(["describe", "pod", "huge"], io), 0, out.join("\n"));
    const text = out.join("\n");
    assert.match(text, /0\/1 nodes are available: 1 Insufficient cpu\./);
    assert.match(text, /FailedScheduling/);
    const metrics = running.scheduler.metrics.render();
    assert.match(
      metrics,
      /scheduler_schedule_attempts_total\{result="scheduled",profile="default-scheduler"\} 1/,
    );
  } finally {
    await running.stop();
    await t.stop();
  }
});
