import assert from "node:assert/strict";
import { validateObject, validatePodSpec, validateUpdate } from "./validation.ts";

const pod = (spec: Record<string, unknown>, meta: Record<string, unknown> = { name: "p" }) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: meta,
  spec,
});
const fields = (errs: { field: string }[]) => errs.map((e) => e.field);

Deno.test("validateObject() accepts a minimal pod", () => {
  assert.deepEqual(validateObject(pod({ containers: [{ name: "c", image: "busybox" }] })), []);
});

Deno.test("validateObject() names the path of a bad quantity and a request above its limit", () => {
  const errs = validateObject(pod({
    containers: [{
      name: "c",
      image: "x",
      resources: { limits: { memory: "512MB", cpu: "1" }, requests: { cpu: "2" } },
    }],
  }));
  assert.deepEqual(fields(errs), [
    "spec.containers[0].resources.limits.memory",
    "spec.containers[0].resources.requests.cpu",
  ]);
  assert.match(errs[0].message, /^expected a quantity like 512Mi, got "512MB"$/);
  assert.match(errs[1].message, /less than or equal to the limit/);
});

Deno.test("validateObject() checks type, metadata and scope", () => {
  assert.deepEqual(fields(validateObject({ apiVersion: "v1" })), ["kind"]);
  assert.deepEqual(fields(validateObject({ apiVersion: "v2", kind: "Pod", metadata: {} })), [
    "apiVersion",
  ]);
  assert.deepEqual(fields(validateObject({ apiVersion: "v1", kind: "Widget", metadata: {} })), [
    "kind",
  ]);
  assert.deepEqual(
    fields(
      validateObject(
        pod({ containers: [{ name: "c", image: "x" }] }, {
          name: "Bad_Name",
          labels: { "a b": "c" },
        }),
      ),
    ),
    ["metadata.name", 'metadata.labels["a b"]'],
  );
  assert.deepEqual(
    fields(
      validateObject({ apiVersion: "v1", kind: "Node", metadata: { name: "n", namespace: "x" } }),
    ),
    ["metadata.namespace"],
  );
});

Deno.test("validatePodSpec() checks containers, affinity, tolerations and spread constraints", () => {
  const errs = validatePodSpec({
    containers: [{ name: "a", image: "x", ports: [{ containerPort: 0 }] }, {
      name: "a",
      image: "y",
    }],
    restartPolicy: "Sometimes",
    tolerations: [{ operator: "Equal", value: "v" }],
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{
            matchExpressions: [{ key: "zone", operator: "Gt", values: ["a"] }],
          }],
        },
      },
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{
          weight: 500,
          podAffinityTerm: { topologyKey: "" },
        }],
      },
    },
    topologySpreadConstraints: [{
      maxSkew: 0,
      topologyKey: "zone",
      whenUnsatisfiable: "DoNotSchedule",
    }],
  }, "spec");
  assert.deepEqual(fields(errs), [
    "spec.containers[0].ports[0].containerPort",
    "spec.containers[1].name",
    "spec.restartPolicy",
    "spec.tolerations[0].operator",
    "spec.topologySpreadConstraints[0].maxSkew",
    "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
    "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
    "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey",
  ]);
});

Deno.test("validateObject() requires a workload's selector to match its template", () => {
  const d = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "d" },
    spec: {
      replicas: -1,
      selector: { matchLabels: { app: "a" } },
      template: {
        metadata: { labels: { app: "b" } },
        spec: { containers: [{ name: "c", image: "i" }] },
      },
      strategy: { rollingUpdate: { maxSurge: "x" } },
    },
  };
  assert.deepEqual(fields(validateObject(d)), [
    "spec.replicas",
    "spec.template.metadata.labels",
    "spec.strategy.rollingUpdate.maxSurge",
  ]);
});

Deno.test("validateObject() checks services, secrets and events", () => {
  assert.deepEqual(
    fields(validateObject({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "s" },
      spec: { ports: [{ port: 80 }, { port: 70000, name: "b" }], type: "Magic" },
    })),
    ["spec.type", "spec.ports[0].name", "spec.ports[1].port"],
  );
  assert.deepEqual(
    fields(
      validateObject({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "s" },
        data: { k: "not base64!" },
      }),
    ),
    ['data["k"]'],
  );
  assert.deepEqual(
    fields(validateObject({ apiVersion: "v1", kind: "Event", metadata: { name: "e" } })),
    ["involvedObject"],
  );
});

Deno.test("validateUpdate() refuses changing a bound pod's node or a workload's selector", () => {
  const p = (node: string, image = "i") =>
    pod({ nodeName: node, containers: [{ name: "c", image }] });
  assert.deepEqual(validateUpdate(p("n1", "j"), p("n1")), []);
  assert.deepEqual(fields(validateUpdate(p("n2"), p("n1"))), ["spec.nodeName"]);
  assert.deepEqual(validateUpdate(p("n1"), pod({ containers: [{ name: "c", image: "i" }] })), []);
});
