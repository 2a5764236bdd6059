// OCI layouts against the real peers: skopeo and umoci (Debian packages).
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  exportLayout,
  ImageStore,
  importLayout,
  MEDIA_TYPE_OCI_LAYER_ZSTD,
  readLayoutIndex,
} from "@tsk/image";
import { busyboxImage, requireTool, run, runImage, tempDir } from "./_image_fixture.ts";

const haveSkopeo = requireTool("/usr/bin/skopeo");
const haveUmoci = requireTool("/usr/bin/umoci");

Deno.test({
  name: "a layout tsk exports passes skopeo inspect and umoci unpack",
  ignore: !haveSkopeo || !haveUmoci,
  async fn() {
    const dir = await tempDir("layout");
    try {
      const store = await ImageStore.open({ root: join(dir, "store") });
      const manifest = await busyboxImage(store, "busybox:1.35");
      const layout = join(dir, "out");
      await exportLayout(store, "busybox:1.35", layout);
      const info = JSON.parse(await run("skopeo", ["inspect", `oci:${layout}:1.35`]));
      assert.equal(info.Digest, manifest.digest);
      assert.equal(info.Os, "linux");
      assert.equal(info.Layers.length, 1);
      const raw = JSON.parse(await run("skopeo", ["inspect", "--config", `oci:${layout}:1.35`]));
      assert.deepEqual(raw.config.Cmd, ["/bin/sh"]);
      await run("umoci", ["unpack", "--image", `${layout}:1.35`, join(dir, "bundle")]);
      const bb = await Deno.lstat(join(dir, "bundle/rootfs/bin/busybox"));
      assert.ok(bb.isFile);
      assert.equal(await Deno.readLink(join(dir, "bundle/rootfs/bin/sh")), "/bin/busybox");
      const out = await run("chroot", [
        join(dir, "bundle/rootfs"),
        "/bin/echo",
        "hello from umoci",
      ]);
      assert.equal(out.trim(), "hello from umoci");
      // Exporting a second tag adds to the same layout.
      await store.tag("busybox:other", manifest);
      await exportLayout(store, "busybox:other", layout);
      assert.equal((await readLayoutIndex(layout)).manifests.length, 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a layout skopeo writes (gzip and zstd) imports, unpacks and runs",
  ignore: !haveSkopeo,
  async fn() {
    const dir = await tempDir("layout");
    try {
      const store = await ImageStore.open({ root: join(dir, "store") });
      await busyboxImage(store, "busybox:latest");
      await exportLayout(store, "busybox", join(dir, "ours"));
      for (const format of ["gzip", "zstd"]) {
        const theirs = join(dir, `theirs-${format}`);
        await run("skopeo", [
          "copy",
          "--dest-compress",
          "--dest-compress-format",
          format,
          `oci:${join(dir, "ours")}:latest`,
          `oci:${theirs}:copied`,
        ]);
        const { name, descriptor } = await importLayout(store, theirs, {
          refName: "copied",
          name: `copied-${format}`,
        });
        assert.equal(name, `copied-${format}:latest`);
        const img = await store.image(descriptor);
        if (format === "zstd") {
          assert.equal(img.manifest.layers[0].mediaType, MEDIA_TYPE_OCI_LAYER_ZSTD);
        }
        if (Deno.uid() === 0) {
          // It runs under @tsk/runtime, from its layer snapshots.
          const r = await runImage(store, name, ["/bin/sh", "-c", "echo ran $0 as $(id -u)"], dir);
          assert.equal(r.stdout, "ran /bin/sh as 0\n", r.stderr);
          assert.equal(r.code, 0);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "importLayout() refuses a tampered blob and tags nothing",
  ignore: !haveSkopeo,
  async fn() {
    const dir = await tempDir("layout");
    try {
      const store = await ImageStore.open({ root: join(dir, "store") });
      const m = await busyboxImage(store, "busybox:latest");
      await exportLayout(store, "busybox", join(dir, "out"));
      const img = await store.image(m);
      const layerPath = join(dir, "out/blobs/sha256", img.manifest.layers[0].digest.slice(7));
      // Break the hard link to the store before altering the copy.
      const bytes = await Deno.readFile(layerPath);
      await Deno.remove(layerPath);
      bytes[100] ^= 0xff;
      await Deno.writeFile(layerPath, bytes);
      const other = await ImageStore.open({ root: join(dir, "store2") });
      await assert.rejects(importLayout(other, join(dir, "out"), { name: "x" }));
      assert.deepEqual(await other.list(), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
