import assert from "node:assert/strict";
import { AdmissionChain, defaultAdmissionChain } from "./admission.ts";
import { ApiError, ValidationError } from "./errors.ts";
import { RESOURCES } from "./resources.ts";

const podInfo = RESOURCES.find((r) => r.kind === "Pod")!;
const user = { name: "u", groups: [] };

Deno.test("AdmissionChain runs mutating plugins in order, then validating ones", async () => {
  const order: string[] = [];
  const chain = defaultAdmissionChain()
    .useMutating({ name: "A", mutate: () => void order.push("A") })
    .useValidating({ name: "V", validate: () => void order.push("V") });
  const obj = await chain.admit({
    operation: "CREATE",
    resource: podInfo,
    object: {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p" },
      spec: { containers: [{ name: "c", image: "i" }] },
    },
    user,
  });
  assert.deepEqual(order, ["A", "V"]);
  assert.equal((obj?.spec as { restartPolicy: string }).restartPolicy, "Always");
  assert.deepEqual(chain.names, ["Defaulting", "A", "Validation", "V"]);
});

Deno.test("AdmissionChain collects every field error into one ValidationError", async () => {
  const chain = defaultAdmissionChain().useValidating({
    name: "NoLatest",
    validate: (req) => {
      const image = (req.object?.spec as { containers: { image: string }[] }).containers[0].image;
      return image.endsWith(":latest")
        ? [{ field: "spec.containers[0].image", message: "pin a tag" }]
        : [];
    },
  });
  await assert.rejects(
    chain.admit({
      operation: "CREATE",
      resource: podInfo,
      object: {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "Bad" },
        spec: { containers: [{ name: "c", image: "x:latest" }] },
      },
      user,
    }),
    (e) => {
      assert.ok(e instanceof ValidationError);
      assert.deepEqual(e.causes.map((c) => c.field), ["metadata.name", "spec.containers[0].image"]);
      return true;
    },
  );
});

Deno.test("AdmissionChain refuses a duplicate plugin name", () => {
  assert.throws(
    () =>
      new AdmissionChain().useMutating({ name: "X", mutate() {} }).useValidating({
        name: "X",
        validate() {},
      }),
    ApiError,
  );
});
