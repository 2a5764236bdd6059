// Snapshots under a real overlayfs: an image with many layers mounts and runs.
import assert from "node:assert/strict";
import { join } from "node:path";
import { commitImage, createLayer, ImageStore } from "@tsk/image";
import { busyboxImage, runImage, tempDir } from "./_image_fixture.ts";

Deno.test({
  name: "an image of 60 layers runs: lower dirs are short links, within overlayfs' option limit",
  ignore: Deno.uid() !== 0,
  async fn() {
    const dir = await tempDir("snaps");
    try {
      const store = await ImageStore.open({ root: join(dir, "store") });
      const base = await store.image(await busyboxImage(store, "busybox:latest"));
      const layers = [{
        descriptor: base.manifest.layers[0],
        diffId: base.config.rootfs.diff_ids[0],
      }];
      for (let i = 1; i < 60; i++) {
        const src = join(dir, `src${i}`);
        await Deno.mkdir(join(src, "layers"), { recursive: true });
        await Deno.writeTextFile(join(src, "layers", `${i}`), `${i}\n`);
        layers.push(await createLayer(src, store.content, { mtime: 0 }));
      }
      await commitImage(store, layers, { tag: "tall:1", config: { Cmd: ["/bin/sh"] } });
      const r = await runImage(store, "tall:1", ["/bin/sh", "-c", "ls /layers | wc -l"], dir);
      assert.equal(r.stdout.trim(), "59", r.stderr);
      assert.equal(r.code, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
