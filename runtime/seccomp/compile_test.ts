import assert from "node:assert/strict";
import {
  actionValue,
  BPF,
  BPF_MAXINSNS,
  compileSeccomp,
  SECCOMP_RET,
  sockFprog,
} from "./compile.ts";
import {
  CAPABILITY_SYSCALLS,
  CLONE_NAMESPACE_FLAGS,
  DEFAULT_SECCOMP_PROFILE,
  defaultSeccompProfile,
} from "./default_profile.ts";
import {
  isKnownSyscall,
  type LinuxSeccomp,
  SECCOMP_ARCHES,
  SeccompError,
  type SeccompOperator,
  unknownSyscalls,
} from "./profile.ts";
import { SYSCALLS_X32 } from "./syscalls_x32.ts";
import { SYSCALLS_X86 } from "./syscalls_x86.ts";
import { SYSCALLS_X86_64 } from "./syscalls_x86_64.ts";
import { SYSCALLS_AARCH64 } from "./syscalls_aarch64.ts";

// A test-only double of the kernel's classic-BPF interpreter for seccomp
// (it cannot be asked to evaluate a filter on made-up seccomp_data). It
// supports exactly the instructions the compiler emits and fails on any other,
// and checks what the kernel's loader checks: forward jumps in range, and no
// falling off the end.
const AUDIT = { X86_64: 0xc000003e, I386: 0x40000003, AARCH64: 0xc00000b7, ARM: 0x40000028 };

interface SeccompData {
  nr: number;
  arch: number;
  args?: (number | bigint)[];
}

function run(prog: Uint8Array, d: SeccompData): number {
  const view = new DataView(prog.buffer, prog.byteOffset, prog.byteLength);
  const n = prog.byteLength / 8;
  const data = new DataView(new ArrayBuffer(64));
  data.setUint32(0, d.nr >>> 0, true);
  data.setUint32(4, d.arch >>> 0, true);
  (d.args ?? []).forEach((a, i) =>
    data.setBigUint64(16 + 8 * i, BigInt(a) & ((1n << 64n) - 1n), true)
  );
  let A = 0;
  let pc = 0;
  for (let steps = 0; steps < 100000; steps++) {
    assert.ok(pc < n, `fell off the end at ${pc}`);
    const o = pc * 8;
    const code = view.getUint16(o, true);
    const jt = view.getUint8(o + 2);
    const jf = view.getUint8(o + 3);
    const k = view.getUint32(o + 4, true);
    const jump = (off: number) => {
      assert.ok(pc + 1 + off < n, `jump out of range at ${pc}`);
      pc = pc + 1 + off;
    };
    switch (code) {
      case BPF.LD_W_ABS:
        assert.ok(k % 4 === 0 && k < 64, `bad load offset ${k}`);
        A = data.getUint32(k, true);
        pc++;
        break;
      case BPF.ALU_AND_K:
        A = (A & k) >>> 0;
        pc++;
        break;
      case BPF.JMP_JA:
        jump(k);
        break;
      case BPF.JMP_JEQ_K:
        jump(A === k ? jt : jf);
        break;
      case BPF.JMP_JGT_K:
        jump(A > k ? jt : jf);
        break;
      case BPF.JMP_JGE_K:
        jump(A >= k ? jt : jf);
        break;
      case BPF.RET_K:
        return k;
      default:
        throw new Error(`unexpected opcode 0x${code.toString(16)} at ${pc}`);
    }
  }
  throw new Error("no return after 100000 steps");
}

const ALLOW = SECCOMP_RET.ALLOW;
const EPERM = actionValue("SCMP_ACT_ERRNO", 1);
const KILL_PROCESS = SECCOMP_RET.KILL_PROCESS;
const x64 = (name: string, ...args: (number | bigint)[]) => ({
  nr: SYSCALLS_X86_64[name],
  arch: AUDIT.X86_64,
  args,
});

