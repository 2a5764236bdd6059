import assert from "node:assert/strict";
import {
  AlreadyExistsError,
  ApiError,
  type ConfigMap,
  ConflictError,
  type Deployment,
  ExpiredError,
  Informer,
  NotFoundError,
  type Pod,
  ServerUnavailableError,
  type WatchEvent,
} from "@tsk/api";
import { startTestControlPlane, type TestControlPlane } from "./_control_plane.ts";

/**
 * Opens a ConfigMap watch in "default" on a bare TLS connection, with a
 * hand-written HTTP request (the admin's token), as many clients do.
 */
async function rawWatch(
  t: TestControlPlane,
  query: string,
  version = "1.1",
): Promise<Deno.TlsConn> {
  const cfg = t.cp.adminConfig;
  const url = new URL(cfg.server);
  const conn = await Deno.connectTls({
    hostname: url.hostname,
    port: Number(url.port),
    caCerts: [cfg.certificateAuthority!],
  });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET /api/v1/namespaces/default/configmaps?${query} HTTP/${version}\r\n` +
          `Host: ${url.host}\r\nAuthorization: Bearer ${cfg.token}\r\n\r\n`,
      ),
    );
  } catch (err) {
    conn.close();
    throw err;
  }
  return conn;
}

const pod = (name: string, extra: Partial<Pod["spec"]> = {}): Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "default", labels: { app: "web" } },
  spec: { containers: [{ name: "c", image: "busybox:1.36" }], ...extra },
});

const deployment = (name: string): Deployment => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace: "default" },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: "c", image: "nginx" }] },
    },
  },
});

async function take<T>(it: AsyncIterable<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) {
    out.push(x);
    if (out.length === n) break;
  }
  return out;
}

Deno.test("API server: CRUD, defaulting, conflicts, subresources and merge patch over HTTPS", async () => {
  const t = await startTestControlPlane();
  try {
    const c = t.admin;
    const created = await c.create(pod("web"));
    assert.equal(created.spec.restartPolicy, "Always");
    assert.equal(created.spec.schedulerName, "default-scheduler");
    assert.equal(created.status?.phase, "Pending");
    await assert.rejects(c.create(pod("web")), AlreadyExistsError);
    const got = await c.get<Pod>("pods", "web", { namespace: "default" });
    assert.equal(got.metadata.uid, created.metadata.uid);

    // Stale resourceVersion → 409 Conflict.
    const stale = structuredClone(got);
    got.metadata.labels = { app: "web", v: "2" };
    await c.update(got);
    stale.metadata.labels = { app: "web", v: "3" };
    await assert.rejects(c.update(stale), (e) => e instanceof ConflictError && e.code === 409);

    // Status subresource writes only status.
    const s = await c.get<Pod>("pods", "web");
    s.status = { phase: "Running" };
    s.spec.containers[0].image = "ignored";
    const afterStatus = await c.update(s, { subresource: "status" });
    assert.equal(afterStatus.status?.phase, "Running");
    assert.equal(afterStatus.spec.containers[0].image, "busybox:1.36");

    // Merge patch: add and remove a label.
    const patched = await c.patch<Pod>("pods", {
      name: "web",
      patch: { metadata: { labels: { v: null, tier: "front" } } },
    });
    assert.deepEqual(patched.metadata.labels, { app: "web", tier: "front" });

    // Binding: once, then Conflict.
    await c.bind({ name: "web" }, "node-1");
    const bound = await c.get<Pod>("pods", "web");
    assert.equal(bound.spec.nodeName, "node-1");
    assert.equal(bound.status?.conditions?.find((x) => x.type === "PodScheduled")?.status, "True");
    await assert.rejects(c.bind({ name: "web" }, "node-2"), /already assigned to node "node-1"/);

    // Scale subresource.
    await c.create(deployment("app"));
    const scale = await c.scale("deployments", { name: "app", replicas: 4 });
    assert.equal(scale.kind, "Scale");
    assert.equal(scale.spec.replicas, 4);
    assert.equal(scale.status?.selector, "app=app");
    const d = await c.get<Deployment>("deployments", "app");
    assert.equal(d.spec.replicas, 4);
    assert.equal(d.metadata.generation, 2);

    // Lists with selectors and pagination.
    for (let i = 0; i < 7; i++) await c.create(pod(`p${i}`));
    const page = await c.list("pods", { namespace: "default", limit: 3, labelSelector: "app=web" });
    assert.equal(page.items.length, 3);
    assert.ok(page.metadata.continue);
    const rest = await c.list("pods", {
      namespace: "default",
      continue: page.metadata.continue,
      labelSelector: "app=web",
    });
    assert.equal(page.items.length + rest.items.length, 8);
    const onNode = await c.list("pods", { fieldSelector: "spec.nodeName=node-1" });
    assert.deepEqual(onNode.items.map((p) => p.metadata.name), ["web"]);

    // Graceful delete of a bound pod, then the final delete.
    const marked = await c.delete<Pod>("pods", "web");
    assert.ok(marked.metadata.deletionTimestamp);
    await c.delete("pods", "web", { gracePeriodSeconds: 0 });
    await assert.rejects(c.get("pods", "web"), NotFoundError);

    // YAML in, YAML out.
    const res = await fetch(`${t.cp.url}/api/v1/namespaces/default/configmaps`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${t.cp.adminConfig.token}`,
        "content-type": "application/yaml",
        accept: "application/yaml",
      },
      body: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  k: v\n",
      client: Deno.createHttpClient({ caCerts: [t.cp.ca.certPem] }),
    });
    assert.equal(res.status, 201);
    assert.match(await res.text(), /^apiVersion: v1\nkind: ConfigMap/);
  } finally {
    await t.stop();
  }
});

