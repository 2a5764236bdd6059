import assert from "node:assert/strict";
import { fakeTreeFs, ignoreReal, spawnWaiting, uniquePath, writeTree } from "./_testing.ts";
import { CgroupError } from "./errors.ts";
import { denoCgroupFs } from "./host.ts";
import { createCgroupManager, parseSubCgroup } from "./manager.ts";
import { CgroupV2Manager, hugepageSizeName } from "./v2.ts";

/** A fake pure-v2 root offering the usual controllers. */
async function fakeV2(controllers = "cpuset cpu io memory hugetlb pids rdma"): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "tsk-cg2-" });
  await writeTree(root, {
    "cgroup.controllers": `${controllers}\n`,
    "cgroup.subtree_control": "\n",
    "cgroup.procs": "",
  });
  return root;
}

/** What the kernel puts in a new v2 cgroup with every controller enabled. */
async function populate(dir: string, extra: Record<string, string> = {}): Promise<void> {
  await writeTree(dir, {
    "cgroup.controllers": "cpuset cpu io memory pids\n",
    "cgroup.subtree_control": "\n",
    "cgroup.procs": "",
    "cgroup.freeze": "0\n",
    "cgroup.events": "populated 0\nfrozen 0\n",
    "cpu.weight": "100\n",
    "cpu.max": "max 100000\n",
    "cpu.max.burst": "0\n",
    "cpu.stat":
      "usage_usec 900\nuser_usec 600\nsystem_usec 300\nnr_periods 7\nnr_throttled 2\nthrottled_usec 55\n",
    "cpuset.cpus": "",
    "cpuset.mems": "",
    "memory.max": "max\n",
    "memory.low": "0\n",
    "memory.swap.max": "max\n",
    "memory.current": "4096\n",
    "memory.peak": "8192\n",
    "memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n",
    "memory.high": "max\n",
    "pids.max": "max\n",
    "pids.current": "1\n",
    "io.weight": "default 100\n",
    "io.max": "",
    "io.stat":
      "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=0 rios=1 wios=0\n",
    ...extra,
  });
}