Deno.test("actionValue() encodes every OCI action", () => {
  assert.equal(actionValue("SCMP_ACT_ALLOW"), 0x7fff0000);
  assert.equal(actionValue("SCMP_ACT_KILL"), 0);
  assert.equal(actionValue("SCMP_ACT_KILL_THREAD"), 0);
  assert.equal(actionValue("SCMP_ACT_KILL_PROCESS"), 0x80000000);
  assert.equal(actionValue("SCMP_ACT_TRAP"), 0x00030000);
  assert.equal(actionValue("SCMP_ACT_ERRNO"), 0x00050001);
  assert.equal(actionValue("SCMP_ACT_ERRNO", 38), 0x00050026);
  assert.equal(actionValue("SCMP_ACT_TRACE", 7), 0x7ff00007);
  assert.equal(actionValue("SCMP_ACT_LOG"), 0x7ffc0000);
  assert.throws(() => actionValue("SCMP_ACT_NOTIFY"), SeccompError);
});

Deno.test("the default profile blocks what Docker's blocks and allows ordinary calls (x86_64)", () => {
  const prog = compileSeccomp(DEFAULT_SECCOMP_PROFILE);
  for (
    const name of [
      "read",
      "write",
      "openat",
      "getpid",
      "execve",
      "exit_group",
      "futex",
      "mmap",
      "fork",
      "chroot",
    ]
  ) {
    assert.equal(run(prog, x64(name)), ALLOW, name);
  }
  const blocked = [
    "mount",
    "umount2",
    "pivot_root",
    "reboot",
    "unshare",
    "setns",
    "kexec_load",
    "kexec_file_load",
    "bpf",
    "ptrace",
    "process_vm_readv",
    "keyctl",
    "add_key",
    "request_key",
    "init_module",
    "finit_module",
    "delete_module",
    "open_by_handle_at",
    "swapon",
    "swapoff",
    "acct",
    "settimeofday",
    "clock_settime",
    "syslog",
    "perf_event_open",
    "userfaultfd",
    "fsopen",
    "move_mount",
    "quotactl",
    "iopl",
  ];
  for (const name of blocked) assert.equal(run(prog, x64(name)), EPERM, name);
  // A number above every call the profile names gets ENOSYS, as with runc,
  // so libc falls back to an older call; -1 (a skipped call) the default.
  assert.equal(run(prog, { nr: 1000, arch: AUDIT.X86_64 }), actionValue("SCMP_ACT_ERRNO", 38));
  assert.equal(
    run(prog, { nr: SYSCALLS_X32.mseal + 100, arch: AUDIT.X86_64 }),
    actionValue("SCMP_ACT_ERRNO", 38),
  );
  assert.equal(run(prog, { nr: 1000, arch: AUDIT.I386 }), actionValue("SCMP_ACT_ERRNO", 38));
  const plain = compileSeccomp(DEFAULT_SECCOMP_PROFILE, { enosysForNewer: false });
  assert.equal(run(plain, { nr: 1000, arch: AUDIT.X86_64 }), EPERM);
  assert.equal(run(prog, { nr: 0xffffffff, arch: AUDIT.X86_64 }), EPERM);
});

Deno.test("the default profile filters clone flags, personality and socket families", () => {
  const prog = compileSeccomp(DEFAULT_SECCOMP_PROFILE);
  const SIGCHLD = 17;
  const threadFlags = 0x3d0f00;
  assert.equal(run(prog, x64("clone", SIGCHLD)), ALLOW);
  assert.equal(run(prog, x64("clone", threadFlags)), ALLOW);
  for (
    const ns of [0x20000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000]
  ) {
    assert.equal(run(prog, x64("clone", SIGCHLD | ns)), EPERM, ns.toString(16));
  }
  assert.equal(run(prog, x64("clone", BigInt(SIGCHLD) | (1n << 40n))), ALLOW); // high bits are not namespace flags
  assert.equal(run(prog, x64("clone3")), actionValue("SCMP_ACT_ERRNO", 38));
  for (const p of [0, 8, 0x20000, 0x20008, 0xffffffff]) {
    assert.equal(run(prog, x64("personality", p)), ALLOW, String(p));
  }
  for (const p of [1, 0x0040000, 0x1ffffffff]) {
    assert.equal(run(prog, x64("personality", p)), EPERM, String(p));
  }
  assert.equal(run(prog, x64("socket", 2, 1, 0)), ALLOW);
  assert.equal(run(prog, x64("socket", 40, 1, 0)), EPERM);
  assert.equal(run(prog, x64("socket", 40n | (1n << 32n))), ALLOW);
  assert.equal(CLONE_NAMESPACE_FLAGS, 0x7e020000);
});

