/**
 * The host interface of the runtime: every system call the parent and init
 * stages make goes through a {@linkcode Syscalls} object, so unit tests can
 * pass a recording double (see `@tsk/runtime/testing`) that fails chosen
 * calls, and integration tests use {@linkcode linuxSyscalls} on the real
 * kernel.
 *
 * @module
 */
import { addr, cstr, cstrv, errno, libc, SYS } from "./_libc.ts";
import { SyscallError } from "./errors.ts";
import { recvWithFdsSync as recvWithFdsOnce } from "./_unix_socket.ts";

/** How a spawned child gets its PID namespace. */
export type SpawnPidNamespace =
  | { kind: "inherit" }
  | { kind: "new" }
  | { kind: "join"; path: string };

/** What {@linkcode Syscalls.spawn} starts. */
export interface SpawnRequest {
  /** Absolute path of the program. */
  path: string;
  /** argv, including argv[0]. */
  argv: readonly string[];
  /** The environment as `KEY=value` strings. */
  env: readonly string[];
  /**
   * File descriptors of the child: `fds[i]` is the parent's descriptor that
   * becomes the child's descriptor `i` (`null` opens /dev/null there). All
   * other descriptors are closed by exec (the runtime's own are O_CLOEXEC).
   */
  fds: readonly (number | null)[];
  /** The child's PID namespace. */
  pidNamespace: SpawnPidNamespace;
  /** Start a new session (setsid) in the child. */
  setsid: boolean;
}

/** A decoded `waitpid` status. */
export interface WaitStatus {
  /** The exit code, or `null` when a signal ended the process. */
  exitCode: number | null;
  /** The signal number that ended the process, if any. */
  signal: number | null;
}

/**
 * Every system call the runtime makes. Methods throw
 * {@linkcode SyscallError} on failure; each runs synchronously on the calling
 * thread (namespaces, credentials and seccomp filters are per thread).
 */
