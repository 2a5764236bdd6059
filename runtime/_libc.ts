/**
 * The one place that opens libc through `Deno.dlopen`. Every call here is
 * synchronous and runs on the calling thread, and errno is read through
 * `__errno_location()` right after the call that failed, on that same thread
 * (DESIGN.md: per-thread calls such as unshare, setns, capset, prctl and the
 * raw setresuid must never run on a pool thread). The only `nonblocking`
 * symbols are `read`/`waitpid` twins used by the parent to wait without
 * blocking the event loop; their errno is never read.
 *
 * @module
 */

const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  syscall: {
    parameters: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"],
    result: "i64",
  },
  unshare: { parameters: ["i32"], result: "i32" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "buffer"], result: "i32" },
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  chdir: { parameters: ["buffer"], result: "i32" },
  fchdir: { parameters: ["i32"], result: "i32" },
  getcwd: { parameters: ["buffer", "usize"], result: "pointer" },
  sethostname: { parameters: ["buffer", "usize"], result: "i32" },
  setdomainname: { parameters: ["buffer", "usize"], result: "i32" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  read_async: {
    name: "read",
    parameters: ["i32", "buffer", "usize"],
    result: "isize",
    nonblocking: true,
  },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i64"], result: "i32" },
  dup3: { parameters: ["i32", "i32", "i32"], result: "i32" },
  mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
  mkfifo: { parameters: ["buffer", "u32"], result: "i32" },
  symlink: { parameters: ["buffer", "buffer"], result: "i32" },
  readlink: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  access: { parameters: ["buffer", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  setsid: { parameters: [], result: "i32" },
  umask: { parameters: ["u32"], result: "u32" },
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  getpid: { parameters: [], result: "i32" },
  setpriority: { parameters: ["i32", "u32", "i32"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  waitpid_async: {
    name: "waitpid",
    parameters: ["i32", "buffer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  poll_async: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  recvmsg_async: {
    name: "recvmsg",
    parameters: ["i32", "buffer", "i32"],
    result: "isize",
    nonblocking: true,
  },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_adddup2: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  posix_spawn_file_actions_addopen: {
    parameters: ["buffer", "i32", "buffer", "i32", "u32"],
    result: "i32",
  },
  posix_spawn_file_actions_addclosefrom_np: { parameters: ["buffer", "i32"], result: "i32" },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  statvfs: { parameters: ["buffer", "buffer"], result: "i32" },
  sigemptyset: { parameters: ["buffer"], result: "i32" },
  sigfillset: { parameters: ["buffer"], result: "i32" },
  pthread_sigmask: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  clone: { parameters: ["pointer", "pointer", "i32", "pointer"], result: "i32" },
  dlsym: { parameters: ["pointer", "buffer"], result: "pointer" },
  madvise: { parameters: ["usize", "usize", "i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const bound: Record<string, unknown> = {};

// Binding a symbol costs Deno about 0.2 ms (more under load); the whole
// table bound at once cost 17-40 ms of every runtime and init start-up. So
// each symbol is bound on its first use.
const lazy = new Proxy({} as Libc, {
  get(_, name: string) {
    let f = bound[name];
    if (f === undefined) {
      const def = (SYMBOLS as Record<string, Deno.ForeignFunction>)[name];
      if (def === undefined) return undefined;
      f = Deno.dlopen("libc.so.6", { [name]: def }).symbols[name];
      bound[name] = f;
      lateBind?.(name);
    }
    return f;
  },
});

let lateBind: ((name: string) => void) | null = null;

/**
 * Calls `report` with the name of every symbol bound from now on (an idle
 * init reports what it had to bind after its configuration arrived: each
 * one cost the container's start about 0.3 ms).
 *
 * @param report Gets each name.
 */
export function onLateBind(report: (name: string) => void): void {
  lateBind = report;
}

/** A symbol of the table. */
export type LibcSymbol = keyof typeof SYMBOLS;

/**
 * Binds the named symbols now, in one `Deno.dlopen` (about 1 ms less than
 * binding five of them one by one, on a short-lived command's start-up).
 */
export function preload(names: readonly LibcSymbol[]): void {
  const want = names.filter((n) => bound[n] === undefined);
  if (want.length === 0) return;
  const defs = Object.fromEntries(want.map((n) => [n, SYMBOLS[n]])) as Record<
    string,
    Deno.ForeignFunction
  >;
  const syms = Deno.dlopen("libc.so.6", defs).symbols as Record<string, unknown>;
  for (const n of want) bound[n] = syms[n];
}

/** libc's symbols, each bound on first use. */
export function libc(): Libc {
  return lazy;
}

/** Reads errno of the calling thread; call it right after the failing call. */
export function errno(): number {
  const p = libc().__errno_location();
  if (p === null) return 0;
  return new Deno.UnsafePointerView(p).getInt32(0);
}

const encoder = new TextEncoder();

/** A NUL-terminated copy of `s` for passing as `const char *`. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const b = encoder.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/**
 * A NULL-terminated `char *[]` for `s`; the returned `keep` array must stay
 * referenced until the call that uses the vector returns.
 */
export function cstrv(
  items: readonly string[],
): { vec: Uint8Array<ArrayBuffer>; keep: Uint8Array<ArrayBuffer>[] } {
  const keep = items.map(cstr);
  const ptrs = new BigUint64Array(items.length + 1);
  keep.forEach((b, i) => {
    ptrs[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
  });
  return { vec: new Uint8Array(ptrs.buffer), keep };
}

/** The address of a buffer as an integer, for raw syscall arguments. */
export function addr(b: Uint8Array<ArrayBuffer> | null): bigint {
  if (b === null) return 0n;
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
}

/**
 * Whether `path` (symlinks followed, as stat(2)) is a directory, something
 * else, or missing (`null`), by open(2) with O_PATH: a missing path costs no
 * thrown error (in a fresh init each thrown lookup error cost 0.1-0.3 ms).
 *
 * @param path The path.
 * @returns `"dir"`, `"other"` or `null`.
 */
export function pathKind(path: string): "dir" | "other" | null {
  const c = libc();
  const p = cstr(path);
  // open(2) flags (syscalls.ts imports this module, so not its `O` table).
  const O_PATH = 0o10000000, O_DIRECTORY = 0o200000, O_CLOEXEC = 0o2000000;
  for (const flags of [O_PATH | O_DIRECTORY | O_CLOEXEC, O_PATH | O_CLOEXEC]) {
    const fd = c.open(p, flags, 0);
    if (fd >= 0) {
      c.close(fd);
      return flags & O_DIRECTORY ? "dir" : "other";
    }
    // ENOTDIR: not a directory, or a component before it is not one.
    if (errno() !== 20) return null;
  }
  return null;
}

/**
 * Whether `path` exists (access(2) with F_OK, symlinks followed), without a
 * thrown error when it does not.
 *
 * @param path The path.
 * @returns Whether it exists.
 */
export function pathExists(path: string): boolean {
  return libc().access(cstr(path), 0 /* F_OK */) === 0;
}

/**
 * Whether `path` is a file that is not a directory and that the caller may
 * execute (access(2) with X_OK: for root, any execute bit), without a thrown
 * error for a missing one.
 *
 * @param path The path.
 * @returns Whether execve could run it.
 */
export function isExecutableFile(path: string): boolean {
  return libc().access(cstr(path), 1 /* X_OK */) === 0 && pathKind(path) === "other";
}

/** Raw system call numbers for the architectures tsk runs on. */
export const SYS: Readonly<Record<string, number>> = Deno.build.arch === "aarch64"
  ? {
    pivot_root: 41,
    capget: 90,
    capset: 91,
    prctl: 167,
    seccomp: 277,
    setresuid: 147,
    setresgid: 149,
    setgroups: 159,
    prlimit64: 261,
    close_range: 436,
    pidfd_open: 434,
    mount_setattr: 442,
    keyctl: 219,
    fchownat: 54,
  }
  : {
    pivot_root: 155,
    capget: 125,
    capset: 126,
    prctl: 157,
    seccomp: 317,
    setresuid: 117,
    setresgid: 119,
    setgroups: 116,
    prlimit64: 302,
    close_range: 436,
    pidfd_open: 434,
    mount_setattr: 442,
    keyctl: 250,
    fchownat: 260,
  };
