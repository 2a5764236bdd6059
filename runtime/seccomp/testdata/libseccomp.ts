// Test-only: compiles an OCI seccomp profile with libseccomp (what runc and
// crun use) through Deno.dlopen, as the reference our compiler is compared to.
import type { LinuxSeccomp, SeccompAction, SeccompOperator } from "../profile.ts";

const SYMBOLS = {
  seccomp_init: { parameters: ["u32"], result: "pointer" },
  seccomp_release: { parameters: ["pointer"], result: "void" },
  seccomp_arch_add: { parameters: ["pointer", "u32"], result: "i32" },
  seccomp_arch_remove: { parameters: ["pointer", "u32"], result: "i32" },
  seccomp_arch_native: { parameters: [], result: "u32" },
  seccomp_attr_set: { parameters: ["pointer", "i32", "u32"], result: "i32" },
  seccomp_syscall_resolve_name: { parameters: ["buffer"], result: "i32" },
  seccomp_rule_add_array: { parameters: ["pointer", "u32", "i32", "u32", "buffer"], result: "i32" },
  seccomp_export_bpf: { parameters: ["pointer", "i32"], result: "i32" },
  seccomp_syscall_resolve_num_arch: { parameters: ["u32", "i32"], result: "pointer" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

/** libseccomp's architecture tokens. */
const ARCH: Record<string, number> = {
  SCMP_ARCH_X86_64: 0xc000003e,
  SCMP_ARCH_X86: 0x40000003,
  SCMP_ARCH_X32: 0x4000003e,
  SCMP_ARCH_AARCH64: 0xc00000b7,
};
const OP: Record<SeccompOperator, number> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};

function action(a: SeccompAction, errno?: number): number {
  switch (a) {
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return 0;
    case "SCMP_ACT_KILL_PROCESS":
      return 0x80000000;
    case "SCMP_ACT_TRAP":
      return 0x00030000;
    case "SCMP_ACT_ERRNO":
      return 0x00050000 | (errno ?? 1);
    case "SCMP_ACT_TRACE":
      return (0x7ff00000 | (errno ?? 1)) >>> 0;
    case "SCMP_ACT_LOG":
      return 0x7ffc0000;
    case "SCMP_ACT_ALLOW":
      return 0x7fff0000;
    default:
      throw new Error(`unsupported action ${a}`);
  }
}

/** Whether libseccomp can be loaded here. */
export function libseccompAvailable(): boolean {
  try {
    Deno.dlopen("libseccomp.so.2", { seccomp_version: { parameters: [], result: "pointer" } })
      .close();
    return true;
  } catch {
    return false;
  }
}

/**
 * The name libseccomp gives a system call number of an ABI (x32 numbers
 * without the x32 bit), or undefined: tells version skew between its tables
 * and ours apart from compiler differences.
 */
export function libseccompName(arch: string, nr: number): string | undefined {
  resolver ??= Deno.dlopen("libseccomp.so.2", {
    seccomp_syscall_resolve_num_arch: SYMBOLS.seccomp_syscall_resolve_num_arch,
  });
  const p = resolver.symbols.seccomp_syscall_resolve_num_arch(ARCH[arch], nr);
  return p ? new Deno.UnsafePointerView(p).getCString() : undefined;
}
let resolver:
  | Deno.DynamicLibrary<
    { seccomp_syscall_resolve_num_arch: typeof SYMBOLS.seccomp_syscall_resolve_num_arch }
  >
  | undefined;

const cstr = (s: string) => new TextEncoder().encode(`${s}\0`);

/** Compiles a profile with libseccomp and returns the BPF program it exports. */
export function compileWithLibseccomp(profile: LinuxSeccomp): Uint8Array {
  const lib = Deno.dlopen("libseccomp.so.2", {
    seccomp_init: SYMBOLS.seccomp_init,
    seccomp_release: SYMBOLS.seccomp_release,
    seccomp_arch_add: SYMBOLS.seccomp_arch_add,
    seccomp_arch_remove: SYMBOLS.seccomp_arch_remove,
    seccomp_arch_native: SYMBOLS.seccomp_arch_native,
    seccomp_attr_set: SYMBOLS.seccomp_attr_set,
    seccomp_syscall_resolve_name: SYMBOLS.seccomp_syscall_resolve_name,
    seccomp_rule_add_array: SYMBOLS.seccomp_rule_add_array,
    seccomp_export_bpf: SYMBOLS.seccomp_export_bpf,
  });
  const libc = Deno.dlopen("libc.so.6", { open: SYMBOLS.open, close: SYMBOLS.close });
  const s = lib.symbols;
  const ctx = s.seccomp_init(action(profile.defaultAction, profile.defaultErrnoRet));
  if (!ctx) throw new Error("seccomp_init failed");
  const path = Deno.makeTempFileSync({ prefix: "tsk-libseccomp-" });
  try {
    // SCMP_FLTATR_ACT_BADARCH = 2: kill the process, as our compiler does.
    if (s.seccomp_attr_set(ctx, 2, 0x80000000) !== 0) throw new Error("seccomp_attr_set failed");
    const arches = profile.architectures ?? [];
    if (arches.length > 0) {
      const native = s.seccomp_arch_native();
      for (const a of arches) {
        const rc = s.seccomp_arch_add(ctx, ARCH[a]);
        if (rc !== 0 && rc !== -17) throw new Error(`seccomp_arch_add ${a}: ${rc}`);
      }
      if (!arches.some((a) => ARCH[a] === native)) s.seccomp_arch_remove(ctx, native);
    }
    const def = action(profile.defaultAction, profile.defaultErrnoRet);
    for (const rule of profile.syscalls ?? []) {
      // libseccomp refuses rules that repeat the default action; runc skips them too.
      if (action(rule.action, rule.errnoRet) === def) continue;
      const args = rule.args ?? [];
      const buf = new Uint8Array(24 * Math.max(args.length, 1));
      const v = new DataView(buf.buffer);
      args.forEach((a, i) => {
        v.setUint32(i * 24, a.index, true);
        v.setUint32(i * 24 + 4, OP[a.op], true);
        v.setBigUint64(i * 24 + 8, BigInt(a.value), true);
        v.setBigUint64(i * 24 + 16, BigInt(a.valueTwo ?? 0), true);
      });
      for (const name of rule.names) {
        const nr = s.seccomp_syscall_resolve_name(cstr(name));
        if (nr === -1) continue; // unknown to this libseccomp version
        const rc = s.seccomp_rule_add_array(
          ctx,
          action(rule.action, rule.errnoRet),
          nr,
          args.length,
          buf,
        );
        if (rc !== 0) throw new Error(`seccomp_rule_add ${name}: ${rc}`);
      }
    }
    const fd = libc.symbols.open(cstr(path), 0o1 | 0o100 | 0o1000, 0o600);
    if (fd < 0) throw new Error("open failed");
    try {
      if (s.seccomp_export_bpf(ctx, fd) !== 0) throw new Error("seccomp_export_bpf failed");
    } finally {
      libc.symbols.close(fd);
    }
    return Deno.readFileSync(path);
  } finally {
    s.seccomp_release(ctx);
    Deno.removeSync(path);
    lib.close();
    libc.close();
  }
}
