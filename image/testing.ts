/**
 * Test and benchmark helpers of `@tsk/image`: a busybox image built from
 * Debian's busybox-static (no external registry is reachable), and the
 * distribution registry (Debian's `docker-registry`) started on loopback,
 * optionally behind token auth served by a small token server.
 *
 * @module
 */
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { busyboxRootfs } from "@tsk/runtime/testing";
import { commitImage } from "./commit.ts";
import { createLayer } from "./layer/create.ts";
import type { Descriptor } from "./oci/descriptor.ts";
import type { ImageStore } from "./store/image_store.ts";

/**
 * Builds a one-layer busybox image (every applet, /etc/passwd) in the store
 * and tags it. The layer is reproducible: the same busybox binary gives the
 * same digest.
 *
 * @param store The image store.
 * @param name The tag to give it.
 * @returns The manifest descriptor.
 *
 * @example Make a test image
 * ```ts ignore
 * import { ImageStore } from "@tsk/image";
 * import { busyboxImage } from "@tsk/image/testing";
 * await busyboxImage(await ImageStore.open({ root: "/tmp/s" }), "busybox:latest");
 * ```
 */
export async function busyboxImage(
  store: ImageStore,
  name = "busybox:latest",
): Promise<Descriptor> {
  const dir = await Deno.makeTempDir({ prefix: "tsk-bb-" });
  try {
    await busyboxRootfs(dir);
    const layer = await createLayer(dir, store.content, { mtime: 0, owner: { uid: 0, gid: 0 } });
    return await commitImage(store, [layer], {
      config: {
        Cmd: ["/bin/sh"],
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      },
      created: "2024-01-01T00:00:00Z",
      tag: name,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** The distribution registry binary (Debian's docker-registry). */
export const REGISTRY_BIN = "/usr/bin/docker-registry";

/** A running test registry. */
export interface TestRegistry {
  /** `127.0.0.1:PORT`. */
  host: string;
  /** Its temporary directory (config, storage, keys). */
  dir: string;
  /** Requests the token server saw (scope, whether basic credentials were right). */
  tokenRequests: { scope: string[]; authorized: boolean }[];
  /** Stops the registry (and token server) and removes its directory. */
  stop(): Promise<void>;
}

/** The user the token server accepts. */
export const USER = "alice";
/** That user's password. */
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

/** Options for {@linkcode startRegistry}. */
export interface StartRegistryOptions {
  /**
   * Demand bearer tokens from a token server (which wants {@linkcode USER}
   * and {@linkcode PASSWORD} as basic auth).
   * @default false
   */
  token?: boolean;
  /**
   * Demand basic auth ({@linkcode USER} / {@linkcode PASSWORD}, from an
   * htpasswd file with a bcrypt hash).
   * @default false
   */
  basic?: boolean;
}

/**
 * Starts docker-registry on a free loopback port with temporary storage.
 *
 * @param options Whether to demand tokens.
 * @returns The running registry; call `stop()` in a `finally`.
 *
 * @example Start and stop a registry
 * ```ts ignore
 * import { startRegistry } from "@tsk/image/testing";
 * const reg = await startRegistry();
 * try { console.log(reg.host); } finally { await reg.stop(); }
 * ```
 */
export async function startRegistry(options: StartRegistryOptions = {}): Promise<TestRegistry> {
  const dir = await Deno.makeTempDir({ prefix: "tsk-registry-" });
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
  if (options.basic) {
    await Deno.writeTextFile(join(dir, "htpasswd"), `${USER}:${bcrypt.hashSync(PASSWORD, 8)}\n`);
    authYaml = `auth:
  htpasswd:
    realm: tsk-test-basic
    path: ${join(dir, "htpasswd")}
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