Deno.test("API server: bad manifests are refused with field paths and nothing is stored", async () => {
  const t = await startTestControlPlane();
  try {
    const c = t.admin;
    const bad = pod("bad");
    bad.spec.containers[0].resources = { limits: { memory: "lots", cpu: "2" } };
    bad.spec.containers.push({ name: "c", image: "" });
    await assert.rejects(c.create(bad), (e) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.code, 422);
      const fields = e.causes.map((x) => x.field);
      assert.ok(fields.includes("spec.containers[0].resources.limits.memory"), fields.join());
      assert.ok(fields.includes("spec.containers[1].name"), fields.join());
      assert.ok(fields.includes("spec.containers[1].image"), fields.join());
      assert.match(
        e.message,
        /spec\.containers\[0\]\.resources\.limits\.memory: expected a quantity like 512Mi/,
      );
      return true;
    });
    const dep = deployment("d");
    dep.spec.template.metadata!.labels = { app: "other" };
    await assert.rejects(
      c.create(dep),
      /spec\.template\.metadata\.labels: must match spec\.selector/,
    );
    await assert.rejects(
      c.create({ ...pod("x"), metadata: { name: "x", namespace: "nope" } }),
      /namespaces "nope" not found/,
    );
    assert.equal((await c.list("pods")).items.length, 0);
    assert.equal((await c.list("deployments")).items.length, 0);

    // An update that breaks the object is refused and the stored object is unchanged.
    const good = await c.create(pod("good"));
    const broken = structuredClone(good);
    broken.spec.containers[0].ports = [{ containerPort: 70000 }];
    await assert.rejects(
      c.update(broken),
      /spec\.containers\[0\]\.ports\[0\]\.containerPort: expected a port number/,
    );
    const still = await c.get<Pod>("pods", "good");
    assert.equal(still.metadata.resourceVersion, good.metadata.resourceVersion);
  } finally {
    await t.stop();
  }
});

