import assert from "node:assert/strict";
import { fakeTreeFs, ignoreReal, spawnWaiting, uniquePath, writeTree } from "./_testing.ts";
import { CgroupError } from "./errors.ts";
import { denoCgroupFs } from "./host.ts";
import {
  type CgroupManager,
  createCgroupManager,
  detectCgroups,
  parseSubCgroup,
} from "./manager.ts";
import { CgroupV1Manager, deviceRuleV1 } from "./v1.ts";

const CONTROLLERS = ["cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices", "freezer"];

/** A fake v1 layout: one directory per controller, like a hybrid host's /sys/fs/cgroup. */
async function fakeV1(only = CONTROLLERS): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "tsk-cg1-" });
  const files: Record<string, string> = {};
  for (const c of only) files[`${c}/cgroup.procs`] = "";
  files["cpuset/cpuset.cpus"] = "0-1\n";
  files["cpuset/cpuset.mems"] = "0\n";
  await writeTree(root, files);
  return root;
}

/** What the kernel would put in a new v1 cgroup directory (the files set() and stats() use). */
async function populate(root: string, path: string, withMemsw = true): Promise<void> {
  const f: Record<string, string> = {
    "cpu/cgroup.procs": "",
    "cpu/cpu.shares": "1024\n",
    "cpu/cpu.cfs_period_us": "100000\n",
    "cpu/cpu.cfs_quota_us": "-1\n",
    "cpu/cpu.cfs_burst_us": "0\n",
    "cpu/cpu.stat": "nr_periods 10\nnr_throttled 4\nthrottled_time 3000000\n",
    "cpuacct/cgroup.procs": "",
    "cpuacct/cpuacct.usage": "5000000\n",
    "cpuacct/cpuacct.stat": "user 3\nsystem 1\n",
    "cpuset/cgroup.procs": "",
    "cpuset/cpuset.cpus": "",
    "cpuset/cpuset.mems": "",
    "memory/cgroup.procs": "",
    "memory/memory.limit_in_bytes": "9223372036854771712\n",
    "memory/memory.soft_limit_in_bytes": "9223372036854771712\n",
    "memory/memory.usage_in_bytes": "1048576\n",
    "memory/memory.max_usage_in_bytes": "2097152\n",
    "memory/memory.swappiness": "60\n",
    "memory/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    "pids/cgroup.procs": "",
    "pids/pids.max": "max\n",
    "pids/pids.current": "3\n",
    "blkio/cgroup.procs": "",
    "blkio/blkio.bfq.weight": "100\n",
    "blkio/blkio.throttle.read_bps_device": "",
    "blkio/blkio.throttle.io_service_bytes_recursive":
      "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\n8:16 Read 1\nTotal 12289\n",
    "blkio/blkio.throttle.io_serviced_recursive": "8:0 Read 2\n8:0 Write 3\nTotal 5\n",
    "devices/cgroup.procs": "",
    "devices/devices.allow": "",
    "devices/devices.deny": "",
    "freezer/cgroup.procs": "",
    "freezer/freezer.state": "THAWED\n",
  };
  if (withMemsw) f["memory/memory.memsw.limit_in_bytes"] = "9223372036854771712\n";
  await writeTree(
    root,
    Object.fromEntries(
      Object.entries(f).map(([k, v]) => {
        const [c, file] = k.split("/");
        return [`${c}${path}/${file}`, v];
      }),
    ),
  );
}

Deno.test("deviceRuleV1() writes wildcards for missing numbers", () => {
  assert.equal(deviceRuleV1({ allow: false }), "a *:* rwm");
  assert.equal(deviceRuleV1({ allow: true, type: "c", major: 136, access: "rw" }), "c 136:* rw");
  assert.equal(deviceRuleV1({ allow: true, type: "b", major: 8, minor: -1 }), "b 8:* rwm");
});

