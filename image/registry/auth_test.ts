import assert from "node:assert/strict";
import { Authenticator, parseChallenge } from "./auth.ts";
import { RegistryError } from "../errors.ts";

// A stub token endpoint: these tests are about what the client sends where.
function tokenFetch(seen: { url: string; auth: string | null }[], status = 200): typeof fetch {
  return ((input: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    seen.push({ url: String(input), auth: headers.get("authorization") });
    return Promise.resolve(Response.json({ token: "tok", expires_in: 300 }, { status }));
  }) as typeof fetch;
}

const creds = { username: "u", password: "p" };

Deno.test("parseChallenge() reads quoted and bare parameters", () => {
  assert.deepEqual(
    parseChallenge(
      'Bearer realm="https://auth.example/token",service="reg.example",scope="repository:a/b:pull,push"',
    ),
    {
      scheme: "bearer",
      params: {
        realm: "https://auth.example/token",
        service: "reg.example",
        scope: "repository:a/b:pull,push",
      },
    },
  );
  assert.deepEqual(parseChallenge('Basic realm="x"'), { scheme: "basic", params: { realm: "x" } });
  assert.equal(parseChallenge(null), undefined);
});

Deno.test("Authenticator fetches a bearer token with every scope and caches it", async () => {
  const seen: { url: string; auth: string | null }[] = [];
  const a = new Authenticator("127.0.0.1:5000", { credentials: creds, fetch: tokenFetch(seen) });
  await a.answer(
    {
      scheme: "bearer",
      params: { realm: "http://127.0.0.1:9000/token", service: "reg", scope: "repository:x:pull" },
    },
    "repository:x:pull,push repository:y:pull",
  );
  const url = new URL(seen[0].url);
  assert.equal(url.searchParams.get("service"), "reg");
  assert.deepEqual(url.searchParams.getAll("scope"), [
    "repository:x:pull,push",
    "repository:y:pull",
    "repository:x:pull",
  ]);
  assert.equal(seen[0].auth, `Basic ${btoa("u:p")}`, "same host name: credentials go to the realm");
  assert.equal(a.header("repository:x:pull,push repository:y:pull"), "Bearer tok");
  assert.equal(a.header("repository:other:pull"), undefined);
});

Deno.test("Authenticator never sends credentials to a plain-HTTP realm on another host", async () => {
  const seen: { url: string; auth: string | null }[] = [];
  const a = new Authenticator("127.0.0.1:5000", { credentials: creds, fetch: tokenFetch(seen) });
  await a.answer(
    { scheme: "bearer", params: { realm: "http://evil.example/token" } },
    "repository:x:pull",
  );
  assert.equal(seen[0].auth, null);
  // Over TLS a separate token host is normal (Docker Hub's is): credentials go there.
  await a.answer(
    { scheme: "bearer", params: { realm: "https://auth.example/token" } },
    "repository:x:pull",
  );
  assert.equal(seen[1].auth, `Basic ${btoa("u:p")}`);
});

Deno.test("Authenticator errors name the registry", async () => {
  const anon = new Authenticator("reg.example");
  await assert.rejects(
    anon.answer({ scheme: "basic", params: {} }, "repository:x:pull"),
    (e: unknown) =>
      e instanceof RegistryError && /reg\.example requires credentials/.test(e.message),
  );
  await assert.rejects(anon.answer({ scheme: "bearer", params: {} }, "s"), /without a realm/);
  await assert.rejects(
    anon.answer({ scheme: "negotiate", params: {} }, "s"),
    /unsupported auth scheme negotiate/,
  );
  const denied = new Authenticator("reg.example", { fetch: tokenFetch([], 403) });
  await assert.rejects(
    denied.answer(
      { scheme: "bearer", params: { realm: "https://auth.example/t" } },
      "repository:x:push",
    ),
    (e: unknown) => e instanceof RegistryError && e.status === 403,
  );
});