Deno.test("API server: watch streams in order, resumes, and reports a too-old version as Expired", async () => {
  const t = await startTestControlPlane({ config: { watchHistory: 5 } });
  try {
    const c = t.admin;
    const start = (await c.list("configmaps")).metadata.resourceVersion!;
    const cm = (name: string): ConfigMap => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name },
      data: { a: "1" },
    });
    const a = await c.create(cm("a"));
    a.data = { a: "2" };
    const a2 = await c.update(a);
    await c.delete("configmaps", "a");
    const ctl = new AbortController();
    const events = await take(
      c.watch("configmaps", { namespace: "default", resourceVersion: start, signal: ctl.signal }),
      3,
    );
    ctl.abort();
    assert.deepEqual(events.map((e) => e.type), ["ADDED", "MODIFIED", "DELETED"]);
    const ctl2 = new AbortController();
    const resumed = await take(
      c.watch("configmaps", { resourceVersion: a2.metadata.resourceVersion, signal: ctl2.signal }),
      1,
    );
    ctl2.abort();
    assert.equal(resumed[0].type, "DELETED");

    // A live watch over HTTP sees writes from another client.
    const ctl3 = new AbortController();
    const live = take(
      c.watch<ConfigMap>("configmaps", { namespace: "default", signal: ctl3.signal }),
      2,
    );
    await new Promise((r) => setTimeout(r, 100));
    const other = t.client({ clientCertificate: undefined, clientKey: undefined });
    await other.create(cm("b"));
    await other.create(cm("c"));
    const liveEvents: WatchEvent<ConfigMap>[] = await live;
    ctl3.abort();
    assert.deepEqual(liveEvents.map((e) => e.object.metadata.name), ["b", "c"]);

    // Push the SQLite history (5 events) past the start: a watch from there is Expired (410).
    for (let i = 0; i < 12; i++) await c.create(cm(`f${i}`));
    await t.cp.store.compact(Number((await c.list("configmaps")).metadata.resourceVersion));
    await assert.rejects(take(c.watch("configmaps", { resourceVersion: start }), 1), (e) => {
      assert.ok(e instanceof ExpiredError, String(e));
      assert.match(e.message, /list again/);
      return true;
    });
  } finally {
    await t.stop();
  }
});

