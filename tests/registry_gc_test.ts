/**
 * Garbage collection and concurrency over real HTTP on loopback: pushes of
 * images that share layers running at once, GC passes running during
 * them, untagged-manifest retention, and what GC must keep.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createRegistry, Logger, type Registry } from "@tsk/registry";
import { enc, sha256, startRegistry } from "./_registry_fixtures.ts";

const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";
const INDEX_TYPE = "application/vnd.oci.image.index.v1+json";

interface Served {
  reg: Registry;
  url: string;
  clock: { offset: number };
  close: () => Promise<void>;
  dir: string;
}

async function serve(): Promise<Served> {
  const dir = await Deno.makeTempDir({ prefix: "tsk-reg-gc-" });
  const clock = { offset: 0 };
  const reg = await createRegistry(dir, {
    log: new Logger({ level: "error" }),
    now: () => Date.now() + clock.offset,
    gc: { graceMs: 60_000 },
  });
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, reg.app.fetch);
  return {
    reg,
    dir,
    clock,
    url: `http://127.0.0.1:${server.addr.port}`,
    close: async () => {
      await server.shutdown();
      reg.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function pushBlob(url: string, repo: string, data: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = sha256(data);
  const head = await fetch(`${url}/v2/${repo}/blobs/${d}`, { method: "HEAD" });
  if (head.status === 200) return d;
  // Chunked: POST, two PATCHes, PUT, as most clients do.
  const post = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: "POST" });
  assert.equal(post.status, 202);
  let loc = post.headers.get("Location")!;
  const half = data.byteLength >> 1;
  for (const [a, b] of [[0, half], [half, data.byteLength]]) {
    const r = await fetch(`${url}${loc}`, {
      method: "PATCH",
      body: data.slice(a, b),
      headers: { "Content-Range": `${a}-${b - 1}` },
    });
    assert.equal(r.status, 202);
    loc = r.headers.get("Location")!;
  }
  const put = await fetch(`${url}${loc}?digest=${d}`, { method: "PUT" });
  assert.equal(put.status, 201, await put.text());
  return d;
}

async function pushImage(
  url: string,
  repo: string,
  tag: string | null,
  layers: Uint8Array<ArrayBuffer>[],
): Promise<{ digest: string; layers: string[] }> {
  const config = enc.encode(JSON.stringify({ architecture: "amd64", os: "linux", repo, tag }));
  const cfg = await pushBlob(url, repo, config);
  const ds = [];
  for (const l of layers) {
    ds.push({
      mediaType: "application/vnd.oci.image.layer.v1.tar",
      digest: await pushBlob(url, repo, l),
      size: l.byteLength,
    });
  }
  const m = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MANIFEST_TYPE,
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: cfg,
      size: config.byteLength,
    },
    layers: ds,
  }));
  const ref = tag ?? sha256(m);
  const r = await fetch(`${url}/v2/${repo}/manifests/${ref}`, {
    method: "PUT",
    body: m,
    headers: { "Content-Type": MANIFEST_TYPE },
  });
  assert.equal(r.status, 201, await r.text());
  return { digest: sha256(m), layers: ds.map((d) => d.digest) };
}

/** Pulls an image and checks every blob's bytes against its digest. */
async function pullComplete(url: string, repo: string, ref: string): Promise<void> {
  const r = await fetch(`${url}/v2/${repo}/manifests/${ref}`);
  assert.equal(r.status, 200, `${repo}:${ref}`);
  const m = await r.json();
  for (const d of [m.config, ...m.layers]) {
    const b = await fetch(`${url}/v2/${repo}/blobs/${d.digest}`);
    assert.equal(b.status, 200, `${repo} blob ${d.digest}`);
    assert.equal(sha256(new Uint8Array(await b.arrayBuffer())), d.digest);
  }
}

function blobFiles(dir: string): string[] {
  const out: string[] = [];
  const root = join(dir, "blobs", "sha256");
  try {
    for (const d of Deno.readDirSync(root)) {
      for (const f of Deno.readDirSync(join(root, d.name))) out.push(`sha256:${f.name}`);
    }
  } catch { /* none yet */ }
  return out.sort();
}

function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
}

