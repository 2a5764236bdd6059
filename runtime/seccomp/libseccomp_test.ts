// Differential tests: the same profiles compiled by our compiler and by
// libseccomp (what runc and crun use) must give the same verdict for every
// system call of every ABI, with argument values around each rule's
// constants. Both programs are evaluated by a test-only BPF interpreter.
import assert from "node:assert/strict";
import { compileSeccomp } from "./compile.ts";
import { DEFAULT_SECCOMP_PROFILE, defaultSeccompProfile } from "./default_profile.ts";
import type { LinuxSeccomp } from "./profile.ts";
import { SECCOMP_ARCHES } from "./profile.ts";
import { runClassicBpf, type SeccompData } from "./testdata/cbpf.ts";
import {
  compileWithLibseccomp,
  libseccompAvailable,
  libseccompName,
} from "./testdata/libseccomp.ts";

const ignore = !libseccompAvailable() && Deno.env.get("CI") !== "true";

function inputs(profile: LinuxSeccomp): SeccompData[] {
  const out: SeccompData[] = [];
  const argValues = new Set<bigint>([0n, 1n, 0xffffffffn, 0x100000000n, 0xffffffffffffffffn]);
  for (const r of profile.syscalls ?? []) {
    for (const a of r.args ?? []) {
      const v = BigInt(a.value);
      for (const d of [-1n, 0n, 1n]) if (v + d >= 0n) argValues.add(v + d);
      argValues.add(v | 0x11n);
      if (a.valueTwo !== undefined) argValues.add(BigInt(a.valueTwo));
    }
  }
  const audits = new Set(Object.values(SECCOMP_ARCHES).map((a) => a.audit));
  audits.add(0x40000028); // arm, in no profile here
  for (const arch of audits) {
    const nrs = new Set<number>();
    for (let nr = 0; nr < 520; nr++) nrs.add(nr);
    for (let nr = 0; nr < 560; nr++) nrs.add(0x40000000 + nr);
    nrs.add(0xffffffff);
    for (const nr of nrs) {
      out.push({ nr, arch });
      // Argument variations only where they can matter: every index, few syscalls.
      if (nr === 56 || nr === 135 || nr === 41 || nr === 120 || nr === 136 || nr === 102) {
        for (const v of argValues) {
          for (const index of [0, 1, 2]) {
            const args = [0n, 0n, 0n, 0n, 0n, 0n];
            args[index] = v;
            out.push({ nr, arch, args });
          }
        }
      }
    }
  }
  return out;
}

// Debian's libseccomp may be older or newer than our tables: a number whose
// name differs between the two is version skew, not a compiler difference.
const skewCache = new Map<string, boolean>();
function skewed(d: SeccompData): boolean {
  const key = `${d.arch}:${d.nr}`;
  let v = skewCache.get(key);
  if (v === undefined) {
    const arch = d.arch === 0xc000003e
      ? (d.nr >= 0x40000000 && d.nr !== 0xffffffff ? "SCMP_ARCH_X32" : "SCMP_ARCH_X86_64")
      : Object.values(SECCOMP_ARCHES).find((a) => a.audit === d.arch)?.name;
    if (arch === undefined || d.nr === 0xffffffff) {
      v = false;
    } else {
      const table = SECCOMP_ARCHES[arch].syscalls;
      const ours = Object.keys(table).find((n) => table[n] === d.nr);
      v = ours !== libseccompName(arch, d.nr);
    }
    skewCache.set(key, v);
  }
  return v;
}

function compare(profile: LinuxSeccomp): void {
  // runc adds the ENOSYS stub on top of libseccomp's filter; compare without it.
  const ours = compileSeccomp(profile, { enosysForNewer: false });
  const theirs = compileWithLibseccomp(profile);
  let differences = 0;
  let compared = 0;
  const examples: string[] = [];
  for (const d of inputs(profile)) {
    if (skewed(d)) continue;
    compared++;
    const a = runClassicBpf(ours, d);
    const b = runClassicBpf(theirs, d);
    if (a !== b) {
      differences++;
      if (examples.length < 10) {
        examples.push(
          `arch 0x${d.arch.toString(16)} nr 0x${d.nr.toString(16)} args ${
            (d.args ?? []).map((x) => BigInt(x).toString(16))
          }: tsk 0x${a.toString(16)} libseccomp 0x${b.toString(16)}`,
        );
      }
    }
  }
  assert.equal(differences, 0, examples.join("\n"));
  assert.ok(compared > 1000, `only ${compared} inputs compared`);
}

Deno.test({
  name: "the default profile decides like libseccomp's compilation of it on every ABI",
  ignore,
  fn() {
    compare(DEFAULT_SECCOMP_PROFILE);
  },
});

Deno.test({
  name: "a CAP_SYS_ADMIN default profile and single-ABI profiles decide like libseccomp",
  ignore,
  fn() {
    compare(defaultSeccompProfile({ capabilities: ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"] }));
    compare({ ...DEFAULT_SECCOMP_PROFILE, architectures: ["SCMP_ARCH_X86_64"] });
    compare({ ...DEFAULT_SECCOMP_PROFILE, architectures: ["SCMP_ARCH_X86"] });
  },
});

Deno.test({
  name: "every comparison operator decides like libseccomp",
  ignore,
  fn() {
    const ops = [
      "SCMP_CMP_NE",
      "SCMP_CMP_LT",
      "SCMP_CMP_LE",
      "SCMP_CMP_EQ",
      "SCMP_CMP_GE",
      "SCMP_CMP_GT",
      "SCMP_CMP_MASKED_EQ",
    ] as const;
    for (const op of ops) {
      for (const value of [0n, 5n, 0x80000000n, 0x1_0000_0005n, 0xffffffffffff0000n]) {
        compare({
          defaultAction: "SCMP_ACT_ALLOW",
          architectures: ["SCMP_ARCH_X86_64"],
          syscalls: [{
            names: ["socket", "personality"],
            action: "SCMP_ACT_ERRNO",
            errnoRet: 13,
            args: [{
              index: 1,
              value,
              valueTwo: op === "SCMP_CMP_MASKED_EQ" ? value & 0xff00n : 0n,
              op,
            }],
          }],
        });
      }
    }
  },
});