Deno.test("API server: an informer's cache follows the server through list and watch", async () => {
  const t = await startTestControlPlane();
  try {
    const c = t.admin;
    await c.create(pod("one"));
    const seen: string[] = [];
    const inf = new Informer<Pod>(c, "pods", { namespace: "default", backoffMs: 20 });
    inf.on({
      add: (p) => seen.push(`add ${p.metadata.name}`),
      update: (_o, p) => seen.push(`update ${p.metadata.name}`),
      delete: (p) => seen.push(`delete ${p.metadata.name}`),
    });
    await inf.start();
    assert.deepEqual(inf.list().map((p) => p.metadata.name), ["one"]);
    await c.create(pod("two"));
    await c.patch("pods", { name: "one", patch: { metadata: { labels: { x: "y" } } } });
    await c.delete("pods", "two");
    const deadline = Date.now() + 10000;
    while (seen.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(seen, ["add one", "add two", "update one", "delete two"]);
    assert.equal(inf.get("one", "default")?.metadata.labels?.x, "y");
    assert.equal(inf.get("two", "default"), undefined);
    inf.stop();
    await inf.stopped();
  } finally {
    await t.stop();
  }
});

Deno.test("API server: authentication and authorization refuse what they should", async () => {
  const t = await startTestControlPlane({
    config: {
      tokens: [
        { token: "viewer-token-0123456789", user: "vera" },
        { token: "nobody-token-0123456789", user: "nobody" },
        { token: "limited-token-012345678", user: "lim" },
      ],
      roles: [{
        name: "cm-editor",
        rules: [{ verbs: ["*"], resources: ["configmaps"], namespaces: ["default"] }],
      }],
      bindings: [{ role: "view", users: ["vera"] }, { role: "cm-editor", users: ["lim"] }],
    },
  });
  try {
    const noCreds = t.client({
      clientCertificate: undefined,
      clientKey: undefined,
      token: undefined,
    });
    await assert.rejects(noCreds.list("pods"), (e) => e instanceof ApiError && e.code === 401);
    const badToken = t.client({
      clientCertificate: undefined,
      clientKey: undefined,
      token: "wrong-token-0123456789",
    });
    await assert.rejects(badToken.list("pods"), (e) => e instanceof ApiError && e.code === 401);

    const viewer = t.client({
      clientCertificate: undefined,
      clientKey: undefined,
      token: "viewer-token-0123456789",
    });
    assert.ok(Array.isArray((await viewer.list("pods")).items));
    await assert.rejects(viewer.create(pod("x")), (e) => {
      assert.ok(e instanceof ApiError && e.code === 403);
      assert.match(
        e.message,
        /User "vera" cannot create resource "pods" in the namespace "default"/,
      );
      return true;
    });

    const nobody = t.client({
      clientCertificate: undefined,
      clientKey: undefined,
      token: "nobody-token-0123456789",
    });
    await assert.rejects(nobody.list("pods"), (e) => e instanceof ApiError && e.code === 403);

    const lim = t.client({
      clientCertificate: undefined,
      clientKey: undefined,
      token: "limited-token-012345678",
    });
    await lim.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "ok" } });
    await assert.rejects(
      lim.create({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "no", namespace: "tsk-system" },
      }),
      (e) => e instanceof ApiError && e.code === 403,
    );

    // A certificate from the cluster CA authenticates as its CN with its O groups.
    const cert = await t.cp.ca.issue("node-1", { organizations: ["system:nodes"] });
    const node = t.client({
      token: undefined,
      clientCertificate: cert.certPem,
      clientKey: cert.keyPem,
    });
    await node.create({ apiVersion: "v1", kind: "Node", metadata: { name: "node-1" } });
    await assert.rejects(node.create(pod("p")), (e) => e instanceof ApiError && e.code === 403);

    // The audit log has one line per mutating request, with the user and the outcome.
    const audit = (await Deno.readTextFile(`${t.home}/control-plane/audit.log`)).trim().split("\n")
      .map((l) => JSON.parse(l));
    assert.ok(audit.some((a) => a.user === "vera" && a.verb === "create" && a.code === 403));
    assert.ok(audit.some((a) => a.user === "node-1" && a.resource === "nodes" && a.code === 201));
    assert.ok(audit.every((a) => a.verb !== "list" && a.verb !== "get"));
  } finally {
    await t.stop();
  }
});

Deno.test("API server: with --client-auth require, a client without a certificate is refused at the handshake", async () => {
  const t = await startTestControlPlane({ clientAuth: "require" });
  try {
    const tokenOnly = t.client({ clientCertificate: undefined, clientKey: undefined });
    await assert.rejects(tokenOnly.list("pods"), ServerUnavailableError);
    assert.ok(Array.isArray((await t.admin.list("pods")).items));
    // A certificate from another CA is refused too.
    const { CertificateAuthority } = await import("@tsk/mesh");
    const rogue = await (await CertificateAuthority.create()).issue("admin", {
      organizations: ["system:masters"],
    });
    const forged = t.client({
      clientCertificate: rogue.certPem,
      clientKey: rogue.keyPem,
      token: undefined,
    });
    await assert.rejects(forged.list("pods"), ServerUnavailableError);
  } finally {
    await t.stop();
  }
});

Deno.test("API server: per-client rate limits answer 429 with Retry-After", async () => {
  const t = await startTestControlPlane({ config: { rateLimit: { qps: 1, burst: 3 } } });
  try {
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => t.admin.list("pods")));
    const limited = results.filter((r) => r.status === "rejected");
    assert.ok(limited.length >= 2, `expected some 429s, got ${limited.length}`);
    for (const r of limited) {
      const e = (r as PromiseRejectedResult).reason;
      assert.ok(e instanceof ApiError && e.code === 429, String(e));
      assert.ok((e.retryAfterSeconds ?? 0) >= 1);
    }
  } finally {
    await t.stop();
  }
});

