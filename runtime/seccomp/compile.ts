/**
 * Compiles an OCI seccomp profile into a classic BPF program (an array of
 * `struct sock_filter`) for `seccomp(SECCOMP_SET_MODE_FILTER)`. tsk's own
 * compiler; no libseccomp.
 *
 * The program checks the ABI (anything not listed is killed), then finds the
 * system call by a binary search over number ranges, then runs that call's
 * rules in order: each rule's argument conditions compare 64-bit arguments
 * as two 32-bit words. Conditional jumps that would need an offset above 255
 * go through an unconditional `ja` (32-bit offset).
 *
 * @module
 */
import {
  type LinuxSeccomp,
  type LinuxSeccompArg,
  type LinuxSyscall,
  nativeSeccompArch,
  SECCOMP_ARCHES,
  type SeccompAction,
  type SeccompArch,
  SeccompError,
  validateSeccomp,
} from "./profile.ts";

/** The SECCOMP_RET_* values a filter returns. */
export const SECCOMP_RET: Readonly<Record<string, number>> = Object.freeze({
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
});

/** Classic BPF opcodes used by the compiler (and by test interpreters). */
export const BPF: Readonly<Record<string, number>> = Object.freeze({
  LD_W_ABS: 0x20,
  ALU_AND_K: 0x54,
  JMP_JA: 0x05,
  JMP_JEQ_K: 0x15,
  JMP_JGT_K: 0x25,
  JMP_JGE_K: 0x35,
  RET_K: 0x06,
});

/** The kernel's limit on the length of one filter (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

const EPERM = 1;
const X32_BIT = 0x40000000;
const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_ARGS = 16;

/**
 * The SECCOMP_RET_* value of an action.
 *
 * @param action The OCI action.
 * @param errnoRet The errno (ERRNO) or message (TRACE); EPERM when absent.
 * @returns The 32-bit return value.
 * @throws {SeccompError} For SCMP_ACT_NOTIFY, which needs a seccomp agent.
 *
 * @example
 * ```ts
 * import { actionValue } from "./compile.ts";
 * actionValue("SCMP_ACT_ERRNO", 38); // 0x00050026
 * ```
 */
