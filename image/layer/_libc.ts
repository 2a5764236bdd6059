// The few libc calls Deno lacks for layers: mknod, lchown, xattrs and
// utimensat without following symlinks. Loaded lazily on first use.

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;

const SYMBOLS = {
  mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
  lchown: { parameters: ["buffer", "u32", "u32"], result: "i32" },
  lsetxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
  lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
  llistxattr: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
function libc(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  13: "EACCES",
  17: "EEXIST",
  22: "EINVAL",
  28: "ENOSPC",
  61: "ENODATA",
  95: "EOPNOTSUPP",
};

export class LibcError extends Error {
  readonly errno: number;
  constructor(call: string, path: string, errno: number) {
    super(`${call} ${path}: ${ERRNO_NAMES[errno] ?? `errno ${errno}`}`);
    this.name = "LibcError";
    this.errno = errno;
  }
}

function errno(): number {
  const p = libc().__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

const enc = new TextEncoder();
function cpath(s: string): Uint8Array<ArrayBuffer> {
  const b = enc.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0), mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) |
    (mi & 0xffn);
}

export function devMajor(rdev: number): number {
  const d = BigInt(rdev);
  return Number(((d >> 32n) & 0xfffff000n) | ((d >> 8n) & 0xfffn));
}

export function devMinor(rdev: number): number {
  const d = BigInt(rdev);
  return Number(((d >> 12n) & 0xffffff00n) | (d & 0xffn));
}

export function mknod(path: string, mode: number, dev: bigint): void {
  if (libc().mknod(cpath(path), mode, dev) !== 0) throw new LibcError("mknod", path, errno());
}

export function lchown(path: string, uid: number, gid: number): void {
  if (libc().lchown(cpath(path), uid, gid) !== 0) throw new LibcError("lchown", path, errno());
}

function latin1Bytes(s: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Sets an xattr; the value is a binary (latin1) string. */
export function lsetxattr(path: string, name: string, value: string): void {
  const v = latin1Bytes(value);
  if (libc().lsetxattr(cpath(path), cpath(name), v, BigInt(v.length), 0) !== 0) {
    throw new LibcError("lsetxattr", path, errno());
  }
}

/** Reads an xattr as a binary (latin1) string, or undefined when absent. */
export function lgetxattr(path: string, name: string): string | undefined {
  const buf = new Uint8Array(4096);
  const n = Number(libc().lgetxattr(cpath(path), cpath(name), buf, BigInt(buf.length)));
  if (n < 0) {
    const e = errno();
    if (e === 61 || e === 95) return undefined; // ENODATA, EOPNOTSUPP
    throw new LibcError("lgetxattr", path, e);
  }
  return String.fromCharCode(...buf.subarray(0, n));
}

/** Lists xattr names. */
export function llistxattr(path: string): string[] {
  const buf = new Uint8Array(65536);
  const n = Number(libc().llistxattr(cpath(path), buf, BigInt(buf.length)));
  if (n < 0) {
    const e = errno();
    if (e === 95) return [];
    throw new LibcError("llistxattr", path, e);
  }
  return new TextDecoder().decode(buf.subarray(0, n)).split("\0").filter(Boolean);
}

/** Sets atime and mtime (seconds) without following a symlink. */
export function lutimes(path: string, seconds: number): void {
  const ts = new BigInt64Array([BigInt(seconds), 0n, BigInt(seconds), 0n]);
  const r = libc().utimensat(AT_FDCWD, cpath(path), new Uint8Array(ts.buffer), AT_SYMLINK_NOFOLLOW);
  if (r !== 0) throw new LibcError("utimensat", path, errno());
}