export interface Syscalls {
  /** unshare(2). */
  unshare(flags: number): void;
  /** setns(2). */
  setns(fd: number, nstype: number): void;
  /** mount(2). */
  mount(
    source: string | null,
    target: string,
    fstype: string | null,
    flags: number,
    data: string | null,
  ): void;
  /** umount2(2). */
  umount(target: string, flags: number): void;
  /** pivot_root(2). */
  pivotRoot(newRoot: string, putOld: string): void;
  /** chdir(2). */
  chdir(path: string): void;
  /** statvfs(3)'s `f_flag`: the MS_RDONLY, MS_NOSUID, ... flags of the mount holding `path`. */
  mountFlags(path: string): number;
  /**
   * mount_setattr(2) (Linux 5.12): sets the `set` and clears the `clear`
   * {@linkcode MOUNT_ATTR} bits of the mount at `path`, and with `recursive`
   * of every mount under it, in one call. Throws ENOSYS on older kernels.
   */
  mountSetattr(path: string, attr: MountAttr, recursive: boolean): void;
  /**
   * keyctl(KEYCTL_JOIN_SESSION_KEYRING): joins the session keyring `name`,
   * made if there is none, and returns its id.
   */
  joinSessionKeyring(name: string): number;
  /** keyctl(KEYCTL_SETPERM) of a key or keyring. */
  setKeyPerm(id: number, perm: number): void;
  /** keyctl(KEYCTL_DESCRIBE): `type;uid;gid;perm;description` of a key or keyring. */
  describeKey(id: number): string;
  /** lchown(2): the owner of `path` itself, a symbolic link not followed. */
  lchown(path: string, uid: number, gid: number): void;
  /** getcwd(3). */
  getcwd(): string;
  /** sethostname(2). */
  sethostname(name: string): void;
  /** setdomainname(2). */
  setdomainname(name: string): void;
  /** open(2); returns the descriptor. */
  open(path: string, flags: number, mode?: number): number;
  /** close(2). */
  close(fd: number): void;
  /** read(2); returns the count read (0 at end of file). */
  read(fd: number, buf: Uint8Array<ArrayBuffer>): number;
  /** read(2) on a pool thread, for the parent only; errno is not available. */
  readAsync(fd: number, buf: Uint8Array<ArrayBuffer>): Promise<number>;
  /** write(2); returns the count written. */
  write(fd: number, buf: Uint8Array<ArrayBuffer>): number;
  /** pipe2(2) with O_CLOEXEC; returns `[read, write]`. */
  pipe(): [number, number];
  /** socketpair(2): a connected pair of unix stream sockets, close-on-exec. */
  socketpair(): [number, number];
  /**
   * recvmsg(2) into `buf`, blocking: the count read (0 at end of file) and
   * the descriptors that came with those bytes (SCM_RIGHTS, close-on-exec).
   */
  recvWithFds(fd: number, buf: Uint8Array<ArrayBuffer>): { n: number; fds: number[] };
  /** fcntl(2) with an integer argument. */
  fcntl(fd: number, cmd: number, arg: number): number;
  /** dup3(2). */
  dup3(oldFd: number, newFd: number, flags: number): void;
  /** mknod(2). */
  mknod(path: string, mode: number, dev: bigint): void;
  /** mkfifo(3). */
  mkfifo(path: string, mode: number): void;
  /** symlink(2). */
  symlink(target: string, path: string): void;
  /** umask(2); returns the previous mask. */
  umask(mask: number): number;
  /** prlimit64(2) on the calling process. */
  setrlimit(resource: number, soft: bigint, hard: bigint): void;
  /** prctl(2). */
  prctl(option: number, arg2?: bigint, arg3?: bigint, arg4?: bigint, arg5?: bigint): number;
  /** capset(2) of the calling thread; each set is a 64-bit mask. */
  capset(effective: bigint, permitted: bigint, inheritable: bigint): void;
  /** setgroups(2) as a raw system call (per thread). */
  setgroups(gids: readonly number[]): void;
  /** setresgid(2) as a raw system call (per thread). */
  setresgid(gid: number): void;
  /** setresuid(2) as a raw system call (per thread). */
  setresuid(uid: number): void;
  /** seccomp(SECCOMP_SET_MODE_FILTER) with a `struct sock_filter[]` program. */
  seccompFilter(program: Uint8Array, flags: number): void;
  /** close_range(first, ~0, CLOSE_RANGE_CLOEXEC): marks every fd ≥ first close-on-exec. */
  cloexecFrom(first: number): void;
  /** execve(2); returns only by throwing. */
  execve(path: string, argv: readonly string[], env: readonly string[]): never;
  /** kill(2). */
  kill(pid: number, signal: number): void;
  /** getpid(2). */
  getpid(): number;
  /** setpriority(PRIO_PROCESS, pid, nice). */
  setpriority(pid: number, nice: number): void;
  /** waitpid(2) with WNOHANG; `null` while the child runs. */
  waitpidNoHang(pid: number): WaitStatus | null;
  /** waitpid(2) on a pool thread (blocking there). */
  waitpidAsync(pid: number): Promise<WaitStatus>;
  /** Waits on a pool thread until `fd` is readable (or hung up). */
  pollReadable(fd: number, timeoutMs: number): Promise<boolean>;
  /**
   * Waits on a pool thread until every writer of the pipe or FIFO `fd` reads
   * from has closed it (POLLHUP), ignoring data still unread.
   */
  pollHangup(fd: number, timeoutMs: number): Promise<boolean>;
  /** pidfd_open(2). */
  pidfdOpen(pid: number): number;
  /**
   * posix_spawn(3) with the child's descriptors and PID namespace set up,
   * in one synchronous run (DESIGN.md: the parent unshares CLONE_NEWPID,
   * spawns and setns's back before anything can start a thread).
   */
  spawn(request: SpawnRequest): number;
}

// Constants the runtime uses (linux/sched.h, sys/mount.h, fcntl.h, prctl.h).
/** clone(2) flags. */
export const CLONE = {
  FS: 0x200,
  NEWNS: 0x20000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

/** mount(2) flags. */
export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  REMOUNT: 32,
  MANDLOCK: 64,
  DIRSYNC: 128,
  NOSYMFOLLOW: 256,
  NOATIME: 1024,
  NODIRATIME: 2048,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  SILENT: 32768,
  POSIXACL: 1 << 16,
  UNBINDABLE: 1 << 17,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
  RELATIME: 1 << 21,
  I_VERSION: 1 << 23,
  STRICTATIME: 1 << 24,
  LAZYTIME: 1 << 25,
} as const;

