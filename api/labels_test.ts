import assert from "node:assert/strict";
import {
  formatSelector,
  labelSelectorMatches,
  matchesSelector,
  parseSelector,
  selectorFromLabelSelector,
} from "./labels.ts";

Deno.test("parseSelector() reads equality, set, existence and comparison requirements", () => {
  assert.deepEqual(parseSelector("a=b, c in (x, y),!d,e,f!=g,h notin (z),n>3,m<2,k==v"), [
    { key: "a", operator: "In", values: ["b"] },
    { key: "c", operator: "In", values: ["x", "y"] },
    { key: "d", operator: "DoesNotExist", values: [] },
    { key: "e", operator: "Exists", values: [] },
    { key: "f", operator: "NotIn", values: ["g"] },
    { key: "h", operator: "NotIn", values: ["z"] },
    { key: "n", operator: "Gt", values: ["3"] },
    { key: "m", operator: "Lt", values: ["2"] },
    { key: "k", operator: "In", values: ["v"] },
  ]);
  assert.deepEqual(parseSelector(""), []);
  assert.deepEqual(parseSelector("app.kubernetes.io/name=web"), [
    { key: "app.kubernetes.io/name", operator: "In", values: ["web"] },
  ]);
});

Deno.test("parseSelector() rejects malformed selectors naming labelSelector and the position", () => {
  for (const bad of ["a=b,", "a in x", "a in (x", "=b", "a=b c=d", "a>x", "a=$"]) {
    assert.throws(
      () => parseSelector(bad),
      /^BadRequestError: labelSelector: .* at position \d+/,
      bad,
    );
  }
});

Deno.test("matchesSelector() follows Kubernetes semantics for absent keys", () => {
  const labels = { app: "web", tier: "front", n: "5" };
  assert.ok(matchesSelector(parseSelector("app=web,tier in (front,back)"), labels));
  assert.ok(matchesSelector(parseSelector("zone!=a"), labels));
  assert.ok(matchesSelector(parseSelector("zone notin (a)"), labels));
  assert.ok(!matchesSelector(parseSelector("zone in (a)"), labels));
  assert.ok(!matchesSelector(parseSelector("!app"), labels));
  assert.ok(matchesSelector(parseSelector("n>4,n<6"), labels));
  assert.ok(!matchesSelector(parseSelector("n>5"), labels));
  assert.ok(matchesSelector([], undefined));
});

Deno.test("labelSelectorMatches(): absent matches nothing, {} matches everything", () => {
  assert.equal(labelSelectorMatches(undefined, { a: "b" }), false);
  assert.equal(labelSelectorMatches({}, { a: "b" }), true);
  assert.equal(
    labelSelectorMatches({
      matchLabels: { a: "b" },
      matchExpressions: [{ key: "c", operator: "Exists" }],
    }, { a: "b" }),
    false,
  );
});

Deno.test("formatSelector() round-trips through parseSelector()", () => {
  const text = "a=b,c in (x,y),!d,e,f notin (g,h),n>3";
  assert.equal(formatSelector(parseSelector(text)), text);
  assert.equal(formatSelector(selectorFromLabelSelector({ matchLabels: { a: "b" } })), "a=b");
});
