import assert from "node:assert/strict";
import { readTar, TarError, TarWriter } from "./tar.ts";

async function archive(fn: (w: TarWriter) => Promise<void>): Promise<Uint8Array> {
  const w = new TarWriter();
  const out = new Response(w.readable).arrayBuffer();
  await fn(w);
  await w.close();
  return new Uint8Array(await out);
}

async function entries(bytes: Uint8Array) {
  const out = [];
  for await (const e of readTar([bytes])) {
    const chunks = [];
    for await (const c of e.body) chunks.push(c);
    const { body: _b, ...h } = e;
    out.push({
      ...h,
      content: new TextDecoder().decode(await new Blob(chunks as BlobPart[]).arrayBuffer()),
    });
  }
  return out;
}

Deno.test("TarWriter output is read by GNU tar, with long names and xattrs", async () => {
  const long = "d/" + "x".repeat(150) + "/file-é.txt";
  const bytes = await archive(async (w) => {
    await w.add({ name: "d/", type: "directory", mode: 0o755 });
    await w.add(
      { name: long, type: "file", mode: 0o640, uid: 3000000, mtime: 1700000000 },
      new TextEncoder().encode("hello"),
    );
    await w.add({ name: "d/link", type: "symlink", linkname: "/" + "t".repeat(120) });
    await w.add(
      { name: "d/cap", type: "file", xattrs: { "security.capability": "\x01\x00\xff" } },
      new Uint8Array(),
    );
  });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/a.tar`, bytes);
    const out = await new Deno.Command("tar", { args: ["-tvf", `${dir}/a.tar`] }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const listing = new TextDecoder().decode(out.stdout);
    assert.ok(listing.includes(long), listing);
    assert.ok(listing.includes("3000000/0"), listing);
    // And our reader reads what GNU tar writes.
    await Deno.mkdir(`${dir}/src/sub`, { recursive: true });
    await Deno.writeTextFile(`${dir}/src/sub/${"y".repeat(120)}`, "gnu");
    const gnu = await new Deno.Command("tar", {
      args: ["--format=gnu", "-cf", `${dir}/g.tar`, "-C", `${dir}/src`, "."],
    }).output();
    assert.ok(gnu.success);
    const got = await entries(await Deno.readFile(`${dir}/g.tar`));
    const f = got.find((e) => e.name.endsWith("y".repeat(120)));
    assert.equal(f?.content, "gnu");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const got = await entries(bytes);
  assert.equal(got.length, 4);
  assert.equal(got[1].name, long);
  assert.equal(got[1].uid, 3000000);
  assert.equal(got[1].mode, 0o640);
  assert.equal(got[1].content, "hello");
  assert.equal(got[2].linkname, "/" + "t".repeat(120));
  assert.deepEqual(got[3].xattrs, { "security.capability": "\x01\x00\xff" });
});

Deno.test("readTar() skips unread bodies and streams large files in chunks", async () => {
  const big = new Uint8Array(1_000_003).fill(7);
  const bytes = await archive(async (w) => {
    await w.add({ name: "big", type: "file" }, big);
    await w.add({ name: "small", type: "file" }, new TextEncoder().encode("s"));
  });
  const names = [];
  for await (const e of readTar(new Blob([bytes as BlobPart]).stream())) names.push(e.name);
  assert.deepEqual(names, ["big", "small"]);
});

Deno.test("readTar() rejects truncated archives and bad checksums", async () => {
  const bytes = await archive(async (w) => {
    await w.add({ name: "f", type: "file" }, new Uint8Array(2000));
  });
  await assert.rejects(entries(bytes.subarray(0, 1000)), TarError);
  const bad = bytes.slice();
  bad[0] ^= 1;
  await assert.rejects(entries(bad), /bad header checksum/);
});

Deno.test("TarWriter is deterministic and checks body length", async () => {
  const make = () =>
    archive(async (w) => {
      await w.add({ name: "a", type: "file", mtime: 0 }, new TextEncoder().encode("x"));
    });
  assert.deepEqual(await make(), await make());
  const w = new TarWriter();
  const drained = new Response(w.readable).arrayBuffer().catch(() => {});
  await assert.rejects(
    w.add(
      { name: "a", type: "file", size: 5 },
      (async function* () {
        yield new Uint8Array(3);
      })(),
    ),
    /body has 3 bytes, size says 5/,
  );
  await w.abort("test").catch(() => {});
  await drained;
});
