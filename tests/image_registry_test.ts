// The registry client against the real distribution registry (Debian's
// docker-registry on loopback), with and without token auth, and skopeo.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  commitImage,
  createLayer,
  DigestMismatchError,
  ImageStore,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_OCI_INDEX,
  pullImage,
  pushImage,
  RegistryClient,
  RegistryError,
  sha256Digest,
  type TransferProgress,
} from "@tsk/image";
import { busyboxImage, requireTool, run, tempDir } from "./_image_fixture.ts";
import { PASSWORD, REGISTRY_BIN, startRegistry, USER } from "@tsk/image/testing";

const ready = requireTool(REGISTRY_BIN) && requireTool("/usr/bin/skopeo");

function dirOf(store: ImageStore): string {
  return join(store.root, "..");
}

/** The config and manifest of an image of one (uncompressed) layer, for stub registries. */
function oneLayerImage(
  layer: Uint8Array,
): { config: Uint8Array<ArrayBuffer>; manifest: Uint8Array<ArrayBuffer> } {
  const config = new TextEncoder().encode(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [sha256Digest("x")] },
  }));
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: sha256Digest(config),
      size: config.length,
    },
    layers: [{
      mediaType: "application/vnd.oci.image.layer.v1.tar",
      digest: sha256Digest(layer),
      size: layer.length,
    }],
  }));
  return { config, manifest };
}

