import assert from "node:assert/strict";
import { parseManifest } from "./manifest.ts";
import { parseIndex, selectManifest } from "./image_index.ts";
import { parseImageConfig } from "./config.ts";
import { parseManifestDocument } from "./document.ts";
import {
  MEDIA_TYPE_DOCKER_CONFIG,
  MEDIA_TYPE_DOCKER_LAYER_GZIP,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
} from "./media_types.ts";
import { NotFoundError, ValidationError } from "../errors.ts";

const D = (c: string) => "sha256:" + c.repeat(64);

function fieldError(field: string) {
  return (e: unknown) => {
    assert.ok(e instanceof ValidationError, String(e));
    assert.equal(e.field, field);
    assert.ok(e.message.startsWith(`${field}: `), e.message);
    return true;
  };
}

Deno.test("parseManifest() accepts a Docker schema 2 manifest", () => {
  const m = parseManifest(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_DOCKER_MANIFEST,
    config: { mediaType: MEDIA_TYPE_DOCKER_CONFIG, digest: D("a"), size: 1470 },
    layers: [{ mediaType: MEDIA_TYPE_DOCKER_LAYER_GZIP, digest: D("b"), size: 2479 }],
  }));
  assert.equal(m.layers[0].size, 2479);
});

Deno.test("parseManifest() names the bad field", () => {
  const base = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: D("a"), size: 2 },
    layers: [
      { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: D("b"), size: 1 },
      { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: "sha256:xyz", size: 1 },
    ],
  };
  assert.throws(() => parseManifest(base), fieldError("layers[1].digest"));
  assert.throws(() => parseManifest({ ...base, schemaVersion: 1 }), fieldError("schemaVersion"));
  assert.throws(() => parseManifest({ ...base, layers: "x" }), fieldError("layers"));
  assert.throws(
    () => parseManifest({ ...base, config: { ...base.config, size: -1 } }),
    fieldError("config.size"),
  );
  assert.throws(
    () => parseManifest({ ...base, config: { ...base.config, mediaType: "nope" } }),
    fieldError("config.mediaType"),
  );
  assert.throws(() => parseManifest("{not json"), fieldError("manifest"));
});

Deno.test("parseIndex() names the bad entry and accepts a Docker manifest list", () => {
  const entry = (c: string, arch: string) => ({
    mediaType: MEDIA_TYPE_DOCKER_MANIFEST,
    digest: D(c),
    size: 500,
    platform: { architecture: arch, os: "linux" },
  });
  const list = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    manifests: [entry("1", "arm64"), entry("2", "amd64"), {
      ...entry("3", "s390x"),
      digest: "sha256:1",
    }],
  };
  assert.throws(() => parseIndex(list), (e: unknown) => {
    assert.ok(e instanceof ValidationError);
    assert.match(e.message, /^manifests\[2\]\.digest: expected sha256:<64 hex>/);
    return true;
  });
  list.manifests.pop();
  const index = parseIndex(list);
  assert.equal(selectManifest(index, { os: "linux", architecture: "amd64" }).digest, D("2"));
  assert.throws(
    () => selectManifest(index, { os: "linux", architecture: "riscv64" }),
    (e: unknown) => e instanceof NotFoundError && /linux\/arm64, linux\/amd64/.test(e.message),
  );
  assert.throws(
    () => parseIndex({ ...list, manifests: [{ ...entry("1", "x"), platform: { os: "linux" } }] }),
    fieldError("manifests[0].platform.architecture"),
  );
});

Deno.test("parseManifestDocument() tells manifests from indexes", () => {
  assert.equal(parseManifestDocument({ schemaVersion: 2, manifests: [] }).kind, "index");
  assert.equal(
    parseManifestDocument({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [] })
      .kind,
    "index",
  );
  const m = {
    schemaVersion: 2,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: D("a"), size: 2 },
    layers: [],
  };
  assert.equal(parseManifestDocument(m, MEDIA_TYPE_OCI_MANIFEST).kind, "manifest");
  assert.throws(() => parseManifestDocument({ schemaVersion: 2 }), fieldError("mediaType"));
});

Deno.test("parseImageConfig() checks rootfs and config fields", () => {
  const c = {
    architecture: "amd64",
    os: "linux",
    config: { Env: ["PATH=/bin"], Cmd: ["sh"] },
    rootfs: { type: "layers", diff_ids: [D("c")] },
  };
  assert.equal(parseImageConfig(c).config?.Cmd?.[0], "sh");
  assert.throws(
    () => parseImageConfig({ ...c, rootfs: { type: "layers", diff_ids: ["x"] } }),
    fieldError("rootfs.diff_ids[0]"),
  );
  assert.throws(
    () => parseImageConfig({ ...c, config: { Env: ["NOEQUALS"] } }),
    fieldError("config.Env[0]"),
  );
  assert.throws(() => parseImageConfig({ ...c, os: 3 }), fieldError("os"));
});
