/**
 * Unix stream sockets through libc, for the supervisor and its clients:
 * Deno's own unix sockets cannot pass file descriptors, and passing the
 * caller's stdio (SCM_RIGHTS) is what lets a supervised container write
 * straight to the caller's terminal, pipe or file. Blocking reads run on a
 * pool thread (`nonblocking` symbols), so the event loop stays free; errno
 * is read only after the synchronous calls.
 *
 * @module
 */
import { addr, cstr, errno, libc } from "./_libc.ts";
import { SyscallError } from "./errors.ts";

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_CMSG_CLOEXEC = 0x40000000;
const MSG_NOSIGNAL = 0x4000;
const MSG_DONTWAIT = 0x40;
const EINTR = 4;
const EAGAIN = 11;
const ENOTSOCK = 88;

/** The most descriptors one message carries (the kernel's SCM_MAX_FD). */
export const MAX_FDS = 253;

function sockaddr(path: string): Uint8Array<ArrayBuffer> {
  const p = cstr(path);
  if (p.length > 108) throw new SyscallError("bind", 36, /* ENAMETOOLONG */ path);
  const sa = new Uint8Array(110);
  new DataView(sa.buffer).setUint16(0, AF_UNIX, true);
  sa.set(p, 2);
  return sa;
}

function fail(name: string, detail: string): never {
  throw new SyscallError(name, errno(), detail);
}

/**
 * Binds and listens on `path` (removing nothing: the caller holds the lock
 * that makes a stale socket file safe to remove first).
 *
 * @param path The socket's path.
 * @returns The listening descriptor (close-on-exec).
 */
export function listenUnix(path: string): number {
  const c = libc();
  const fd = c.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket", path);
  const sa = sockaddr(path);
  if (c.bind(fd, sa, sa.length) < 0 || c.listen(fd, 128) < 0) {
    const e = new SyscallError("bind", errno(), path);
    c.close(fd);
    throw e;
  }
  return fd;
}

/**
 * Connects to the socket at `path`.
 *
 * @param path The socket's path.
 * @returns The connected descriptor, or `null` when nothing listens there.
 */
export function connectUnix(path: string): number | null {
  const c = libc();
  const fd = c.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket", path);
  const sa = sockaddr(path);
  if (c.connect(fd, sa, sa.length) < 0) {
    c.close(fd);
    return null;
  }
  return fd;
}

/**
 * Waits (on a pool thread) for a connection, then accepts it.
 *
 * @param listener The listening descriptor.
 * @param timeoutMs How long to wait.
 * @returns The connection, or `null` when none came in time.
 */
export async function acceptUnix(listener: number, timeoutMs: number): Promise<number | null> {
  const pfd = new Uint8Array(8);
  new DataView(pfd.buffer).setInt32(0, listener, true);
  new DataView(pfd.buffer).setInt16(4, 1, /* POLLIN */ true);
  if ((await libc().poll_async(pfd, 1n, timeoutMs)) <= 0) return null;
  const fd = libc().accept4(listener, null, null, SOCK_CLOEXEC);
  return fd < 0 ? null : fd;
}

/**
 * Writes all of `data` and, with the first byte, the descriptors `fds`
 * (SCM_RIGHTS); the receiver gets its own copies.
 *
 * @param fd The connected socket.
 * @param data The bytes.
 * @param fds Descriptors to pass.
 */
export function sendWithFds(fd: number, data: Uint8Array, fds: readonly number[] = []): void {
  if (fds.length > MAX_FDS) throw new RangeError(`fds: at most ${MAX_FDS} per message`);
  const c = libc();
  let off = 0;
  let first = true;
  while (off < data.length || first) {
    const chunk = new Uint8Array(data.subarray(off));
    const iov = new BigUint64Array([addr(chunk), BigInt(chunk.length)]);
    const iovBytes = new Uint8Array(iov.buffer);
    let control: Uint8Array<ArrayBuffer> | null = null;
    if (first && fds.length > 0) {
      // struct cmsghdr { size_t len; int level; int type; int fds[]; }
      control = new Uint8Array(16 + Math.ceil((fds.length * 4) / 8) * 8);
      const v = new DataView(control.buffer);
      v.setBigUint64(0, BigInt(16 + fds.length * 4), true);
      v.setInt32(8, SOL_SOCKET, true);
      v.setInt32(12, SCM_RIGHTS, true);
      fds.forEach((f, i) => v.setInt32(16 + i * 4, f, true));
    }
    const msg = msghdr(iovBytes, control);
    const n = Number(c.sendmsg(fd, msg, MSG_NOSIGNAL));
    if (n < 0) {
      const e = errno();
      if (e === EINTR || e === EAGAIN) continue;
      throw new SyscallError("sendmsg", e, `socket ${fd}`);
    }
    off += n;
    first = false;
  }
}

// struct msghdr on 64-bit Linux: name, namelen(+pad), iov, iovlen, control,
// controllen, flags(+pad): 56 bytes.
function msghdr(iov: Uint8Array<ArrayBuffer>, control: Uint8Array<ArrayBuffer> | null) {
  const m = new BigUint64Array(7);
  m[2] = addr(iov);
  m[3] = 1n;
  if (control !== null) {
    m[4] = addr(control);
    m[5] = BigInt(control.length);
  }
  return new Uint8Array(m.buffer);
}

/** What {@linkcode recvWithFds} read. */
export interface Received {
  /** The bytes (empty at end of stream or on error). */
  data: Uint8Array;
  /** Descriptors that came with them (close-on-exec). */
  fds: number[];
}

