/**
 * Every endpoint and every error code of the distribution spec, with curl
 * against the registry program on loopback. (TOOMANYREQUESTS is the one
 * code never sent: the registry does no rate limiting.)
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { enc, sha256, startRegistry } from "./_registry_fixtures.ts";

interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function curl(
  method: string,
  url: string,
  opts: { headers?: Record<string, string>; body?: Uint8Array; user?: string } = {},
): Promise<CurlResult> {
  const args = ["-sS", "-X", method, "-D", "-", "-o", "/dev/stderr", "-H", "Expect:", url];
  if (method === "HEAD") args.splice(1, 2, "-I");
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push("-H", `${k}: ${v}`);
  if (opts.user) args.push("-u", opts.user);
  if (opts.body) args.push("--data-binary", "@-");
  const child = new Deno.Command("curl", {
    args,
    stdin: opts.body ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.body) {
    const w = child.stdin.getWriter();
    await w.write(opts.body);
    await w.close();
  }
  const out = await child.output();
  const head = new TextDecoder().decode(out.stdout).split("\r\n");
  const status = Number(head[0].split(" ")[1]);
  const headers: Record<string, string> = {};
  for (const l of head.slice(1)) {
    const i = l.indexOf(":");
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status, headers, body: new TextDecoder().decode(out.stderr) };
}

function code(r: CurlResult): string {
  return JSON.parse(r.body).errors[0].code;
}

const MT = "application/vnd.oci.image.manifest.v1+json";

Deno.test("curl: every endpoint answers as the spec says, and every error code is reachable", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tsk-reg-curl-" });
  const reg = await startRegistry(join(tmp, "data"));
  const u = reg.url;
  try {
    // /v2/
    let r = await curl("GET", `${u}/v2/`);
    assert.equal(r.status, 200);
    assert.equal(r.headers["docker-distribution-api-version"], "registry/2.0");

    // Monolithic upload, then HEAD, GET, Range.
    const layer = enc.encode("curl layer");
    const config = enc.encode("{}");
    r = await curl("POST", `${u}/v2/c/app/blobs/uploads/?digest=${sha256(layer)}`, { body: layer });
    assert.equal(r.status, 201);
    assert.equal(r.headers["location"], `/v2/c/app/blobs/${sha256(layer)}`);
    r = await curl("HEAD", `${u}/v2/c/app/blobs/${sha256(layer)}`);
    assert.equal([r.status, r.headers["content-length"]].join(), "200,10");
    r = await curl("GET", `${u}/v2/c/app/blobs/${sha256(layer)}`, {
      headers: { Range: "bytes=5-9" },
    });
    assert.equal([r.status, r.body].join(), "206,layer");

    // POST then PUT; PATCH chunks; status; cancel.
    r = await curl("POST", `${u}/v2/c/app/blobs/uploads/`);
    assert.equal(r.status, 202);
    let loc = r.headers["location"];
    r = await curl("PATCH", `${u}${loc}`, { body: config, headers: { "Content-Range": "0-1" } });
    assert.equal([r.status, r.headers["range"]].join(), "202,0-1");
    r = await curl("GET", `${u}${loc}`);
    assert.equal([r.status, r.headers["range"]].join(), "204,0-1");
    r = await curl("PATCH", `${u}${loc}`, { body: config, headers: { "Content-Range": "5-6" } });
    assert.equal([r.status, code(r)].join(), "416,BLOB_UPLOAD_INVALID");
    r = await curl("PATCH", `${u}${loc}`, { body: config, headers: { "Content-Range": "bogus" } });
    assert.equal([r.status, code(r)].join(), "416,BLOB_UPLOAD_INVALID");
    r = await curl("PUT", `${u}${loc}?digest=${sha256(config)}`);
    assert.equal(r.status, 201);
    r = await curl("POST", `${u}/v2/c/app/blobs/uploads/`);
    loc = r.headers["location"];
    r = await curl("DELETE", `${u}${loc}`);
    assert.equal(r.status, 204);
    r = await curl("GET", `${u}${loc}`);
    assert.equal([r.status, code(r)].join(), "404,BLOB_UPLOAD_UNKNOWN");

    // Mount.
    r = await curl("POST", `${u}/v2/c/other/blobs/uploads/?mount=${sha256(layer)}&from=c/app`);
    assert.equal(r.status, 201);

    // Manifests: PUT by tag, GET, HEAD, by digest.
    const manifest = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: MT,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: sha256(config),
        size: 2,
      },
      layers: [{
        mediaType: "application/vnd.oci.image.layer.v1.tar",
        digest: sha256(layer),
        size: 10,
      }],
    }));
    r = await curl("PUT", `${u}/v2/c/app/manifests/v1`, {
      body: manifest,
      headers: { "Content-Type": MT },
    });
    assert.equal([r.status, r.headers["docker-content-digest"]].join(), `201,${sha256(manifest)}`);
    r = await curl("GET", `${u}/v2/c/app/manifests/v1`, { headers: { Accept: MT } });
    assert.equal(
      [r.status, r.headers["content-type"], r.body].join(),
      `200,${MT},${new TextDecoder().decode(manifest)}`,
    );
    r = await curl("HEAD", `${u}/v2/c/app/manifests/${sha256(manifest)}`);
    assert.equal(r.status, 200);

    // Tags, catalog, referrers.
    r = await curl("GET", `${u}/v2/c/app/tags/list?n=10`);
    assert.deepEqual(JSON.parse(r.body), { name: "c/app", tags: ["v1"] });
    r = await curl("GET", `${u}/v2/_catalog?n=1`);
    assert.deepEqual(JSON.parse(r.body).repositories, ["c/app"]);
    assert.match(r.headers["link"], /rel="next"/);
    r = await curl("GET", `${u}/v2/c/app/referrers/${sha256(manifest)}?artifactType=x`);
    assert.equal([r.status, r.headers["oci-filters-applied"]].join(), "200,artifactType");

    // The error codes.
    r = await curl("GET", `${u}/v2/c/app/blobs/${sha256("none")}`);
    assert.equal([r.status, code(r)].join(), "404,BLOB_UNKNOWN");
    r = await curl("POST", `${u}/v2/c/app/blobs/uploads/?digest=${sha256("other")}`, {
      body: layer,
    });
    assert.equal([r.status, code(r)].join(), "400,DIGEST_INVALID");
    const broken = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: MT,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: sha256("no"),
        size: 2,
      },
      layers: [],
    }));
    r = await curl("PUT", `${u}/v2/c/app/manifests/v2`, {
      body: broken,
      headers: { "Content-Type": MT },
    });
    assert.equal([r.status, code(r)].join(), "404,MANIFEST_BLOB_UNKNOWN");
    r = await curl("PUT", `${u}/v2/c/app/manifests/v2`, {
      body: enc.encode("{"),
      headers: { "Content-Type": MT },
    });
    assert.equal([r.status, code(r)].join(), "400,MANIFEST_INVALID");
    r = await curl("GET", `${u}/v2/c/app/manifests/nope`);
    assert.equal([r.status, code(r)].join(), "404,MANIFEST_UNKNOWN");
    r = await curl("GET", `${u}/v2/C--bad/manifests/v1`);
    assert.equal([r.status, code(r)].join(), "400,NAME_INVALID");
    r = await curl("GET", `${u}/v2/c/none/tags/list`);
    assert.equal([r.status, code(r)].join(), "404,NAME_UNKNOWN");
    r = await curl("PUT", `${u}/v2/c/app/manifests/big`, {
      body: new Uint8Array(5 * 1024 * 1024).fill(32),
      headers: { "Content-Type": MT },
    });
    assert.equal([r.status, code(r)].join(), "413,SIZE_INVALID");
    r = await curl("PATCH", `${u}/v2/c/app/manifests/v1`);
    assert.equal([r.status, code(r)].join(), "405,UNSUPPORTED");

    // Deletes.
    r = await curl("DELETE", `${u}/v2/c/app/manifests/v1`);
    assert.equal(r.status, 202);
    r = await curl("DELETE", `${u}/v2/c/app/manifests/${sha256(manifest)}`);
    assert.equal(r.status, 202);
    r = await curl("DELETE", `${u}/v2/c/app/blobs/${sha256(layer)}`);
    assert.equal(r.status, 202);
  } finally {
    await reg.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("curl: UNAUTHORIZED and DENIED from htpasswd auth with access rules", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tsk-reg-curl-auth-" });
  await Deno.writeTextFile(join(tmp, "htpasswd"), `eve:${bcrypt.hashSync("pw", 5)}\n`);
  await Deno.writeTextFile(
    join(tmp, "config.yaml"),
    `auth:\n  mode: htpasswd\n  htpasswd: ${
      join(tmp, "htpasswd")
    }\n  access:\n    - { account: eve, name: 'eve/*', actions: [pull, push] }\n`,
  );
  const reg = await startRegistry(join(tmp, "data"), ["--config", join(tmp, "config.yaml")]);
  try {
    let r = await curl("GET", `${reg.url}/v2/`);
    assert.equal([r.status, code(r)].join(), "401,UNAUTHORIZED");
    assert.equal(r.headers["www-authenticate"], `Basic realm="tsk-registry"`);
    r = await curl("GET", `${reg.url}/v2/`, { user: "eve:pw" });
    assert.equal(r.status, 200);
    r = await curl("GET", `${reg.url}/v2/adam/x/tags/list`, { user: "eve:pw" });
    assert.equal([r.status, code(r)].join(), "403,DENIED");
    r = await curl("DELETE", `${reg.url}/v2/eve/x/manifests/v1`, { user: "eve:pw" });
    assert.equal([r.status, code(r)].join(), "403,DENIED");
  } finally {
    await reg.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