Deno.test("CgroupV1Manager on a fake tree: create() makes a directory per hierarchy and fills cpuset", async () => {
  const root = await fakeV1();
  try {
    const cg = await createCgroupManager("/tsk/a", { root, fs: fakeTreeFs });
    assert.equal(cg.version, 1);
    await Deno.mkdir(`${root}/cpuset/tsk/a`, { recursive: true });
    await Deno.writeTextFile(`${root}/cpuset/tsk/cpuset.cpus`, "");
    await Deno.writeTextFile(`${root}/cpuset/tsk/cpuset.mems`, "");
    await Deno.writeTextFile(`${root}/cpuset/tsk/a/cpuset.cpus`, "");
    await Deno.writeTextFile(`${root}/cpuset/tsk/a/cpuset.mems`, "");
    await cg.create();
    for (const c of CONTROLLERS) assert.ok((await Deno.stat(`${root}/${c}/tsk/a`)).isDirectory, c);
    assert.equal(await Deno.readTextFile(`${root}/cpuset/tsk/cpuset.cpus`), "0-1");
    assert.equal(await Deno.readTextFile(`${root}/cpuset/tsk/a/cpuset.mems`), "0");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("CgroupV1Manager on a fake tree: set() writes each OCI field to its v1 file", async () => {
  const root = await fakeV1();
  try {
    const cg = await createCgroupManager("/tsk/b", { root, fs: fakeTreeFs });
    await cg.create();
    await populate(root, "/tsk/b");
    await cg.set({
      memory: { limit: 64 << 20, swap: 128 << 20, reservation: 32 << 20, swappiness: 0 },
      cpu: { shares: 512, quota: 20000, period: 50000, cpus: "0", mems: "0" },
      pids: { limit: 42 },
      blockIO: { weight: 300, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }] },
      devices: [{ allow: false, access: "rwm" }, {
        allow: true,
        type: "c",
        major: 1,
        minor: 3,
        access: "rw",
      }],
    });
    const read = (f: string) => Deno.readTextFile(`${root}/${f}`);
    assert.equal(await read("memory/tsk/b/memory.limit_in_bytes"), String(64 << 20));
    assert.equal(await read("memory/tsk/b/memory.memsw.limit_in_bytes"), String(128 << 20));
    assert.equal(await read("memory/tsk/b/memory.soft_limit_in_bytes"), String(32 << 20));
    assert.equal(await read("memory/tsk/b/memory.swappiness"), "0");
    assert.equal(await read("cpu/tsk/b/cpu.shares"), "512");
    assert.equal(await read("cpu/tsk/b/cpu.cfs_quota_us"), "20000");
    assert.equal(await read("cpu/tsk/b/cpu.cfs_period_us"), "50000");
    assert.equal(await read("cpuset/tsk/b/cpuset.cpus"), "0");
    assert.equal(await read("pids/tsk/b/pids.max"), "42");
    assert.equal(await read("blkio/tsk/b/blkio.bfq.weight"), "300");
    assert.equal(await read("blkio/tsk/b/blkio.throttle.read_bps_device"), "8:0 1000");
    // A fake file keeps only the last write; the kernel applies each line in turn.
    assert.equal(await read("devices/tsk/b/devices.deny"), "a *:* rwm");
    assert.equal(await read("devices/tsk/b/devices.allow"), "c 1:3 rw");
    await cg.set({ pids: { limit: -1 }, memory: { limit: -1, swap: -1 } });
    assert.equal(await read("pids/tsk/b/pids.max"), "max");
    assert.equal(await read("memory/tsk/b/memory.limit_in_bytes"), "-1");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("CgroupV1Manager on a fake tree: stats() parses the v1 files", async () => {
  const root = await fakeV1();
  try {
    const cg = await createCgroupManager("/tsk/s", { root, fs: fakeTreeFs });
    await cg.create();
    await populate(root, "/tsk/s");
    assert.deepEqual(await cg.stats(), {
      cpu: {
        usageUsec: 5000,
        userUsec: 30000,
        systemUsec: 10000,
        nrPeriods: 10,
        nrThrottled: 4,
        throttledUsec: 3000,
      },
      memory: { usage: 1048576, maxUsage: 2097152, limit: null, oomEvents: 2, oomKillEvents: 2 },
      pids: { current: 3, limit: null },
      io: { readBytes: 4097, writeBytes: 8192, readOps: 2, writeOps: 3 },
    });
    assert.equal(await cg.oomKilled(), true);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("CgroupV1Manager set() errors name the field and leave other files alone", async () => {
  const root = await fakeV1(["cpu", "cpuacct", "memory"]);
  try {
    const cg = await createCgroupManager("/tsk/e", { root, fs: fakeTreeFs });
    await cg.create();
    await populate(root, "/tsk/e", false);
    await assert.rejects(
      () => cg.set({ pids: { limit: 5 } }),
      (e: unknown) =>
        e instanceof CgroupError && e.field === "linux.resources.pids.limit" &&
        /pids cgroup controller is not mounted/.test(e.message),
    );
    await assert.rejects(
      () => cg.set({ memory: { limit: 1 << 20, swap: 2 << 20 } }),
      /linux.resources.memory.swap: swap accounting is off/,
    );
    await assert.rejects(
      () => cg.set({ unified: { "memory.high": "1M" } }),
      /linux.resources.unified: raw cgroup v2 files need a cgroup v2 host/,
    );
    // A refused set() writes nothing, even the fields that were fine.
    await assert.rejects(
      () => cg.set({ memory: { limit: 1 << 20 }, cpu: { shares: 100 }, pids: { limit: 5 } }),
      /linux.resources.pids.limit/,
    );
    assert.equal(
      await Deno.readTextFile(`${root}/memory/tsk/e/memory.limit_in_bytes`),
      "9223372036854771712\n",
    );
    assert.equal(await Deno.readTextFile(`${root}/cpu/tsk/e/cpu.shares`), "1024\n");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("CgroupV1Manager on a fake tree: destroy() waits for emptiness, removes every hierarchy, is idempotent", async () => {
  const root = await fakeV1();
  try {
    const cg = await createCgroupManager("/tsk/d", { root, fs: fakeTreeFs, timeoutMs: 200 });
    await cg.create();
    await populate(root, "/tsk/d");
    await Deno.writeTextFile(`${root}/pids/tsk/d/cgroup.procs`, "12345\n");
    assert.deepEqual(await cg.pids(), [12345]);
    await assert.rejects(() => cg.destroy(), /processes remain after 200 ms \(12345\)/);
    await Deno.writeTextFile(`${root}/pids/tsk/d/cgroup.procs`, "");
    await cg.destroy();
    for (const c of CONTROLLERS) assert.equal(await fakeTreeFs.exists(`${root}/${c}/tsk/d`), false);
    await cg.destroy();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

// ---- real kernel (this machine's v1 hierarchies) ----

async function realV1(topic: string): Promise<CgroupManager> {
  const layout = await detectCgroups();
  if (layout.version !== 1) {
    // Pure v2 hosts test the v1 backend only against the fake tree.
    throw new Error(`host uses cgroup v${layout.version}`);
  }
  return new CgroupV1Manager(uniquePath(topic), {
    controllers: layout.controllers,
    fs: denoCgroupFs,
  });
}

const v1Host = await detectCgroups().then((l) => l.version === 1).catch(() => false);
const ignoreV1 = ignoreReal || (!v1Host && Deno.env.get("CI") !== "true");

async function cleanup(cg: CgroupManager): Promise<void> {
  await cg.killAll().catch(() => {});
  await cg.destroy();
}

Deno.test({
  name: "v1 on the real kernel: a memory limit OOM-kills a memory hog and stats report it",
  ignore: ignoreV1,
  async fn() {
    const cg = await realV1("oom");
    await cg.create();
    try {
      await cg.set({ memory: { limit: 32 << 20, swap: 32 << 20 } });
      const p = spawnWaiting("exec dd if=/dev/zero of=/dev/null bs=128M count=1");
      await cg.apply(p.child.pid);
      assert.deepEqual(await cg.pids(), [p.child.pid]);
      const cgroupFile = await Deno.readTextFile(`/proc/${p.child.pid}/cgroup`);
      assert.match(cgroupFile, new RegExp(`:memory:${cg.path}\n`));
      await p.go();
      const r = await p.done();
      assert.equal(r.status.signal, "SIGKILL", r.stderr);
      assert.equal(await cg.oomKilled(), true);
      const s = await cg.stats();
      assert.ok(s.memory.oomKillEvents >= 1);
      assert.equal(s.memory.limit, 32 << 20);
      assert.ok(
        s.memory.maxUsage > 16 << 20 && s.memory.maxUsage <= 32 << 20,
        String(s.memory.maxUsage),
      );
    } finally {
      await cleanup(cg);
    }
  },
});

Deno.test({
  name: "v1 on the real kernel: pids.max stops a fork bomb and killAll() ends the survivors",
  ignore: ignoreV1,
  async fn() {
    const cg = await realV1("pids");
    await cg.create();
    try {
      await cg.set({ pids: { limit: 8 } });
      const p = spawnWaiting("i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done");
      await cg.apply(p.child.pid);
      await p.go();
      await p.child.status;
      const s = await cg.stats();
      assert.equal(s.pids.limit, 8);
      assert.ok(s.pids.current <= 8, `pids.current ${s.pids.current}`);
      const pids = await cg.pids();
      assert.ok(pids.length <= 7 && pids.length >= 1, `${pids.length} sleeps`);
      const events = await Deno.readTextFile(`${cg.dirs().pids}/pids.events`);
      assert.match(events, /^max [1-9]/m);
      await cg.killAll();
      const r = await p.done();
      assert.match(r.stderr, /fork/);
      // Orphaned sleeps are reaped by init, so their exit can lag the shell's.
      let left = await cg.pids();
      for (let i = 0; i < 200 && left.length > 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
        left = await cg.pids();
      }
      assert.deepEqual(left, []);
    } finally {
      await cleanup(cg);
    }
  },
});

Deno.test({
  name: "v1 on the real kernel: a CPU quota shows throttling in stats()",
  ignore: ignoreV1,
  async fn() {
    const cg = await realV1("cpu");
    await cg.create();
    try {
      await cg.set({ cpu: { quota: 1000, period: 10000 } });
      const p = spawnWaiting("while :; do :; done");
      await cg.apply(p.child.pid);
      await p.go();
      let s = await cg.stats();
      for (let i = 0; i < 300 && (s.cpu.nrThrottled === 0 || s.cpu.throttledUsec === 0); i++) {
        await new Promise((r) => setTimeout(r, 10));
        s = await cg.stats();
      }
      assert.ok(s.cpu.nrThrottled > 0, JSON.stringify(s.cpu));
      assert.ok(s.cpu.nrPeriods >= s.cpu.nrThrottled);
      assert.ok(s.cpu.throttledUsec > 0 && s.cpu.usageUsec > 0);
      await cg.killAll();
      assert.equal((await p.done()).status.signal, "SIGKILL");
    } finally {
      await cleanup(cg);
    }
  },
});

Deno.test({
  name:
    "v1 on the real kernel: freeze() stops a busy process, thaw() resumes it, destroy() leaves nothing",
  ignore: ignoreV1,
  async fn() {
    const cg = await realV1("freeze");
    await cg.create();
    try {
      const p = spawnWaiting("while :; do :; done");
      await cg.apply(p.child.pid);
      await p.go();
      await cg.freeze();
      assert.equal(
        (await Deno.readTextFile(`${cg.dirs().freezer}/freezer.state`)).trim(),
        "FROZEN",
      );
      const a = (await cg.stats()).cpu.usageUsec;
      await new Promise((r) => setTimeout(r, 50));
      assert.equal((await cg.stats()).cpu.usageUsec, a, "a frozen group used CPU");
      await cg.thaw();
      let b = a;
      for (let i = 0; i < 200 && b === a; i++) {
        await new Promise((r) => setTimeout(r, 5));
        b = (await cg.stats()).cpu.usageUsec;
      }
      assert.ok(b > a);
      await cg.killAll("SIGTERM");
      assert.equal((await p.done()).status.signal, "SIGTERM");
      await cg.destroy();
      for (const d of Object.values(cg.dirs())) {
        assert.equal(await Deno.stat(d).then(() => true, () => false), false, d);
      }
      await cg.destroy();
    } finally {
      await cleanup(cg);
    }
  },
});

Deno.test({
  name:
    "v1 on the real kernel: device rules, cpu shares, cpuset and limits are written and enforced",
  ignore: ignoreV1,
  async fn() {
    const cg = await realV1("devices");
    await cg.create();
    try {
      const cpus = (await Deno.readTextFile("/sys/fs/cgroup/cpuset/cpuset.cpus")).trim();
      const first = cpus.split(/[,-]/)[0];
      await cg.set({
        cpu: { shares: 512, quota: 50000, period: 100000, cpus: first },
        memory: { limit: 256 << 20, reservation: 128 << 20, swap: 512 << 20, swappiness: 10 },
        pids: { limit: 50 },
        devices: [
          { allow: false, access: "rwm" },
          { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
        ],
      });
      const d = cg.dirs();
      const read = async (dir: string, f: string) =>
        (await Deno.readTextFile(`${dir}/${f}`)).trim();
      assert.equal(await read(d.cpu, "cpu.shares"), "512");
      assert.equal(await read(d.cpu, "cpu.cfs_quota_us"), "50000");
      assert.equal(await read(d.cpuset, "cpuset.cpus"), first);
      assert.equal(await read(d.memory, "memory.limit_in_bytes"), String(256 << 20));
      assert.equal(await read(d.memory, "memory.memsw.limit_in_bytes"), String(512 << 20));
      assert.equal(await read(d.memory, "memory.swappiness"), "10");
      assert.equal(await read(d.devices, "devices.list"), "c 1:3 rwm");
      const p = spawnWaiting(
        "cat /dev/null && echo null=ok; head -c 1 /dev/zero >/dev/null; echo zero=$?",
      );
      await cg.apply(p.child.pid);
      await p.go();
      const r = await p.done();
      assert.match(r.stdout, /^null=ok$/m);
      assert.match(r.stdout, /^zero=1$/m);
      assert.match(r.stderr, /Operation not permitted/);
      // Lowering memory+swap below the current memory limit needs the other order.
      await cg.set({ memory: { limit: 64 << 20, swap: 64 << 20 } });
      assert.equal(await read(d.memory, "memory.memsw.limit_in_bytes"), String(64 << 20));
      await cg.set({ memory: { limit: -1, swap: -1 } });
      assert.equal((await cg.stats()).memory.limit, null);
    } finally {
      await cleanup(cg);
    }
  },
});

Deno.test("CgroupV1Manager on a fake tree: apply() into a sub-cgroup, for named controllers or all", async () => {
  const root = await fakeV1();
  try {
    const cg = await createCgroupManager("/tsk/s", { root, fs: fakeTreeFs });
    await cg.create();
    await populate(root, "/tsk/s");
    await writeTree(root, {
      "memory/tsk/s/job/cgroup.procs": "",
      "pids/tsk/s/job/cgroup.procs": "",
    });
    await cg.apply(4242, parseSubCgroup(["memory,pids:job"], "--cgroup"));
    assert.equal(await Deno.readTextFile(`${root}/memory/tsk/s/job/cgroup.procs`), "4242");
    assert.equal(await Deno.readTextFile(`${root}/pids/tsk/s/job/cgroup.procs`), "4242");
    // The other hierarchies get the container's own cgroup.
    assert.equal(await Deno.readTextFile(`${root}/cpu/tsk/s/cgroup.procs`), "4242");
    // Every hierarchy: the sub-cgroup must exist in each.
    await assert.rejects(
      () => cg.apply(4343, parseSubCgroup(["job"], "--cgroup")),
      /cgroup: .*\/(cpu|cpuacct|cpuset|blkio|devices|freezer)\/tsk\/s\/job does not exist/,
    );
    await assert.rejects(
      () => cg.apply(4343, parseSubCgroup(["rdma:job"], "--cgroup")),
      /cgroup: no rdma hierarchy on this host/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("CgroupV1Manager on a fake tree: hugepage limits, and a size the host lacks refused before any write", async () => {
  const root = await fakeV1([...CONTROLLERS, "hugetlb"]);
  try {
    const cg = await createCgroupManager("/tsk/h", { root, fs: fakeTreeFs });
    await cg.create();
    await populate(root, "/tsk/h");
    await writeTree(root, { "hugetlb/tsk/h/hugetlb.2MB.limit_in_bytes": "max" });
    await cg.set({ hugepageLimits: [{ pageSize: "2MB", limit: 0 }] });
    const file = (f: string) => Deno.readTextFile(`${root}/${f}`);
    assert.equal(await file("hugetlb/tsk/h/hugetlb.2MB.limit_in_bytes"), "0");
    const pidsBefore = await file("pids/tsk/h/pids.max");
    await assert.rejects(
      () => cg.set({ pids: { limit: 7 }, hugepageLimits: [{ pageSize: "16GB", limit: 0 }] }),
      /^CgroupError: linux.resources.hugepageLimits\[0\]: no 16GB hugepages on this host/,
    );
    assert.equal(await file("pids/tsk/h/pids.max"), pidsBefore, "a refused set() wrote pids.max");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("CgroupV1Manager on a fake tree: hugepage limits without a hugetlb hierarchy name the field", async () => {
  const root = await fakeV1();
  try {
    const cg = await createCgroupManager("/tsk/n", { root, fs: fakeTreeFs });
    await cg.create();
    await assert.rejects(
      () => cg.set({ hugepageLimits: [{ pageSize: "2MB", limit: 0 }] }),
      /^CgroupError: linux.resources.hugepageLimits: the hugetlb controller is not mounted/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