export function actionValue(action: SeccompAction, errnoRet?: number): number {
  switch (action) {
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return SECCOMP_RET.KILL_THREAD;
    case "SCMP_ACT_KILL_PROCESS":
      return SECCOMP_RET.KILL_PROCESS;
    case "SCMP_ACT_TRAP":
      return SECCOMP_RET.TRAP;
    case "SCMP_ACT_ERRNO":
      return (SECCOMP_RET.ERRNO | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case "SCMP_ACT_TRACE":
      return (SECCOMP_RET.TRACE | ((errnoRet ?? EPERM) & 0xffff)) >>> 0;
    case "SCMP_ACT_LOG":
      return SECCOMP_RET.LOG;
    case "SCMP_ACT_ALLOW":
      return SECCOMP_RET.ALLOW;
    case "SCMP_ACT_NOTIFY":
      throw new SeccompError("SCMP_ACT_NOTIFY needs a seccomp agent, which tsk does not support");
  }
}

/** Options of {@linkcode compileSeccomp}. */
export interface CompileSeccompOptions {
  /**
   * The ABIs to accept when the profile lists none.
   * @default {[nativeSeccompArch()]}
   */
  defaultArchitectures?: string[];
  /**
   * What a call from an ABI the filter does not accept gets.
   * @default {"SCMP_ACT_KILL_PROCESS"}
   */
  badArchAction?: SeccompAction;
}

type Label = string;
type Ins =
  | { kind: "ld"; k: number }
  | { kind: "and"; k: number }
  | { kind: "ret"; k: number }
  | { kind: "jmp"; code: number; k: number; t: Label; f: Label }
  | { kind: "ja"; t: Label }
  | { kind: "label"; name: Label };

class Assembler {
  code: Ins[] = [];
  #n = 0;
  label(hint = "L"): Label {
    return `${hint}${this.#n++}`;
  }
  place(name: Label): void {
    this.code.push({ kind: "label", name });
  }
  ld(k: number): void {
    this.code.push({ kind: "ld", k });
  }
  and(k: number): void {
    this.code.push({ kind: "and", k });
  }
  ret(k: number): void {
    this.code.push({ kind: "ret", k });
  }
  jmp(code: number, k: number, t: Label, f: Label): void {
    this.code.push({ kind: "jmp", code, k: k >>> 0, t, f });
  }
  ja(t: Label): void {
    this.code.push({ kind: "ja", t });
  }

  /** Resolves labels, routing far conditional jumps through `ja`, and encodes. */
  assemble(): Uint8Array<ArrayBuffer> {
    let code = this.code;
    while (true) {
      const pos = new Map<Label, number>();
      let n = 0;
      for (const ins of code) {
        if (ins.kind === "label") pos.set(ins.name, n);
        else n++;
      }
      const at = (l: Label) => {
        const p = pos.get(l);
        if (p === undefined) throw new Error(`BUG: seccomp compiler: label ${l} not placed`);
        return p;
      };
      let changed = false;
      const next: Ins[] = [];
      let idx = 0;
      for (const ins of code) {
        if (ins.kind === "jmp") {
          const dt = at(ins.t) - idx - 1;
          const df = at(ins.f) - idx - 1;
          if (dt < 0 || df < 0) throw new Error("BUG: seccomp compiler: backward jump");
          if (dt > 255 || df > 255) {
            changed = true;
            const lt = dt > 255 ? this.label("T") : ins.t;
            const lf = df > 255 ? this.label("F") : ins.f;
            next.push({ ...ins, t: lt, f: lf });
            if (lt !== ins.t) next.push({ kind: "label", name: lt }, { kind: "ja", t: ins.t });
            if (lf !== ins.f) next.push({ kind: "label", name: lf }, { kind: "ja", t: ins.f });
            idx++;
            continue;
          }
        }
        next.push(ins);
        if (ins.kind !== "label") idx++;
      }
      code = next;
      if (!changed) {
        const out = new Uint8Array(idx * 8);
        const view = new DataView(out.buffer);
        let i = 0;
        for (const ins of code) {
          if (ins.kind === "label") continue;
          const o = i * 8;
          const put = (c: number, jt: number, jf: number, k: number) => {
            view.setUint16(o, c, true);
            view.setUint8(o + 2, jt);
            view.setUint8(o + 3, jf);
            view.setUint32(o + 4, k >>> 0, true);
          };
          switch (ins.kind) {
            case "ld":
              put(BPF.LD_W_ABS, 0, 0, ins.k);
              break;
            case "and":
              put(BPF.ALU_AND_K, 0, 0, ins.k);
              break;
            case "ret":
              put(BPF.RET_K, 0, 0, ins.k);
              break;
            case "ja":
              put(BPF.JMP_JA, 0, 0, at(ins.t) - i - 1);
              break;
            case "jmp":
              put(ins.code, at(ins.t) - i - 1, at(ins.f) - i - 1, ins.k);
              break;
          }
          i++;
        }
        return out;
      }
    }
  }
}

function u64(v: number | bigint | undefined): bigint {
  return BigInt(v ?? 0) & ((1n << 64n) - 1n);
}

/** Emits the test of one argument condition: to `pass` when it holds, else to `fail`. */
function emitCondition(
  asm: Assembler,
  arg: LinuxSeccompArg,
  wide: boolean,
  pass: Label,
  fail: Label,
): void {
  const loOff = OFF_ARGS + 8 * arg.index;
  const hiOff = loOff + 4;
  const value = u64(arg.value);
  const vHi = Number(value >> 32n);
  const vLo = Number(value & 0xffffffffn);
  const lo = asm.label("lo");

  if (arg.op === "SCMP_CMP_MASKED_EQ") {
    const datum = u64(arg.valueTwo);
    const dHi = Number(datum >> 32n);
    const dLo = Number(datum & 0xffffffffn);
    if (wide) {
      asm.ld(hiOff);
      asm.and(vHi);
      asm.jmp(BPF.JMP_JEQ_K, dHi, lo, fail);
    } else if (dHi !== 0) {
      asm.ja(fail); // a 32-bit argument has no high bits to match
    }
    asm.place(lo);
    asm.ld(loOff);
    asm.and(vLo);
    asm.jmp(BPF.JMP_JEQ_K, dLo, pass, fail);
    return;
  }

  // Outcome of the high-word comparison: whether arg_hi > v_hi / == v_hi / < v_hi decides.
  const out: Record<string, { gt: Label; lt: Label }> = {
    SCMP_CMP_EQ: { gt: fail, lt: fail },
    SCMP_CMP_NE: { gt: pass, lt: pass },
    SCMP_CMP_GT: { gt: pass, lt: fail },
    SCMP_CMP_GE: { gt: pass, lt: fail },
    SCMP_CMP_LT: { gt: fail, lt: pass },
    SCMP_CMP_LE: { gt: fail, lt: pass },
  };
  const o = out[arg.op];
  if (wide) {
    asm.ld(hiOff);
    if (o.gt === o.lt) {
      asm.jmp(BPF.JMP_JEQ_K, vHi, lo, o.gt);
    } else {
      const eq = asm.label("eq");
      asm.jmp(BPF.JMP_JGT_K, vHi, o.gt, eq);
      asm.place(eq);
      asm.jmp(BPF.JMP_JEQ_K, vHi, lo, o.lt);
    }
  } else if (vHi !== 0) {
    asm.ja(o.lt); // a 32-bit argument is always below a value with high bits
  }
  asm.place(lo);
  asm.ld(loOff);
  switch (arg.op) {
    case "SCMP_CMP_EQ":
      asm.jmp(BPF.JMP_JEQ_K, vLo, pass, fail);
      break;
    case "SCMP_CMP_NE":
      asm.jmp(BPF.JMP_JEQ_K, vLo, fail, pass);
      break;
    case "SCMP_CMP_GT":
      asm.jmp(BPF.JMP_JGT_K, vLo, pass, fail);
      break;
    case "SCMP_CMP_GE":
      asm.jmp(BPF.JMP_JGE_K, vLo, pass, fail);
      break;
    case "SCMP_CMP_LT":
      asm.jmp(BPF.JMP_JGE_K, vLo, fail, pass);
      break;
    case "SCMP_CMP_LE":
      asm.jmp(BPF.JMP_JGT_K, vLo, fail, pass);
      break;
  }
}

interface Segment {
  start: number;
  target: Label;
}

/** Emits a binary search over number ranges; leaves are the targets themselves. */
function emitDispatch(asm: Assembler, segments: Segment[], here: Label | null): void {
  // `segments` is sorted and covers [segments[0].start, 2^32).
  if (segments.length === 1) {
    if (here !== null) {
      asm.place(here);
      asm.ja(segments[0].target);
    }
    return;
  }
  const mid = segments.length >> 1;
  const left = segments.slice(0, mid);
  const right = segments.slice(mid);
  const lLabel = left.length === 1 ? left[0].target : asm.label("lt");
  const rLabel = right.length === 1 ? right[0].target : asm.label("ge");
  if (here !== null) asm.place(here);
  asm.jmp(BPF.JMP_JGE_K, right[0].start, rLabel, lLabel);
  if (left.length > 1) emitDispatch(asm, left, lLabel);
  if (right.length > 1) emitDispatch(asm, right, rLabel);
}

/** Emits the section for one AUDIT_ARCH value: dispatch, rule blocks, returns. */
function emitSection(
  asm: Assembler,
  arches: SeccompArch[],
  profile: LinuxSeccomp,
  badArch: number,
): void {
  const defaultRet = actionValue(profile.defaultAction, profile.defaultErrnoRet);
  const rulesByNr = new Map<number, LinuxSyscall[]>();
  for (const arch of arches) {
    for (const rule of profile.syscalls ?? []) {
      for (const name of rule.names) {
        if (!Object.hasOwn(arch.syscalls, name)) continue;
        const nr = arch.syscalls[name];
        const list = rulesByNr.get(nr) ?? [];
        if (!list.includes(rule)) list.push(rule);
        rulesByNr.set(nr, list);
      }
    }
  }
  const wide = arches[0].wide;
  const lDefault = asm.label("default");
  const lBad = asm.label("badarch");
  const blocks = new Map<string, { label: Label; rules: LinuxSyscall[] }>();
  const rets = new Map<number, Label>([[defaultRet, lDefault]]);
  const retLabel = (k: number) => {
    if (!rets.has(k)) rets.set(k, asm.label("ret"));
    return rets.get(k)!;
  };
  const targetOf = (rules: LinuxSyscall[]): Label => {
    // Rules after one without conditions can never decide.
    const live: LinuxSyscall[] = [];
    for (const r of rules) {
      live.push(r);
      if (!r.args || r.args.length === 0) break;
    }
    const last = live[live.length - 1];
    if (live.length === 1 && (!last.args || last.args.length === 0)) {
      return retLabel(actionValue(last.action, last.errnoRet));
    }
    const key = JSON.stringify(
      live.map((
        r,
      ) => [
        r.action,
        r.errnoRet,
        (r.args ?? []).map((a) => [a.index, a.op, String(a.value), String(a.valueTwo ?? 0)]),
      ]),
    );
    if (!blocks.has(key)) blocks.set(key, { label: asm.label("rules"), rules: live });
    return blocks.get(key)!.label;
  };

  // Number ranges: each known number is its own range; the gaps go to the
  // default action, or to the bad-ABI action for the x32 half of x86_64 when
  // only one of x86_64 and x32 is accepted.
  const hasX64 = arches.some((a) => a.name === "SCMP_ARCH_X86_64");
  const hasX32 = arches.some((a) => a.name === "SCMP_ARCH_X32");
  const gapAt = (nr: number): Label => {
    if (arches[0].audit !== 0xc000003e) return lDefault;
    const x32 = nr >= X32_BIT;
    return (x32 ? hasX32 : hasX64) ? lDefault : lBad;
  };
  const points = new Set(rulesByNr.keys());
  const segments: Segment[] = [];
  const push = (start: number, target: Label) => {
    const prev = segments[segments.length - 1];
    if (prev && prev.start === start) {
      prev.target = target;
      const before = segments[segments.length - 2];
      if (before && before.target === target) segments.pop();
      return;
    }
    if (prev && prev.target === target) return;
    segments.push({ start, target });
  };
  push(0, gapAt(0));
  if (arches[0].audit === 0xc000003e) {
    // The boundary between x86_64 and x32 numbers matters even with no rules there.
    points.add(X32_BIT);
  }
  for (const nr of [...points].sort((a, b) => a - b)) {
    const rules = rulesByNr.get(nr);
    push(nr, rules ? targetOf(rules) : gapAt(nr));
    if (nr + 1 < 2 ** 32 && !rulesByNr.has(nr + 1)) push(nr + 1, gapAt(nr + 1));
  }

  asm.ld(OFF_NR);
  emitDispatch(asm, segments, null);

  for (const { label, rules } of blocks.values()) {
    asm.place(label);
    for (const rule of rules) {
      const next = asm.label("next");
      for (const arg of rule.args ?? []) {
        const ok = asm.label("ok");
        emitCondition(asm, arg, wide, ok, next);
        asm.place(ok);
      }
      asm.ja(retLabel(actionValue(rule.action, rule.errnoRet)));
      asm.place(next);
    }
    asm.ja(lDefault);
  }
  for (const [k, label] of rets) {
    asm.place(label);
    asm.ret(k);
  }
  asm.place(lBad);
  asm.ret(badArch);
}

/**
 * Compiles a profile to the bytes of a `struct sock_filter` array.
 *
 * @param profile An OCI `linux.seccomp` object (validated here).
 * @param options ABI defaults and the bad-ABI action.
 * @returns The program, 8 bytes per instruction, host byte order.
 * @throws {SeccompError} For an invalid profile, an ABI without a syscall
 * table, or a program longer than the kernel accepts.
 *
 * @example Block mount with EPERM, allow everything else
 * ```ts
 * import { compileSeccomp } from "./compile.ts";
 * const filter = compileSeccomp({
 *   defaultAction: "SCMP_ACT_ALLOW",
 *   architectures: ["SCMP_ARCH_X86_64"],
 *   syscalls: [{ names: ["mount"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
 * });
 * filter.length / 8; // instructions
 * ```
 */
export function compileSeccomp(
  profile: LinuxSeccomp,
  options: CompileSeccompOptions = {},
): Uint8Array<ArrayBuffer> {
  validateSeccomp(profile, "linux.seccomp");
  const names = profile.architectures && profile.architectures.length > 0
    ? profile.architectures
    : options.defaultArchitectures ?? [nativeSeccompArch()];
  const arches = [...new Set(names)].map((n, i) => {
    const a = SECCOMP_ARCHES[n];
    if (!a) {
      throw new SeccompError(`tsk has no system call table for ${n}`, {
        field: `linux.seccomp.architectures[${i}]`,
      });
    }
    return a;
  });
  const badArch = actionValue(options.badArchAction ?? "SCMP_ACT_KILL_PROCESS");
  const byAudit = new Map<number, SeccompArch[]>();
  for (const a of arches) byAudit.set(a.audit, [...(byAudit.get(a.audit) ?? []), a]);

  const asm = new Assembler();
  asm.ld(OFF_ARCH);
  const sections = [...byAudit.entries()].map(([audit, list]) => ({
    audit,
    list,
    label: asm.label("arch"),
  }));
  for (const s of sections) {
    const next = asm.label("notarch");
    asm.jmp(BPF.JMP_JEQ_K, s.audit, s.label, next);
    asm.place(next);
  }
  asm.ret(badArch);
  for (const s of sections) {
    asm.place(s.label);
    emitSection(asm, s.list, profile, badArch);
  }
  const program = asm.assemble();
  if (program.length / 8 > BPF_MAXINSNS) {
    throw new SeccompError(
      `Cannot load the seccomp filter: ${
        program.length / 8
      } instructions exceed the kernel's limit of ${BPF_MAXINSNS}`,
    );
  }
  return program;
}

/**
 * Encodes `struct sock_fprog` (length, then a pointer to the filter) for
 * `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)` or seccomp(2). Keep a
 * reference to `filter` until the call returns: the struct holds its address.
 *
 * @param filter The bytes from {@linkcode compileSeccomp}.
 * @returns 16 bytes (x86_64/aarch64 layout).
 *
 * @example
 * ```ts
 * import { compileSeccomp, sockFprog } from "./compile.ts";
 * const filter = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW" });
 * const prog = sockFprog(filter);
 * // libc.symbols.prctl(22, 2n, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(prog))), 0n, 0n)
 * ```
 */
export function sockFprog(filter: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(16);
  const view = new DataView(out.buffer);
  view.setUint16(0, filter.length / 8, true);
  const ptr = Deno.UnsafePointer.of(filter);
  view.setBigUint64(8, BigInt(Deno.UnsafePointer.value(ptr)), true);
  return out;
}
