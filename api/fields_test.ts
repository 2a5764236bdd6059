import assert from "node:assert/strict";
import { matchesFieldSelector, parseFieldSelector } from "./fields.ts";

Deno.test("parseFieldSelector() reads =, == and != and matches absent fields as empty", () => {
  const sel = parseFieldSelector("spec.nodeName=,status.phase!=Failed,metadata.name==a");
  assert.equal(sel.length, 3);
  assert.ok(
    matchesFieldSelector(sel, { metadata: { name: "a" }, spec: {}, status: { phase: "Running" } }),
  );
  assert.ok(!matchesFieldSelector(sel, { metadata: { name: "a" }, spec: { nodeName: "n" } }));
  assert.throws(
    () => parseFieldSelector("spec.nodeName"),
    /^BadRequestError: fieldSelector: expected path=value/,
  );
});
