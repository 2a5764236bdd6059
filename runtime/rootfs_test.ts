import assert from "node:assert/strict";
import { parseMountOptions, secureJoin } from "./rootfs.ts";
import { MS } from "./syscalls.ts";

Deno.test("parseMountOptions() splits flags, propagation and data like runc", () => {
  const m = parseMountOptions(["nosuid", "noexec", "rbind", "ro", "rslave", "mode=755", "rw"]);
  assert.equal(m.flags, MS.NOSUID | MS.NOEXEC | MS.BIND | MS.REC);
  assert.deepEqual(m.propagation, [MS.SLAVE | MS.REC]);
  assert.deepEqual(m.data, ["mode=755"]);
  assert.equal(m.bind, true);
});

Deno.test("secureJoin() keeps symlinks inside the root", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/etc`);
    await Deno.symlink("/../../../../etc", `${root}/escape`);
    await Deno.symlink("../../..", `${root}/etc/up`);
    assert.equal(secureJoin(root, "/escape/passwd"), `${root}/etc/passwd`);
    assert.equal(secureJoin(root, "/etc/up/x"), `${root}/x`);
    assert.equal(secureJoin(root, "/../../x"), `${root}/x`);
    await Deno.symlink("loop", `${root}/loop`);
    assert.throws(() => secureJoin(root, "/loop"), /ELOOP/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
