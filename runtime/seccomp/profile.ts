/**
 * The OCI runtime spec's `linux.seccomp` object, its validation, and the
 * architectures tsk can compile filters for.
 *
 * @module
 */
import { SYSCALLS_AARCH64 } from "./syscalls_aarch64.ts";
import { SYSCALLS_X32 } from "./syscalls_x32.ts";
import { SYSCALLS_X86 } from "./syscalls_x86.ts";
import { SYSCALLS_X86_64 } from "./syscalls_x86_64.ts";

/** A seccomp action as the OCI spec names it. */
export type SeccompAction =
  | "SCMP_ACT_KILL"
  | "SCMP_ACT_KILL_PROCESS"
  | "SCMP_ACT_KILL_THREAD"
  | "SCMP_ACT_TRAP"
  | "SCMP_ACT_ERRNO"
  | "SCMP_ACT_TRACE"
  | "SCMP_ACT_ALLOW"
  | "SCMP_ACT_LOG"
  | "SCMP_ACT_NOTIFY";

/** An argument comparison operator as the OCI spec names it. */
export type SeccompOperator =
  | "SCMP_CMP_NE"
  | "SCMP_CMP_LT"
  | "SCMP_CMP_LE"
  | "SCMP_CMP_EQ"
  | "SCMP_CMP_GE"
  | "SCMP_CMP_GT"
  | "SCMP_CMP_MASKED_EQ";

/** A condition on one system call argument (all of a rule's conditions must hold). */
export interface LinuxSeccompArg {
  /** Argument index, 0-5. */
  index: number;
  /** The value compared with (for MASKED_EQ: the mask). Unsigned 64-bit. */
  value: number | bigint;
  /** For MASKED_EQ: the value `arg & value` must equal. */
  valueTwo?: number | bigint;
  /** The comparison. */
  op: SeccompOperator;
}

/** A rule: what happens when one of `names` is called with matching arguments. */
export interface LinuxSyscall {
  /** System call names. */
  names: string[];
  /** The action. */
  action: SeccompAction;
  /** The errno (SCMP_ACT_ERRNO) or tracer message (SCMP_ACT_TRACE); default EPERM. */
  errnoRet?: number;
  /** Conditions on arguments; a rule without any matches every call. */
  args?: LinuxSeccompArg[];
}

/** The OCI runtime spec's `linux.seccomp` object. */
export interface LinuxSeccomp {
  /** The action for system calls no rule matches. */
  defaultAction: SeccompAction;
  /** The errno of an SCMP_ACT_ERRNO default action; default EPERM. */
  defaultErrnoRet?: number;
  /** The ABIs the filter accepts; calls from any other ABI kill the process. Default: the host's. */
  architectures?: string[];
  /** seccomp(2) flags by name (SECCOMP_FILTER_FLAG_LOG, ...). */
  flags?: string[];
  /** Unix socket of a seccomp agent (SCMP_ACT_NOTIFY); not supported by tsk. */
  listenerPath?: string;
  /** Opaque data for the seccomp agent; not supported by tsk. */
  listenerMetadata?: string;
  /** The rules, in order: for a call, the first rule whose conditions hold decides. */
  syscalls?: LinuxSyscall[];
}

/** A seccomp profile is malformed or cannot be compiled. */
export class SeccompError extends Error {
  /** The config field at fault, e.g. `linux.seccomp.syscalls[3].names[0]`. */
  readonly field?: string;
  /**
   * Creates the error.
   *
   * @param message The detail; with `options.field` it becomes `<field>: <message>`.
   * @param options `field` and the standard `cause`.
   */
  constructor(message: string, options: ErrorOptions & { field?: string } = {}) {
    super(options.field ? `${options.field}: ${message}` : message, { cause: options.cause });
    this.name = "SeccompError";
    this.field = options.field;
  }
}

/** An ABI a filter can be compiled for. */
export interface SeccompArch {
  /** The OCI name, e.g. `SCMP_ARCH_X86_64`. */
  name: string;
  /** The AUDIT_ARCH_* value the kernel puts in seccomp_data.arch. */
  audit: number;
  /** System call numbers by name. */
  syscalls: Readonly<Record<string, number>>;
  /** Whether arguments are 64-bit (false: only the low 32 bits are compared). */
  wide: boolean;
}

