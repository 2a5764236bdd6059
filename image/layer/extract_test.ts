import assert from "node:assert/strict";
import { join } from "node:path";
import { extractLayer, UnsafeEntryError } from "./extract.ts";
import { createLayer, writeLayerTar } from "./create.ts";
import { readTar, type TarHeaderInput, TarWriter } from "./tar.ts";
import { ContentStore } from "../store/content_store.ts";
import { DigestMismatchError } from "../errors.ts";
import { lgetxattr, lsetxattr, makedev, mknod, S_IFCHR } from "./_libc.ts";

type Entry = [TarHeaderInput, string?];

function hostile(entries: Entry[]): ReadableStream<Uint8Array> {
  const w = new TarWriter();
  (async () => {
    for (const [h, body] of entries) {
      await w.add(h, body === undefined ? undefined : new TextEncoder().encode(body));
    }
    await w.close();
  })().catch(() => {}); // the extractor cancels the stream when it refuses an entry
  return w.readable;
}

async function sandbox(fn: (root: string, outside: string) => Promise<void>) {
  const base = await Deno.makeTempDir({ prefix: "tsk-x-" });
  const root = join(base, "root"), outside = join(base, "outside");
  await Deno.mkdir(root);
  await Deno.mkdir(outside);
  await Deno.writeTextFile(join(outside, "secret"), "untouched");
  try {
    await fn(root, outside);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

async function listOutside(outside: string): Promise<string[]> {
  const out = [];
  for await (const e of Deno.readDir(outside)) out.push(e.name);
  return out.sort();
}

Deno.test("extractLayer() refuses '..' entries and writes nothing outside", async () => {
  await sandbox(async (root, outside) => {
    await assert.rejects(
      extractLayer(hostile([[{ name: "../outside/evil", type: "file" }, "x"]]), root),
      (e: unknown) => e instanceof UnsafeEntryError && /escapes the root/.test(e.message),
    );
    await assert.rejects(
      extractLayer(hostile([[{ name: "a/../../outside/evil", type: "file" }, "x"]]), root),
      UnsafeEntryError,
    );
    assert.deepEqual(await listOutside(outside), ["secret"]);
  });
});

Deno.test("extractLayer() contains absolute names inside the root", async () => {
  await sandbox(async (root, outside) => {
    await extractLayer(hostile([[{ name: `${outside}/evil`, type: "file" }, "x"]]), root);
    assert.deepEqual(await listOutside(outside), ["secret"]);
    assert.equal(await Deno.readTextFile(join(root, outside, "evil")), "x");
  });
});

Deno.test("extractLayer() refuses writing through a symlink planted by an earlier entry", async () => {
  await sandbox(async (root, outside) => {
    for (const target of [outside, "../outside", "../../../../../../" + outside]) {
      await assert.rejects(
        extractLayer(
          hostile([
            [{ name: "link", type: "symlink", linkname: target }],
            [{ name: "link/evil", type: "file" }, "pwned"],
          ]),
          root,
        ),
        (e: unknown) => e instanceof UnsafeEntryError && /symlink/.test(e.message),
      );
      await Deno.remove(join(root, "link"));
    }
    // A file entry over an existing symlink replaces the link, not its target.
    await extractLayer(
      hostile([
        [{ name: "s", type: "symlink", linkname: join(outside, "secret") }],
        [{ name: "s", type: "file" }, "replaced"],
      ]),
      root,
    );
    assert.equal(await Deno.readTextFile(join(outside, "secret")), "untouched");
    assert.equal(await Deno.readTextFile(join(root, "s")), "replaced");
    // A whiteout through a symlinked directory is refused too.
    await assert.rejects(
      extractLayer(
        hostile([
          [{ name: "d", type: "symlink", linkname: outside }],
          [{ name: "d/.wh.secret", type: "file" }, ""],
        ]),
        root,
      ),
      UnsafeEntryError,
    );
    assert.deepEqual(await listOutside(outside), ["secret"]);
  });
});

Deno.test("extractLayer() refuses hard links that escape the root", async () => {
  await sandbox(async (root, outside) => {
    await assert.rejects(
      extractLayer(
        hostile([[{ name: "h", type: "hardlink", linkname: "../outside/secret" }]]),
        root,
      ),
      UnsafeEntryError,
    );
    await assert.rejects(
      extractLayer(
        hostile([
          [{ name: "s", type: "symlink", linkname: outside }],
          [{ name: "h", type: "hardlink", linkname: "s/secret" }],
        ]),
        root,
      ),
      (e: unknown) => e instanceof UnsafeEntryError && /symlink/.test(e.message),
    );
    // Absolute targets are contained: /outside/secret inside the root does not exist.
    await assert.rejects(
      extractLayer(
        hostile([[{ name: "h2", type: "hardlink", linkname: join(outside, "secret") }]]),
        root,
      ),
      /does not exist/,
    );
    // A hard link to an in-root symlink links the symlink itself.
    await extractLayer(
      hostile([
        [{ name: "t", type: "symlink", linkname: join(outside, "secret") }],
        [{ name: "h3", type: "hardlink", linkname: "t" }],
        [{ name: "h3", type: "file" }, "overwrite"],
      ]),
      root,
    );
    assert.equal(await Deno.readTextFile(join(outside, "secret")), "untouched");
    assert.equal((await Deno.stat(join(outside, "secret"))).nlink, 1);
  });
});

Deno.test("extractLayer() skips device nodes when devices are not allowed", async () => {
  await sandbox(async (root) => {
    const warnings: string[] = [];
    const r = await extractLayer(
      hostile([
        [{ name: "dev/", type: "directory" }],
        [{ name: "dev/sda", type: "block", devmajor: 8, devminor: 0 }],
        [{ name: "dev/mem", type: "char", devmajor: 1, devminor: 1 }],
      ]),
      root,
      { allowDevices: false, onWarning: (w) => warnings.push(w) },
    );
    assert.equal(r.warnings.length, 2);
    assert.equal(warnings.length, 2);
    await assert.rejects(Deno.lstat(join(root, "dev/sda")), Deno.errors.NotFound);
    await assert.rejects(Deno.lstat(join(root, "dev/mem")), Deno.errors.NotFound);
  });
});

Deno.test("extractLayer() applies whiteouts and opaque directories", async () => {
  await sandbox(async (root) => {
    await extractLayer(
      hostile([
        [{ name: "keep", type: "file" }, "k"],
        [{ name: "gone", type: "file" }, "g"],
        [{ name: "opq/", type: "directory" }],
        [{ name: "opq/old", type: "file" }, "o"],
      ]),
      root,
    );
    await extractLayer(
      hostile([
        [{ name: ".wh.gone", type: "file" }, ""],
        [{ name: "opq/", type: "directory" }],
        [{ name: "opq/new", type: "file" }, "n"],
        [{ name: "opq/.wh..wh..opq", type: "file" }, ""],
      ]),
      root,
    );
    const names = [];
    for await (const e of Deno.readDir(root)) names.push(e.name);
    assert.deepEqual(names.sort(), ["keep", "opq"]);
    const opq = [];
    for await (const e of Deno.readDir(join(root, "opq"))) opq.push(e.name);
    assert.deepEqual(opq, ["new"]);
  });
});

Deno.test("extractLayer() in overlay mode writes overlayfs whiteouts", async () => {
  if (Deno.uid() !== 0) return; // mknod of a whiteout needs root; the suite runs as root
  await sandbox(async (root) => {
    await extractLayer(
      hostile([
        [{ name: ".wh.gone", type: "file" }, ""],
        [{ name: "opq/", type: "directory" }],
        [{ name: "opq/.wh..wh..opq", type: "file" }, ""],
      ]),
      root,
      { whiteouts: "overlay" },
    );
    const st = await Deno.lstat(join(root, "gone"));
    assert.equal((st.mode ?? 0) & 0o170000, 0o020000);
    assert.equal(st.rdev, 0);
    assert.equal(lgetxattr(join(root, "opq"), "trusted.overlay.opaque"), "y");
  });
});

Deno.test("createLayer() from an overlay upper dir round-trips through extractLayer()", async () => {
  if (Deno.uid() !== 0) return; // whiteout devices and trusted xattrs need root
  await sandbox(async (upper) => {
    await Deno.mkdir(join(upper, "etc/opq"), { recursive: true });
    await Deno.writeTextFile(join(upper, "etc/hosts"), "127.0.0.1 localhost\n");
    await Deno.symlink("hosts", join(upper, "etc/hosts.link"));
    await Deno.link(join(upper, "etc/hosts"), join(upper, "etc/hosts.hard"));
    await Deno.chmod(join(upper, "etc/hosts"), 0o4755);
    mknod(join(upper, "etc/deleted"), S_IFCHR, makedev(0, 0));
    lsetxattr(join(upper, "etc/opq"), "trusted.overlay.opaque", "y");
    const names = [];
    for await (const e of readTar(writeLayerTar(upper, { overlay: true, mtime: 0 }))) {
      names.push(`${e.type}:${e.name}`);
    }
    assert.deepEqual(names, [
      "directory:etc/",
      "file:etc/.wh.deleted",
      "file:etc/hosts",
      "hardlink:etc/hosts.hard",
      "symlink:etc/hosts.link",
      "directory:etc/opq/",
      "file:etc/opq/.wh..wh..opq",
    ]);
    const storeDir = await Deno.makeTempDir();
    try {
      const store = new ContentStore(storeDir);
      const a = await createLayer(upper, store, { overlay: true, mtime: 0 });
      const b = await createLayer(upper, store, { overlay: true, mtime: 0 });
      assert.deepEqual(a, b, "layers are reproducible");
      const dest = join(storeDir, "out");
      const r = await extractLayer(await store.open(a.descriptor.digest), dest, {
        diffId: a.diffId,
      });
      assert.equal(r.diffId, a.diffId);
      assert.equal(await Deno.readTextFile(join(dest, "etc/hosts.hard")), "127.0.0.1 localhost\n");
      assert.equal(await Deno.readLink(join(dest, "etc/hosts.link")), "hosts");
      assert.equal((await Deno.stat(join(dest, "etc/hosts"))).mode! & 0o7777, 0o4755);
      assert.equal((await Deno.stat(join(dest, "etc/hosts"))).nlink, 2);
      await assert.rejects(
        extractLayer(await store.open(a.descriptor.digest), join(storeDir, "o2"), {
          diffId: "sha256:" + "0".repeat(64),
        }),
        DigestMismatchError,
      );
      // GNU tar reads our layers too.
      const gz = await store.get(a.descriptor.digest);
      await Deno.writeFile(join(storeDir, "l.tgz"), gz);
      const t = await new Deno.Command("tar", { args: ["-tzf", join(storeDir, "l.tgz")] }).output();
      assert.ok(t.success);
    } finally {
      await Deno.remove(storeDir, { recursive: true });
    }
  });
});