Deno.test("the default profile handles the i386 and x32 ABIs and kills other ABIs", () => {
  const prog = compileSeccomp(DEFAULT_SECCOMP_PROFILE);
  const i386 = (name: string, ...args: number[]) => ({
    nr: SYSCALLS_X86[name],
    arch: AUDIT.I386,
    args,
  });
  assert.equal(run(prog, i386("chown32")), ALLOW);
  assert.equal(run(prog, i386("socketcall")), ALLOW);
  assert.equal(run(prog, i386("mount")), EPERM);
  assert.equal(run(prog, i386("unshare")), EPERM);
  assert.equal(run(prog, i386("personality", 0xffffffff)), ALLOW);
  assert.equal(run(prog, i386("personality", 3)), EPERM);
  assert.equal(run(prog, i386("clone", 0x20000 | 17)), EPERM);
  const x32 = (name: string) => ({ nr: SYSCALLS_X32[name], arch: AUDIT.X86_64 });
  assert.equal(run(prog, x32("read")), ALLOW);
  assert.equal(run(prog, x32("rt_sigaction")), ALLOW);
  assert.equal(run(prog, x32("mount")), EPERM);
  assert.equal(run(prog, x32("kexec_load")), EPERM);
  assert.equal(run(prog, { nr: SYSCALLS_AARCH64.read, arch: AUDIT.AARCH64 }), KILL_PROCESS);
  assert.equal(run(prog, { nr: 3, arch: AUDIT.ARM }), KILL_PROCESS);
});

Deno.test("an x86_64-only filter kills x32 calls like libseccomp's", () => {
  const prog = compileSeccomp({
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: ["SCMP_ARCH_X86_64"],
    syscalls: [{ names: ["mount"], action: "SCMP_ACT_ERRNO" }],
  });
  assert.equal(run(prog, x64("mount")), EPERM);
  assert.equal(run(prog, x64("read")), ALLOW);
  assert.equal(run(prog, { nr: SYSCALLS_X32.read, arch: AUDIT.X86_64 }), KILL_PROCESS);
  assert.equal(run(prog, { nr: SYSCALLS_X32.mount, arch: AUDIT.X86_64 }), KILL_PROCESS);
  assert.equal(run(prog, { nr: 21, arch: AUDIT.I386 }), KILL_PROCESS);
  const x32only = compileSeccomp({
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: ["SCMP_ARCH_X32"],
  });
  assert.equal(run(x32only, x64("read")), KILL_PROCESS);
  assert.equal(run(x32only, { nr: SYSCALLS_X32.read, arch: AUDIT.X86_64 }), ALLOW);
});

Deno.test("rules apply in order, the first whose conditions hold decides", () => {
  const prog = compileSeccomp({
    defaultAction: "SCMP_ACT_KILL_THREAD",
    architectures: ["SCMP_ARCH_X86_64"],
    syscalls: [
      {
        names: ["write"],
        action: "SCMP_ACT_ERRNO",
        errnoRet: 9,
        args: [{ index: 0, value: 99, op: "SCMP_CMP_EQ" }],
      },
      {
        names: ["write", "read"],
        action: "SCMP_ACT_TRACE",
        errnoRet: 5,
        args: [{ index: 0, value: 10, op: "SCMP_CMP_GT" }, {
          index: 2,
          value: 100,
          op: "SCMP_CMP_LT",
        }],
      },
      { names: ["write"], action: "SCMP_ACT_LOG" },
      { names: ["write"], action: "SCMP_ACT_TRAP" },
      { names: ["getpid"], action: "SCMP_ACT_KILL_PROCESS" },
    ],
  });
  assert.equal(run(prog, x64("write", 99, 0, 0)), actionValue("SCMP_ACT_ERRNO", 9));
  assert.equal(run(prog, x64("write", 11, 0, 50)), actionValue("SCMP_ACT_TRACE", 5));
  assert.equal(run(prog, x64("write", 11, 0, 100)), SECCOMP_RET.LOG);
  assert.equal(run(prog, x64("write", 1, 0, 0)), SECCOMP_RET.LOG);
  assert.equal(run(prog, x64("read", 11, 0, 1)), actionValue("SCMP_ACT_TRACE", 5));
  assert.equal(run(prog, x64("read", 1, 0, 1)), SECCOMP_RET.KILL_THREAD);
  assert.equal(run(prog, x64("getpid")), KILL_PROCESS);
  assert.equal(run(prog, x64("close")), SECCOMP_RET.KILL_THREAD);
});