Deno.test("API server: /healthz, /readyz and /metrics answer without credentials", async () => {
  const t = await startTestControlPlane();
  try {
    const http = Deno.createHttpClient({ caCerts: [t.cp.ca.certPem] });
    for (const p of ["/healthz", "/readyz"]) {
      const r = await fetch(`${t.cp.url}${p}`, { client: http });
      assert.equal(r.status, 200);
      assert.equal(await r.text(), "ok");
    }
    await t.admin.list("pods");
    const m = await (await fetch(`${t.cp.url}/metrics`, { client: http })).text();
    assert.match(m, /apiserver_request_total\{verb="list",resource="pods",code="200"\} 1/);
    assert.match(m, /process_resident_memory_bytes \d+/);
    http.close();
  } finally {
    await t.stop();
  }
});

Deno.test("API server: dry run stores nothing; deleting a namespace empties it; protected namespaces stay", async () => {
  const t = await startTestControlPlane();
  try {
    const c = t.admin;
    const dry = await c.create(pod("dry"), { dryRun: true });
    assert.equal(dry.spec.restartPolicy, "Always");
    await assert.rejects(c.get("pods", "dry"), NotFoundError);

    await c.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "team" } });
    await c.create({ ...pod("p1"), metadata: { name: "p1", namespace: "team" } });
    await c.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c1", namespace: "team" },
    });
    await c.delete("namespaces", "team");
    await assert.rejects(c.get("namespaces", "team"), NotFoundError);
    assert.equal((await c.list("pods", { namespace: "team" })).items.length, 0);
    assert.equal((await c.list("configmaps", { namespace: "team" })).items.length, 0);
    await assert.rejects(
      c.delete("namespaces", "default"),
      (e) => e instanceof ApiError && e.code === 403,
    );

    for (const n of ["a", "b", "c"]) {
      await c.create({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: n, labels: { batch: n === "c" ? "2" : "1" } },
      });
    }
    const removed = await c.request<{ items: { metadata: { name: string } }[] }>(
      "DELETE",
      "/api/v1/namespaces/default/configmaps?labelSelector=batch%3D1",
    );
    assert.deepEqual(removed.items.map((i) => i.metadata.name), ["a", "b"]);
    assert.deepEqual((await c.list("configmaps")).items.map((i) => i.metadata.name), ["c"]);
  } finally {
    await t.stop();
  }
});

Deno.test("API server: concurrent merge patches without a version all apply; with a stale version, Conflict", async () => {
  const t = await startTestControlPlane();
  try {
    const c = t.admin;
    const first = await c.create<ConfigMap>({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "m" },
    });
    await Promise.all(
      Array.from(
        { length: 10 },
        (_, i) => c.patch("configmaps", { name: "m", patch: { data: { [`k${i}`]: String(i) } } }),
      ),
    );
    const got = await c.get<ConfigMap>("configmaps", "m");
    assert.equal(Object.keys(got.data ?? {}).length, 10);
    await assert.rejects(
      c.patch("configmaps", {
        name: "m",
        patch: { metadata: { resourceVersion: first.metadata.resourceVersion }, data: { x: "1" } },
      }),
      ConflictError,
    );
  } finally {
    await t.stop();
  }
});

Deno.test("API server: a request body over 3 MiB is refused with 413 and nothing is stored", async () => {
  const t = await startTestControlPlane();
  try {
    const big = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "big" },
      data: { k: "x".repeat(4 * 1024 * 1024) },
    };
    await assert.rejects(t.admin.create(big), (e) => e instanceof ApiError && e.code === 413);
    await assert.rejects(t.admin.get("configmaps", "big"), NotFoundError);
  } finally {
    await t.stop();
  }
});

