/**
 * Uploads against the registry program on loopback with curl: a client
 * killed mid-upload leaves no visible blob, and abandoned uploads expire.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256, startRegistry } from "./_registry_fixtures.ts";

async function killedCurl(args: string[], data: Uint8Array): Promise<void> {
  const curl = new Deno.Command("curl", {
    args: ["-sS", "-o", "/dev/null", "--limit-rate", "256k", ...args, "--data-binary", "@-"],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const w = curl.stdin.getWriter();
  // Hand curl part of the body, wait until some of it reached the server, kill it.
  await w.write(data.subarray(0, data.byteLength >> 1)).catch(() => {});
  await new Promise((r) => setTimeout(r, 700));
  curl.kill("SIGKILL");
  await curl.status;
  await w.abort().catch(() => {});
}

Deno.test("a client killed mid-upload leaves no partial blob, and the abandoned upload expires", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tsk-reg-kill-" });
  const reg = await startRegistry(join(tmp, "data"), [
    "--upload-ttl",
    "2s",
    "--gc-interval",
    "500ms",
  ]);
  try {
    const data = new Uint8Array(2 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const digest = sha256(data);

    // Monolithic POST ?digest= killed halfway.
    await killedCurl([
      "-X",
      "POST",
      "-H",
      "Content-Type: application/octet-stream",
      "-H",
      `Content-Length: ${data.byteLength}`,
      `${reg.url}/v2/kill/me/blobs/uploads/?digest=${digest}`,
    ], data);
    let r = await fetch(`${reg.url}/v2/kill/me/blobs/${digest}`, { method: "HEAD" });
    assert.equal(r.status, 404, "no blob after a killed monolithic upload");

    // Chunked PATCH killed halfway: the session keeps what arrived.
    const post = await fetch(`${reg.url}/v2/kill/me/blobs/uploads/`, { method: "POST" });
    assert.equal(post.status, 202);
    const loc = post.headers.get("Location")!;
    await killedCurl([
      "-X",
      "PATCH",
      "-H",
      "Content-Type: application/octet-stream",
      `${reg.url}${loc}`,
    ], data);
    r = await fetch(`${reg.url}${loc}`);
    assert.equal(r.status, 204);
    const end = Number(r.headers.get("Range")!.split("-")[1]);
    assert.ok(end < data.byteLength - 1, `partial: ${r.headers.get("Range")}`);
    r = await fetch(`${reg.url}/v2/kill/me/blobs/${digest}`, { method: "HEAD" });
    assert.equal(r.status, 404, "no blob after a killed chunk");
    // Completing with the wrong bytes is refused; the blob is never stored.
    r = await fetch(`${reg.url}${loc}?digest=${digest}`, { method: "PUT" });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).errors[0].code, "DIGEST_INVALID");

    // An abandoned session expires, and its file goes with it.
    const idle = await fetch(`${reg.url}/v2/kill/me/blobs/uploads/`, { method: "POST" });
    const idleLoc = idle.headers.get("Location")!;
    await (await fetch(`${reg.url}${idleLoc}`, { method: "PATCH", body: data.subarray(0, 1000) }))
      .body?.cancel();
    const deadline = Date.now() + 10_000;
    let status = 204;
    while (Date.now() < deadline) {
      const s = await fetch(`${reg.url}${idleLoc}`);
      await s.body?.cancel();
      status = s.status;
      if (status === 404) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(status, 404, "the idle upload expired");
    // Files of the killed monolithic upload and the sessions are gone too.
    const left: string[] = [];
    for await (const e of Deno.readDir(join(tmp, "data", "uploads"))) left.push(e.name);
    assert.deepEqual(left, []);
    const blobs: string[] = [];
    for await (const e of Deno.readDir(join(tmp, "data", "blobs"))) blobs.push(e.name);
    assert.deepEqual(blobs, []);

    // The same blob uploads fine afterwards.
    r = await fetch(`${reg.url}/v2/kill/me/blobs/uploads/?digest=${digest}`, {
      method: "POST",
      body: data,
    });
    assert.equal(r.status, 201);
    await r.body?.cancel();
  } finally {
    await reg.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