Deno.test("argument comparisons match 64-bit unsigned semantics for every operator", () => {
  const ops: SeccompOperator[] = [
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
  ];
  const interesting = [
    0n,
    1n,
    2n,
    0x7fffffffn,
    0x80000000n,
    0xffffffffn,
    0x100000000n,
    0x100000001n,
    0x1ffffffffn,
    0xdeadbeef00000000n,
    0xdeadbeefcafebaben,
    0xffffffffffffffffn,
  ];
  const ref = (op: SeccompOperator, a: bigint, v: bigint, v2: bigint): boolean => {
    switch (op) {
      case "SCMP_CMP_NE":
        return a !== v;
      case "SCMP_CMP_LT":
        return a < v;
      case "SCMP_CMP_LE":
        return a <= v;
      case "SCMP_CMP_EQ":
        return a === v;
      case "SCMP_CMP_GE":
        return a >= v;
      case "SCMP_CMP_GT":
        return a > v;
      case "SCMP_CMP_MASKED_EQ":
        return (a & v) === v2;
    }
  };
  for (const op of ops) {
    for (const v of interesting) {
      const v2 = op === "SCMP_CMP_MASKED_EQ" ? v & 0xffff0000ffffn : 0n;
      for (const index of [0, 5]) {
        const prog = compileSeccomp({
          defaultAction: "SCMP_ACT_ALLOW",
          architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
          syscalls: [{
            names: ["ioctl"],
            action: "SCMP_ACT_ERRNO",
            args: [{ index, value: v, valueTwo: v2, op }],
          }],
        });
        for (const a of interesting) {
          const args = [0n, 0n, 0n, 0n, 0n, 0n];
          args[index] = a;
          const got = run(prog, { nr: SYSCALLS_X86_64.ioctl, arch: AUDIT.X86_64, args }) === EPERM;
          assert.equal(
            got,
            ref(op, a, v, v2),
            `${op} ${a.toString(16)} vs ${v.toString(16)} arg${index}`,
          );
          // i386 arguments are 32 bits: the kernel passes them zero-extended.
          const a32 = a & 0xffffffffn;
          const got32 = run(prog, {
            nr: SYSCALLS_X86.ioctl,
            arch: AUDIT.I386,
            args: args.map(() => a32),
          }) === EPERM;
          assert.equal(
            got32,
            ref(op, a32, v, v2),
            `i386 ${op} ${a32.toString(16)} vs ${v.toString(16)}`,
          );
        }
      }
    }
  }
});

Deno.test("jumps further than 255 instructions go through ja and still land right", () => {
  // 300 syscalls with distinct argument rules make the dispatch targets far apart.
  const names = Object.keys(SYSCALLS_X86_64).slice(0, 300);
  const profile: LinuxSeccomp = {
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: ["SCMP_ARCH_X86_64"],
    syscalls: names.map((name, i) => ({
      names: [name],
      action: "SCMP_ACT_ERRNO" as const,
      errnoRet: (i % 4000) + 1,
      args: [{ index: 1, value: i, op: "SCMP_CMP_EQ" as const }],
    })),
  };
  const prog = compileSeccomp(profile);
  const n = prog.length / 8;
  assert.ok(n > 1000, `${n} instructions`);
  const view = new DataView(prog.buffer);
  let far = 0;
  for (let i = 0; i < n; i++) {
    if (view.getUint16(i * 8, true) === BPF.JMP_JA && view.getUint32(i * 8 + 4, true) > 255) far++;
  }
  assert.ok(far > 0, "expected long jumps");
  names.forEach((name, i) => {
    assert.equal(run(prog, x64(name, 0, i)), actionValue("SCMP_ACT_ERRNO", (i % 4000) + 1), name);
    assert.equal(run(prog, x64(name, 0, i + 1)), ALLOW, name);
  });
});