Deno.test("createCgroupManager() picks v2 on a pure v2 tree and create() enables controllers down the path", async () => {
  const root = await fakeV2();
  try {
    const cg = await createCgroupManager("/tsk/a", { root, fs: fakeTreeFs });
    assert.equal(cg.version, 2);
    assert.deepEqual(cg.dirs(), { unified: `${root}/tsk/a` });
    await cg.create();
    assert.equal(
      await Deno.readTextFile(`${root}/cgroup.subtree_control`),
      "+cpuset +cpu +io +memory +pids",
    );
    assert.ok((await Deno.stat(`${root}/tsk/a`)).isDirectory);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("CgroupV2Manager on a fake tree: set() converts OCI fields to v2 files like runc", async () => {
  const root = await fakeV2();
  try {
    const cg = await createCgroupManager("/tsk/b", { root, fs: fakeTreeFs });
    await cg.create();
    const dir = `${root}/tsk/b`;
    await populate(dir);
    await cg.set({
      memory: { limit: 64 << 20, swap: 96 << 20, reservation: 16 << 20 },
      cpu: { shares: 1024, quota: 50000, cpus: "0-1", mems: "0" },
      pids: { limit: 10 },
      blockIO: { weight: 500, throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 100 }] },
      unified: { "memory.high": "50331648" },
    });
    const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
    assert.equal(await read("memory.max"), String(64 << 20));
    assert.equal(await read("memory.swap.max"), String(32 << 20));
    assert.equal(await read("memory.low"), String(16 << 20));
    assert.equal(await read("cpu.weight"), "39");
    assert.equal(await read("cpu.max"), "50000 100000");
    assert.equal(await read("cpuset.cpus"), "0-1");
    assert.equal(await read("pids.max"), "10");
    assert.equal(await read("io.weight"), "default 4950");
    assert.equal(await read("io.max"), "8:16 wiops=100");
    assert.equal(await read("memory.high"), "50331648");
    await cg.set({ cpu: { period: 20000 } });
    assert.equal(await read("cpu.max"), "50000 20000");
    await cg.set({ cpu: { quota: -1 }, memory: { limit: -1, swap: -1 }, pids: { limit: 0 } });
    assert.equal(await read("cpu.max"), "max 20000");
    assert.equal(await read("memory.max"), "max");
    assert.equal(await read("memory.swap.max"), "max");
    assert.equal(await read("pids.max"), "max");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("CgroupV2Manager set() refuses what v2 cannot do, naming the field", async () => {
  const root = await fakeV2();
  try {
    // Built directly, without a device rule applier.
    const cg = new CgroupV2Manager("/tsk/c", { root, fs: fakeTreeFs });
    await cg.create();
    await populate(`${root}/tsk/c`, { "cgroup.controllers": "cpu\n" });
    const cases: [Parameters<typeof cg.set>[0], RegExp][] = [
      [
        { memory: { swappiness: 10 } },
        /^linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness$/,
      ],
      [{ memory: { disableOOMKiller: true } }, /^linux.resources.memory.disableOOMKiller:/],
      [
        { memory: { limit: 1 << 20 } },
        /^linux.resources.memory: the memory controller is not available in .*lists: cpu\)$/,
      ],
      [{ pids: { limit: 3 } }, /^linux.resources.pids.limit: the pids controller is not available/],
      [
        { unified: { "hugetlb.2MB.max": "0" } },
        /^linux.resources.unified.hugetlb.2MB.max: the hugetlb controller/,
      ],
      [
        { devices: [{ allow: false }] },
        /^linux.resources.devices: device rules on cgroup v2 need a BPF device program/,
      ],
    ];
    for (const [r, re] of cases) {
      await assert.rejects(
        () => cg.set(r),
        (e: unknown) => e instanceof CgroupError && re.test(e.message),
        re.source,
      );
    }
    // A refused set() writes nothing, even the fields that were fine.
    await assert.rejects(() => cg.set({ cpu: { shares: 2048 }, pids: { limit: 3 } }), /pids.limit/);
    assert.equal(await Deno.readTextFile(`${root}/tsk/c/cpu.weight`), "100\n");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("CgroupV2Manager set() hands device rules to the injected applier", async () => {
  const root = await fakeV2();
  try {
    const calls: [string, unknown][] = [];
    const cg = await createCgroupManager("/tsk/dev", {
      root,
      fs: fakeTreeFs,
      devices: (dir, rules) => {
        calls.push([dir, rules]);
        return Promise.resolve();
      },
    });
    await cg.create();
    const rules = [{ allow: false, access: "rwm" }];
    await cg.set({ devices: rules });
    assert.deepEqual(calls, [[`${root}/tsk/dev`, rules]]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("CgroupV2Manager on a fake tree: stats() reads cpu.stat, memory.events and pids", async () => {
  const root = await fakeV2();
  try {
    const cg = await createCgroupManager("/tsk/s", { root, fs: fakeTreeFs });
    await cg.create();
    await populate(`${root}/tsk/s`, { "memory.max": "1048576\n", "pids.max": "20\n" });
    assert.deepEqual(await cg.stats(), {
      cpu: {
        usageUsec: 900,
        userUsec: 600,
        systemUsec: 300,
        nrPeriods: 7,
        nrThrottled: 2,
        throttledUsec: 55,
      },
      memory: { usage: 4096, maxUsage: 8192, limit: 1048576, oomEvents: 1, oomKillEvents: 1 },
      pids: { current: 1, limit: 20 },
      io: { readBytes: 101, writeBytes: 200, readOps: 2, writeOps: 2 },
    });
    assert.equal(await cg.oomKilled(), true);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("CgroupV2Manager on a fake tree: destroy() removes child cgroups first and is idempotent", async () => {
  const root = await fakeV2();
  try {
    const cg = await createCgroupManager("/tsk/d", { root, fs: fakeTreeFs, timeoutMs: 100 });
    await cg.create();
    await populate(`${root}/tsk/d`);
    await populate(`${root}/tsk/d/child`, { "cgroup.procs": "777\n" });
    assert.deepEqual(await cg.pids(), [777]);
    await assert.rejects(() => cg.destroy(), /processes remain after 100 ms \(777\)/);
    await Deno.writeTextFile(`${root}/tsk/d/child/cgroup.procs`, "");
    await cg.destroy();
    assert.equal(await fakeTreeFs.exists(`${root}/tsk/d`), false);
    assert.ok(await fakeTreeFs.exists(`${root}/tsk`));
    await cg.destroy();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

// ---- real kernel: the unified hierarchy of this hybrid host has no
// controllers, so resource limits cannot be tested here; the core v2 files
// (cgroup.procs, cgroup.freeze, cgroup.events, cgroup.kill, cpu.stat) are
// real and exercised below. On a pure v2 host the same tests use /sys/fs/cgroup.

async function unifiedRoot(): Promise<string | undefined> {
  for (const r of ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]) {
    if (await denoCgroupFs.exists(`${r}/cgroup.controllers`)) return r;
  }
  return undefined;
}
const realRoot = await unifiedRoot();
const ignoreV2 = ignoreReal || (realRoot === undefined && Deno.env.get("CI") !== "true");

Deno.test({
  name: "v2 on the real kernel: apply, pids, freeze/thaw, cgroup.kill and destroy",
  ignore: ignoreV2,
  async fn() {
    const cg = new CgroupV2Manager(uniquePath("v2"), { root: realRoot!, fs: denoCgroupFs });
    await cg.create();
    try {
      const p = spawnWaiting("while :; do :; done");
      await cg.apply(p.child.pid);
      assert.deepEqual(await cg.pids(), [p.child.pid]);
      assert.match(
        await Deno.readTextFile(`/proc/${p.child.pid}/cgroup`),
        new RegExp(`^0::${cg.path}$`, "m"),
      );
      await p.go();
      await cg.freeze();
      const a = (await cg.stats()).cpu.usageUsec;
      await new Promise((r) => setTimeout(r, 50));
      assert.equal((await cg.stats()).cpu.usageUsec, a, "a frozen group used CPU");
      await cg.thaw();
      let b = a;
      for (let i = 0; i < 200 && b === a; i++) {
        await new Promise((r) => setTimeout(r, 5));
        b = (await cg.stats()).cpu.usageUsec;
      }
      assert.ok(b > a, "usage did not grow after thaw");
      await cg.killAll();
      assert.equal((await p.done()).status.signal, "SIGKILL");
      await cg.destroy();
      assert.equal(await denoCgroupFs.exists(cg.dirs().unified), false);
      await cg.destroy();
    } finally {
      await cg.killAll().catch(() => {});
      await cg.destroy();
    }
  },
});

Deno.test({
  name: "v2 on the real kernel: killAll(SIGTERM) freezes, signals each process and thaws",
  ignore: ignoreV2,
  async fn() {
    const cg = new CgroupV2Manager(uniquePath("v2term"), { root: realRoot!, fs: denoCgroupFs });
    await cg.create();
    try {
      const p = spawnWaiting("sleep 30 & sleep 30");
      await cg.apply(p.child.pid);
      await p.go();
      for (let i = 0; i < 200 && (await cg.pids()).length < 2; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok((await cg.pids()).length >= 2);
      await cg.killAll("SIGTERM");
      assert.equal((await p.done()).status.signal, "SIGTERM");
      const events = await Deno.readTextFile(`${cg.dirs().unified}/cgroup.events`);
      assert.match(events, /^frozen 0$/m);
    } finally {
      await cg.killAll().catch(() => {});
      await cg.destroy();
    }
  },
});

Deno.test({
  name: "v2 on the real kernel: set() of a controller the hierarchy lacks names the field",
  ignore: ignoreV2,
  async fn() {
    const cg = new CgroupV2Manager(uniquePath("v2err"), { root: realRoot!, fs: denoCgroupFs });
    await cg.create();
    try {
      const controllers = (await Deno.readTextFile(`${cg.dirs().unified}/cgroup.controllers`))
        .trim();
      if (!controllers.split(" ").includes("memory")) {
        await assert.rejects(
          () => cg.set({ memory: { limit: 1 << 24 } }),
          /^CgroupError: linux.resources.memory: the memory controller is not available/,
        );
      } else {
        await cg.set({ memory: { limit: 1 << 24 } });
        assert.equal((await cg.stats()).memory.limit, 1 << 24);
      }
    } finally {
      await cg.destroy();
    }
  },
});

Deno.test("CgroupV2Manager writes hugepage limits as hugetlb.<size>.max, and refuses a size the host lacks before any write", async () => {
  const root = await fakeV2();
  const hugepagesDir = `${root}.hugepages`;
  try {
    // The host's sizes, as sysfs lists them: 2 MB and 1 GB.
    await writeTree(hugepagesDir, {
      "hugepages-2048kB/nr_hugepages": "0\n",
      "hugepages-1048576kB/nr_hugepages": "0\n",
    });
    const cg = await createCgroupManager("/tsk/h", { root, fs: fakeTreeFs, hugepagesDir });
    await cg.create();
    await writeTree(`${root}/tsk/h`, {
      "cgroup.controllers": "hugetlb memory pids",
      "hugetlb.2MB.max": "max",
      "hugetlb.1GB.max": "max",
      "pids.max": "max",
    });
    await cg.set({
      hugepageLimits: [{ pageSize: "2MB", limit: 0 }, { pageSize: "1GB", limit: 0 }],
    });
    assert.equal(await Deno.readTextFile(`${root}/tsk/h/hugetlb.2MB.max`), "0");
    assert.equal(await Deno.readTextFile(`${root}/tsk/h/hugetlb.1GB.max`), "0");
    // A size the host lacks: refused with its field, and nothing written
    // first (neither pids.max nor an ancestor's subtree_control).
    const control = await Deno.readTextFile(`${root}/cgroup.subtree_control`);
    await assert.rejects(
      () =>
        cg.set({
          pids: { limit: 7 },
          hugepageLimits: [{ pageSize: "2MB", limit: 1 }, { pageSize: "16GB", limit: 0 }],
        }),
      /^CgroupError: linux.resources.hugepageLimits\[1\]: no 16GB hugepages on this host/,
    );
    assert.equal(
      await Deno.readTextFile(`${root}/tsk/h/pids.max`),
      "max",
      "a refused set() wrote pids.max",
    );
    assert.equal(await Deno.readTextFile(`${root}/tsk/h/hugetlb.2MB.max`), "0");
    assert.equal(await Deno.readTextFile(`${root}/cgroup.subtree_control`), control);
    // A host without hugepages (no sysfs directory) has no size at all.
    const none = await createCgroupManager("/tsk/h", {
      root,
      fs: fakeTreeFs,
      hugepagesDir: `${root}.missing`,
    });
    await assert.rejects(
      () => none.set({ hugepageLimits: [{ pageSize: "2MB", limit: 0 }] }),
      /^CgroupError: linux.resources.hugepageLimits\[0\]: no 2MB hugepages on this host/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(hugepagesDir, { recursive: true }).catch(() => {});
  }
});

Deno.test("hugepageSizeName names sizes as hugetlb's control files do", () => {
  assert.equal(hugepageSizeName("hugepages-2048kB"), "2MB");
  assert.equal(hugepageSizeName("hugepages-1048576kB"), "1GB");
  assert.equal(hugepageSizeName("hugepages-64kB"), "64KB");
  assert.equal(hugepageSizeName("hugepages-32768kB"), "32MB");
  assert.equal(hugepageSizeName("hugepages-16777216kB"), "16GB");
  assert.equal(hugepageSizeName("nr_hugepages"), null);
});

Deno.test("CgroupV2Manager on a fake tree: apply() into an existing sub-cgroup; no controller names", async () => {
  const root = await fakeV2();
  try {
    const cg = await createCgroupManager("/tsk/sub", { root, fs: fakeTreeFs });
    await cg.create();
    await writeTree(root, { "tsk/sub/job/cgroup.procs": "" });
    await cg.apply(777, parseSubCgroup(["job"], "--cgroup"));
    assert.equal(await Deno.readTextFile(`${root}/tsk/sub/job/cgroup.procs`), "777");
    await assert.rejects(
      () => cg.apply(778, parseSubCgroup(["memory:job"], "--cgroup")),
      /cgroup: cgroup v2 has one hierarchy/,
    );
    await assert.rejects(
      () => cg.apply(778, parseSubCgroup(["nosuch"], "--cgroup")),
      /cgroup: .*\/tsk\/sub\/nosuch does not exist/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
