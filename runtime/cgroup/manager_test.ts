import assert from "node:assert/strict";
import { fakeTreeFs, writeTree } from "./_testing.ts";
import { CgroupError } from "./errors.ts";
import { createCgroupManager, detectCgroups, parseSubCgroup } from "./manager.ts";

async function tree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "tsk-cgdetect-" });
  await writeTree(root, files);
  return root;
}

Deno.test("detectCgroups() finds a pure v2 hierarchy", async () => {
  const root = await tree({ "cgroup.controllers": "cpu memory pids\n" });
  try {
    assert.deepEqual(await detectCgroups({ root }), {
      version: 2,
      root,
      controllers: ["cpu", "memory", "pids"],
    });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("detectCgroups() picks v1 on a hybrid host whose unified hierarchy has no controllers", async () => {
  const root = await tree({
    "memory/cgroup.procs": "",
    "pids/cgroup.procs": "",
    "cpu,cpuacct/cgroup.procs": "",
    "systemd/cgroup.procs": "",
    "unified/cgroup.controllers": "hugetlb\n",
  });
  try {
    const layout = await detectCgroups({ root });
    assert.equal(layout.version, 1);
    assert.deepEqual(layout.controllers, {
      cpu: `${root}/cpu,cpuacct`,
      cpuacct: `${root}/cpu,cpuacct`,
      memory: `${root}/memory`,
      pids: `${root}/pids`,
      "name=systemd": `${root}/systemd`,
    });
    await assert.rejects(
      () => createCgroupManager("/x", { root, version: 2 }),
      /^CgroupError: Cannot use cgroup v2: no cgroup.controllers at .* and .*\/unified lacks the memory and pids controllers$/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("detectCgroups() uses the unified hierarchy of a hybrid host when it has the controllers", async () => {
  const root = await tree({
    "freezer/cgroup.procs": "",
    "unified/cgroup.controllers": "cpu memory pids\n",
  });
  try {
    const layout = await detectCgroups({ root });
    assert.equal(layout.version, 2);
    assert.equal(layout.root, `${root}/unified`);
    assert.equal((await detectCgroups({ root, version: 1 })).version, 1);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("createCgroupManager() fails with a clear message when nothing fits", async () => {
  const root = await tree({ "unrelated/file": "" });
  try {
    await assert.rejects(
      () => createCgroupManager("/tsk/x", { root, fs: fakeTreeFs }),
      (e: unknown) =>
        e instanceof CgroupError &&
        e.message.startsWith(`Cannot manage cgroups: ${root} has neither a cgroup v2 hierarchy`),
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("createCgroupManager() rejects a path that escapes the hierarchy", async () => {
  const root = await tree({ "cgroup.controllers": "pids\n" });
  try {
    for (const bad of ["", "/", "/tsk/../../etc", "a/./b"]) {
      await assert.rejects(
        () => createCgroupManager(bad, { root }),
        /^CgroupError: linux.cgroupsPath: expected/,
        bad,
      );
    }
    assert.equal((await createCgroupManager("tsk//x/", { root })).path, "/tsk/x");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("detectCgroups() on this host agrees with /proc/self/mountinfo", async () => {
  const mounts = await Deno.readTextFile("/proc/self/mountinfo");
  const layout = await detectCgroups();
  const pureV2 = / \/sys\/fs\/cgroup .* - cgroup2 /.test(mounts);
  assert.equal(layout.version, pureV2 ? 2 : / - cgroup cgroup /.test(mounts) ? 1 : 2);
});

Deno.test("parseSubCgroup: runc's [controller,...:]path, refusing escapes and repeats", () => {
  assert.deepEqual(parseSubCgroup(["cpu,cpuacct:batch", "/tasks/"], "--cgroup"), {
    cpu: "batch",
    cpuacct: "batch",
    "": "tasks",
  });
  for (const bad of [["../x"], ["a/../../b"], [""], ["memory:"], [":x"]]) {
    assert.throws(() => parseSubCgroup(bad, "--cgroup"), CgroupError, JSON.stringify(bad));
  }
  assert.throws(
    () => parseSubCgroup(["memory:a", "memory:b"], "--cgroup"),
    /--cgroup: memory given twice/,
  );
});