Deno.test("compileSeccomp() refuses what it cannot compile, naming the field", () => {
  const cases: [LinuxSeccomp, RegExp][] = [
    [
      { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_S390X"] },
      /linux.seccomp.architectures\[0\]: tsk has no system call table for SCMP_ARCH_S390X/,
    ],
    [
      { defaultAction: "SCMP_ACT_NOTIFY" },
      /linux.seccomp.defaultAction: SCMP_ACT_NOTIFY needs a seccomp agent/,
    ],
  ];
  for (const [p, re] of cases) {
    assert.throws(
      () => compileSeccomp(p),
      (e: unknown) => e instanceof SeccompError && re.test(e.message),
    );
  }
  // Too long for the kernel: thousands of distinct rules with three conditions.
  const huge: LinuxSeccomp = {
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: ["SCMP_ARCH_X86_64"],
    syscalls: Array.from({ length: 600 }, (_, i) => ({
      names: ["ioctl"],
      action: "SCMP_ACT_ERRNO" as const,
      args: [0, 1, 2].map((index) => ({ index, value: i, op: "SCMP_CMP_EQ" as const })),
    })),
  };
  assert.throws(
    () => compileSeccomp(huge),
    new RegExp(`exceed the kernel's limit of ${BPF_MAXINSNS}`),
  );
});

Deno.test("the default profile names only syscalls some ABI knows and compiles for every ABI", () => {
  assert.deepEqual(unknownSyscalls(DEFAULT_SECCOMP_PROFILE, "p"), []);
  for (const arch of Object.keys(SECCOMP_ARCHES)) {
    const prog = compileSeccomp({ ...DEFAULT_SECCOMP_PROFILE, architectures: [arch] });
    assert.ok(prog.length / 8 < BPF_MAXINSNS);
  }
  const arm = compileSeccomp({ ...DEFAULT_SECCOMP_PROFILE, architectures: ["SCMP_ARCH_AARCH64"] });
  assert.equal(run(arm, { nr: SYSCALLS_AARCH64.mount, arch: AUDIT.AARCH64 }), EPERM);
  assert.equal(run(arm, { nr: SYSCALLS_AARCH64.openat, arch: AUDIT.AARCH64 }), ALLOW);
  assert.equal(
    run(arm, { nr: SYSCALLS_AARCH64.clone, arch: AUDIT.AARCH64, args: [0x10000000] }),
    EPERM,
  );
});

Deno.test("a name no ABI has matches nothing; the rest of its rule still applies", () => {
  const prog = compileSeccomp({
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{ names: ["pciconfig_iobase", "mount", "mout"], action: "SCMP_ACT_ERRNO" }],
  });
  assert.equal(run(prog, x64("mount")), EPERM);
  assert.equal(run(prog, x64("read")), ALLOW);
});

Deno.test("sockFprog() lays out the length and the filter's address", () => {
  const filter = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW" });
  const prog = new DataView(sockFprog(filter).buffer);
  assert.equal(prog.getUint16(0, true), filter.length / 8);
  assert.equal(
    prog.getBigUint64(8, true),
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(filter))),
  );
});

Deno.test("defaultSeccompProfile() opens the calls a held capability gates, like Docker's", () => {
  const base = compileSeccomp(defaultSeccompProfile());
  assert.equal(run(base, x64("chroot")), ALLOW);
  assert.equal(run(base, x64("ptrace")), EPERM);
  const noChroot = compileSeccomp(defaultSeccompProfile({ capabilities: ["CAP_CHOWN"] }));
  assert.equal(run(noChroot, x64("chroot")), EPERM);
  assert.equal(run(noChroot, x64("read")), ALLOW);
  const admin = compileSeccomp(
    defaultSeccompProfile({ capabilities: ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"] }),
  );
  for (
    const name of [
      "mount",
      "umount2",
      "unshare",
      "setns",
      "sethostname",
      "ptrace",
      "process_vm_readv",
    ]
  ) {
    assert.equal(run(admin, x64(name)), ALLOW, name);
  }
  assert.equal(run(admin, x64("clone", 0x20000 | 17)), ALLOW);
  assert.equal(run(admin, x64("clone3")), ALLOW);
  assert.equal(run(admin, x64("reboot")), EPERM);
  assert.equal(run(admin, x64("init_module")), EPERM);
  for (const calls of Object.values(CAPABILITY_SYSCALLS)) {
    for (const c of calls) assert.ok(isKnownSyscall(c), c);
  }
});