async function withStores(fn: (a: ImageStore, b: ImageStore, dir: string) => Promise<void>) {
  const dir = await tempDir("reg");
  try {
    await fn(
      await ImageStore.open({ root: join(dir, "a") }),
      await ImageStore.open({ root: join(dir, "b") }),
      dir,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "push and pull through docker-registry: monolithic, chunked, mount; skopeo agrees",
  ignore: !ready,
  async fn() {
    const reg = await startRegistry();
    try {
      await withStores(async (a, b) => {
        const m = await busyboxImage(a, "busybox:latest");
        const events: TransferProgress[] = [];
        const r1 = await pushImage(a, "busybox", `${reg.host}/lib/busybox:1`, {
          onProgress: (p) => events.push(p),
        });
        assert.equal(r1.digest, m.digest);
        assert.equal(r1.blobs.uploaded, 2);
        assert.ok(events.some((e) => e.status === "done"));
        // Pushing again uploads nothing.
        const again = await pushImage(a, "busybox", `${reg.host}/lib/busybox:1`);
        assert.deepEqual(again.blobs, { exists: 2, mounted: 0, uploaded: 0 });
        // Chunked upload to another repository.
        const r2 = await pushImage(a, "busybox", `${reg.host}/chunked/busybox:1`, {
          chunkSize: 256 * 1024,
        });
        assert.equal(r2.blobs.uploaded, 2);
        // Cross-repository mount.
        const r3 = await pushImage(a, "busybox", `${reg.host}/mounted/busybox:1`, {
          mountFrom: "lib/busybox",
        });
        assert.deepEqual(r3.blobs, { exists: 0, mounted: 2, uploaded: 0 });
        // skopeo reads what we pushed.
        for (const repo of ["lib", "chunked", "mounted"]) {
          const info = JSON.parse(
            await run("skopeo", [
              "inspect",
              "--tls-verify=false",
              `docker://${reg.host}/${repo}/busybox:1`,
            ]),
          );
          assert.equal(info.Digest, m.digest);
        }
        // Concurrent pulls of the same image into one store: both succeed, one copy.
        const c = await ImageStore.open({ root: join(dirOf(b), "concurrent") });
        const both = await Promise.all([
          pullImage(c, `${reg.host}/lib/busybox:1`, { tag: "one" }),
          pullImage(c, `${reg.host}/lib/busybox:1`, { tag: "two" }),
        ]);
        assert.deepEqual(both.map((p) => p.descriptor.digest), [m.digest, m.digest]);
        assert.deepEqual((await c.list()).map((r) => r.name), ["one:latest", "two:latest"]);
        assert.equal((await c.content.list()).length, 3);
        // And we pull it back into an empty store, byte for byte.
        const pulled = await pullImage(b, `${reg.host}/chunked/busybox:1`);
        assert.equal(pulled.descriptor.digest, m.digest);
        assert.equal(pulled.name, `${reg.host}/chunked/busybox:1`);
        const img = await b.image(pulled.name);
        assert.deepEqual(img.config.config?.Cmd, ["/bin/sh"]);
        for (const l of img.manifest.layers) assert.ok(await b.content.has(l.digest));
        // A pull by digest.
        const byDigest = await pullImage(b, `${reg.host}/lib/busybox@${m.digest}`, {
          tag: "pinned",
        });
        assert.equal(byDigest.descriptor.digest, m.digest);
        assert.equal(byDigest.bytes, 0); // every blob was already stored
        // A Docker schema 2 image that skopeo pushed.
        await run("skopeo", [
          "copy",
          "--src-tls-verify=false",
          "--dest-tls-verify=false",
          "--format",
          "v2s2",
          `docker://${reg.host}/lib/busybox:1`,
          `docker://${reg.host}/docker/busybox:v2s2`,
        ]);
        const d2 = await pullImage(b, `${reg.host}/docker/busybox:v2s2`);
        assert.equal(d2.descriptor.mediaType, MEDIA_TYPE_DOCKER_MANIFEST);
        assert.equal((await b.image(d2.name)).config.os, "linux");
      });
    } finally {
      await reg.stop();
    }
  },
});

Deno.test({
  name: "pullImage() selects the platform from an index it pushed",
  ignore: !ready,
  async fn() {
    const reg = await startRegistry();
    try {
      await withStores(async (a, b, dir) => {
        const amd = await busyboxImage(a, "bb:amd64");
        const src = join(dir, "armfs");
        await Deno.mkdir(src);
        await Deno.writeTextFile(join(src, "arch"), "arm64\n");
        const layer = await createLayer(src, a.content, { mtime: 0 });
        const arm = await commitImage(a, [layer], {
          platform: { os: "linux", architecture: "arm64", variant: "v8" },
          created: "2024-01-01T00:00:00Z",
        });
        const index = await a.putJson({
          schemaVersion: 2,
          mediaType: MEDIA_TYPE_OCI_INDEX,
          manifests: [
            { ...arm, platform: { os: "linux", architecture: "arm64", variant: "v8" } },
            { ...amd, platform: { os: "linux", architecture: "amd64" } },
          ],
        }, MEDIA_TYPE_OCI_INDEX);
        await a.tag("multi", index);
        const pushed = await pushImage(a, "multi", `${reg.host}/multi/app:1`);
        assert.equal(pushed.digest, index.digest);
        const p1 = await pullImage(b, `${reg.host}/multi/app:1`, {
          platform: { os: "linux", architecture: "arm64" },
          tag: "app:arm",
        });
        assert.equal(p1.descriptor.digest, arm.digest);
        assert.equal(p1.remoteDigest, index.digest);
        const p2 = await pullImage(b, `${reg.host}/multi/app:1`, {
          platform: { os: "linux", architecture: "amd64" },
          tag: "app:amd",
        });
        assert.equal(p2.descriptor.digest, amd.digest);
        await assert.rejects(
          pullImage(b, `${reg.host}/multi/app:1`, {
            platform: { os: "linux", architecture: "s390x" },
          }),
          /No manifest for platform linux\/s390x: the index offers linux\/arm64\/v8, linux\/amd64/,
        );
      });
    } finally {
      await reg.stop();
    }
  },
});

Deno.test({
  name: "a registry that demands a token: bearer from the challenge, refused without credentials",
  ignore: !ready,
  async fn() {
    const reg = await startRegistry({ token: true });
    try {
      await withStores(async (a, b) => {
        const m = await busyboxImage(a, "busybox:latest");
        await assert.rejects(
          pushImage(a, "busybox", `${reg.host}/secure/busybox:1`),
          (e: unknown) => e instanceof RegistryError && e.status === 401,
        );
        assert.ok(reg.tokenRequests.length > 0 && reg.tokenRequests.every((r) => !r.authorized));
        const credentials = { username: USER, password: PASSWORD };
        const pushed = await pushImage(a, "busybox", `${reg.host}/secure/busybox:1`, {
          credentials,
        });
        assert.equal(pushed.digest, m.digest);
        assert.ok(
          reg.tokenRequests.some((r) =>
            r.authorized && r.scope.includes("repository:secure/busybox:pull,push")
          ),
        );
        await assert.rejects(pullImage(b, `${reg.host}/secure/busybox:1`), RegistryError);
        const pulled = await pullImage(b, `${reg.host}/secure/busybox:1`, { credentials });
        assert.equal(pulled.descriptor.digest, m.digest);
        const out = await run("skopeo", [
          "inspect",
          "--tls-verify=false",
          "--creds",
          `${USER}:${PASSWORD}`,
          `docker://${reg.host}/secure/busybox:1`,
        ]);
        assert.equal(JSON.parse(out).Digest, m.digest);
      });
    } finally {
      await reg.stop();
    }
  },
});

// The distribution registry redirects blob reads only with a storage backend
// such as S3, which cannot run here: this front server stands in for it.
Deno.test("credentials are not sent along a redirect to another host", async () => {
  const blob = new TextEncoder().encode("layer bytes");
  const digest = sha256Digest(blob);
  const seen: { host: string; auth: string | null }[] = [];
  const storage = Deno.serve({ hostname: "127.0.0.2", port: 0, onListen() {} }, (req) => {
    seen.push({ host: "storage", auth: req.headers.get("authorization") });
    return new Response(blob);
  });
  const front = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const auth = req.headers.get("authorization");
    seen.push({ host: "registry", auth });
    if (auth !== `Basic ${btoa("u:p")}`) {
      return new Response(null, {
        status: 401,
        headers: { "www-authenticate": 'Basic realm="test"' },
      });
    }
    return new Response(null, {
      status: 307,
      headers: { location: `http://127.0.0.2:${storage.addr.port}/blob?sig=1` },
    });
  });
  try {
    const client = new RegistryClient(`127.0.0.1:${front.addr.port}`, {
      credentials: { username: "u", password: "p" },
    });
    const stream = await client.fetchBlob("repo", {
      mediaType: "application/octet-stream",
      digest,
      size: blob.length,
    });
    assert.deepEqual(new Uint8Array(await new Response(stream).arrayBuffer()), blob);
    assert.deepEqual(seen.map((s) => s.host), ["registry", "registry", "storage"]);
    assert.equal(seen[1].auth, `Basic ${btoa("u:p")}`);
    assert.equal(seen[2].auth, null);
  } finally {
    await storage.shutdown();
    await front.shutdown();
  }
});

