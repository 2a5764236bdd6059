/**
 * Device rules for cgroup v2: v2 has no devices.allow/deny files, so the
 * rules become an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE that the
 * kernel runs on every device open and mknod in the cgroup. This module
 * compiles the program; `bpf_devices.ts` loads and attaches it.
 *
 * Semantics follow the v1 files: rules are applied in order, so the last
 * rule that matches a request decides. An allow rule matches when every
 * requested access is in its `access`; a deny rule when any is. A request no
 * rule matches is allowed, as in a v1 cgroup under an unrestricted parent:
 * start the list with a deny-all rule (see DEFAULT_DEVICE_RULES) to
 * allow-list.
 *
 * @module
 */
import { CgroupError } from "./errors.ts";
import type { LinuxDeviceCgroup } from "./resources.ts";

/** eBPF opcodes used by the device program (and by test interpreters). */
export const EBPF: Readonly<Record<string, number>> = Object.freeze({
  LDX_MEM_W: 0x61,
  ALU32_AND_K: 0x54,
  ALU32_RSH_K: 0x74,
  ALU32_MOV_K: 0xb4,
  ALU32_MOV_X: 0xbc,
  JMP32_JNE_K: 0x56,
  JMP32_JEQ_K: 0x16,
  JMP_JA: 0x05,
  JMP_EXIT: 0x95,
});

/** BPF_DEVCG_ACC_* and BPF_DEVCG_DEV_* from the kernel's uapi. */
const ACC = { m: 1, r: 2, w: 4 } as const;
const DEV = { b: 1, c: 2 } as const;

interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number | string;
  imm: number;
}

function accessMask(access: string | undefined): number {
  let m = 0;
  for (const ch of access || "rwm") m |= ACC[ch as keyof typeof ACC] ?? 0;
  return m;
}

/**
 * Compiles device rules into a BPF_PROG_TYPE_CGROUP_DEVICE program.
 *
 * @param rules The OCI rules, in order.
 * @returns The program as `struct bpf_insn` bytes (8 per instruction).
 * @throws {CgroupError} For a rule the program cannot express.
 *
 * @example Allow only /dev/null
 * ```ts
 * import { compileDeviceFilter } from "./device_filter.ts";
 * const insns = compileDeviceFilter([
 *   { allow: false, access: "rwm" },
 *   { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
 * ]);
 * ```
 */
export function compileDeviceFilter(rules: readonly LinuxDeviceCgroup[]): Uint8Array<ArrayBuffer> {
  // r1 = ctx (struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; })
  // r2 = device type, r3 = requested access, r4 = major, r5 = minor.
  const code: Insn[] = [
    { code: EBPF.LDX_MEM_W, dst: 2, src: 1, off: 0, imm: 0 },
    { code: EBPF.ALU32_AND_K, dst: 2, src: 0, off: 0, imm: 0xffff },
    { code: EBPF.LDX_MEM_W, dst: 3, src: 1, off: 0, imm: 0 },
    { code: EBPF.ALU32_RSH_K, dst: 3, src: 0, off: 0, imm: 16 },
    { code: EBPF.LDX_MEM_W, dst: 4, src: 1, off: 4, imm: 0 },
    { code: EBPF.LDX_MEM_W, dst: 5, src: 1, off: 8, imm: 0 },
  ];
  const labels = new Map<string, number>();
  // The last matching rule wins: test them from the end.
  for (let i = rules.length - 1; i >= 0; i--) {
    const rule = rules[i];
    const next = `next${i}`;
    const start = code.length;
    const type = rule.type ?? "a";
    if (type !== "a") {
      if (!(type in DEV)) {
        throw new CgroupError(`unknown device type ${JSON.stringify(type)}`, {
          field: `linux.resources.devices[${i}].type`,
        });
      }
      code.push({ code: EBPF.JMP32_JNE_K, dst: 2, src: 0, off: next, imm: DEV[type as "b" | "c"] });
    }
    const mask = accessMask(rule.access);
    if (mask !== 7) {
      code.push({ code: EBPF.ALU32_MOV_X, dst: 1, src: 3, off: 0, imm: 0 });
      if (rule.allow) {
        // Every requested bit must be allowed: (access & ~mask) == 0.
        code.push({ code: EBPF.ALU32_AND_K, dst: 1, src: 0, off: 0, imm: ~mask & 7 });
        code.push({ code: EBPF.JMP32_JNE_K, dst: 1, src: 0, off: next, imm: 0 });
      } else {
        // Any requested bit denied: (access & mask) != 0.
        code.push({ code: EBPF.ALU32_AND_K, dst: 1, src: 0, off: 0, imm: mask });
        code.push({ code: EBPF.JMP32_JEQ_K, dst: 1, src: 0, off: next, imm: 0 });
      }
    }
    if (rule.major !== undefined && rule.major !== -1) {
      code.push({ code: EBPF.JMP32_JNE_K, dst: 4, src: 0, off: next, imm: rule.major | 0 });
    }
    if (rule.minor !== undefined && rule.minor !== -1) {
      code.push({ code: EBPF.JMP32_JNE_K, dst: 5, src: 0, off: next, imm: rule.minor | 0 });
    }
    const conditional = code.length > start;
    code.push({ code: EBPF.ALU32_MOV_K, dst: 0, src: 0, off: 0, imm: rule.allow ? 1 : 0 });
    code.push({ code: EBPF.JMP_EXIT, dst: 0, src: 0, off: 0, imm: 0 });
    labels.set(next, code.length);
    // A rule that matches everything decides alone; the verifier refuses unreachable code.
    if (!conditional) return encode(code, labels, rules.length);
  }
  code.push({ code: EBPF.ALU32_MOV_K, dst: 0, src: 0, off: 0, imm: 1 });
  code.push({ code: EBPF.JMP_EXIT, dst: 0, src: 0, off: 0, imm: 0 });
  return encode(code, labels, rules.length);
}

function encode(code: Insn[], labels: Map<string, number>, count: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(code.length * 8);
  const view = new DataView(out.buffer);
  code.forEach((ins, i) => {
    const off = typeof ins.off === "string" ? labels.get(ins.off)! - i - 1 : ins.off;
    if (off > 0x7fff) {
      throw new CgroupError(`too many device rules for one program (${count})`, {
        field: "linux.resources.devices",
      });
    }
    view.setUint8(i * 8, ins.code);
    view.setUint8(i * 8 + 1, (ins.src << 4) | ins.dst);
    view.setInt16(i * 8 + 2, off, true);
    view.setInt32(i * 8 + 4, ins.imm, true);
  });
  return out;
}
