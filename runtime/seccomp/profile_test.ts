import assert from "node:assert/strict";
import { DEFAULT_SECCOMP_PROFILE } from "./default_profile.ts";
import {
  isKnownSyscall,
  nativeSeccompArch,
  SeccompError,
  seccompFilterFlags,
  unknownSyscalls,
  validateSeccomp,
} from "./profile.ts";

Deno.test("validateSeccomp() accepts the default profile and a full OCI object", () => {
  assert.equal(validateSeccomp(DEFAULT_SECCOMP_PROFILE, "linux.seccomp"), DEFAULT_SECCOMP_PROFILE);
  const full = {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 38,
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
    flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
    syscalls: [{
      names: ["ioctl"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 1, value: 0x5401, op: "SCMP_CMP_EQ" }, {
        index: 2,
        value: 0xffn,
        valueTwo: 1n,
        op: "SCMP_CMP_MASKED_EQ",
      }],
    }],
  };
  assert.equal(validateSeccomp(full, "linux.seccomp"), full);
  assert.equal(seccompFilterFlags(full as never), 6);
});

Deno.test("validateSeccomp() names the field of every problem", () => {
  const ok = { names: ["read"], action: "SCMP_ACT_ALLOW" };
  const cases: [unknown, string][] = [
    [null, "linux.seccomp: expected an object"],
    [{}, "linux.seccomp.defaultAction: required"],
    [{ defaultAction: "ALLOW" }, 'linux.seccomp.defaultAction: unknown action "ALLOW"'],
    [
      { defaultAction: "SCMP_ACT_ALLOW", defaultErrnoRet: 1 },
      "linux.seccomp.defaultErrnoRet: only meaningful with SCMP_ACT_ERRNO",
    ],
    [
      { defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: -1 },
      "linux.seccomp.defaultErrnoRet: expected an errno from 0 to 4095",
    ],
    [
      { defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/agent.sock" },
      "linux.seccomp.listenerPath: seccomp agents",
    ],
    [
      { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_PPC64LE"] },
      "linux.seccomp.architectures[0]: tsk has no system call table for SCMP_ARCH_PPC64LE",
    ],
    [
      { defaultAction: "SCMP_ACT_ALLOW", architectures: ["x86_64"] },
      'linux.seccomp.architectures[0]: unknown architecture "x86_64"',
    ],
    [
      { defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_NEW_LISTENER"] },
      "linux.seccomp.flags[0]: unsupported flag",
    ],
    [{ defaultAction: "SCMP_ACT_ALLOW", syscall: [] }, "linux.seccomp.syscall: unknown field"],
    [
      { defaultAction: "SCMP_ACT_ALLOW", syscalls: [ok, { names: [], action: "SCMP_ACT_ALLOW" }] },
      "linux.seccomp.syscalls[1].names: expected a non-empty array",
    ],
    [{
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["read", 7], action: "SCMP_ACT_ERRNO" }],
    }, "linux.seccomp.syscalls[0].names[1]: expected a system call name, got 7"],
    [
      { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_DENY" }] },
      'linux.seccomp.syscalls[0].action: unknown action "SCMP_ACT_DENY"',
    ],
    [{
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["read"], action: "SCMP_ACT_NOTIFY" }],
    }, "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY needs a seccomp agent"],
    [{
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW", errnoRet: 1 }],
    }, "linux.seccomp.syscalls[0].errnoRet: only meaningful"],
    [{
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ ...ok, args: [{ index: 6, value: 0, op: "SCMP_CMP_EQ" }] }],
    }, "linux.seccomp.syscalls[0].args[0].index: expected an argument index from 0 to 5"],
    [{
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ ...ok, args: [{ index: 0, value: 0, op: "SCMP_CMP_LIKE" }] }],
    }, 'linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_LIKE"'],
    [{
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ ...ok, args: [{ index: 0, value: -1, op: "SCMP_CMP_EQ" }] }],
    }, "linux.seccomp.syscalls[0].args[0].value: expected an unsigned 64-bit integer, got -1"],
    [{
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ ...ok, args: [{ index: 0, value: 1, valueTwo: 2, op: "SCMP_CMP_EQ" }] }],
    }, "linux.seccomp.syscalls[0].args[0].valueTwo: only used by SCMP_CMP_MASKED_EQ"],
    [
      { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ ...ok, includes: {} }] },
      "linux.seccomp.syscalls[0].includes: unknown field",
    ],
  ];
  for (const [value, message] of cases) {
    assert.throws(
      () => validateSeccomp(value, "linux.seccomp"),
      (e: unknown) => e instanceof SeccompError && e.message.startsWith(message),
      message,
    );
  }
});

Deno.test("names no table has are accepted, as runc does, and listed for a warning", () => {
  // podman's default profile names calls of other architectures.
  const p = validateSeccomp({
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [
      { names: ["mount"], action: "SCMP_ACT_ERRNO" },
      { names: ["read", "pciconfig_iobase", "mout"], action: "SCMP_ACT_ERRNO" },
    ],
  }, "linux.seccomp");
  assert.deepEqual(unknownSyscalls(p, "linux.seccomp"), [
    'linux.seccomp.syscalls[1].names[1]: unknown system call "pciconfig_iobase"',
    'linux.seccomp.syscalls[1].names[2]: unknown system call "mout"',
  ]);
});

Deno.test("isKnownSyscall() looks in every ABI's table", () => {
  assert.ok(isKnownSyscall("mount"));
  assert.ok(isKnownSyscall("chown32"));
  assert.ok(isKnownSyscall("arch_prctl"));
  assert.ok(isKnownSyscall("mseal"));
  assert.ok(!isKnownSyscall("toString"));
  assert.equal(
    nativeSeccompArch(),
    Deno.build.arch === "x86_64" ? "SCMP_ARCH_X86_64" : "SCMP_ARCH_AARCH64",
  );
});