/** mount_setattr(2) attributes (`MOUNT_ATTR_*`). */
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  /** The atime mode's bits: one of RELATIME (0), NOATIME, STRICTATIME. */
  ATIME: 0x70,
  RELATIME: 0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  NOSYMFOLLOW: 0x200000,
} as const;

/**
 * What {@linkcode Syscalls.mountSetattr} changes: {@linkcode MOUNT_ATTR}
 * bits to set and to clear. A new atime mode goes in `set` with
 * `MOUNT_ATTR.ATIME` in `clear`, as the kernel asks.
 */
export interface MountAttr {
  /** The attributes to set. */
  set: number;
  /** The attributes to clear. */
  clear: number;
}

/** open(2) flags. */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  NOCTTY: 0o400,
  APPEND: 0o2000,
  NONBLOCK: 0o4000,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

/** prctl(2) options. */
export const PR = {
  SET_PDEATHSIG: 1,
  SET_DUMPABLE: 4,
  SET_KEEPCAPS: 8,
  CAPBSET_DROP: 24,
  SET_NO_NEW_PRIVS: 38,
  CAP_AMBIENT: 47,
  CAP_AMBIENT_RAISE: 2,
  CAP_AMBIENT_CLEAR_ALL: 4,
} as const;

const AT_FDCWD = -100n;
const AT_RECURSIVE = 0x8000;
const SPAWN_SETSIGDEF = 0x04;
const SPAWN_SETSIGMASK = 0x08;
const SPAWN_SETSID = 0x80;
const CAP_V3 = 0x20080522;

function fail(name: string, detail = ""): never {
  throw new SyscallError(name, errno(), detail);
}

function check(rc: number | bigint, name: string, detail = ""): void {
  if (Number(rc) < 0) fail(name, detail);
}

function decodeStatus(status: number): WaitStatus {
  const sig = status & 0x7f;
  if (sig === 0) return { exitCode: (status >> 8) & 0xff, signal: null };
  return { exitCode: null, signal: sig };
}

/**
 * The real kernel, through `Deno.dlopen("libc.so.6")`.
 *
 * @returns A {@linkcode Syscalls} for this process.
 *
 * @example Read this process's id
 * ```ts
 * import { linuxSyscalls } from "@tsk/runtime";
 * const sys = linuxSyscalls();
 * console.log(sys.getpid() === Deno.pid); // true
 * ```
 */
export function linuxSyscalls(): Syscalls {
  return LINUX;
}

function raw(nr: number, ...args: bigint[]): bigint {
  const a = [...args, 0n, 0n, 0n, 0n, 0n, 0n];
  return libc().syscall(BigInt(nr), a[0], a[1], a[2], a[3], a[4], a[5]) as bigint;
}

