import assert from "node:assert/strict";
import { join } from "node:path";
import { Snapshotter } from "./snapshot.ts";
import { ImageStore } from "./store/image_store.ts";
import { createLayer } from "./layer/create.ts";
import { commitImage } from "./commit.ts";
import { NotFoundError, ValidationError } from "./errors.ts";

async function setup() {
  const dir = await Deno.makeTempDir({ prefix: "tsk-snap-" });
  const store = await ImageStore.open({ root: join(dir, "store") });
  const layers = [];
  for (const name of ["base", "top"]) {
    const src = join(dir, `src-${name}`);
    await Deno.mkdir(join(src, "etc"), { recursive: true });
    await Deno.writeTextFile(join(src, "etc", name), name);
    layers.push(await createLayer(src, store.content, { mtime: 0 }));
  }
  await commitImage(store, layers, { tag: "two:1", created: "2024-01-01T00:00:00Z" });
  await commitImage(store, [layers[0]], { tag: "one:1", created: "2024-01-01T00:00:00Z" });
  const progress: string[] = [];
  const snaps = await Snapshotter.open(store, {
    root: join(dir, "snaps"),
    onProgress: (l) => progress.push(l),
  });
  return { dir, store, layers, snaps, progress };
}

Deno.test("Snapshotter unpacks each layer once, even when asked concurrently, and shares it", async () => {
  const { dir, layers, snaps, progress } = await setup();
  try {
    const [a, b] = await Promise.all([snaps.prepare("c1", "two:1"), snaps.prepare("c2", "two:1")]);
    assert.equal(progress.length, 2, progress.join("\n")); // two layers, each unpacked once
    assert.deepEqual(a.lowerDirs, b.lowerDirs);
    assert.equal(
      await Deno.realPath(a.lowerDirs[0]),
      await Deno.realPath(snaps.layerDir(layers[1].diffId)),
      "top-most layer first",
    );
    assert.ok(a.lowerDirs[0].length < 100, a.lowerDirs[0]);
    assert.equal(await Deno.readTextFile(join(a.lowerDirs[1], "etc/base")), "base");
    assert.notEqual(a.upperDir, b.upperDir);
    const c = await snaps.prepare("c3", "one:1");
    assert.deepEqual(c.lowerDirs, [a.lowerDirs[1]]);
    assert.equal(progress.length, 2);
    await assert.rejects(snaps.prepare("c1", "one:1"), ValidationError);
    await assert.rejects(snaps.prepare("../escape", "one:1"), ValidationError);
    assert.deepEqual(await snaps.list(), ["c1", "c2", "c3"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Snapshotter.gc() keeps layers in use and collects the rest", async () => {
  const { dir, store, layers, snaps } = await setup();
  try {
    await snaps.prepare("c1", "two:1");
    await store.untag("two:1");
    await store.untag("one:1");
    assert.deepEqual(await snaps.gc({ all: true }), [], "a container still uses both layers");
    await snaps.remove("c1");
    await assert.rejects(snaps.remove("c1"), NotFoundError);
    await commitImage(store, [layers[0]], { tag: "one:1" });
    const removed = await snaps.gc();
    assert.deepEqual(removed, [layers[1].diffId], "the tagged image's layer stays");
    assert.deepEqual((await snaps.gc({ all: true })).sort(), [layers[0].diffId]);
    assert.deepEqual([...Deno.readDirSync(join(dir, "snaps", "l"))], [], "short links go too");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
