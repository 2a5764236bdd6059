// Starts Debian's docker-registry (the distribution registry) on loopback for a
// test, optionally behind token auth served by a small token server run here.
import { join } from "node:path";
import { run, tempDir } from "./_image_fixture.ts";

export const REGISTRY_BIN = "/usr/bin/docker-registry";

export interface TestRegistry {
  host: string;
  dir: string;
  /** Requests the token server saw (scope, whether basic credentials were right). */
  tokenRequests: { scope: string[]; authorized: boolean }[];
  stop(): Promise<void>;
}

export const USER = "alice";
export const PASSWORD = "s3cret-pass";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function b64url(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

async function tokenServer(dir: string, service: string, issuer: string) {
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    join(dir, "key.pem"),
    "-out",
    join(dir, "cert.pem"),
    "-days",
    "1",
    "-subj",
    "/CN=tsk-test-token",
  ]);
  await run("openssl", [
    "pkcs8",
    "-topk8",
    "-nocrypt",
    "-in",
    join(dir, "key.pem"),
    "-outform",
    "DER",
    "-out",
    join(dir, "key.der"),
  ]);
  await run("openssl", [
    "x509",
    "-in",
    join(dir, "cert.pem"),
    "-outform",
    "DER",
    "-out",
    join(dir, "cert.der"),
  ]);
  const key = await crypto.subtle.importKey(
    "pkcs8",
    await Deno.readFile(join(dir, "key.der")),
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["sign"],
  );
  const x5c = btoa(String.fromCharCode(...await Deno.readFile(join(dir, "cert.der"))));
  const requests: { scope: string[]; authorized: boolean }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const scope = url.searchParams.getAll("scope");
    const authorized = req.headers.get("authorization") === `Basic ${btoa(`${USER}:${PASSWORD}`)}`;
    requests.push({ scope, authorized });
    if (!authorized) return new Response("bad credentials", { status: 401 });
    const access = scope.flatMap((s) => {
      const [type, ...rest] = s.split(":");
      const actions = rest.pop()!;
      return type === "repository"
        ? [{ type, name: rest.join(":"), actions: actions.split(",") }]
        : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: "ES256", typ: "JWT", x5c: [x5c] }));
    const claims = b64url(JSON.stringify({
      iss: issuer,
      sub: USER,
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: crypto.randomUUID(),
      access,
    }));
    const sig = new Uint8Array(
      await crypto.subtle.sign(
        { name: "ECDSA", hash: "SHA-256" },
        key,
        new TextEncoder().encode(`${header}.${claims}`),
      ),
    );
    return Response.json({ token: `${header}.${claims}.${b64url(sig)}`, expires_in: 300 });
  });
  return { server, requests, certPath: join(dir, "cert.pem") };
}

/** Starts a registry; with `token: true` it demands bearer tokens from a token server. */
export async function startRegistry(options: { token?: boolean } = {}): Promise<TestRegistry> {
  const dir = await tempDir("registry");
  const port = freePort();
  const host = `127.0.0.1:${port}`;
  let tokens: Awaited<ReturnType<typeof tokenServer>> | undefined;
  let authYaml = "";
  if (options.token) {
    tokens = await tokenServer(dir, "tsk-test-registry", "tsk-test-issuer");
    authYaml = `auth:
  token:
    realm: http://127.0.0.1:${tokens.server.addr.port}/token
    service: tsk-test-registry
    issuer: tsk-test-issuer
    rootcertbundle: ${tokens.certPath}
`;
  }
  await Deno.writeTextFile(
    join(dir, "config.yml"),
    `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, "data")}
  delete:
    enabled: true
http:
  addr: ${host}
  secret: ${crypto.randomUUID()}
${authYaml}`,
  );
  const child = new Deno.Command(REGISTRY_BIN, {
    args: ["serve", join(dir, "config.yml")],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await stderr;
    await tokens?.server.shutdown();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(`http://${host}/v2/`);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) {
        return { host, dir, tokenRequests: tokens?.requests ?? [], stop };
      }
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`docker-registry did not start on ${host}: ${await stderr}`);
}