const LINUX: Syscalls = {
  unshare(flags) {
    check(libc().unshare(flags), "unshare", `0x${flags.toString(16)}`);
  },
  setns(fd, nstype) {
    check(libc().setns(fd, nstype), "setns", `0x${nstype.toString(16)}`);
  },
  mount(source, target, fstype, flags, data) {
    const rc = libc().mount(
      source === null ? null : cstr(source),
      cstr(target),
      fstype === null ? null : cstr(fstype),
      BigInt(flags),
      data === null ? null : cstr(data),
    );
    check(rc, "mount", `${source ?? "none"} on ${target}`);
  },
  umount(target, flags) {
    check(libc().umount2(cstr(target), flags), "umount2", target);
  },
  pivotRoot(newRoot, putOld) {
    const a = cstr(newRoot), b = cstr(putOld);
    check(raw(SYS.pivot_root, addr(a), addr(b)), "pivot_root", newRoot);
  },
  chdir(path) {
    check(libc().chdir(cstr(path)), "chdir", path);
  },
  mountFlags(path) {
    const buf = new BigUint64Array(16);
    check(libc().statvfs(cstr(path), new Uint8Array(buf.buffer)), "statvfs", path);
    return Number(buf[9]);
  },
  mountSetattr(path, attr, recursive) {
    // struct mount_attr: attr_set, attr_clr, propagation, userns_fd.
    const a = new BigUint64Array([BigInt(attr.set), BigInt(attr.clear), 0n, 0n]);
    const flags = recursive ? AT_RECURSIVE : 0;
    const p = cstr(path);
    check(
      raw(SYS.mount_setattr, AT_FDCWD, addr(p), BigInt(flags), addr(new Uint8Array(a.buffer)), 32n),
      "mount_setattr",
      path,
    );
  },
  joinSessionKeyring(name) {
    const n = cstr(name);
    const id = raw(SYS.keyctl, 1n, /* KEYCTL_JOIN_SESSION_KEYRING */ addr(n));
    check(id, "keyctl", `join session keyring ${name}`);
    return Number(id);
  },
  setKeyPerm(id, perm) {
    check(raw(SYS.keyctl, 5n, /* KEYCTL_SETPERM */ BigInt(id), BigInt(perm)), "keyctl", "setperm");
  },
  describeKey(id) {
    const buf = new Uint8Array(512);
    const n = raw(SYS.keyctl, 6n, /* KEYCTL_DESCRIBE */ BigInt(id), addr(buf), 512n);
    check(n, "keyctl", "describe");
    return new TextDecoder().decode(buf.subarray(0, Math.max(0, Math.min(512, Number(n)) - 1)));
  },
  lchown(path, uid, gid) {
    const p = cstr(path);
    const rc = raw(SYS.fchownat, AT_FDCWD, addr(p), BigInt(uid), BigInt(gid), 0x100n);
    check(rc, "lchown", path);
  },
  getcwd() {
    const buf = new Uint8Array(4096);
    if (libc().getcwd(buf, BigInt(buf.length)) === null) fail("getcwd");
    return new TextDecoder().decode(buf.subarray(0, buf.indexOf(0)));
  },
  sethostname(name) {
    const b = new TextEncoder().encode(name);
    check(libc().sethostname(b, BigInt(b.length)), "sethostname", name);
  },
  setdomainname(name) {
    const b = new TextEncoder().encode(name);
    check(libc().setdomainname(b, BigInt(b.length)), "setdomainname", name);
  },
  open(path, flags, mode = 0) {
    const fd = libc().open(cstr(path), flags, mode);
    if (fd < 0) fail("open", path);
    return fd;
  },
  close(fd) {
    check(libc().close(fd), "close", String(fd));
  },
  read(fd, buf) {
    const n = Number(libc().read(fd, buf, BigInt(buf.length)));
    if (n < 0) fail("read", `fd ${fd}`);
    return n;
  },
  async readAsync(fd, buf) {
    const n = Number(await libc().read_async(fd, buf, BigInt(buf.length)));
    if (n < 0) throw new SyscallError("read", 5, `fd ${fd}`);
    return n;
  },
  write(fd, buf) {
    const n = Number(libc().write(fd, buf, BigInt(buf.length)));
    if (n < 0) fail("write", `fd ${fd}`);
    return n;
  },
  pipe() {
    const fds = new Int32Array(2);
    check(libc().pipe2(new Uint8Array(fds.buffer), O.CLOEXEC), "pipe2");
    return [fds[0], fds[1]];
  },
  socketpair() {
    const fds = new Int32Array(2);
    const AF_UNIX = 1, SOCK_STREAM = 1;
    check(
      libc().socketpair(AF_UNIX, SOCK_STREAM | O.CLOEXEC, 0, new Uint8Array(fds.buffer)),
      "socketpair",
    );
    return [fds[0], fds[1]];
  },
  recvWithFds(fd, buf) {
    for (;;) {
      const r = recvWithFdsOnce(fd, buf);
      if (r !== null) return r;
    }
  },
  fcntl(fd, cmd, arg) {
    const rc = libc().fcntl(fd, cmd, BigInt(arg));
    if (rc < 0) fail("fcntl", `fd ${fd}`);
    return rc;
  },
  dup3(oldFd, newFd, flags) {
    check(libc().dup3(oldFd, newFd, flags), "dup3", `${oldFd} to ${newFd}`);
  },
  mknod(path, mode, dev) {
    check(libc().mknod(cstr(path), mode, dev), "mknod", path);
  },
  mkfifo(path, mode) {
    check(libc().mkfifo(cstr(path), mode), "mkfifo", path);
  },
  symlink(target, path) {
    check(libc().symlink(cstr(target), cstr(path)), "symlink", path);
  },
  umask(mask) {
    return libc().umask(mask);
  },
  setrlimit(resource, soft, hard) {
    const lim = new BigUint64Array([soft, hard]);
    const b = new Uint8Array(lim.buffer);
    check(raw(SYS.prlimit64, 0n, BigInt(resource), addr(b), 0n), "prlimit64", String(resource));
  },
  prctl(option, a2 = 0n, a3 = 0n, a4 = 0n, a5 = 0n) {
    const rc = raw(SYS.prctl, BigInt(option), a2, a3, a4, a5);
    if (rc < 0n) fail("prctl", String(option));
    return Number(rc);
  },
  capset(effective, permitted, inheritable) {
    const header = new Uint32Array([CAP_V3, 0]);
    const lo = (v: bigint) => Number(v & 0xffffffffn);
    const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
    const data = new Uint32Array([
      lo(effective),
      lo(permitted),
      lo(inheritable),
      hi(effective),
      hi(permitted),
      hi(inheritable),
    ]);
    const h = new Uint8Array(header.buffer), d = new Uint8Array(data.buffer);
    check(raw(SYS.capset, addr(h), addr(d)), "capset");
  },
  setgroups(gids) {
    const arr = new Uint32Array(gids.length || 1);
    gids.forEach((g, i) => (arr[i] = g));
    const b = new Uint8Array(arr.buffer);
    check(raw(SYS.setgroups, BigInt(gids.length), addr(b)), "setgroups");
  },
  setresgid(gid) {
    const g = BigInt(gid);
    check(raw(SYS.setresgid, g, g, g), "setresgid", String(gid));
  },
  setresuid(uid) {
    const u = BigInt(uid);
    check(raw(SYS.setresuid, u, u, u), "setresuid", String(uid));
  },
  seccompFilter(program, flags) {
    if (program.length % 8 !== 0) throw new SyscallError("seccomp", 22, "program length");
    const prog = new Uint8Array(program);
    const fprog = new BigUint64Array([BigInt(program.length / 8), addr(prog)]);
    const f = new Uint8Array(fprog.buffer);
    check(raw(SYS.seccomp, 1n, BigInt(flags), addr(f)), "seccomp", "SECCOMP_SET_MODE_FILTER");
  },
  cloexecFrom(first) {
    const CLOSE_RANGE_CLOEXEC = 4n;
    check(
      raw(SYS.close_range, BigInt(first), 0xffffffffn, CLOSE_RANGE_CLOEXEC),
      "close_range",
    );
  },
  execve(path, argv, env) {
    const a = cstrv(argv), e = cstrv(env);
    libc().execve(cstr(path), a.vec, e.vec);
    void a.keep;
    void e.keep;
    fail("execve", path);
  },
  kill(pid, signal) {
    check(libc().kill(pid, signal), "kill", String(pid));
  },
  getpid() {
    return libc().getpid();
  },
  setpriority(pid, nice) {
    check(libc().setpriority(0, pid, nice), "setpriority", String(pid));
  },
  waitpidNoHang(pid) {
    const st = new Int32Array(1);
    const rc = libc().waitpid(pid, new Uint8Array(st.buffer), 1 /* WNOHANG */);
    if (rc < 0) fail("waitpid", String(pid));
    if (rc === 0) return null;
    return decodeStatus(st[0]);
  },
  async waitpidAsync(pid) {
    const st = new Int32Array(1);
    for (;;) {
      const rc = await libc().waitpid_async(pid, new Uint8Array(st.buffer), 0);
      if (rc === pid) return decodeStatus(st[0]);
      // A pool thread cannot read errno; EINTR is the only retryable case.
      const again = libc().waitpid(pid, new Uint8Array(st.buffer), 1);
      if (again === pid) return decodeStatus(st[0]);
      if (again < 0) throw new SyscallError("waitpid", errno(), String(pid));
    }
  },
  async pollReadable(fd, timeoutMs) {
    const pfd = new Uint8Array(8);
    new DataView(pfd.buffer).setInt32(0, fd, true);
    new DataView(pfd.buffer).setInt16(4, 1, /* POLLIN */ true);
    const rc = await libc().poll_async(pfd, 1n, timeoutMs);
    return rc > 0;
  },
  async pollHangup(fd, timeoutMs) {
    // events 0: only POLLHUP/POLLERR wake us, which poll reports regardless.
    const pfd = new Uint8Array(8);
    new DataView(pfd.buffer).setInt32(0, fd, true);
    const rc = await libc().poll_async(pfd, 1n, timeoutMs);
    return rc > 0;
  },
  pidfdOpen(pid) {
    const rc = raw(SYS.pidfd_open, BigInt(pid), 0n);
    if (rc < 0n) fail("pidfd_open", String(pid));
    return Number(rc);
  },
  spawn(req) {
    return spawnLinux(req);
  },
};

