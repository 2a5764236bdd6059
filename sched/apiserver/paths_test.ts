import assert from "node:assert/strict";
import { parseResourcePath } from "./paths.ts";
import { mergePatch } from "./merge_patch.ts";
import { Authorizer } from "./authz.ts";
import { RateLimiter } from "./rate_limit.ts";

const show = (p: string) => {
  const r = parseResourcePath(p);
  return r && [r.info.plural, r.namespace, r.name, r.subresource];
};

Deno.test("parseResourcePath() reads Kubernetes-shaped paths", () => {
  assert.deepEqual(show("/api/v1/pods"), ["pods", undefined, undefined, undefined]);
  assert.deepEqual(show("/api/v1/namespaces/ns1/pods/web/status"), [
    "pods",
    "ns1",
    "web",
    "status",
  ]);
  assert.deepEqual(show("/api/v1/namespaces/ns1"), ["namespaces", undefined, "ns1", undefined]);
  assert.deepEqual(show("/api/v1/namespaces/ns1/status"), [
    "namespaces",
    undefined,
    "ns1",
    "status",
  ]);
  assert.deepEqual(show("/api/v1/nodes/n1"), ["nodes", undefined, "n1", undefined]);
  assert.deepEqual(show("/apis/apps/v1/namespaces/d/deployments/web/scale"), [
    "deployments",
    "d",
    "web",
    "scale",
  ]);
  assert.deepEqual(show("/apis/coordination.k8s.io/v1/namespaces/d/leases/l"), [
    "leases",
    "d",
    "l",
    undefined,
  ]);
  assert.equal(show("/apis/apps/v1/pods"), undefined);
  assert.equal(show("/api/v1/pods/x"), undefined);
  assert.equal(show("/api/v2/pods"), undefined);
});

Deno.test("mergePatch() follows RFC 7386", () => {
  assert.deepEqual(mergePatch({ a: "b", c: { d: "e", f: "g" } }, { a: "z", c: { f: null } }), {
    a: "z",
    c: { d: "e" },
  });
  assert.deepEqual(mergePatch({ a: [1, 2] }, { a: [3] }), { a: [3] });
  assert.deepEqual(mergePatch({ a: "b" }, { a: { c: 1 } }), { a: { c: 1 } });
});

Deno.test("Authorizer allows by role and namespace and explains a denial", () => {
  const authz = new Authorizer({
    roles: [{
      name: "team",
      rules: [{
        verbs: ["get", "create"],
        resources: ["pods", "pods/status"],
        namespaces: ["team-a"],
      }],
    }],
    bindings: [{ role: "team", groups: ["team-a"] }],
  });
  const u = { name: "ann", groups: ["team-a"] };
  assert.ok(
    authz.authorize({ user: u, verb: "create", resource: "pods", namespace: "team-a" }).allowed,
  );
  assert.ok(
    authz.authorize({ user: u, verb: "get", resource: "pods/status", namespace: "team-a" }).allowed,
  );
  const no = authz.authorize({ user: u, verb: "create", resource: "pods", namespace: "team-b" });
  assert.equal(no.allowed, false);
  assert.equal(no.reason, 'User "ann" cannot create resource "pods" in the namespace "team-b"');
  assert.ok(!authz.authorize({ user: u, verb: "list", resource: "nodes" }).allowed);
  assert.ok(
    authz.authorize({
      user: { name: "root", groups: ["system:masters"] },
      verb: "delete",
      resource: "nodes",
    }).allowed,
  );
  assert.throws(
    () => new Authorizer({ bindings: [{ role: "nope", users: ["x"] }] }),
    /bindings\[3\]\.role: no role named "nope"/,
  );
});

Deno.test("RateLimiter refills at qps and keeps clients apart", () => {
  let now = 0;
  const rl = new RateLimiter({ qps: 2, burst: 2, now: () => now });
  assert.equal(rl.take("a"), 0);
  assert.equal(rl.take("a"), 0);
  assert.ok(rl.take("a") >= 1);
  assert.equal(rl.take("b"), 0);
  now += 500;
  assert.equal(rl.take("a"), 0);
});
