import assert from "node:assert/strict";
import { posix } from "node:path";
import { basename, dirname, join, normalize, relative, resolve } from "./_path.ts";

Deno.test("_path helpers agree with node:path on the cases the runtime uses", () => {
  for (const p of ["/a/b/../c", "/../x", "a/./b//c", "/", "/a/b/", "../a", ".", ""]) {
    assert.equal(
      normalize(p),
      posix.normalize(p) === "" ? "." : posix.normalize(p).replace(/(.)\/$/, "$1"),
      p,
    );
  }
  assert.equal(join("/root", "dev", "../etc"), posix.join("/root", "dev", "../etc"));
  assert.equal(dirname("/a/b/c"), "/a/b");
  assert.equal(dirname("/a"), "/");
  assert.equal(basename("/a/b/c"), "c");
  assert.equal(resolve("/b", "rootfs"), "/b/rootfs");
  assert.equal(resolve("/b", "/abs/root"), "/abs/root");
  assert.equal(resolve("rel"), posix.resolve("rel"));
  assert.equal(relative("/sys/fs/cgroup", "/sys/fs/cgroup/cpu"), "cpu");
  assert.equal(relative("/sys/fs/cgroup", "/sys/fs/cgroup"), "");
});
