import assert from "node:assert/strict";
import { readOnlySegments, releasableMappings } from "./_memory.ts";

/** A 64-bit little-endian ELF image with the given program headers (and dynamic section). */
function elf(
  headers: { type: number; flags: number; offset: number; filesz: number }[],
  dynamic: [bigint, bigint][] = [],
): Uint8Array {
  const phoff = 64;
  const dynOff = phoff + 56 * headers.length;
  const buf = new Uint8Array(dynOff + 16 * dynamic.length);
  const v = new DataView(buf.buffer);
  buf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setBigUint64(0x20, BigInt(phoff), true);
  v.setUint16(0x36, 56, true);
  v.setUint16(0x38, headers.length, true);
  headers.forEach((h, i) => {
    const at = phoff + 56 * i;
    v.setUint32(at, h.type, true);
    v.setUint32(at + 4, h.flags, true);
    // A PT_DYNAMIC header points at the dynamic entries written below.
    const offset = h.type === 2 ? dynOff : h.offset;
    const filesz = h.type === 2 ? 16 * dynamic.length : h.filesz;
    v.setBigUint64(at + 8, BigInt(offset), true);
    v.setBigUint64(at + 32, BigInt(filesz), true);
  });
  dynamic.forEach(([tag, val], i) => {
    v.setBigInt64(dynOff + 16 * i, tag, true);
    v.setBigUint64(dynOff + 16 * i + 8, val, true);
  });
  return buf;
}

const reader = (image: Uint8Array) => (offset: number, length: number) =>
  image.subarray(offset, offset + length);

const R = 4, W = 2, X = 1;

Deno.test("readOnlySegments keeps the PT_LOAD segments the loader never writes", () => {
  const image = elf([
    { type: 6, flags: R, offset: 64, filesz: 56 * 5 }, // PT_PHDR
    { type: 1, flags: R, offset: 0, filesz: 0x1b8dec6 },
    { type: 1, flags: R | X, offset: 0x1b8e000, filesz: 0x3cf3b70 },
    { type: 1, flags: R | W, offset: 0x5881b70, filesz: 0x270cf8 }, // RELRO lives here
    { type: 2, flags: R | W, offset: 0, filesz: 0 },
  ], [[30n, 8n /* DF_BIND_NOW */], [0n, 0n]]);
  assert.deepEqual(readOnlySegments(reader(image)), [
    { start: 0, end: 0x1b8dec6 },
    { start: 0x1b8e000, end: 0x1b8e000 + 0x3cf3b70 },
  ]);
});

Deno.test("readOnlySegments gives nothing for text relocations or a file that is not ELF64", () => {
  const loads = [
    { type: 1, flags: R | X, offset: 0, filesz: 0x1000 },
    { type: 2, flags: R | W, offset: 0, filesz: 0 },
  ];
  assert.deepEqual(readOnlySegments(reader(elf(loads, [[22n, 0n], [0n, 0n]]))), []);
  assert.deepEqual(readOnlySegments(reader(elf(loads, [[30n, 4n], [0n, 0n]]))), []);
  assert.deepEqual(readOnlySegments(reader(new TextEncoder().encode("#!/bin/sh\necho hi\n"))), []);
  const elf32 = elf(loads);
  elf32[4] = 1; // ELFCLASS32
  assert.deepEqual(readOnlySegments(reader(elf32)), []);
});

Deno.test("readOnlySegments reads the running Deno binary", () => {
  const f = Deno.openSync(Deno.execPath());
  try {
    const ranges = readOnlySegments((offset, length) => {
      const buf = new Uint8Array(length);
      f.seekSync(offset, Deno.SeekMode.Start);
      return buf.subarray(0, f.readSync(buf) ?? 0);
    });
    assert.ok(ranges.length >= 1, "Deno's binary has read-only segments");
  } finally {
    f.close();
  }
});

Deno.test("releasableMappings takes only unwritable mappings of the file inside a segment", () => {
  const file = { path: "/usr/bin/deno x", ino: 42 };
  const segments = [{ start: 0, end: 0x2800 }, { start: 0x3100, end: 0x5000 }];
  const maps = [
    "1000-3000 r--p 00000000 fd:01 42 /usr/bin/deno x", // inside the first
    "3000-5000 r-xp 00003000 fd:01 42 /usr/bin/deno x", // inside the second (page-aligned)
    "5000-6000 r--p 00005000 fd:01 42 /usr/bin/deno x", // past every segment
    "6000-7000 rw-p 00003000 fd:01 42 /usr/bin/deno x", // writable
    "7000-8000 r--p 00000000 fd:01 43 /usr/bin/deno x", // another inode
    "8000-9000 r--p 00000000 fd:01 42 /usr/bin/deno", // another path
    "9000-c000 r--p 00001000 fd:01 42 /usr/bin/deno x", // spans the gap between segments
    "c000-d000 rw-p 00000000 00:00 0 ",
    "",
  ].join("\n");
  assert.deepEqual(releasableMappings(maps, file, segments), [
    { start: 0x1000n, end: 0x3000n },
    { start: 0x3000n, end: 0x5000n },
  ]);
});

Deno.test("releaseExecutablePages unmaps Deno's read-only pages and Deno runs on", async () => {
  // In a fresh process: the test runner's own pages are not this test's.
  const script = `
    import { releaseExecutablePages } from ${
    JSON.stringify(new URL("./_memory.ts", import.meta.url).href)
  };
    const file = () => Number(/RssFile:\\s+(\\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))[1]);
    const before = file();
    const released = releaseExecutablePages();
    const after = file();
    // Work that needs code and data from the binary again (V8, ops, FFI).
    const sum = Array.from({ length: 10000 }, (_, i) => i).reduce((a, b) => a + b, 0);
    const text = JSON.stringify({ before, after, released, sum, pid: Deno.pid });
    await Deno.writeTextFile("/dev/stdout", text);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-config", "--no-lock", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const w = out.stdin.getWriter();
  await w.write(new TextEncoder().encode(script));
  await w.close();
  const r = await out.output();
  assert.ok(r.success, "the process ran on after releasing its pages");
  const got = JSON.parse(new TextDecoder().decode(r.stdout));
  assert.deepEqual(got.sum, 49995000);
  assert.ok(got.released > 0, "some address space was released");
  assert.ok(
    got.after < got.before / 2,
    `file-backed resident memory fell from ${got.before} kB to ${got.after} kB`,
  );
});