function spawnLinux(req: SpawnRequest): number {
  const c = libc();
  const fa = new Uint8Array(256);
  const attr = new Uint8Array(512);
  const sigs = new Uint8Array(128);
  const mask = new Uint8Array(128);
  const devNull = cstr("/dev/null");
  const argv = cstrv(req.argv);
  const envp = cstrv(req.env);
  const path = cstr(req.path);
  const pidOut = new Int32Array(1);
  const pidBuf = new Uint8Array(pidOut.buffer);
  c.posix_spawn_file_actions_init(fa);
  c.posix_spawnattr_init(attr);
  // Sources are first copied above every target so that dup2 onto a low
  // number never clobbers a source still to be copied. The lowest free
  // number at or above the targets is taken: a number past the fd table's
  // size would grow the table, which in a multi-threaded process waits for
  // an RCU grace period (15 ms here).
  const moved: number[] = [];
  try {
    req.fds.forEach((src) => {
      if (src === null) return;
      moved.push(LINUX.fcntl(src, 1030, /* F_DUPFD_CLOEXEC */ req.fds.length));
    });
    let k = 0;
    req.fds.forEach((src, i) => {
      if (src === null) {
        c.posix_spawn_file_actions_addopen(fa, i, devNull, O.RDWR, 0);
      } else {
        c.posix_spawn_file_actions_adddup2(fa, moved[k++], i);
      }
    });
    // Nothing else of the parent reaches the child, even a descriptor that
    // some library left without O_CLOEXEC.
    c.posix_spawn_file_actions_addclosefrom_np(fa, req.fds.length);
    c.sigfillset(sigs);
    c.sigemptyset(mask);
    c.posix_spawnattr_setsigdefault(attr, sigs);
    c.posix_spawnattr_setsigmask(attr, mask);
    c.posix_spawnattr_setflags(
      attr,
      SPAWN_SETSIGDEF | SPAWN_SETSIGMASK | (req.setsid ? SPAWN_SETSID : 0),
    );
    const ns = req.pidNamespace;
    if (ns.kind === "inherit") {
      const rc = c.posix_spawn(pidBuf, path, fa, attr, argv.vec, envp.vec);
      if (rc !== 0) throw new SyscallError("posix_spawn", rc, req.path);
      return pidOut[0];
    }
    // One synchronous run: enter the target PID namespace for children,
    // spawn, and go back before anything can create a thread.
    const own = LINUX.open("/proc/self/ns/pid", O.RDONLY | O.CLOEXEC);
    let target = -1;
    try {
      if (ns.kind === "join") target = LINUX.open(ns.path, O.RDONLY | O.CLOEXEC);
      const rc0 = ns.kind === "new" ? c.unshare(CLONE.NEWPID) : c.setns(target, CLONE.NEWPID);
      if (rc0 < 0) fail(ns.kind === "new" ? "unshare" : "setns", "CLONE_NEWPID");
      const rc = c.posix_spawn(pidBuf, path, fa, attr, argv.vec, envp.vec);
      const back = c.setns(own, CLONE.NEWPID);
      if (back < 0) fail("setns", "back to the runtime's PID namespace");
      if (rc !== 0) throw new SyscallError("posix_spawn", rc, req.path);
      return pidOut[0];
    } finally {
      c.close(own);
      if (target >= 0) c.close(target);
    }
  } finally {
    for (const m of moved) c.close(m);
    c.posix_spawn_file_actions_destroy(fa);
    c.posix_spawnattr_destroy(attr);
    void argv.keep;
    void envp.keep;
  }
}