Deno.test("concurrent pushes of images sharing layers store each layer once and all pull complete", async () => {
  const s = await serve();
  try {
    const base = randomBytes(1 << 20);
    const results = await Promise.all(
      Array.from(
        { length: 8 },
        (_, i) => pushImage(s.url, `team${i % 3}/app${i}`, "v1", [base, randomBytes(64 * 1024)]),
      ),
    );
    for (let i = 0; i < 8; i++) await pullComplete(s.url, `team${i % 3}/app${i}`, "v1");
    const files = blobFiles(s.dir);
    assert.equal(files.filter((f) => f === sha256(base)).length, 1);
    // 1 shared base + 8 unique layers + 8 configs.
    assert.equal(files.length, 17);
    assert.equal(new Set(results.map((r) => r.digest)).size, 8);
  } finally {
    await s.close();
  }
});

Deno.test("GC while pushing keeps every pushed image complete and sweeps only garbage", async () => {
  const s = await serve();
  try {
    const shared = randomBytes(256 * 1024);
    // Garbage: an image whose manifest is deleted, and a blob nobody references.
    const doomed = await pushImage(s.url, "gc/doomed", "v1", [shared, randomBytes(32 * 1024)]);
    const orphan = await pushBlob(s.url, "gc/orphan", randomBytes(1000));
    const del = await fetch(`${s.url}/v2/gc/doomed/manifests/${doomed.digest}`, {
      method: "DELETE",
    });
    assert.equal(del.status, 202);

    let stop = false;
    let passes = 0;
    const gcLoop = (async () => {
      while (!stop) {
        await s.reg.gc();
        passes++;
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const pushed: { repo: string; tag: string }[] = [];
    await Promise.all(Array.from({ length: 6 }, async (_, w) => {
      for (let j = 0; j < 4; j++) {
        const repo = `gc/worker${w}`;
        await pushImage(s.url, repo, `t${j}`, [shared, randomBytes(16 * 1024 + j)]);
        pushed.push({ repo, tag: `t${j}` });
      }
    }));
    stop = true;
    await gcLoop;
    assert.ok(passes > 0, "GC ran during the pushes");
    for (const p of pushed) await pullComplete(s.url, p.repo, p.tag);

    // Past the grace period the garbage goes, the pushed images stay.
    s.clock.offset = 120_000;
    const r = await s.reg.gc();
    assert.ok(r.blobs >= 3, `swept ${JSON.stringify(r)}`);
    const files = blobFiles(s.dir);
    assert.ok(!files.includes(orphan), "the unreferenced blob is gone");
    assert.ok(!files.includes(doomed.layers[1]), "the deleted image's own layer is gone");
    assert.ok(files.includes(sha256(shared)), "the shared layer stays");
    for (const p of pushed) await pullComplete(s.url, p.repo, p.tag);
    const gone = await fetch(`${s.url}/v2/gc/orphan/blobs/${orphan}`, { method: "HEAD" });
    assert.equal(gone.status, 404);
  } finally {
    await s.close();
  }
});

Deno.test("untagged retention deletes old untagged manifests but keeps index children and referrers", async () => {
  const s = await serve();
  try {
    const old = await pushImage(s.url, "ret/app", "latest", [randomBytes(2048)]);
    const cur = await pushImage(s.url, "ret/app", "latest", [randomBytes(2048)]); // re-tag: old is untagged
    const child = await pushImage(s.url, "ret/app", null, [randomBytes(2048)]);
    const index = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: INDEX_TYPE,
      manifests: [{ mediaType: MANIFEST_TYPE, digest: child.digest, size: 1 }],
    }));
    let r = await fetch(`${s.url}/v2/ret/app/manifests/multi`, {
      method: "PUT",
      body: index,
      headers: { "Content-Type": INDEX_TYPE },
    });
    assert.equal(r.status, 201);
    const curManifest = await (await fetch(`${s.url}/v2/ret/app/manifests/latest`)).arrayBuffer();
    const empty = await pushBlob(s.url, "ret/app", enc.encode("{}"));
    const sig = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      artifactType: "application/vnd.example.sig",
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: empty, size: 2 },
      layers: [{ mediaType: "application/vnd.oci.empty.v1+json", digest: empty, size: 2 }],
      subject: { mediaType: MANIFEST_TYPE, digest: cur.digest, size: curManifest.byteLength },
    }));
    r = await fetch(`${s.url}/v2/ret/app/manifests/${sha256(sig)}`, {
      method: "PUT",
      body: sig,
      headers: { "Content-Type": MANIFEST_TYPE },
    });
    assert.equal(r.status, 201);

    // Without a retention setting, untagged manifests are kept.
    s.clock.offset = 3 * 3_600_000;
    await s.reg.gc();
    r = await fetch(`${s.url}/v2/ret/app/manifests/${old.digest}`, { method: "HEAD" });
    assert.equal(r.status, 200);

    const res = await s.reg.gc({ untaggedRetentionMs: 3_600_000 });
    assert.equal(res.manifests, 1);
    r = await fetch(`${s.url}/v2/ret/app/manifests/${old.digest}`, { method: "HEAD" });
    assert.equal(r.status, 404);
    assert.ok(!blobFiles(s.dir).includes(old.layers[0]));
    await pullComplete(s.url, "ret/app", "latest");
    await pullComplete(s.url, "ret/app", child.digest);
    r = await fetch(`${s.url}/v2/ret/app/manifests/${sha256(sig)}`, { method: "HEAD" });
    assert.equal(r.status, 200, "the referrer of a tagged manifest stays");
    const refs = await (await fetch(`${s.url}/v2/ret/app/referrers/${cur.digest}`)).json();
    assert.equal(refs.manifests.length, 1);
  } finally {
    await s.close();
  }
});