/** The ABIs tsk has system call tables for. */
export const SECCOMP_ARCHES: Readonly<Record<string, SeccompArch>> = Object.freeze({
  SCMP_ARCH_X86_64: {
    name: "SCMP_ARCH_X86_64",
    audit: 0xc000003e,
    syscalls: SYSCALLS_X86_64,
    wide: true,
  },
  SCMP_ARCH_X32: { name: "SCMP_ARCH_X32", audit: 0xc000003e, syscalls: SYSCALLS_X32, wide: true },
  SCMP_ARCH_X86: { name: "SCMP_ARCH_X86", audit: 0x40000003, syscalls: SYSCALLS_X86, wide: false },
  SCMP_ARCH_AARCH64: {
    name: "SCMP_ARCH_AARCH64",
    audit: 0xc00000b7,
    syscalls: SYSCALLS_AARCH64,
    wide: true,
  },
});

/** Architecture names the OCI spec defines but tsk has no system call table for. */
const OTHER_ARCHES = [
  "SCMP_ARCH_ARM",
  "SCMP_ARCH_MIPS",
  "SCMP_ARCH_MIPS64",
  "SCMP_ARCH_MIPS64N32",
  "SCMP_ARCH_MIPSEL",
  "SCMP_ARCH_MIPSEL64",
  "SCMP_ARCH_MIPSEL64N32",
  "SCMP_ARCH_PPC",
  "SCMP_ARCH_PPC64",
  "SCMP_ARCH_PPC64LE",
  "SCMP_ARCH_S390",
  "SCMP_ARCH_S390X",
  "SCMP_ARCH_PARISC",
  "SCMP_ARCH_PARISC64",
  "SCMP_ARCH_RISCV64",
  "SCMP_ARCH_LOONGARCH64",
  "SCMP_ARCH_M68K",
  "SCMP_ARCH_SH",
  "SCMP_ARCH_SHEB",
];

/** seccomp(2) filter flags by the names the OCI spec uses. */
export const SECCOMP_FILTER_FLAGS: Readonly<Record<string, number>> = Object.freeze({
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
});

const ACTIONS: readonly string[] = [
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
];

const OPERATORS: readonly string[] = [
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
];

const U64_MAX = (1n << 64n) - 1n;

/**
 * The OCI architecture name of the machine Deno runs on.
 *
 * @returns `SCMP_ARCH_X86_64` or `SCMP_ARCH_AARCH64`.
 * @throws {SeccompError} On other machines.
 *
 * @example
 * ```ts
 * import { nativeSeccompArch } from "./profile.ts";
 * nativeSeccompArch(); // "SCMP_ARCH_X86_64" on a PC
 * ```
 */
export function nativeSeccompArch(): string {
  if (Deno.build.arch === "x86_64") return "SCMP_ARCH_X86_64";
  if (Deno.build.arch === "aarch64") return "SCMP_ARCH_AARCH64";
  throw new SeccompError(`Cannot compile seccomp filters for this machine: ${Deno.build.arch}`);
}

/**
 * Whether a syscall name exists in any ABI tsk knows.
 *
 * @param name A system call name such as `mount`.
 * @returns True when some table has it.
 *
 * @example
 * ```ts
 * import { isKnownSyscall } from "./profile.ts";
 * isKnownSyscall("chown32"); // true (i386 only)
 * isKnownSyscall("mout"); // false
 * ```
 */
export function isKnownSyscall(name: string): boolean {
  return Object.values(SECCOMP_ARCHES).some((a) => Object.hasOwn(a.syscalls, name));
}

/**
 * The system call names in a profile that no table of tsk's has (another
 * architecture's calls, or misspellings): they match nothing, as with runc.
 * The command line logs a warning for each.
 *
 * @param profile A validated profile.
 * @param path The profile's field path for the messages.
 * @returns One `<field>: unknown system call "<name>"` line per name.
 *
 * @example Find a misspelt name
 * ```ts
 * import { unknownSyscalls } from "./profile.ts";
 * const warnings = unknownSyscalls({
 *   defaultAction: "SCMP_ACT_ALLOW",
 *   syscalls: [{ names: ["mount", "mout"], action: "SCMP_ACT_ERRNO" }],
 * }, "linux.seccomp");
 * // ['linux.seccomp.syscalls[0].names[1]: unknown system call "mout"']
 * ```
 */
