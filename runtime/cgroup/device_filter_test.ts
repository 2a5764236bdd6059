import assert from "node:assert/strict";
import { ignoreReal, spawnWaiting, uniquePath } from "./_testing.ts";
import { attachedDevicePrograms } from "./bpf_devices.ts";
import { compileDeviceFilter, EBPF } from "./device_filter.ts";
import { denoCgroupFs } from "./host.ts";
import { createCgroupManager } from "./manager.ts";
import { DEFAULT_DEVICE_RULES, type LinuxDeviceCgroup } from "./resources.ts";
import { CgroupV2Manager } from "./v2.ts";
import { applyDeviceRulesBpf } from "./bpf_devices.ts";

// A test-only double of the kernel's eBPF interpreter, for the instructions
// compileDeviceFilter() emits (the kernel cannot run a device program on a
// made-up request). It fails on any other instruction.
function run(
  prog: Uint8Array,
  type: "b" | "c",
  access: string,
  major: number,
  minor: number,
): boolean {
  const acc = [...access].reduce(
    (m, ch) => m | ({ m: 1, r: 2, w: 4 } as Record<string, number>)[ch],
    0,
  );
  const ctx = [(acc << 16) | (type === "b" ? 1 : 2), major, minor];
  const view = new DataView(prog.buffer, prog.byteOffset, prog.byteLength);
  const r = new Array<number>(11).fill(0);
  let pc = 0;
  for (let steps = 0; steps < 10000; steps++) {
    const o = pc * 8;
    assert.ok(o < prog.byteLength, "fell off the end");
    const code = view.getUint8(o);
    const dst = view.getUint8(o + 1) & 0xf;
    const src = view.getUint8(o + 1) >> 4;
    const off = view.getInt16(o + 2, true);
    const imm = view.getInt32(o + 4, true) >>> 0;
    pc++;
    switch (code) {
      case EBPF.LDX_MEM_W:
        assert.equal(src, 1, "loads only from the context");
        r[dst] = ctx[off / 4];
        break;
      case EBPF.ALU32_AND_K:
        r[dst] = (r[dst] & imm) >>> 0;
        break;
      case EBPF.ALU32_RSH_K:
        r[dst] = r[dst] >>> imm;
        break;
      case EBPF.ALU32_MOV_K:
        r[dst] = imm;
        break;
      case EBPF.ALU32_MOV_X:
        r[dst] = r[src];
        break;
      case EBPF.JMP32_JNE_K:
        if (r[dst] !== imm) pc += off;
        break;
      case EBPF.JMP32_JEQ_K:
        if (r[dst] === imm) pc += off;
        break;
      case EBPF.JMP_JA:
        pc += off;
        break;
      case EBPF.JMP_EXIT:
        return r[0] === 1;
      default:
        throw new Error(`unexpected opcode 0x${code.toString(16)}`);
    }
  }
  throw new Error("no exit");
}

Deno.test("compileDeviceFilter() with the default rules allows the standard devices only", () => {
  const p = compileDeviceFilter(DEFAULT_DEVICE_RULES);
  const allowed = [[1, 3], [1, 5], [1, 7], [1, 8], [1, 9], [5, 0], [5, 2], [136, 0], [136, 7]];
  for (const [maj, min] of [...allowed, [10, 200]]) {
    assert.equal(run(p, "c", "rw", maj, min), true, `c ${maj}:${min}`);
  }
  assert.equal(run(p, "c", "rw", 5, 1), false, "the host's /dev/console");
  assert.equal(run(p, "c", "r", 1, 1), false, "/dev/mem");
  assert.equal(run(p, "c", "rw", 1, 4), false, "/dev/port");
  assert.equal(run(p, "b", "r", 8, 0), false, "/dev/sda");
  assert.equal(run(p, "b", "m", 8, 0), true, "mknod of a block device");
  assert.equal(run(p, "c", "m", 4, 1), true, "mknod of a character device");
  assert.equal(run(p, "c", "mr", 4, 1), false);
});

Deno.test("compileDeviceFilter(): the last matching rule decides and deny matches any denied bit", () => {
  const rules: LinuxDeviceCgroup[] = [
    { allow: true, access: "rwm" },
    { allow: false, type: "c", major: 1, minor: 3, access: "w" },
  ];
  const p = compileDeviceFilter(rules);
  assert.equal(run(p, "c", "r", 1, 3), true);
  assert.equal(run(p, "c", "w", 1, 3), false);
  assert.equal(run(p, "c", "rw", 1, 3), false);
  assert.equal(run(p, "c", "w", 1, 5), true);
  assert.equal(run(p, "b", "w", 1, 3), true);
  assert.equal(run(compileDeviceFilter([]), "b", "rwm", 8, 0), true);
  const wildcard = compileDeviceFilter([{ allow: false }, {
    allow: true,
    type: "c",
    major: 136,
    access: "rw",
  }]);
  assert.equal(run(wildcard, "c", "rw", 136, 99), true);
  assert.equal(run(wildcard, "c", "rwm", 136, 99), false);
  assert.equal(run(wildcard, "c", "r", 137, 0), false);
});

// Real kernel: on this hybrid host the unified hierarchy has no controllers,
// but device programs attach to any v2 cgroup and the kernel runs them on
// every device open of its processes.
const unified = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"].find((r) => {
  try {
    Deno.statSync(`${r}/cgroup.controllers`);
    return true;
  } catch {
    return false;
  }
});

Deno.test({
  name: "v2 device rules on the real kernel: a BPF program allows /dev/null and refuses /dev/zero",
  ignore: ignoreReal || (unified === undefined && Deno.env.get("CI") !== "true"),
  async fn() {
    const cg = new CgroupV2Manager(uniquePath("dev"), {
      root: unified!,
      fs: denoCgroupFs,
      devices: applyDeviceRulesBpf,
    });
    await cg.create();
    try {
      await cg.set({
        devices: [{ allow: false, access: "rwm" }, {
          allow: true,
          type: "c",
          major: 1,
          minor: 3,
          access: "rwm",
        }],
      });
      assert.equal(attachedDevicePrograms(cg.dirs().unified).length, 1);
      const script = "cat /dev/null && echo null=ok; head -c 1 /dev/zero >/dev/null; echo zero=$?";
      const p = spawnWaiting(script);
      await cg.apply(p.child.pid);
      await p.go();
      const r = await p.done();
      assert.match(r.stdout, /^null=ok$/m);
      assert.match(r.stdout, /^zero=1$/m);
      assert.match(r.stderr, /Operation not permitted/);
      // A second set() replaces the program instead of stacking another.
      await cg.set({ devices: [{ allow: true, access: "rwm" }] });
      assert.equal(attachedDevicePrograms(cg.dirs().unified).length, 1);
      const q = spawnWaiting(script);
      await cg.apply(q.child.pid);
      await q.go();
      assert.match((await q.done()).stdout, /^zero=0$/m);
    } finally {
      await cg.killAll().catch(() => {});
      await cg.destroy();
    }
  },
});

Deno.test({
  name:
    "createCgroupManager() gives v2 managers the BPF device applier; the kernel verifies the default rules",
  ignore: ignoreReal || unified === undefined,
  async fn() {
    const cg = await createCgroupManager(uniquePath("devf"), { root: unified!, version: 2 });
    await cg.create();
    try {
      await cg.set({ devices: [...DEFAULT_DEVICE_RULES] });
      assert.equal(attachedDevicePrograms(cg.dirs().unified).length, 1);
    } finally {
      await cg.destroy();
    }
  },
});