Deno.test("API server: raw HTTP/1.1 and HTTP/1.0 watches get framed, filtered events and a clean end", async () => {
  const t = await startTestControlPlane();
  let stopped = false;
  const conns: Deno.TlsConn[] = [];
  try {
    const rv = (await t.admin.list("configmaps")).metadata.resourceVersion!;
    const open = async (version: string) => {
      const conn = await rawWatch(
        t,
        `watch=true&resourceVersion=${rv}&labelSelector=app%3Dweb`,
        version,
      );
      conns.push(conn);
      // Everything until the server closes or ends the response.
      const body = (async () => {
        const dec = new TextDecoder();
        const buf = new Uint8Array(65536);
        let text = "";
        while (!text.endsWith("\r\n0\r\n\r\n")) {
          const n = await conn.read(buf).catch(() => null);
          if (n === null) break;
          text += dec.decode(buf.subarray(0, n), { stream: true });
        }
        return text;
      })();
      return { body };
    };
    const h11 = await open("1.1");
    const h10 = await open("1.0");
    const cm = (name: string, app: string): ConfigMap => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace: "default", labels: { app } },
    });
    await t.admin.create(cm("w1", "web"));
    await t.admin.create(cm("x1", "other"));
    await t.admin.create(cm("w2", "web"));
    await t.admin.delete("configmaps", "w1", { namespace: "default" });
    await new Promise((r) => setTimeout(r, 300));
    await t.stop();
    stopped = true;
    const [a, b] = await Promise.all([h11.body, h10.body]);
    const lines = (body: string) =>
      body.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).map((e) =>
        `${e.type} ${e.object.metadata.name}`
      );
    // HTTP/1.1: chunked, each event one chunk, ended with the last chunk.
    assert.match(a, /^HTTP\/1\.1 200/);
    assert.match(a, /transfer-encoding: chunked/i);
    assert.ok(
      a.endsWith("\r\n0\r\n\r\n"),
      `chunked body not ended: ${JSON.stringify(a.slice(-40))}`,
    );
    const body11 = a.slice(a.indexOf("\r\n\r\n") + 4);
    for (const m of body11.matchAll(/([0-9a-f]+)\r\n(\{[^\r]*\n)\r\n/g)) {
      assert.equal(parseInt(m[1], 16), new TextEncoder().encode(m[2]).length);
    }
    assert.deepEqual(lines(body11), ["ADDED w1", "ADDED w2", "DELETED w1"]);
    // HTTP/1.0: the bare lines, ended by closing the connection.
    assert.match(b, /^HTTP\/1\.1 200/);
    assert.doesNotMatch(b, /transfer-encoding/i);
    assert.deepEqual(lines(b.slice(b.indexOf("\r\n\r\n") + 4)), [
      "ADDED w1",
      "ADDED w2",
      "DELETED w1",
    ]);
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    if (!stopped) await t.stop();
  }
});

Deno.test("API server: a watch whose client goes away is ended, and the others go on", async () => {
  const t = await startTestControlPlane();
  const conns: Deno.TlsConn[] = [];
  try {
    const rv = (await t.admin.list("configmaps")).metadata.resourceVersion!;
    const watchers = () => Number(/^apiserver_watchers (\d+)/m.exec(t.cp.metrics.render())?.[1]);
    const until = async (what: string, ok: () => boolean) => {
      const by = Date.now() + 10_000;
      while (!ok()) {
        if (Date.now() > by) throw new Error(`not within 10 s: ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    for (let i = 0; i < 3; i++) conns.push(await rawWatch(t, `watch=1&resourceVersion=${rv}`));
    await until("3 watchers open", () => watchers() === 3);
    conns[0].close();
    conns[1].close();
    await until("the 2 closed watches ended", () => watchers() === 1);
    // The one left still gets events.
    await t.admin.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "after", namespace: "default" },
    });
    const buf = new Uint8Array(65536);
    const dec = new TextDecoder();
    let text = "";
    while (!text.includes('"name":"after"')) {
      const n = await conns[2].read(buf);
      assert.ok(n !== null, "the remaining watch ended");
      text += dec.decode(buf.subarray(0, n), { stream: true });
    }
    assert.match(text, /^HTTP\/1\.1 200/);
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await t.stop();
  }
});
