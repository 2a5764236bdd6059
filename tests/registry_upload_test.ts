/**
 * Uploads against the registry program on loopback with curl: a client
 * killed mid-upload leaves no visible blob, and abandoned uploads expire.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { sha256, startRegistry } from "./_registry_fixtures.ts";

/**
 * Bytes a process has read through read(2)-like calls, from /proc/PID/io
 * (curl reads its upload file as it sends; `wchar` would miss send(2)).
 */
function bytesRead(pid: number): number {
  try {
    const m = /^rchar: (\d+)$/m.exec(Deno.readTextFileSync(`/proc/${pid}/io`));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

async function killedCurl(args: string[], data: Uint8Array): Promise<void> {
  const body = await Deno.makeTempFile({ prefix: "tsk-reg-body-" });
  await Deno.writeFile(body, data);
  const curl = new Deno.Command("curl", {
    // --limit-rate keeps the upload in flight long enough to kill it part way
    // (2 MiB at 200 KiB/s); no "Expect: 100-continue", which would hold the
    // body back for up to 1 s.
    args: ["-sS", "-o", "/dev/null", "-H", "Expect:", "--limit-rate", "200k", "-T", body, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    // Kill once curl has read (and so is sending) part of the body: its read
    // count in /proc, not a fixed sleep (on a loaded machine curl may not
    // have connected yet).
    const deadline = Date.now() + 15_000;
    while (bytesRead(curl.pid) < 256 * 1024) {
      assert.ok(Date.now() < deadline, "curl read under 256 KiB of the body within 15 s");
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    curl.kill("SIGKILL");
    await curl.status;
    await Deno.remove(body);
  }
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
      `${reg.url}/v2/kill/me/blobs/uploads/?digest=${digest}`,
    ], data);
    // The registry saw the stream break (and answered into the void).
    const deadline0 = Date.now() + 5000;
    while (!/"method":"POST","route":"uploads","path":"[^"]+","status":400/.test(reg.logs())) {
      assert.ok(Date.now() < deadline0, `no broken-upload request in the log: ${reg.logs()}`);
      await new Promise((res) => setTimeout(res, 50));
    }
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
    // The registry records what arrived once it sees the stream break: poll.
    let end = 0;
    const settled = Date.now() + 5000;
    do {
      r = await fetch(`${reg.url}${loc}`);
      await r.body?.cancel();
      assert.equal(r.status, 204);
      end = Number(r.headers.get("Range")!.split("-")[1]);
      if (end > 0) break;
      await new Promise((res) => setTimeout(res, 50));
    } while (Date.now() < settled);
    assert.ok(end > 0 && end < data.byteLength - 1, `partial: ${r.headers.get("Range")}`);
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

Deno.test("a 256 MB blob streams through: the registry's peak memory stays far below the blob's size", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tsk-reg-big-" });
  const reg = await startRegistry(join(tmp, "data"), ["--log-level", "warn"]);
  try {
    const SIZE = 256 * 1024 * 1024;
    const chunk = new Uint8Array(1024 * 1024);
    const hash = createHash("sha256");
    const file = await Deno.open(join(tmp, "big"), { write: true, create: true });
    for (let i = 0; i < SIZE; i += chunk.byteLength) {
      crypto.getRandomValues(chunk.subarray(0, 65536));
      hash.update(chunk);
      await file.write(chunk);
    }
    file.close();
    const digest = `sha256:${hash.digest("hex")}`;
    const url = `${reg.url}/v2/big/blob/blobs/uploads/?digest=${digest}`;
    const code = await new Deno.Command("curl", {
      args: [
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "POST",
        "-T",
        join(tmp, "big"),
        url,
      ],
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(code.stdout), "201");
    const r = await fetch(`${reg.url}/v2/big/blob/blobs/${digest}`);
    let got = 0;
    const check = createHash("sha256");
    for await (const c of r.body!) {
      got += c.byteLength;
      check.update(c);
    }
    assert.equal(got, SIZE);
    assert.equal(`sha256:${check.digest("hex")}`, digest);
    const status = await Deno.readTextFile(`/proc/${reg.child.pid}/status`);
    const peakKb = Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]);
    assert.ok(peakKb < 200 * 1024, `peak RSS ${peakKb} kB for a ${SIZE >> 20} MB blob`);
  } finally {
    await reg.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a registry killed with SIGKILL mid-upload restarts on the same data: no partial blob, data kept", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "tsk-reg-crash-" });
  const data = join(tmp, "data");
  let reg = await startRegistry(data);
  try {
    const kept = new TextEncoder().encode("survives a crash");
    let r = await fetch(`${reg.url}/v2/crash/app/blobs/uploads/?digest=${sha256(kept)}`, {
      method: "POST",
      body: kept,
    });
    assert.equal(r.status, 201);
    await r.body?.cancel();
    const big = new Uint8Array(8 * 1024 * 1024).fill(3);
    const post = await fetch(`${reg.url}/v2/crash/app/blobs/uploads/`, { method: "POST" });
    const loc = post.headers.get("Location")!;
    await post.body?.cancel();
    const curl = new Deno.Command("curl", {
      args: [
        "-sS",
        "-o",
        "/dev/null",
        "--limit-rate",
        "1M",
        "-X",
        "PATCH",
        "--data-binary",
        "@-",
        `${reg.url}${loc}`,
      ],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const w = curl.stdin.getWriter();
    await w.write(big.subarray(0, big.byteLength >> 1)).catch(() => {});
    await new Promise((res) => setTimeout(res, 800));
    reg.child.kill("SIGKILL");
    await reg.stop();
    curl.kill("SIGKILL");
    await curl.status;
    await w.abort().catch(() => {});

    reg = await startRegistry(data, ["--upload-ttl", "1s", "--gc-interval", "300ms"]);
    r = await fetch(`${reg.url}/v2/crash/app/blobs/${sha256(big)}`, { method: "HEAD" });
    assert.equal(r.status, 404);
    r = await fetch(`${reg.url}/v2/crash/app/blobs/${sha256(kept)}`);
    assert.equal(await r.text(), "survives a crash");
    const deadline = Date.now() + 10_000;
    let left = ["?"];
    while (Date.now() < deadline && left.length > 0) {
      await new Promise((res) => setTimeout(res, 250));
      left = [];
      for await (const e of Deno.readDir(join(data, "uploads"))) left.push(e.name);
    }
    assert.deepEqual(left, [], "the interrupted upload expired after the restart");
  } finally {
    await reg.stop();
    await Deno.remove(tmp, { recursive: true });
  }
});
