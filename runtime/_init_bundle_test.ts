import assert from "node:assert/strict";
import { initEntry, sourceKey } from "./_init_bundle.ts";

Deno.test("sourceKey() changes with a source file and ignores tests", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-init-key-" });
  try {
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(`${dir}/a.ts`, "export const a = 1;\n");
    await Deno.writeTextFile(`${dir}/sub/b.ts`, "export const b = 1;\n");
    const k1 = sourceKey(dir);
    assert.match(k1, /^[0-9a-f]{16}$/);
    assert.equal(sourceKey(dir), k1);
    await Deno.writeTextFile(`${dir}/a_test.ts`, "// a test\n");
    assert.equal(sourceKey(dir), k1, "test files are not part of the init");
    await Deno.writeTextFile(`${dir}/sub/b.ts`, "export const b = 22;\n");
    assert.notEqual(sourceKey(dir), k1, "an edited file in a subdirectory changes the key");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("initEntry() bundles init.ts once into the private directory, and the bundle runs as the init", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-init-bundle-" });
  try {
    const url = new URL("./init.ts", import.meta.url);
    const entry = initEntry(url, `${dir}/exe`);
    assert.match(entry, new RegExp(`^${dir}/exe/init-[0-9a-f]{16}\\.js$`));
    assert.equal(initEntry(url, `${dir}/exe`), entry, "built once, then reused");
    assert.equal((await Deno.stat(`${dir}/exe`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(entry)).mode! & 0o777, 0o400);
    // Run as the init with an empty configuration (fd 3 is /dev/null): it
    // reads end of file and exits 127, as init.ts run as the main module does.
    const r = await new Deno.Command("sh", {
      args: ["-c", 'exec "$0" run -A --no-config "$1" 3</dev/null', Deno.execPath(), entry],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 127, new TextDecoder().decode(r.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("initEntry() falls back to init.ts when it cannot write its directory", () => {
  const url = new URL("./init.ts", import.meta.url);
  // A directory under a regular file cannot be created.
  const file = Deno.makeTempFileSync({ prefix: "tsk-init-nodir-" });
  try {
    assert.equal(initEntry(url, `${file}/exe`), url.pathname);
  } finally {
    Deno.removeSync(file);
  }
});

Deno.test("initEntry() passes a remote init module through", () => {
  const url = new URL("https://example.invalid/runtime/init.ts");
  assert.equal(initEntry(url, "/nonexistent"), url.href);
});
