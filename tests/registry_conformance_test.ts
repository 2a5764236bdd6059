/**
 * The OCI distribution-spec conformance workflows (pull, push, content
 * discovery, content management), written from the spec and run in-process
 * through `app.request`: every endpoint, every status, every error code.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createRegistry, Logger, type Registry } from "@tsk/registry";
import { enc, sha256 } from "./_registry_fixtures.ts";

const quiet = () => new Logger({ level: "error" });

async function withRegistry(fn: (r: Registry) => Promise<void>, now?: () => number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsk-reg-conf-" });
  const reg = await createRegistry(dir, { log: quiet(), now });
  try {
    await fn(reg);
  } finally {
    reg.close();
    await Deno.remove(dir, { recursive: true });
  }
}

type Body = Uint8Array<ArrayBuffer> | string | null;
async function call(
  reg: Registry,
  method: string,
  path: string,
  body: Body = null,
  headers: Record<string, string> = {},
): Promise<Response> {
  return await reg.app.request(path, { method, body, headers });
}

async function errorCode(res: Response): Promise<string> {
  const j = await res.json();
  assert.ok(Array.isArray(j.errors) && j.errors.length > 0, "error body has errors[]");
  assert.ok(typeof j.errors[0].message === "string");
  return j.errors[0].code;
}

async function pushBlob(
  reg: Registry,
  name: string,
  data: Uint8Array<ArrayBuffer>,
): Promise<string> {
  const d = sha256(data);
  const res = await call(reg, "POST", `/v2/${name}/blobs/uploads/?digest=${d}`, data, {
    "Content-Type": "application/octet-stream",
    "Content-Length": String(data.byteLength),
  });
  assert.deepEqual(res.status, 201);
  return d;
}

const EMPTY = enc.encode("{}");
const CONFIG_TYPE = "application/vnd.oci.image.config.v1+json";
const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";
const INDEX_TYPE = "application/vnd.oci.image.index.v1+json";

function imageManifest(
  config: string,
  configSize: number,
  layers: { digest: string; size: number }[],
  extra: Record<string, unknown> = {},
): Uint8Array<ArrayBuffer> {
  return enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: { mediaType: CONFIG_TYPE, digest: config, size: configSize },
    layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", ...l })),
    ...extra,
  }));
}

async function pushImage(reg: Registry, name: string, tag: string, layer: Uint8Array<ArrayBuffer>) {
  const config = await pushBlob(reg, name, EMPTY);
  const l = await pushBlob(reg, name, layer);
  const m = imageManifest(config, EMPTY.byteLength, [{ digest: l, size: layer.byteLength }]);
  const res = await call(reg, "PUT", `/v2/${name}/manifests/${tag}`, m, {
    "Content-Type": MANIFEST_TYPE,
  });
  assert.deepEqual(res.status, 201);
  return { manifest: m, digest: sha256(m), layer: l, config };
}

// Pull

Deno.test("GET /v2/ answers 200 with the API version header", async () => {
  await withRegistry(async (reg) => {
    const res = await call(reg, "GET", "/v2/");
    assert.deepEqual(res.status, 200);
    assert.deepEqual(res.headers.get("Docker-Distribution-API-Version"), "registry/2.0");
    assert.deepEqual(await res.json(), {});
  });
});

Deno.test("pull: manifests by tag and digest, HEAD and GET, blobs with ranges", async () => {
  await withRegistry(async (reg) => {
    const layer = enc.encode("layer bytes 0123456789");
    const img = await pushImage(reg, "conf/pull", "v1", layer);
    for (const ref of ["v1", img.digest]) {
      const head = await call(reg, "HEAD", `/v2/conf/pull/manifests/${ref}`);
      assert.deepEqual(head.status, 200);
      assert.deepEqual(head.headers.get("Docker-Content-Digest"), img.digest);
      assert.deepEqual(head.headers.get("Content-Length"), String(img.manifest.byteLength));
      assert.deepEqual(await head.text(), "");
      const get = await call(reg, "GET", `/v2/conf/pull/manifests/${ref}`, null, {
        Accept: MANIFEST_TYPE,
      });
      assert.deepEqual(get.status, 200);
      assert.deepEqual(get.headers.get("Content-Type"), MANIFEST_TYPE);
      assert.deepEqual(new Uint8Array(await get.arrayBuffer()), img.manifest);
    }
    const asBlob = await call(reg, "GET", `/v2/conf/pull/blobs/${img.digest}`);
    assert.deepEqual(
      new Uint8Array(await asBlob.arrayBuffer()),
      img.manifest,
      "a manifest is a blob too",
    );
    const cached = await call(reg, "GET", "/v2/conf/pull/manifests/v1", null, {
      "If-None-Match": `"${img.digest}"`,
    });
    assert.deepEqual(cached.status, 304);
    const headBlob = await call(reg, "HEAD", `/v2/conf/pull/blobs/${img.layer}`);
    assert.deepEqual(headBlob.status, 200);
    assert.deepEqual(headBlob.headers.get("Content-Length"), String(layer.byteLength));
    assert.deepEqual(headBlob.headers.get("Docker-Content-Digest"), img.layer);
    const blob = await call(reg, "GET", `/v2/conf/pull/blobs/${img.layer}`);
    assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), layer);
    const part = await call(reg, "GET", `/v2/conf/pull/blobs/${img.layer}`, null, {
      Range: "bytes=6-10",
    });
    assert.deepEqual(part.status, 206);
    assert.deepEqual(part.headers.get("Content-Range"), `bytes 6-10/${layer.byteLength}`);
    assert.deepEqual(await part.text(), "bytes");
    const suffix = await call(reg, "GET", `/v2/conf/pull/blobs/${img.layer}`, null, {
      Range: "bytes=-3",
    });
    assert.deepEqual(await suffix.text(), "789");
    const bad = await call(reg, "GET", `/v2/conf/pull/blobs/${img.layer}`, null, {
      Range: "bytes=100-200",
    });
    assert.deepEqual(bad.status, 416);
    await bad.body?.cancel();
  });
});

Deno.test("pull: unknown manifests, blobs and bad digests answer the spec's codes", async () => {
  await withRegistry(async (reg) => {
    await pushImage(reg, "conf/miss", "v1", enc.encode("x"));
    const absent = sha256("absent");
    let res = await call(reg, "GET", `/v2/conf/miss/manifests/nope`);
    assert.deepEqual([res.status, await errorCode(res)], [404, "MANIFEST_UNKNOWN"]);
    res = await call(reg, "GET", `/v2/conf/miss/manifests/${absent}`);
    assert.deepEqual([res.status, await errorCode(res)], [404, "MANIFEST_UNKNOWN"]);
    res = await call(reg, "HEAD", `/v2/conf/miss/manifests/nope`);
    assert.deepEqual(res.status, 404);
    res = await call(reg, "GET", `/v2/conf/miss/blobs/${absent}`);
    assert.deepEqual([res.status, await errorCode(res)], [404, "BLOB_UNKNOWN"]);
    res = await call(reg, "HEAD", `/v2/conf/miss/blobs/${absent}`);
    assert.deepEqual(res.status, 404);
    res = await call(reg, "GET", `/v2/conf/miss/blobs/sha256:xyz`);
    assert.deepEqual([res.status, await errorCode(res)], [400, "DIGEST_INVALID"]);
    res = await call(reg, "GET", `/v2/conf/miss/blobs/md5:${"0".repeat(32)}`);
    assert.deepEqual([res.status, await errorCode(res)], [400, "DIGEST_INVALID"]);
    res = await call(reg, "GET", `/v2/Bad_Name/manifests/v1`);
    assert.deepEqual([res.status, await errorCode(res)], [400, "NAME_INVALID"]);
    res = await call(reg, "GET", `/v2/conf/never/tags/list`);
    assert.deepEqual([res.status, await errorCode(res)], [404, "NAME_UNKNOWN"]);
    res = await call(reg, "POST", `/v2/conf/miss/manifests/v1`);
    assert.deepEqual([res.status, await errorCode(res)], [405, "UNSUPPORTED"]);
  });
});

// Push

Deno.test("push: monolithic POST with ?digest= stores the blob once", async () => {
  await withRegistry(async (reg) => {
    const data = enc.encode("monolithic");
    const d = await pushBlob(reg, "conf/a", data);
    await pushBlob(reg, "conf/b", data);
    const files = [...Deno.readDirSync(`${reg.dataDir}/blobs/sha256/${d.slice(7, 9)}`)];
    assert.deepEqual(files.map((f) => f.name), [d.slice(7)]);
  });
});

Deno.test("push: POST then PUT, with Location, and the upload disappears after", async () => {
  await withRegistry(async (reg) => {
    const data = enc.encode("post then put");
    const post = await call(reg, "POST", "/v2/conf/pp/blobs/uploads/");
    assert.deepEqual(post.status, 202);
    const loc = post.headers.get("Location")!;
    assert.match(loc, /^\/v2\/conf\/pp\/blobs\/uploads\/[0-9a-f-]{36}$/);
    assert.ok(post.headers.get("Docker-Upload-UUID"));
    const put = await call(reg, "PUT", `${loc}?digest=${sha256(data)}`, data, {
      "Content-Type": "application/octet-stream",
    });
    assert.deepEqual(put.status, 201);
    assert.deepEqual(put.headers.get("Location"), `/v2/conf/pp/blobs/${sha256(data)}`);
    assert.deepEqual(put.headers.get("Docker-Content-Digest"), sha256(data));
    const again = await call(reg, "GET", loc);
    assert.deepEqual([again.status, await errorCode(again)], [404, "BLOB_UPLOAD_UNKNOWN"]);
  });
});

Deno.test("push: chunked PATCH uploads, status GET, and 416 on an out-of-order chunk", async () => {
  await withRegistry(async (reg) => {
    const data = enc.encode("0123456789abcdefghij");
    const post = await call(reg, "POST", "/v2/conf/chunk/blobs/uploads/");
    let loc = post.headers.get("Location")!;
    const p1 = await call(reg, "PATCH", loc, data.slice(0, 10), {
      "Content-Type": "application/octet-stream",
      "Content-Range": "0-9",
      "Content-Length": "10",
    });
    assert.deepEqual(p1.status, 202);
    assert.deepEqual(p1.headers.get("Range"), "0-9");
    loc = p1.headers.get("Location")!;
    const status = await call(reg, "GET", loc);
    assert.deepEqual(status.status, 204);
    assert.deepEqual(status.headers.get("Range"), "0-9");
    const wrong = await call(reg, "PATCH", loc, data.slice(15), {
      "Content-Range": "15-19",
      "Content-Length": "5",
    });
    assert.deepEqual(wrong.status, 416);
    assert.deepEqual(wrong.headers.get("Range"), "0-9");
    await wrong.body?.cancel();
    const p2 = await call(reg, "PATCH", loc, data.slice(10), {
      "Content-Range": "10-19",
      "Content-Length": "10",
    });
    assert.deepEqual(p2.headers.get("Range"), "0-19");
    const put = await call(reg, "PUT", `${loc}?digest=${sha256(data)}`);
    assert.deepEqual(put.status, 201);
    const get = await call(reg, "GET", `/v2/conf/chunk/blobs/${sha256(data)}`);
    assert.deepEqual(await get.text(), "0123456789abcdefghij");
  });
});

Deno.test("push: the final chunk can come with the PUT, with its Content-Range", async () => {
  await withRegistry(async (reg) => {
    const data = enc.encode("first half|second half");
    const post = await call(reg, "POST", "/v2/conf/lastchunk/blobs/uploads/", null, {
      "Content-Length": "0",
    });
    const p1 = await call(reg, "PATCH", post.headers.get("Location")!, data.slice(0, 11), {
      "Content-Type": "application/octet-stream",
      "Content-Range": "0-10",
      "Content-Length": "11",
    });
    assert.deepEqual(p1.status, 202);
    const put = await call(
      reg,
      "PUT",
      `${p1.headers.get("Location")}?digest=${sha256(data)}`,
      data.slice(11),
      {
        "Content-Type": "application/octet-stream",
        "Content-Range": `11-${data.byteLength - 1}`,
        "Content-Length": String(data.byteLength - 11),
      },
    );
    assert.deepEqual(put.status, 201);
    assert.ok(put.headers.get("Location"));
    const get = await call(reg, "GET", `/v2/conf/lastchunk/blobs/${sha256(data)}`);
    assert.deepEqual(await get.text(), "first half|second half");
  });
});

Deno.test("push: chunked upload survives a restart of the registry (hash recomputed)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-reg-conf-" });
  try {
    const data = enc.encode("restart-safe upload");
    let reg = await createRegistry(dir, { log: quiet() });
    const post = await call(reg, "POST", "/v2/conf/rs/blobs/uploads/");
    const loc = post.headers.get("Location")!;
    await call(reg, "PATCH", loc, data.slice(0, 7), { "Content-Range": "0-6" });
    reg.close();
    reg = await createRegistry(dir, { log: quiet() });
    await call(reg, "PATCH", loc, data.slice(7), { "Content-Range": `7-${data.byteLength - 1}` });
    const put = await call(reg, "PUT", `${loc}?digest=${sha256(data)}`);
    assert.deepEqual(put.status, 201);
    reg.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("push: a blob whose bytes do not match its digest is refused and never stored", async () => {
  await withRegistry(async (reg) => {
    const data = enc.encode("real bytes");
    const lie = sha256("other bytes");
    let res = await call(reg, "POST", `/v2/conf/lie/blobs/uploads/?digest=${lie}`, data);
    assert.deepEqual([res.status, await errorCode(res)], [400, "DIGEST_INVALID"]);
    res = await call(reg, "HEAD", `/v2/conf/lie/blobs/${lie}`);
    assert.deepEqual(res.status, 404);
    res = await call(reg, "HEAD", `/v2/conf/lie/blobs/${sha256(data)}`);
    assert.deepEqual(res.status, 404);
    const post = await call(reg, "POST", "/v2/conf/lie/blobs/uploads/");
    const loc = post.headers.get("Location")!;
    res = await call(reg, "PUT", `${loc}?digest=${lie}`, data);
    assert.deepEqual([res.status, await errorCode(res)], [400, "DIGEST_INVALID"]);
    res = await call(reg, "PUT", `${loc}`, data);
    assert.deepEqual([res.status, await errorCode(res)], [404, "BLOB_UPLOAD_UNKNOWN"]);
    assert.deepEqual([...Deno.readDirSync(`${reg.dataDir}/uploads`)], []);
    assert.deepEqual(Deno.statSync(`${reg.dataDir}/blobs`).isDirectory, true);
    assert.deepEqual([...Deno.readDirSync(`${reg.dataDir}/blobs`)], []);
    const post2 = await call(reg, "POST", "/v2/conf/lie/blobs/uploads/");
    res = await call(reg, "PUT", post2.headers.get("Location")!, data);
    assert.deepEqual([res.status, await errorCode(res)], [400, "DIGEST_INVALID"]);
  });
});

Deno.test("push: sha512 digests are verified too", async () => {
  await withRegistry(async (reg) => {
    const data = enc.encode("sha512 content");
    const d = `sha512:${createHash("sha512").update(data).digest("hex")}`;
    const res = await call(reg, "POST", `/v2/conf/s512/blobs/uploads/?digest=${d}`, data);
    assert.deepEqual(res.status, 201);
    const get = await call(reg, "GET", `/v2/conf/s512/blobs/${d}`);
    assert.deepEqual(await get.text(), "sha512 content");
  });
});

Deno.test("push: cancel with DELETE removes the upload", async () => {
  await withRegistry(async (reg) => {
    const post = await call(reg, "POST", "/v2/conf/cancel/blobs/uploads/");
    const loc = post.headers.get("Location")!;
    await call(reg, "PATCH", loc, enc.encode("partial"));
    let res = await call(reg, "DELETE", loc);
    assert.deepEqual(res.status, 204);
    res = await call(reg, "GET", loc);
    assert.deepEqual([res.status, await errorCode(res)], [404, "BLOB_UPLOAD_UNKNOWN"]);
    res = await call(reg, "DELETE", loc);
    assert.deepEqual(res.status, 404);
    await res.body?.cancel();
    assert.deepEqual([...Deno.readDirSync(`${reg.dataDir}/uploads`)], []);
  });
});

Deno.test("push: cross-repository mount links the blob, or falls back to an upload", async () => {
  await withRegistry(async (reg) => {
    const d = await pushBlob(reg, "conf/src", enc.encode("mount me"));
    let res = await call(reg, "POST", `/v2/conf/dst/blobs/uploads/?mount=${d}&from=conf/src`);
    assert.deepEqual(res.status, 201);
    assert.deepEqual(res.headers.get("Location"), `/v2/conf/dst/blobs/${d}`);
    assert.deepEqual(res.headers.get("Docker-Content-Digest"), d);
    res = await call(reg, "GET", `/v2/conf/dst/blobs/${d}`);
    assert.deepEqual(await res.text(), "mount me");
    res = await call(
      reg,
      "POST",
      `/v2/conf/dst2/blobs/uploads/?mount=${sha256("nope")}&from=conf/src`,
    );
    assert.deepEqual(res.status, 202);
    assert.ok(res.headers.get("Location"));
  });
});

Deno.test("push: manifests referencing missing blobs or manifests are refused", async () => {
  await withRegistry(async (reg) => {
    const config = await pushBlob(reg, "conf/mb", EMPTY);
    const missing = sha256("missing layer");
    const m = imageManifest(config, 2, [{ digest: missing, size: 13 }]);
    let res = await call(reg, "PUT", "/v2/conf/mb/manifests/v1", m, {
      "Content-Type": MANIFEST_TYPE,
    });
    assert.deepEqual([res.status, await errorCode(res)], [404, "MANIFEST_BLOB_UNKNOWN"]);
    // A blob in another repository does not count.
    await pushBlob(reg, "conf/other", enc.encode("missing layer"));
    res = await call(reg, "PUT", "/v2/conf/mb/manifests/v1", m, { "Content-Type": MANIFEST_TYPE });
    assert.deepEqual(res.status, 404);
    await res.body?.cancel();
    const index = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: INDEX_TYPE,
      manifests: [{ mediaType: MANIFEST_TYPE, digest: sha256("nothing"), size: 10 }],
    }));
    res = await call(reg, "PUT", "/v2/conf/mb/manifests/idx", index, {
      "Content-Type": INDEX_TYPE,
    });
    assert.deepEqual([res.status, await errorCode(res)], [404, "MANIFEST_BLOB_UNKNOWN"]);
    res = await call(reg, "GET", "/v2/conf/mb/manifests/v1");
    assert.deepEqual(res.status, 404);
    await res.body?.cancel();
  });
});

Deno.test("push: invalid manifests answer MANIFEST_INVALID, wrong digests DIGEST_INVALID", async () => {
  await withRegistry(async (reg) => {
    const config = await pushBlob(reg, "conf/inv", EMPTY);
    const good = imageManifest(config, 2, []);
    const cases: [Body, string][] = [
      ["not json", MANIFEST_TYPE],
      [JSON.stringify({ schemaVersion: 1 }), MANIFEST_TYPE],
      [JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, layers: [] }), MANIFEST_TYPE],
      [new TextDecoder().decode(good), INDEX_TYPE],
      [new TextDecoder().decode(good), "application/x-unknown"],
    ];
    for (const [body, type] of cases) {
      const res = await call(reg, "PUT", "/v2/conf/inv/manifests/v1", body, {
        "Content-Type": type,
      });
      assert.deepEqual(
        [res.status, await errorCode(res)],
        [400, "MANIFEST_INVALID"],
        `${type} ${body}`,
      );
    }
    const res = await call(reg, "PUT", `/v2/conf/inv/manifests/${sha256("other")}`, good, {
      "Content-Type": MANIFEST_TYPE,
    });
    assert.deepEqual([res.status, await errorCode(res)], [400, "DIGEST_INVALID"]);
    assert.deepEqual((await call(reg, "GET", "/v2/conf/inv/tags/list")).status, 200);
    const tags = await (await call(reg, "GET", "/v2/conf/inv/tags/list")).json();
    assert.deepEqual(tags.tags, []);
    // Bad input never disturbs what is stored: v1 keeps pointing at the good manifest.
    let ok = await call(reg, "PUT", "/v2/conf/inv/manifests/v1", good, {
      "Content-Type": MANIFEST_TYPE,
    });
    assert.deepEqual(ok.status, 201);
    const missing = imageManifest(sha256("no such config"), 2, []);
    for (const [body, type] of [...cases, [missing, MANIFEST_TYPE] as [Body, string]]) {
      const bad = await call(reg, "PUT", "/v2/conf/inv/manifests/v1", body, {
        "Content-Type": type,
      });
      assert.ok(bad.status >= 400);
      await bad.body?.cancel();
    }
    ok = await call(reg, "GET", "/v2/conf/inv/manifests/v1");
    assert.deepEqual(ok.headers.get("Docker-Content-Digest"), sha256(good));
    assert.deepEqual(new Uint8Array(await ok.arrayBuffer()), good);
  });
});

Deno.test("push: Docker schema 2 manifests and manifest lists, by digest and tag", async () => {
  await withRegistry(async (reg) => {
    const cfg = await pushBlob(reg, "conf/docker", EMPTY);
    const layer = await pushBlob(reg, "conf/docker", enc.encode("docker layer"));
    const m = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      config: { mediaType: "application/vnd.docker.container.image.v1+json", digest: cfg, size: 2 },
      layers: [{
        mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip",
        digest: layer,
        size: 12,
      }],
    }));
    let res = await call(reg, "PUT", `/v2/conf/docker/manifests/${sha256(m)}`, m, {
      "Content-Type": "application/vnd.docker.distribution.manifest.v2+json",
    });
    assert.deepEqual(res.status, 201);
    const list = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
      manifests: [{
        mediaType: "application/vnd.docker.distribution.manifest.v2+json",
        digest: sha256(m),
        size: m.byteLength,
        platform: { architecture: "amd64", os: "linux" },
      }],
    }));
    res = await call(reg, "PUT", "/v2/conf/docker/manifests/multi", list, {
      "Content-Type": "application/vnd.docker.distribution.manifest.list.v2+json",
    });
    assert.deepEqual(res.status, 201);
    res = await call(reg, "GET", "/v2/conf/docker/manifests/multi");
    assert.deepEqual(
      res.headers.get("Content-Type"),
      "application/vnd.docker.distribution.manifest.list.v2+json",
    );
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), list);
  });
});

// Content discovery

Deno.test("discovery: tags list sorts and paginates with n and last", async () => {
  await withRegistry(async (reg) => {
    const cfg = await pushBlob(reg, "conf/tags", EMPTY);
    const m = imageManifest(cfg, 2, []);
    for (const t of ["b", "a", "d", "c", "e"]) {
      await call(reg, "PUT", `/v2/conf/tags/manifests/${t}`, m, { "Content-Type": MANIFEST_TYPE });
    }
    let res = await call(reg, "GET", "/v2/conf/tags/tags/list");
    assert.deepEqual(await res.json(), { name: "conf/tags", tags: ["a", "b", "c", "d", "e"] });
    res = await call(reg, "GET", "/v2/conf/tags/tags/list?n=2");
    assert.deepEqual((await res.json()).tags, ["a", "b"]);
    assert.deepEqual(res.headers.get("Link"), `</v2/conf/tags/tags/list?n=2&last=b>; rel="next"`);
    res = await call(reg, "GET", "/v2/conf/tags/tags/list?n=2&last=b");
    assert.deepEqual((await res.json()).tags, ["c", "d"]);
    res = await call(reg, "GET", "/v2/conf/tags/tags/list?n=2&last=d");
    assert.deepEqual((await res.json()).tags, ["e"]);
    assert.deepEqual(res.headers.get("Link"), null);
    res = await call(reg, "GET", "/v2/conf/tags/tags/list?n=0");
    assert.deepEqual((await res.json()).tags, []);
  });
});

Deno.test("discovery: _catalog lists repositories with a capped n", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-reg-conf-" });
  const reg = await createRegistry(dir, { log: quiet(), maxPageSize: 3 });
  try {
    for (const r of ["z/one", "a/two", "m/three", "b/four"]) await pushBlob(reg, r, EMPTY);
    let res = await call(reg, "GET", "/v2/_catalog?n=100");
    assert.deepEqual((await res.json()).repositories, ["a/two", "b/four", "m/three"]);
    assert.ok(res.headers.get("Link")?.includes("last=m%2Fthree"));
    res = await call(reg, "GET", "/v2/_catalog?n=2&last=b/four");
    assert.deepEqual((await res.json()).repositories, ["m/three", "z/one"]);
  } finally {
    reg.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("discovery: referrers lists subjects' artifacts, filters by artifactType, sends OCI-Subject", async () => {
  await withRegistry(async (reg) => {
    const img = await pushImage(reg, "conf/ref", "v1", enc.encode("subject layer"));
    const subject = { mediaType: MANIFEST_TYPE, digest: img.digest, size: img.manifest.byteLength };
    const empty = await pushBlob(reg, "conf/ref", EMPTY);
    const sig = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      artifactType: "application/vnd.example.signature",
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: empty, size: 2 },
      layers: [{ mediaType: "application/vnd.oci.empty.v1+json", digest: empty, size: 2 }],
      subject,
      annotations: { "org.example.kind": "sig" },
    }));
    const sbom = imageManifest(empty, 2, [], { subject });
    let res = await call(reg, "PUT", `/v2/conf/ref/manifests/${sha256(sig)}`, sig, {
      "Content-Type": MANIFEST_TYPE,
    });
    assert.deepEqual(res.status, 201);
    assert.deepEqual(res.headers.get("OCI-Subject"), img.digest);
    res = await call(reg, "PUT", `/v2/conf/ref/manifests/${sha256(sbom)}`, sbom, {
      "Content-Type": MANIFEST_TYPE,
    });
    assert.deepEqual(res.status, 201);
    // An index can refer to a subject too.
    const idx = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: INDEX_TYPE,
      artifactType: "application/vnd.example.bundle",
      manifests: [{ mediaType: MANIFEST_TYPE, digest: sha256(sig), size: sig.byteLength }],
      subject,
      annotations: { "org.example.kind": "bundle" },
    }));
    res = await call(reg, "PUT", `/v2/conf/ref/manifests/${sha256(idx)}`, idx, {
      "Content-Type": INDEX_TYPE,
    });
    assert.deepEqual(res.status, 201);
    assert.deepEqual(res.headers.get("OCI-Subject"), img.digest);
    // A referrer to a subject that is not (yet) in the repository is accepted.
    const orphanSubject = { mediaType: MANIFEST_TYPE, digest: sha256("later"), size: 5 };
    const early = imageManifest(empty, 2, [], { subject: orphanSubject });
    res = await call(reg, "PUT", `/v2/conf/ref/manifests/${sha256(early)}`, early, {
      "Content-Type": MANIFEST_TYPE,
    });
    assert.deepEqual(res.status, 201);
    assert.deepEqual(res.headers.get("OCI-Subject"), sha256("later"));
    res = await call(reg, "GET", `/v2/conf/ref/referrers/${sha256("later")}`);
    assert.deepEqual((await res.json()).manifests.map((m: { digest: string }) => m.digest), [
      sha256(early),
    ]);
    res = await call(reg, "GET", `/v2/conf/ref/referrers/${img.digest}`);
    assert.deepEqual(res.status, 200);
    assert.deepEqual(res.headers.get("Content-Type"), INDEX_TYPE);
    const all = await res.json();
    assert.deepEqual(all.mediaType, INDEX_TYPE);
    assert.deepEqual(all.manifests.length, 3);
    const b = all.manifests.find((m: { digest: string }) => m.digest === sha256(idx));
    assert.deepEqual([b.mediaType, b.artifactType], [INDEX_TYPE, "application/vnd.example.bundle"]);
    const s = all.manifests.find((m: { digest: string }) => m.digest === sha256(sig));
    assert.deepEqual(s.artifactType, "application/vnd.example.signature");
    assert.deepEqual(s.annotations, { "org.example.kind": "sig" });
    assert.deepEqual(s.size, sig.byteLength);
    res = await call(
      reg,
      "GET",
      `/v2/conf/ref/referrers/${img.digest}?artifactType=application/vnd.example.signature`,
    );
    assert.deepEqual(res.headers.get("OCI-Filters-Applied"), "artifactType");
    assert.deepEqual((await res.json()).manifests.map((m: { digest: string }) => m.digest), [
      sha256(sig),
    ]);
    res = await call(reg, "GET", `/v2/conf/ref/referrers/${sha256("no subject")}`);
    assert.deepEqual((await res.json()).manifests, []);
    res = await call(reg, "GET", `/v2/conf/ref/referrers/sha256:bad`);
    assert.deepEqual([res.status, await errorCode(res)], [400, "DIGEST_INVALID"]);
  });
});

// Content management

Deno.test("management: delete a tag, a manifest by digest, and a blob", async () => {
  await withRegistry(async (reg) => {
    const img = await pushImage(reg, "conf/del", "v1", enc.encode("to delete"));
    await call(reg, "PUT", "/v2/conf/del/manifests/v2", img.manifest, {
      "Content-Type": MANIFEST_TYPE,
    });
    let res = await call(reg, "DELETE", "/v2/conf/del/manifests/v2");
    assert.deepEqual(res.status, 202);
    assert.deepEqual((await (await call(reg, "GET", "/v2/conf/del/tags/list")).json()).tags, [
      "v1",
    ]);
    res = await call(reg, "DELETE", `/v2/conf/del/manifests/${img.digest}`);
    assert.deepEqual(res.status, 202);
    res = await call(reg, "GET", `/v2/conf/del/manifests/${img.digest}`);
    assert.deepEqual(res.status, 404);
    await res.body?.cancel();
    res = await call(reg, "GET", `/v2/conf/del/manifests/v1`);
    assert.deepEqual(res.status, 404);
    await res.body?.cancel();
    res = await call(reg, "DELETE", `/v2/conf/del/manifests/${img.digest}`);
    assert.deepEqual([res.status, await errorCode(res)], [404, "MANIFEST_UNKNOWN"]);
    res = await call(reg, "DELETE", `/v2/conf/del/blobs/${img.layer}`);
    assert.deepEqual(res.status, 202);
    res = await call(reg, "GET", `/v2/conf/del/blobs/${img.layer}`);
    assert.deepEqual(res.status, 404);
    await res.body?.cancel();
    res = await call(reg, "DELETE", `/v2/conf/del/blobs/${img.layer}`);
    assert.deepEqual([res.status, await errorCode(res)], [404, "BLOB_UNKNOWN"]);
  });
});

Deno.test("push: a blob over the size limit is refused with 413 SIZE_INVALID and not kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-reg-conf-" });
  const reg = await createRegistry(dir, { log: quiet(), maxBlobSize: 1000 });
  try {
    const big = new Uint8Array(1001);
    let res = await call(reg, "POST", `/v2/conf/limit/blobs/uploads/?digest=${sha256(big)}`, big);
    assert.deepEqual([res.status, await errorCode(res)], [413, "SIZE_INVALID"]);
    res = await call(reg, "HEAD", `/v2/conf/limit/blobs/${sha256(big)}`);
    assert.deepEqual(res.status, 404);
    assert.deepEqual([...Deno.readDirSync(`${dir}/uploads`)], []);
    res = await call(
      reg,
      "POST",
      `/v2/conf/limit/blobs/uploads/?digest=${sha256(big.subarray(1))}`,
      big.slice(1),
    );
    assert.deepEqual(res.status, 201);
  } finally {
    reg.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("management: with deletion disabled DELETE answers 405 UNSUPPORTED", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-reg-conf-" });
  const reg = await createRegistry(dir, { log: quiet(), deleteEnabled: false });
  try {
    const d = await pushBlob(reg, "conf/nodel", EMPTY);
    const res = await call(reg, "DELETE", `/v2/conf/nodel/blobs/${d}`);
    assert.deepEqual([res.status, await errorCode(res)], [405, "UNSUPPORTED"]);
  } finally {
    reg.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("/healthz and /metrics count requests per route", async () => {
  await withRegistry(async (reg) => {
    assert.deepEqual(await (await call(reg, "GET", "/healthz")).text(), "ok\n");
    await pushBlob(reg, "conf/metrics", EMPTY);
    const text = await (await call(reg, "GET", "/metrics")).text();
    assert.match(
      text,
      /registry_http_requests_total\{route="uploads",method="POST",status="201"\} 1/,
    );
    assert.match(text, /registry_http_request_bytes_total\{route="uploads"\} 2/);
    assert.match(text, /registry_http_request_duration_seconds_count\{route="uploads"\} 1/);
    assert.match(text, /registry_blob_bytes_received_total 2/);
    await (await call(reg, "GET", `/v2/conf/metrics/blobs/${sha256(EMPTY)}`)).arrayBuffer();
    const after = await (await call(reg, "GET", "/metrics")).text();
    assert.match(after, /registry_blob_bytes_sent_total 2/);
  });
});
