/**
 * The registry program against real clients on loopback: skopeo and podman
 * push and pull byte-identical images; htpasswd and token auth; TLS; the
 * program's flags, YAML config and graceful shutdown.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import {
  buildLayout,
  CI,
  have,
  type Layout,
  run,
  sha256,
  startRegistry,
} from "./_registry_fixtures.ts";

async function busyboxLayout(dir: string, tag = "latest"): Promise<Layout> {
  return await buildLayout(dir, [
    { "bin/busybox": await Deno.readFile("/bin/busybox") },
    { "etc/motd": `tsk registry test ${crypto.randomUUID()}\n` },
  ], tag);
}

/** Waits (the registry batches its log lines) until `cond` holds. */
async function waitFor(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met: ${cond}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function assertSameBlobs(a: string, b: string): Promise<void> {
  for await (const e of Deno.readDir(join(a, "blobs", "sha256"))) {
    const x = await Deno.readFile(join(a, "blobs", "sha256", e.name));
    const y = await Deno.readFile(join(b, "blobs", "sha256", e.name));
    assert.equal(sha256(x), sha256(y));
    assert.equal(sha256(y), `sha256:${e.name}`);
  }
}

const needSkopeo = !(await have("skopeo"));
if (needSkopeo && CI) throw new Error("skopeo: not installed; tools/deps.ts lists it");

Deno.test({
  name: "skopeo copies an OCI layout into the registry and back out byte-identical",
  ignore: needSkopeo,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "tsk-reg-skopeo-" });
    const reg = await startRegistry(join(tmp, "data"));
    try {
      const src = await busyboxLayout(join(tmp, "src"));
      await run("skopeo", [
        "copy",
        "--dest-tls-verify=false",
        `oci:${src.dir}:latest`,
        `docker://${reg.host}/e2e/busybox:1.0`,
      ]);
      // A second repository: skopeo mounts the blobs across repositories.
      await run("skopeo", [
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        `docker://${reg.host}/e2e/busybox:1.0`,
        `docker://${reg.host}/e2e/copy:1.0`,
      ]);
      await waitFor(() => /"msg":"blob mounted"/.test(reg.logs()));
      await run("skopeo", [
        "copy",
        "--src-tls-verify=false",
        `docker://${reg.host}/e2e/copy:1.0`,
        `oci:${tmp}/dst:1.0`,
      ]);
      const index = JSON.parse(await Deno.readTextFile(join(tmp, "dst", "index.json")));
      assert.equal(index.manifests[0].digest, src.manifestDigest);
      await assertSameBlobs(src.dir, join(tmp, "dst"));
      const inspect = JSON.parse(
        await run("skopeo", [
          "inspect",
          "--tls-verify=false",
          `docker://${reg.host}/e2e/busybox:1.0`,
        ]),
      );
      assert.equal(inspect.Digest, src.manifestDigest);
      const tags = JSON.parse(
        await run("skopeo", [
          "list-tags",
          "--tls-verify=false",
          `docker://${reg.host}/e2e/busybox`,
        ]),
      );
      assert.deepEqual(tags.Tags, ["1.0"]);
      await run("skopeo", ["delete", "--tls-verify=false", `docker://${reg.host}/e2e/copy:1.0`]);
      const res = await fetch(`${reg.url}/v2/e2e/copy/manifests/1.0`);
      assert.equal(res.status, 404);
      await res.body?.cancel();
      // Blobs are stored once whatever the number of repositories.
      let files = 0;
      for await (const d of Deno.readDir(join(tmp, "data", "blobs", "sha256"))) {
        for await (const _ of Deno.readDir(join(tmp, "data", "blobs", "sha256", d.name))) files++;
      }
      assert.equal(
        files,
        src.blobs.size - 1,
        "layers and config once each (the manifest lives in SQLite)",
      );
    } finally {
      await reg.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

const needPodman = !(await have("podman"));
if (needPodman && CI) throw new Error("podman: not installed; tools/deps.ts lists it");

Deno.test({
  name: "podman pushes to and pulls from the registry",
  ignore: needPodman,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "tsk-reg-podman-" });
    const reg = await startRegistry(join(tmp, "data"));
    // A private podman store (vfs) so the test touches no global image state.
    const pm = [
      "--root",
      join(tmp, "root"),
      "--runroot",
      join(tmp, "run"),
      "--storage-driver",
      "vfs",
    ];
    try {
      await Deno.mkdir(join(tmp, "rootfs", "bin"), { recursive: true });
      await Deno.copyFile("/bin/busybox", join(tmp, "rootfs", "bin", "busybox"));
      await run("tar", ["-C", join(tmp, "rootfs"), "-cf", join(tmp, "rootfs.tar"), "."]);
      const id =
        (await run("podman", [...pm, "import", join(tmp, "rootfs.tar"), "localhost/tsk-test:1"]))
          .trim().split("\n").at(-1)!;
      await run("podman", [
        ...pm,
        "push",
        "--tls-verify=false",
        "localhost/tsk-test:1",
        `docker://${reg.host}/podman/bb:1`,
      ]);
      await run("podman", [...pm, "rmi", "localhost/tsk-test:1"]);
      await run("podman", [...pm, "pull", "--tls-verify=false", `${reg.host}/podman/bb:1`]);
      const images = await run("podman", [...pm, "images", "--format", "{{.ID}} {{.Repository}}"]);
      assert.ok(images.includes(id.replace(/^sha256:/, "").slice(0, 12)), images);
    } finally {
      await reg.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

async function htpasswd(path: string, users: Record<string, string>): Promise<void> {
  const lines = Object.entries(users).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 5)}`);
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
}

Deno.test({
  name: "htpasswd auth: skopeo with credentials pushes, without them gets 401",
  ignore: needSkopeo,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "tsk-reg-htpasswd-" });
    await htpasswd(join(tmp, "htpasswd"), { alice: "s3cret" });
    const reg = await startRegistry(join(tmp, "data"), [
      "--auth",
      "htpasswd",
      "--htpasswd",
      join(tmp, "htpasswd"),
    ]);
    try {
      const src = await busyboxLayout(join(tmp, "src"));
      await assert.rejects(
        run("skopeo", [
          "copy",
          "--dest-tls-verify=false",
          `oci:${src.dir}:latest`,
          `docker://${reg.host}/a/b:1`,
        ]),
      );
      await assert.rejects(run("skopeo", [
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "alice:wrong",
        `oci:${src.dir}:latest`,
        `docker://${reg.host}/a/b:1`,
      ]));
      await run("skopeo", [
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "alice:s3cret",
        `oci:${src.dir}:latest`,
        `docker://${reg.host}/a/b:1`,
      ]);
      const anon = await fetch(`${reg.url}/v2/a/b/manifests/1`);
      assert.equal(anon.status, 401);
      assert.equal(anon.headers.get("WWW-Authenticate"), `Basic realm="tsk-registry"`);
      assert.equal((await anon.json()).errors[0].code, "UNAUTHORIZED");
      const ok = await fetch(`${reg.url}/v2/a/b/manifests/1`, {
        headers: { Authorization: `Basic ${btoa("alice:s3cret")}` },
      });
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get("Docker-Content-Digest"), src.manifestDigest);
      await ok.body?.cancel();
    } finally {
      await reg.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "token auth: the token endpoint grants repository-scoped pull and push",
  ignore: needSkopeo,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "tsk-reg-token-" });
    await htpasswd(join(tmp, "htpasswd"), { alice: "pw-a", bob: "pw-b" });
    await Deno.writeTextFile(
      join(tmp, "config.yaml"),
      [
        "auth:",
        "  mode: token",
        `  htpasswd: ${join(tmp, "htpasswd")}`,
        "  access:",
        "    - { account: alice, name: '*', actions: [pull, push, delete] }",
        "    - { account: bob, name: 'bob/*', actions: [pull, push] }",
        "    - { account: anonymous, name: 'public/*', actions: [pull] }",
      ].join("\n"),
    );
    const reg = await startRegistry(join(tmp, "data"), ["--config", join(tmp, "config.yaml")]);
    try {
      const src = await busyboxLayout(join(tmp, "src"));
      const push = (creds: string, repo: string) =>
        run("skopeo", [
          "copy",
          "--dest-tls-verify=false",
          "--dest-creds",
          creds,
          `oci:${src.dir}:latest`,
          `docker://${reg.host}/${repo}:1`,
        ]);
      await push("alice:pw-a", "public/img");
      await push("bob:pw-b", "bob/img");
      await assert.rejects(push("bob:pw-b", "alice/img"));
      await run("skopeo", [
        "copy",
        "--src-tls-verify=false",
        `docker://${reg.host}/public/img:1`,
        `oci:${tmp}/anon:1`,
      ]);
      await assertSameBlobs(src.dir, join(tmp, "anon"));

      const challenge = await fetch(`${reg.url}/v2/bob/img/manifests/1`);
      assert.equal(challenge.status, 401);
      const www = challenge.headers.get("WWW-Authenticate")!;
      assert.match(
        www,
        /^Bearer realm="http:\/\/[^"]+\/token",service="tsk-registry",scope="repository:bob\/img:pull"$/,
      );
      await challenge.body?.cancel();
      const tokenFor = async (creds: string, scope: string) => {
        const r = await fetch(
          `${reg.url}/token?service=tsk-registry&scope=${encodeURIComponent(scope)}`,
          {
            headers: { Authorization: `Basic ${btoa(creds)}` },
          },
        );
        assert.equal(r.status, 200);
        return (await r.json()).token as string;
      };
      const bobToken = await tokenFor("bob:pw-b", "repository:bob/img:pull,push");
      let r = await fetch(`${reg.url}/v2/bob/img/manifests/1`, {
        headers: { Authorization: `Bearer ${bobToken}` },
      });
      assert.equal(r.status, 200);
      await r.body?.cancel();
      // The token is scoped to bob/img: another repository is refused.
      r = await fetch(`${reg.url}/v2/public/img/manifests/1`, {
        headers: { Authorization: `Bearer ${bobToken}` },
      });
      assert.equal(r.status, 401);
      assert.match(r.headers.get("WWW-Authenticate")!, /error="insufficient_scope"/);
      await r.body?.cancel();
      // bob asked for alice's repository and got a token without the grant.
      const noGrant = await tokenFor("bob:pw-b", "repository:alice/img:pull");
      r = await fetch(`${reg.url}/v2/alice/img/tags/list`, {
        headers: { Authorization: `Bearer ${noGrant}` },
      });
      assert.equal(r.status, 401);
      await r.body?.cancel();
      // A tampered token is refused.
      r = await fetch(`${reg.url}/v2/bob/img/manifests/1`, {
        headers: { Authorization: `Bearer ${bobToken.slice(0, -2)}xx` },
      });
      assert.equal(r.status, 401);
      assert.match(r.headers.get("WWW-Authenticate")!, /error="invalid_token"/);
      await r.body?.cancel();
      // The catalog needs the registry:catalog:* scope.
      const catalogToken = await tokenFor("alice:pw-a", "registry:catalog:*");
      r = await fetch(`${reg.url}/v2/_catalog`, {
        headers: { Authorization: `Bearer ${catalogToken}` },
      });
      assert.deepEqual((await r.json()).repositories, ["bob/img", "public/img"]);
      r = await fetch(`${reg.url}/v2/_catalog`, {
        headers: { Authorization: `Bearer ${bobToken}` },
      });
      assert.equal(r.status, 401);
      await r.body?.cancel();
      r = await fetch(`${reg.url}/token?scope=repository:bob/img:pull`, {
        headers: { Authorization: `Basic ${btoa("bob:nope")}` },
      });
      assert.equal(r.status, 401);
      await r.body?.cancel();
    } finally {
      await reg.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "TLS: --tls-cert and --tls-key serve HTTPS that skopeo verifies",
  ignore: needSkopeo,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "tsk-reg-tls-" });
    const certs = join(tmp, "certs");
    await Deno.mkdir(certs);
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      join(tmp, "key.pem"),
      "-out",
      join(certs, "ca.crt"),
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ]);
    const reg = await startRegistry(join(tmp, "data"), [
      "--tls-cert",
      join(certs, "ca.crt"),
      "--tls-key",
      join(tmp, "key.pem"),
    ]);
    try {
      assert.match(reg.url, /^https:\/\//);
      const src = await busyboxLayout(join(tmp, "src"));
      await run("skopeo", [
        "copy",
        "--dest-cert-dir",
        certs,
        `oci:${src.dir}:latest`,
        `docker://${reg.host}/tls/img:1`,
      ]);
      await run("skopeo", [
        "copy",
        "--src-cert-dir",
        certs,
        `docker://${reg.host}/tls/img:1`,
        `oci:${tmp}/out:1`,
      ]);
      await assertSameBlobs(src.dir, join(tmp, "out"));
      const out = await run("curl", ["-sS", "--cacert", join(certs, "ca.crt"), `${reg.url}/v2/`]);
      assert.equal(out, "{}");
    } finally {
      await reg.stop();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test("registry --help prints the flags; bad flags exit 2 naming the field", async () => {
  const main = new URL("../registry/main.ts", import.meta.url).pathname;
  const help = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", main, "--help"] })
    .output();
  assert.equal(help.code, 0);
  const text = new TextDecoder().decode(help.stdout);
  for (
    const flag of [
      "--port",
      "--data",
      "--config",
      "--tls-cert",
      "--tls-key",
      "--auth",
      "--htpasswd",
    ]
  ) {
    assert.ok(text.includes(flag), flag);
  }
  const bad = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", main, "--port=-1"] })
    .output();
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /port: expected an integer from 0 to 65535/);
});

/** Waits until an upload file under `dir` holds bytes. */
async function uploadStarted(dir: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      for (const e of Deno.readDirSync(dir)) {
        if (Deno.statSync(join(dir, e.name)).size > 0) return;
      }
    } catch { /* not made yet */ }
    if (Date.now() > deadline) throw new Error(`no upload under ${dir} received bytes`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("SIGTERM lets an in-flight upload finish, then the registry exits 0", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tsk-reg-term-" });
  const reg = await startRegistry(join(tmp, "data"));
  try {
    const data = new Uint8Array(4 * 1024 * 1024).fill(7);
    let sent = 0;
    let sigSent = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        if (sent >= data.byteLength) return ctrl.close();
        ctrl.enqueue(data.subarray(sent, sent + 256 * 1024));
        sent += 256 * 1024;
        if (sent >= data.byteLength / 2 && !sigSent) {
          sigSent = true;
          // Only once the registry is handling the request: bytes of it have
          // reached the upload file. (A SIGTERM before the request arrives
          // rightly refuses it.)
          await uploadStarted(join(tmp, "data", "uploads"));
          reg.child.kill("SIGTERM");
          await new Promise((r) => setTimeout(r, 200));
        }
      },
    });
    const res = await fetch(`${reg.url}/v2/term/blob/blobs/uploads/?digest=${sha256(data)}`, {
      method: "POST",
      body,
    });
    assert.equal(res.status, 201, await res.text());
    const status = await reg.child.status;
    assert.equal(status.code, 0);
    assert.match(reg.logs(), /"msg":"stopped"/);
  } finally {
    await reg.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("SIGTERM lets a blob download in flight finish; logs are JSON lines; /metrics and /healthz answer", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tsk-reg-term-dl-" });
  const reg = await startRegistry(join(tmp, "data"));
  try {
    const data = new Uint8Array(32 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4096) data[i] = i & 0xff;
    const digest = sha256(data);
    let r = await fetch(`${reg.url}/v2/term/dl/blobs/uploads/?digest=${digest}`, {
      method: "POST",
      body: data,
    });
    assert.equal(r.status, 201);
    await r.body?.cancel();
    assert.equal(await (await fetch(`${reg.url}/healthz`)).text(), "ok\n");
    const metrics = await (await fetch(`${reg.url}/metrics`)).text();
    assert.match(metrics, /registry_http_request_bytes_total\{route="uploads"\} 33554432/);
    assert.match(metrics, /registry_blob_bytes_received_total 33554432/);
    r = await fetch(`${reg.url}/v2/term/dl/blobs/${digest}`);
    const reader = r.body!.getReader();
    let got = 0;
    const first = await reader.read();
    got += first.value!.byteLength;
    reg.child.kill("SIGTERM");
    await new Promise((res) => setTimeout(res, 300));
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      got += value.byteLength;
    }
    assert.equal(got, data.byteLength);
    assert.equal((await reg.child.status).code, 0);
    const lines = reg.logs().trim().split("\n");
    for (const l of lines) assert.equal(typeof JSON.parse(l).msg, "string", l);
    assert.ok(
      lines.some((l) => JSON.parse(l).msg === "request" && JSON.parse(l).route === "blobs"),
    );
  } finally {
    await reg.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
