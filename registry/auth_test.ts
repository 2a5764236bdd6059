import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { Auth, type AuthMode, parseHtpasswd, parseScope } from "./auth.ts";
import { ConfigError, RegistryError } from "./errors.ts";

const HTPASSWD = `alice:${bcrypt.hashSync("pw", 4)}\n# comment\n`;

Deno.test("parseScope() reads repository scopes with slashes and ports in names", () => {
  assert.deepEqual(parseScope("repository:a/b/c:pull,push"), {
    type: "repository",
    name: "a/b/c",
    actions: ["pull", "push"],
  });
  assert.deepEqual(parseScope("registry:catalog:*"), {
    type: "registry",
    name: "catalog",
    actions: ["*"],
  });
  assert.equal(parseScope("nonsense"), undefined);
  assert.equal(parseScope("user:x:pull"), undefined);
});

Deno.test("parseHtpasswd() refuses non-bcrypt entries naming the line", () => {
  assert.equal(parseHtpasswd(HTPASSWD).size, 1);
  assert.throws(
    () => parseHtpasswd("bob:{SHA}abc"),
    (e) => e instanceof ConfigError && /line 1/.test(e.message),
  );
});

Deno.test("Auth.create() needs an htpasswd file for htpasswd and token modes", async () => {
  await assert.rejects(Auth.create({ mode: "token" }), /auth.htpasswd: required/);
  await assert.rejects(
    Auth.create({ mode: "ldap" as unknown as AuthMode }),
    /auth.mode: expected none, htpasswd or token/,
  );
});

Deno.test("tokens: a token verifies, and a tampered, expired or foreign one does not", async () => {
  let now = 1_700_000_000_000;
  const auth = await Auth.create({
    mode: "token",
    htpasswd: HTPASSWD,
    secret: "k",
    now: () => now,
  });
  const token = await auth.signToken("alice", [{
    type: "repository",
    name: "a",
    actions: ["pull"],
  }]);
  assert.deepEqual((await auth.verifyToken(token)).access[0].name, "a");
  const [h, b, s] = token.split(".");
  const forged = btoa(
    JSON.stringify({ ...JSON.parse(atob(b.replace(/-/g, "+").replace(/_/g, "/"))), sub: "root" }),
  )
    .replace(/=+$/, "");
  await assert.rejects(auth.verifyToken(`${h}.${forged}.${s}`), /bad signature/);
  const other = await Auth.create({
    mode: "token",
    htpasswd: HTPASSWD,
    secret: "other",
    now: () => now,
  });
  await assert.rejects(other.verifyToken(token), /bad signature/);
  now += 301_000;
  await assert.rejects(auth.verifyToken(token), /expired/);
});

Deno.test("authorize(): htpasswd mode challenges with Basic, then checks the rules", async () => {
  const auth = await Auth.create({
    mode: "htpasswd",
    htpasswd: HTPASSWD,
    access: [{ account: "alice", name: "alice/*", actions: ["pull", "push"] }, {
      account: "anonymous",
      name: "public/*",
      actions: ["pull"],
    }],
  });
  const basic = (c: string) =>
    new Request("http://r/v2/", { headers: { Authorization: `Basic ${btoa(c)}` } });
  const pull = (name: string) => [{ type: "repository" as const, name, actions: ["pull"] }];
  await assert.rejects(
    auth.authorize(new Request("http://r/v2/"), pull("alice/x")),
    (e) =>
      e instanceof RegistryError && e.status === 401 &&
      e.headers["WWW-Authenticate"] === `Basic realm="tsk-registry"`,
  );
  assert.equal(await auth.authorize(basic("alice:pw"), pull("alice/x")), "alice");
  await assert.rejects(
    auth.authorize(basic("alice:pw"), pull("bob/x")),
    (e) => e instanceof RegistryError && e.code === "DENIED",
  );
  await assert.rejects(
    auth.authorize(basic("alice:nope"), pull("alice/x")),
    (e) => e instanceof RegistryError && e.code === "UNAUTHORIZED",
  );
  assert.equal(await auth.authorize(new Request("http://r/v2/"), pull("public/x")), undefined);
});