Deno.test("GC removes blob files the metadata does not know once they are past the grace period", async () => {
  const s = await serve();
  try {
    const kept = await pushImage(s.url, "stray/app", "v1", [randomBytes(4096)]);
    const data = randomBytes(100);
    const stray = sha256(data);
    const path = join(s.dir, "blobs", "sha256", stray.slice(7, 9), stray.slice(7));
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeFile(path, data);
    await s.reg.gc();
    assert.ok(blobFiles(s.dir).includes(stray), "young stray kept");
    s.clock.offset = 120_000;
    await s.reg.gc();
    assert.ok(!blobFiles(s.dir).includes(stray), "old stray removed");
    assert.ok(blobFiles(s.dir).includes(kept.layers[0]));
    await pullComplete(s.url, "stray/app", "v1");
  } finally {
    await s.close();
  }
});

Deno.test("GC with a tiny grace period racing pushes never leaves a pushed image incomplete", async () => {
  const s = await serve();
  try {
    const shared = randomBytes(64 * 1024);
    let stop = false;
    let passes = 0;
    const gcLoop = (async () => {
      while (!stop) {
        await s.reg.gc({ graceMs: 200 });
        passes++;
        await new Promise((r) => setTimeout(r, Math.random() * 20));
      }
    })();
    const ok: { repo: string; tag: string }[] = [];
    let refused = 0;
    await Promise.all(Array.from({ length: 6 }, async (_, w) => {
      for (let j = 0; j < 8; j++) {
        const repo = `race/w${w}`;
        try {
          await pushImage(s.url, repo, `t${j}`, [shared, randomBytes(8192 + j)]);
          ok.push({ repo, tag: `t${j}` });
        } catch (err) {
          // With almost no grace, GC may take a blob between its upload and
          // the manifest: the manifest is then refused, never stored broken.
          assert.match(String(err), /MANIFEST_BLOB_UNKNOWN/);
          refused++;
        }
      }
    }));
    stop = true;
    await gcLoop;
    assert.ok(passes > 0);
    assert.ok(ok.length > 0, `all ${refused} pushes refused`);
    for (const p of ok) await pullComplete(s.url, p.repo, p.tag);
    s.clock.offset = 60_000;
    await s.reg.gc({ graceMs: 0 });
    for (const p of ok) await pullComplete(s.url, p.repo, p.tag);
  } finally {
    await s.close();
  }
});

Deno.test("registry gc: refuses a data directory a server holds, then collects once it is stopped", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tsk-reg-gc-cli-" });
  const main = new URL("../registry/main.ts", import.meta.url).pathname;
  const gcCli = async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        main,
        "gc",
        "--data",
        join(tmp, "data"),
        "--gc-grace",
        "0",
        "--log-level",
        "error",
      ],
    }).output();
    return {
      code: out.code,
      text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
    };
  };
  const reg = await startRegistry(join(tmp, "data"));
  try {
    const orphan = randomBytes(512);
    const r = await fetch(`${reg.url}/v2/cli/x/blobs/uploads/?digest=${sha256(orphan)}`, {
      method: "POST",
      body: orphan,
    });
    assert.equal(r.status, 201);
    await r.body?.cancel();
    let out = await gcCli();
    assert.equal(out.code, 1);
    assert.match(out.text, /is in use by another registry process/);
    await reg.stop();
    assert.ok(blobFiles(join(tmp, "data")).includes(sha256(orphan)));
    out = await gcCli();
    assert.equal(out.code, 0, out.text);
    assert.match(out.text, /removed 0 manifests, 1 links, 1 blobs, 0 uploads/);
    assert.deepEqual(blobFiles(join(tmp, "data")), []);
  } finally {
    await reg.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