// A registry that serves wrong bytes cannot be made from the real one: this stub
// serves a manifest whose layer content does not match its digest.
Deno.test("pullImage() verifies every byte and tags nothing on a mismatch", async () => {
  await withStores(async (a) => {
    const layer = new TextEncoder().encode("the real layer");
    const { config, manifest } = oneLayerImage(layer);
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const path = new URL(req.url).pathname;
      if (path.endsWith("/manifests/1")) {
        return new Response(manifest, {
          headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
        });
      }
      if (path.endsWith(sha256Digest(config))) return new Response(config);
      return new Response(new TextEncoder().encode("the fake layer")); // same length, other bytes
    });
    try {
      await assert.rejects(
        pullImage(a, `127.0.0.1:${server.addr.port}/evil:1`),
        DigestMismatchError,
      );
      assert.deepEqual(await a.list(), []);
      assert.ok(!(await a.content.has(sha256Digest(layer))));
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test({
  name:
    "a registry that demands basic auth (htpasswd): refused without credentials, works with them",
  ignore: !ready,
  async fn() {
    const reg = await startRegistry({ basic: true });
    try {
      await withStores(async (a, b) => {
        const m = await busyboxImage(a, "busybox:latest");
        await assert.rejects(
          pushImage(a, "busybox", `${reg.host}/basic/busybox:1`),
          (e: unknown) =>
            e instanceof RegistryError && e.status === 401 &&
            /requires credentials/.test(e.message),
        );
        await assert.rejects(
          pushImage(a, "busybox", `${reg.host}/basic/busybox:1`, {
            credentials: { username: USER, password: "wrong" },
          }),
          (e: unknown) => e instanceof RegistryError && e.status === 401,
        );
        const credentials = { username: USER, password: PASSWORD };
        const pushed = await pushImage(a, "busybox", `${reg.host}/basic/busybox:1`, {
          credentials,
        });
        assert.equal(pushed.digest, m.digest);
        const pulled = await pullImage(b, `${reg.host}/basic/busybox:1`, { credentials });
        assert.equal(pulled.descriptor.digest, m.digest);
      });
    } finally {
      await reg.stop();
    }
  },
});

// A registry that fails on purpose cannot be made from the real one: this stub
// answers 503 first, then cuts the body short, then serves the layer.
Deno.test("pullImage() retries a blob after a 503 and a dropped connection, never after a 404", async () => {
  await withStores(async (a, b) => {
    // Over several of the store's 1 MiB write buffers, so the dropped
    // connection breaks a write in progress.
    const layer = new Uint8Array(3_000_000).map((_, i) => i % 251);
    const { config, manifest } = oneLayerImage(layer);
    let layerRequests = 0;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const path = new URL(req.url).pathname;
      if (path.includes("/manifests/")) {
        if (path.startsWith("/v2/gone/")) return new Response("{}", { status: 404 });
        return new Response(manifest, {
          headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
        });
      }
      if (path.endsWith(sha256Digest(config))) return new Response(config);
      layerRequests++;
      if (layerRequests === 1) return new Response("busy", { status: 503 });
      if (layerRequests === 2) {
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(layer.subarray(0, 1_500_000));
            c.error(new Error("connection dropped"));
          },
        });
        return new Response(body, { headers: { "content-length": String(layer.length) } });
      }
      return new Response(layer);
    });
    try {
      const host = `127.0.0.1:${server.addr.port}`;
      const r = await pullImage(a, `${host}/flaky:1`);
      assert.equal(layerRequests, 3);
      assert.ok(await a.content.has(sha256Digest(layer)));
      // The attempt cut short left no temporary file behind.
      assert.deepEqual([...Deno.readDirSync(join(a.content.root, "ingest"))], []);
      assert.equal(r.name, `${host}/flaky:1`);
      await assert.rejects(
        pullImage(b, `${host}/gone:1`),
        (e: unknown) => e instanceof RegistryError && e.status === 404,
      );
    } finally {
      await server.shutdown();
    }
  });
});