/**
 * Reads (on a pool thread) whatever is available, with any descriptors
 * passed alongside.
 *
 * @param fd The connected socket.
 * @param size The most bytes to read.
 * @returns The bytes and descriptors; no bytes at end of stream.
 */
export async function recvWithFds(fd: number, size = 65536): Promise<Received> {
  const buf = new Uint8Array(size);
  const iov = new BigUint64Array([addr(buf), BigInt(size)]);
  const control = new Uint8Array(16 + MAX_FDS * 4);
  const msg = msghdr(new Uint8Array(iov.buffer), control);
  // What has arrived already is read here; only an empty socket waits on a
  // pool thread (each such round trip costs 0.2-1 ms, and a request is
  // usually there by the time its connection is accepted).
  let n = Number(libc().recvmsg(fd, msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT));
  if (n < 0 && errno() === EAGAIN) {
    n = Number(await libc().recvmsg_async(fd, msg, MSG_CMSG_CLOEXEC));
  }
  void iov;
  if (n <= 0) return { data: new Uint8Array(0), fds: [] };
  return { data: buf.subarray(0, n), fds: passedFds(msg, control) };
}

/** The descriptors of an SCM_RIGHTS control message that recvmsg filled in. */
function passedFds(msg: Uint8Array<ArrayBuffer>, control: Uint8Array<ArrayBuffer>): number[] {
  const fds: number[] = [];
  const controlLen = Number(new BigUint64Array(msg.buffer)[5]);
  const v = new DataView(control.buffer);
  if (
    controlLen >= 16 && v.getInt32(8, true) === SOL_SOCKET && v.getInt32(12, true) === SCM_RIGHTS
  ) {
    const len = Number(v.getBigUint64(0, true));
    for (let off = 16; off + 4 <= len; off += 4) fds.push(v.getInt32(off, true));
  }
  return fds;
}

/**
 * recvmsg(2) into `buf` on the calling thread, blocking until something
 * arrives: the count read (0 at end of file) and the descriptors passed
 * with those bytes (close-on-exec); from a descriptor that is not a socket,
 * a plain read. `null` when a signal interrupted it.
 *
 * @param fd The connected socket.
 * @param buf Where the bytes go.
 * @returns What was read, or `null` to try again.
 */
export function recvWithFdsSync(
  fd: number,
  buf: Uint8Array<ArrayBuffer>,
): { n: number; fds: number[] } | null {
  const iov = new BigUint64Array([addr(buf), BigInt(buf.length)]);
  const control = new Uint8Array(16 + MAX_FDS * 4);
  const msg = msghdr(new Uint8Array(iov.buffer), control);
  const n = Number(libc().recvmsg(fd, msg, MSG_CMSG_CLOEXEC));
  void iov;
  if (n < 0) {
    const e = errno();
    if (e === EINTR) return null;
    if (e === ENOTSOCK) {
      // Not a socket (a pipe, /dev/null): no descriptors can come.
      const r = Number(libc().read(fd, buf, BigInt(buf.length)));
      if (r >= 0) return { n: r, fds: [] };
      if (errno() === EINTR) return null;
      throw new SyscallError("read", errno(), `fd ${fd}`);
    }
    throw new SyscallError("recvmsg", e, `socket ${fd}`);
  }
  return { n, fds: n > 0 ? passedFds(msg, control) : [] };
}

const SO_PEERPIDFD = 77;
const SYS_PIDFD_GETFD = 438n;

/**
 * Duplicates descriptors of the process at the other end of a connection
 * into this one (pidfd_getfd(2) on the pidfd of SO_PEERPIDFD, which names
 * the process that connected, never a reused pid): the same open file
 * descriptions SCM_RIGHTS would pass. Needs ptrace rights over the peer
 * (root, or the same user under a permissive Yama).
 *
 * @param fd The connected socket.
 * @param targets The peer's descriptors to take.
 * @returns This process's copies (close-on-exec), in the order asked.
 * @throws {SyscallError} When the kernel refuses (no such descriptor,
 *   EPERM, a kernel before 6.5); nothing is left open then.
 */
export function peerFds(fd: number, targets: readonly number[]): number[] {
  const c = libc();
  const val = new Int32Array(1);
  const len = new Uint32Array([4]);
  if (
    c.getsockopt(
      fd,
      SOL_SOCKET,
      SO_PEERPIDFD,
      new Uint8Array(val.buffer),
      new Uint8Array(len.buffer),
    ) < 0
  ) {
    fail("getsockopt", `SO_PEERPIDFD on socket ${fd}`);
  }
  const pidfd = val[0];
  const out: number[] = [];
  try {
    for (const t of targets) {
      const got = Number(c.syscall(SYS_PIDFD_GETFD, BigInt(pidfd), BigInt(t), 0n, 0n, 0n, 0n));
      if (got < 0) fail("pidfd_getfd", `descriptor ${t} of the peer`);
      out.push(got);
    }
    return out;
  } catch (e) {
    for (const f of out) c.close(f);
    throw e;
  } finally {
    c.close(pidfd);
  }
}

/** Wakes a read blocked on `fd` (end of stream) before the descriptor is closed. */
export function shutdownSocket(fd: number): void {
  libc().shutdown(fd, 2 /* SHUT_RDWR */);
}

/**
 * Takes an exclusive `flock` on `fd` without waiting.
 *
 * @param fd An open file.
 * @returns Whether the lock was taken.
 */
export function tryLock(fd: number): boolean {
  return libc().flock(fd, 2 /* LOCK_EX */ | 4 /* LOCK_NB */) === 0;
}

/** Sleeps the calling thread (no timers: see docs/benchmarks.md on start-up cost). */
export function sleepSync(ms: number): void {
  libc().poll(null, 0n, ms);
}
