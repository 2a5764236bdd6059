import assert from "node:assert/strict";
import { join } from "node:path";
import { ImageStore, normalizeName } from "./image_store.ts";
import { NotFoundError, ValidationError } from "../errors.ts";
import {
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_LAYER,
  MEDIA_TYPE_OCI_MANIFEST,
} from "../oci/media_types.ts";

async function withImageStore(fn: (s: ImageStore) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "tsk-is-" });
  try {
    await fn(await ImageStore.open({ root }));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function makeImage(s: ImageStore, layerText: string) {
  const layer = await s.content.put(layerText);
  const config = await s.putJson({
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [layer.digest] },
  }, MEDIA_TYPE_OCI_CONFIG);
  return await s.putJson({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    config,
    layers: [{ mediaType: MEDIA_TYPE_OCI_LAYER, ...layer }],
  }, MEDIA_TYPE_OCI_MANIFEST);
}

Deno.test("normalizeName() defaults the tag and rejects digests", () => {
  assert.equal(normalizeName("app"), "app:latest");
  assert.equal(normalizeName("localhost:5000/a/b:v1"), "localhost:5000/a/b:v1");
  assert.throws(() => normalizeName("app@sha256:" + "0".repeat(64)), ValidationError);
});

Deno.test("ImageStore tags, resolves by name, digest and prefix, and untags", async () => {
  await withImageStore(async (s) => {
    const m = await makeImage(s, "layer-a");
    assert.equal(await s.tag("app", m), "app:latest");
    await s.tag("app:v1", m);
    assert.deepEqual((await s.list()).map((r) => r.name), ["app:latest", "app:v1"]);
    assert.equal((await s.resolve("app")).digest, m.digest);
    assert.equal((await s.resolve(m.digest)).digest, m.digest);
    assert.equal((await s.resolve(m.digest.slice(7, 19))).digest, m.digest);
    const img = await s.image("app:v1");
    assert.equal(img.config.os, "linux");
    await s.untag("app:latest");
    await assert.rejects(s.resolve("app"), NotFoundError);
    await assert.rejects(s.untag("app"), NotFoundError);
    // Bad input leaves the index intact.
    await assert.rejects(s.tag("Bad Name", m), ValidationError);
    assert.deepEqual((await s.list()).map((r) => r.name), ["app:v1"]);
  });
});

Deno.test("ImageStore concurrent tags all land in index.json", async () => {
  await withImageStore(async (s) => {
    const m = await makeImage(s, "x");
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.tag(`app:t${i}`, m)));
    assert.equal((await s.list()).length, 20);
  });
});

Deno.test("ImageStore.gc() removes only unreferenced blobs", async () => {
  await withImageStore(async (s) => {
    const keep = await makeImage(s, "keep");
    const drop = await makeImage(s, "drop");
    await s.tag("keep", keep);
    await s.tag("drop", drop);
    const cached = await s.content.put("cached layer");
    await s.cachePut("sha256:" + "c".repeat(64), {
      layer: { mediaType: MEDIA_TYPE_OCI_LAYER, ...cached },
    });
    assert.equal((await s.gc({ gracePeriodMs: 0 })).removed.length, 0);
    await s.untag("drop");
    const r = await s.gc({ gracePeriodMs: 0 });
    assert.equal(r.removed.length, 3); // manifest, config, layer of "drop"
    assert.ok(!(await s.content.has(drop.digest)));
    assert.ok(await s.content.has(keep.digest));
    assert.equal((await s.image("keep")).manifest.layers.length, 1);
    assert.ok(await s.content.has(cached.digest));
    // A recent unreferenced blob survives the default grace period.
    const fresh = await s.content.put("fresh");
    await s.gc();
    assert.ok(await s.content.has(fresh.digest));
    await s.gc({ gracePeriodMs: 0, dropBuildCache: true });
    assert.ok(!(await s.content.has(cached.digest)));
    assert.ok(!(await s.content.has(fresh.digest)));
    assert.deepEqual(JSON.parse(await Deno.readTextFile(join(s.root, "oci-layout"))), {
      imageLayoutVersion: "1.0.0",
    });
  });
});

Deno.test("ImageStore leases keep blobs of work in flight; a dead process's lease lapses", async () => {
  await withImageStore(async (s) => {
    const lease = await s.lease();
    const blob = await s.content.put("written by a pull in flight");
    assert.equal((await s.gc({ gracePeriodMs: 0 })).removed.length, 0);
    await lease.release();
    assert.deepEqual((await s.gc({ gracePeriodMs: 0 })).removed, [blob.digest]);
    // A lease left by a process that no longer exists does not protect anything.
    await Deno.writeTextFile(
      join(s.root, "leases", "999999999-x"),
      JSON.stringify({ pid: 999999999, started: Date.now() - 1000 }),
    );
    const orphan = await s.content.put("orphan");
    assert.deepEqual((await s.gc({ gracePeriodMs: 0 })).removed, [orphan.digest]);
    assert.deepEqual([...Deno.readDirSync(join(s.root, "leases"))], []);
  });
});
