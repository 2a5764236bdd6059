// Test helper run as a subprocess by install_test.ts: installs a compiled
// seccomp filter on this Deno process's main thread the way the runtime's
// init stage does (no_new_privs, then prctl(PR_SET_SECCOMP)), then either
// probes system calls through FFI and prints their errno as JSON, makes one
// system call, or execs a program that inherits the filter.
//
// Usage: apply_seccomp.ts <filter.bin> probe
//        apply_seccomp.ts <filter.bin> call <nr>
//        apply_seccomp.ts <filter.bin> exec <path> [args...]
import { sockFprog } from "../compile.ts";

const libc = Deno.dlopen("libc.so.6", {
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  syscall: { parameters: ["i64", "i64", "i64", "i64", "i64"], result: "i64" },
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "pointer"], result: "i32" },
  unshare: { parameters: ["i32"], result: "i32" },
  getpid: { parameters: [], result: "i32" },
  write: { parameters: ["i32", "buffer", "u64"], result: "i64" },
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
});
const errno = () => new Deno.UnsafePointerView(libc.symbols.__errno_location()!).getInt32();
const cstr = (s: string) => new TextEncoder().encode(s + "\0");

const [filterPath, mode, ...rest] = Deno.args;
const filter = new Uint8Array(await Deno.readFile(filterPath));
const prog = sockFprog(filter);

const PR_SET_NO_NEW_PRIVS = 38;
const PR_SET_SECCOMP = 22;
const SECCOMP_MODE_FILTER = 2n;
if (libc.symbols.prctl(PR_SET_NO_NEW_PRIVS, 1n, 0n, 0n, 0n) !== 0) {
  throw new Error(`PR_SET_NO_NEW_PRIVS failed: errno ${errno()}`);
}
const progAddr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(prog)));
if (libc.symbols.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, progAddr, 0n, 0n) !== 0) {
  throw new Error(`PR_SET_SECCOMP failed: errno ${errno()}`);
}

if (mode === "probe") {
  const result: Record<string, number> = {};
  const dir = cstr(`/nonexistent-tsk-${Deno.pid}`);
  result.mount = libc.symbols.mount(cstr("none"), dir, cstr("tmpfs"), 0n, null) === 0 ? 0 : errno();
  result.unshare = libc.symbols.unshare(0x04000000 /* CLONE_NEWUTS */) === 0 ? 0 : errno();
  // reboot(2) with wrong magic numbers: EINVAL if the filter let it through.
  result.reboot = libc.symbols.syscall(169n, 0n, 0n, 0n, 0n) === 0n ? 0 : errno();
  result.getpid = libc.symbols.getpid() === Deno.pid ? 0 : -1;
  const msg = cstr("write works\n");
  result.write = libc.symbols.write(2, msg, BigInt(msg.length - 1)) > 0n ? 0 : errno();
  console.log(JSON.stringify(result));
} else if (mode === "call") {
  const rc = libc.symbols.syscall(BigInt(rest[0]), 0n, 0n, 0n, 0n);
  console.log(JSON.stringify({ rc: Number(rc), errno: rc < 0n ? errno() : 0 }));
} else if (mode === "exec") {
  const strings = rest.map(cstr);
  const argv = new BigUint64Array(strings.length + 1);
  strings.forEach((s, i) => argv[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s))));
  const envp = new BigUint64Array(1);
  libc.symbols.execve(strings[0], new Uint8Array(argv.buffer), new Uint8Array(envp.buffer));
  throw new Error(`execve failed: errno ${errno()}`);
} else {
  throw new Error(`unknown mode ${mode}`);
}