export function unknownSyscalls(profile: LinuxSeccomp, path: string): string[] {
  const out: string[] = [];
  (profile.syscalls ?? []).forEach((rule, i) => {
    rule.names.forEach((n, j) => {
      if (!isKnownSyscall(n)) {
        out.push(`${path}.syscalls[${i}].names[${j}]: unknown system call ${JSON.stringify(n)}`);
      }
    });
  });
  return out;
}

function fail(field: string, message: string): never {
  throw new SeccompError(message, { field });
}

function checkU64(v: unknown, field: string): bigint {
  if (typeof v === "bigint" && v >= 0n && v <= U64_MAX) return v;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  fail(
    field,
    `expected an unsigned 64-bit integer, got ${typeof v === "bigint" ? v : JSON.stringify(v)}`,
  );
}

function checkErrno(v: unknown, field: string): void {
  if (v === undefined) return;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 4095) {
    fail(field, `expected an errno from 0 to 4095, got ${JSON.stringify(v)}`);
  }
}

function checkAction(v: unknown, field: string): SeccompAction {
  if (typeof v !== "string" || !ACTIONS.includes(v)) {
    fail(field, `unknown action ${JSON.stringify(v)}; expected one of ${ACTIONS.join(", ")}`);
  }
  if (v === "SCMP_ACT_NOTIFY") {
    fail(field, "SCMP_ACT_NOTIFY needs a seccomp agent (listenerPath), which tsk does not support");
  }
  return v as SeccompAction;
}

function checkKeys(obj: Record<string, unknown>, known: string[], path: string): void {
  for (const k of Object.keys(obj)) {
    if (!known.includes(k)) {
      fail(`${path}.${k}`, `unknown field; expected one of ${known.join(", ")}`);
    }
  }
}

/**
 * Checks a `linux.seccomp` object: actions, operators, argument indexes,
 * errno values, flags, architectures and that every syscall name exists in
 * some ABI tsk knows (a name missing from one listed ABI, like `chown32` on
 * x86_64, is skipped there, as libseccomp does).
 *
 * @param value The parsed JSON value.
 * @param path The field path for messages.
 * @returns The same value, typed.
 * @throws {SeccompError} With `field` set, for the first problem found.
 *
 * @example Reject an unknown action
 * ```ts
 * import { validateSeccomp } from "./profile.ts";
 * try {
 *   validateSeccomp({
 *     defaultAction: "SCMP_ACT_ALLOW",
 *     syscalls: [{ names: ["mount"], action: "SCMP_ACT_DENY" }],
 *   }, "linux.seccomp");
 * } catch (e) {
 *   // linux.seccomp.syscalls[0].action: unknown action "SCMP_ACT_DENY"
 * }
 * ```
 */
