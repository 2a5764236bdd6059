import assert from "node:assert/strict";
import { MOUNT_OPTION_NAMES, parseMountOptions, prepareRootfs, secureJoin } from "./rootfs.ts";
import { MOUNT_ATTR, MS } from "./syscalls.ts";
import { ConfigError } from "./errors.ts";
import { recordingSyscalls } from "./testing.ts";
import type { Mount, Spec } from "./spec/config.ts";

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

Deno.test("parseMountOptions() reads the recursive options; the last word on an attribute wins", () => {
  assert.deepEqual(parseMountOptions(["rbind", "rro", "rnosuid"]).recursive, {
    set: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID,
    clear: 0,
  });
  assert.deepEqual(parseMountOptions(["rro", "rrw"]).recursive, {
    set: 0,
    clear: MOUNT_ATTR.RDONLY,
  });
  assert.deepEqual(parseMountOptions(["rnoatime", "rstrictatime"]).recursive, {
    set: MOUNT_ATTR.STRICTATIME,
    clear: MOUNT_ATTR.ATIME,
  });
  assert.equal(parseMountOptions(["rbind", "ro"]).recursive, null);
  assert.ok(MOUNT_OPTION_NAMES.includes("rro"));
});

Deno.test("prepareRootfs() flags the cgroup tree and an rro bind with one mount_setattr each; without it the cgroup binds are remounted and rro is refused", async () => {
  const root = await Deno.makeTempDir();
  const src = await Deno.makeTempDir();
  try {
    const spec = {
      ociVersion: "1.2.0",
      root: { path: root },
      process: { args: ["true"], cwd: "/", user: { uid: 0, gid: 0 } },
      mounts: [
        {
          destination: "/sys/fs/cgroup",
          type: "cgroup",
          source: "cgroup",
          options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
        { destination: "/data", type: "bind", source: src, options: ["rbind", "rro"] },
      ],
    } as unknown as Spec;
    const cgroupMounts: Mount[] = ["cpu", "memory"].map((c) => ({
      destination: c,
      type: "cgroup",
      source: `/sys/fs/cgroup/${c}/tsk-test`,
      options: [c],
    }));
    const sys = recordingSyscalls();
    prepareRootfs(sys, { spec, overlay: null, cgroupMounts });
    const attrs = sys.calls.filter((c) => c.name === "mountSetattr").map((c) => c.args);
    assert.deepEqual(attrs, [
      [
        `${root}/sys/fs/cgroup`,
        {
          set: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC,
          clear: MOUNT_ATTR.ATIME,
        },
        true,
      ],
      [`${root}/data`, { set: MOUNT_ATTR.RDONLY, clear: 0 }, true],
    ]);
    assert.equal(sys.calls.filter((c) => c.name === "mountFlags").length, 0);

    // A kernel before 5.12: ENOSYS, asked once.
    const old = recordingSyscalls({ fail: { mountSetattr: 38 } });
    assert.throws(
      () => prepareRootfs(old, { spec, overlay: null, cgroupMounts }),
      (e) => e instanceof ConfigError && e.field === "mounts[/data].options",
    );
    assert.equal(old.calls.filter((c) => c.name === "mountSetattr").length, 1);
    const remounts = old.calls.filter((c) =>
      c.name === "mount" && ((c.args[3] as number) & MS.REMOUNT) !== 0
    );
    assert.deepEqual(remounts.map((c) => c.args[1]), [
      `${root}/sys/fs/cgroup/cpu`,
      `${root}/sys/fs/cgroup/memory`,
      `${root}/sys/fs/cgroup`,
    ]);
    for (const r of remounts) assert.ok((r.args[3] as number) & MS.RDONLY);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(src, { recursive: true });
  }
});
