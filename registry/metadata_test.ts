import assert from "node:assert/strict";
import { Metadata, MetadataLockedError } from "./metadata.ts";

Deno.test("Metadata refuses a database another process holds", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-reg-meta-" });
  const meta = new Metadata(`${dir}/registry.db`);
  try {
    const mod = new URL("./metadata.ts", import.meta.url).href;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { Metadata } from "${mod}"; try { new Metadata("${dir}/registry.db"); } catch (e) { console.log(e.name + ": " + e.message); }`,
      ],
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.match(
      text,
      new RegExp(`^${MetadataLockedError.name}: data: .* is in use by another registry process`),
    );
  } finally {
    meta.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Metadata.sweep() keeps fresh links and blobs, referenced blobs and tagged manifests", () => {
  const meta = new Metadata(":memory:");
  try {
    meta.addBlob("r", "sha256:a", 1, 100);
    meta.addBlob("r", "sha256:b", 1, 100);
    meta.addBlob("r", "sha256:c", 1, 1000);
    meta.putManifest(
      {
        repo: "r",
        digest: "sha256:m",
        mediaType: "x",
        size: 1,
        artifactType: null,
        subject: null,
        annotations: null,
        created: 100,
      },
      new Uint8Array([1]),
      { blobs: ["sha256:a"], manifests: [] },
      ["v1"],
    );
    const plan = meta.sweep({ graceBefore: 500, untaggedBefore: null });
    assert.deepEqual(plan.blobs, ["sha256:b"]);
    assert.equal(meta.blobSize("sha256:a"), 1);
    assert.equal(meta.blobSize("sha256:c"), 1);
    assert.equal(meta.blobSize("sha256:b"), undefined);
  } finally {
    meta.close();
  }
});