export function validateSeccomp(value: unknown, path: string): LinuxSeccomp {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    fail(path, "expected an object");
  }
  const p = value as Record<string, unknown>;
  checkKeys(p, [
    "defaultAction",
    "defaultErrnoRet",
    "architectures",
    "flags",
    "listenerPath",
    "listenerMetadata",
    "syscalls",
  ], path);
  if (p.defaultAction === undefined) fail(`${path}.defaultAction`, "required");
  const def = checkAction(p.defaultAction, `${path}.defaultAction`);
  checkErrno(p.defaultErrnoRet, `${path}.defaultErrnoRet`);
  if (p.defaultErrnoRet !== undefined && def !== "SCMP_ACT_ERRNO" && def !== "SCMP_ACT_TRACE") {
    fail(
      `${path}.defaultErrnoRet`,
      `only meaningful with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${def}`,
    );
  }
  if (p.listenerPath !== undefined && p.listenerPath !== "") {
    fail(`${path}.listenerPath`, "seccomp agents (SCMP_ACT_NOTIFY) are not supported by tsk");
  }
  if (p.architectures !== undefined) {
    if (!Array.isArray(p.architectures)) fail(`${path}.architectures`, "expected an array");
    p.architectures.forEach((a: unknown, i: number) => {
      const f = `${path}.architectures[${i}]`;
      if (typeof a !== "string") fail(f, "expected a string");
      if (OTHER_ARCHES.includes(a)) {
        fail(
          f,
          `tsk has no system call table for ${a}; supported: ${
            Object.keys(SECCOMP_ARCHES).join(", ")
          }`,
        );
      }
      if (!Object.hasOwn(SECCOMP_ARCHES, a)) fail(f, `unknown architecture ${JSON.stringify(a)}`);
    });
  }
  if (p.flags !== undefined) {
    if (!Array.isArray(p.flags)) fail(`${path}.flags`, "expected an array");
    p.flags.forEach((fl: unknown, i: number) => {
      if (typeof fl !== "string" || !Object.hasOwn(SECCOMP_FILTER_FLAGS, fl)) {
        fail(
          `${path}.flags[${i}]`,
          `unsupported flag ${JSON.stringify(fl)}; expected one of ${
            Object.keys(SECCOMP_FILTER_FLAGS).join(", ")
          }`,
        );
      }
    });
  }
  if (p.syscalls !== undefined) {
    if (!Array.isArray(p.syscalls)) fail(`${path}.syscalls`, "expected an array");
    p.syscalls.forEach((s: unknown, i: number) => {
      const sp = `${path}.syscalls[${i}]`;
      if (s === null || typeof s !== "object" || Array.isArray(s)) fail(sp, "expected an object");
      const rule = s as Record<string, unknown>;
      checkKeys(rule, ["names", "action", "errnoRet", "args", "comment"], sp);
      if (!Array.isArray(rule.names) || rule.names.length === 0) {
        fail(`${sp}.names`, "expected a non-empty array of system call names");
      }
      // A name no table of ours has is accepted and matches nothing, as
      // runc and crun (libseccomp) do: engines write profiles with system
      // calls of other architectures (podman's has pciconfig_iobase).
      // unknownSyscalls() lists them for a warning.
      rule.names.forEach((n: unknown, j: number) => {
        if (typeof n !== "string" || n === "") {
          fail(`${sp}.names[${j}]`, `expected a system call name, got ${JSON.stringify(n)}`);
        }
      });
      const action = checkAction(rule.action, `${sp}.action`);
      checkErrno(rule.errnoRet, `${sp}.errnoRet`);
      if (
        rule.errnoRet !== undefined && action !== "SCMP_ACT_ERRNO" && action !== "SCMP_ACT_TRACE"
      ) {
        fail(
          `${sp}.errnoRet`,
          `only meaningful with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${action}`,
        );
      }
      if (rule.args !== undefined) {
        if (!Array.isArray(rule.args)) fail(`${sp}.args`, "expected an array");
        rule.args.forEach((a: unknown, k: number) => {
          const ap = `${sp}.args[${k}]`;
          if (a === null || typeof a !== "object") fail(ap, "expected an object");
          const arg = a as Record<string, unknown>;
          checkKeys(arg, ["index", "value", "valueTwo", "op"], ap);
          if (
            typeof arg.index !== "number" || !Number.isInteger(arg.index) || arg.index < 0 ||
            arg.index > 5
          ) {
            fail(
              `${ap}.index`,
              `expected an argument index from 0 to 5, got ${JSON.stringify(arg.index)}`,
            );
          }
          if (typeof arg.op !== "string" || !OPERATORS.includes(arg.op)) {
            fail(
              `${ap}.op`,
              `unknown operator ${JSON.stringify(arg.op)}; expected one of ${OPERATORS.join(", ")}`,
            );
          }
          checkU64(arg.value, `${ap}.value`);
          if (arg.op === "SCMP_CMP_MASKED_EQ") checkU64(arg.valueTwo ?? 0, `${ap}.valueTwo`);
          else if (arg.valueTwo !== undefined && BigInt(arg.valueTwo as number) !== 0n) {
            fail(`${ap}.valueTwo`, `only used by SCMP_CMP_MASKED_EQ, not ${arg.op}`);
          }
        });
      }
    });
  }
  return value as LinuxSeccomp;
}

/**
 * The seccomp(2) flags word of a profile's `flags`.
 *
 * @param profile A validated profile.
 * @returns The flags to pass to `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`.
 *
 * @example
 * ```ts
 * import { seccompFilterFlags } from "./profile.ts";
 * seccompFilterFlags({ defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_LOG"] }); // 2
 * ```
 */
export function seccompFilterFlags(profile: LinuxSeccomp): number {
  let flags = 0;
  for (const f of profile.flags ?? []) flags |= SECCOMP_FILTER_FLAGS[f] ?? 0;
  return flags;
}
