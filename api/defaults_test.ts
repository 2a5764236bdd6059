import assert from "node:assert/strict";
import { applyDefaults, podQosClass } from "./defaults.ts";
import type { Deployment, Pod, Secret, Service } from "./mod.ts";

Deno.test("applyDefaults() fills a pod like Kubernetes and is idempotent", () => {
  const pod: Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p" },
    spec: {
      containers: [{
        name: "c",
        image: "nginx",
        resources: { limits: { cpu: "1", memory: "1Gi" } },
      }],
      priorityClassName: "system-node-critical",
    },
  };
  applyDefaults(pod);
  const once = JSON.stringify(pod);
  applyDefaults(pod);
  assert.equal(JSON.stringify(pod), once);
  assert.equal(pod.spec.restartPolicy, "Always");
  assert.equal(pod.spec.schedulerName, "default-scheduler");
  assert.equal(pod.spec.terminationGracePeriodSeconds, 30);
  assert.equal(pod.spec.priority, 2000001000);
  assert.equal(pod.spec.containers[0].imagePullPolicy, "Always");
  assert.deepEqual(pod.spec.containers[0].resources?.requests, { cpu: "1", memory: "1Gi" });
  assert.equal(pod.status?.qosClass, "Guaranteed");
  assert.equal(pod.status?.phase, "Pending");
});

Deno.test("podQosClass() tells Burstable from BestEffort", () => {
  assert.equal(
    podQosClass({ containers: [{ name: "a", image: "x", resources: { requests: { cpu: "1" } } }] }),
    "Burstable",
  );
  assert.equal(podQosClass({ containers: [{ name: "a", image: "x" }] }), "BestEffort");
});

Deno.test("applyDefaults() fills deployments, services and secrets", () => {
  const d = applyDefaults<Deployment>({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "d" },
    spec: {
      selector: { matchLabels: { a: "b" } },
      template: {
        metadata: { labels: { a: "b" } },
        spec: { containers: [{ name: "c", image: "i:1" }] },
      },
    },
  });
  assert.equal(d.spec.replicas, 1);
  assert.deepEqual(d.spec.strategy, {
    type: "RollingUpdate",
    rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" },
  });
  assert.equal(d.spec.template.spec.containers[0].imagePullPolicy, "IfNotPresent");
  const s = applyDefaults<Service>({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "s" },
    spec: { ports: [{ port: 80 }] },
  });
  assert.deepEqual(s.spec.ports, [{ port: 80, protocol: "TCP", targetPort: 80 }]);
  assert.equal(s.spec.type, "ClusterIP");
  const sec = applyDefaults<Secret>({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s" },
    stringData: { pw: "héllo" },
  });
  assert.equal(sec.type, "Opaque");
  assert.equal(sec.stringData, undefined);
  assert.equal(
    new TextDecoder().decode(Uint8Array.from(atob(sec.data!.pw), (c) => c.charCodeAt(0))),
    "héllo",
  );
});
