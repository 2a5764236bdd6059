import assert from "node:assert/strict";
import { bundleEntry, initEntry } from "./_init_bundle.ts";

Deno.test("bundleEntry() builds once, reuses the bundle, and rebuilds when a module of the graph changes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-init-bundle-graph-" });
  try {
    await Deno.mkdir(`${dir}/src/sub`, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/src/main.ts`,
      'import { b } from "./sub/b.ts";\nconsole.log(b);\n',
    );
    await Deno.writeTextFile(`${dir}/src/sub/b.ts`, "export const b: number = 1;\n");
    await Deno.writeTextFile(`${dir}/src/unrelated.ts`, "export const u = 1;\n");
    const source = `${dir}/src/main.ts`;
    const first = bundleEntry(source, `${dir}/exe`);
    assert.match(first, new RegExp(`^${dir}/exe/init-[0-9a-f]{16}\\.js$`));
    assert.equal(bundleEntry(source, `${dir}/exe`), first, "reused while nothing changed");
    await Deno.writeTextFile(`${dir}/src/unrelated.ts`, "export const u = 22;\n");
    assert.equal(
      bundleEntry(source, `${dir}/exe`),
      first,
      "a file outside the graph does not count",
    );
    await Deno.writeTextFile(`${dir}/src/sub/b.ts`, "export const b: number = 22;\n");
    const second = bundleEntry(source, `${dir}/exe`);
    assert.notEqual(second, first, "an edited module of the graph rebuilds the bundle");
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", second],
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(r.stdout), "22\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("initEntry() bundles init.ts into the private directory, and the bundle runs as the init", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-init-bundle-" });
  try {
    const url = new URL("./init.ts", import.meta.url);
    const entry = initEntry(url, `${dir}/exe`);
    assert.match(entry, new RegExp(`^${dir}/exe/init-[0-9a-f]{16}\\.js$`));
    assert.equal(initEntry(url, `${dir}/exe`), entry);
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

Deno.test("bundleEntry() falls back to the module when it cannot write its directory", () => {
  const source = new URL("./init.ts", import.meta.url).pathname;
  // A directory under a regular file cannot be created.
  const file = Deno.makeTempFileSync({ prefix: "tsk-init-nodir-" });
  try {
    assert.equal(bundleEntry(source, `${file}/exe`), source);
  } finally {
    Deno.removeSync(file);
  }
});

Deno.test("bundleEntry() does not run code from a directory others can write to", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-init-bundle-perm-" });
  try {
    await Deno.mkdir(`${dir}/exe`, { mode: 0o700 });
    await Deno.chmod(`${dir}/exe`, 0o777);
    const source = new URL("./init.ts", import.meta.url).pathname;
    assert.equal(bundleEntry(source, `${dir}/exe`), source);
    assert.deepEqual([...Deno.readDirSync(`${dir}/exe`)], [], "nothing was written there");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("initEntry() passes a remote init module through", () => {
  const url = new URL("https://example.invalid/runtime/init.ts");
  assert.equal(initEntry(url, "/nonexistent"), url.href);
});
