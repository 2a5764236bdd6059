/**
 * The container's root filesystem, built by the init stage inside its new
 * mount namespace: overlayfs or a bind of `root.path`, the spec's mounts, a
 * minimal /dev, pivot_root, masked and read-only paths. Only synchronous
 * calls: after unshare(CLONE_NEWNS) only this thread is in the new
 * namespace (DESIGN.md).
 *
 * @module
 */
import * as posix from "./_path.ts";
import { MOUNT_ATTR, type MountAttr, MS, O, type Syscalls } from "./syscalls.ts";
import { cstr, libc, pathKind } from "./_libc.ts";
import { ConfigError, SyscallError } from "./errors.ts";
import type { LinuxDevice, Mount, Spec } from "./spec/config.ts";
import type { OverlayRootfs } from "./_messages.ts";

/** The result of {@linkcode parseMountOptions}. */
export interface MountOptions {
  /** MS_* flags to pass to mount(2). */
  flags: number;
  /** MS_* propagation flags applied by a separate mount(2) call. */
  propagation: number[];
  /** Options passed to the filesystem as `data`. */
  data: string[];
  /** A bind mount (`bind` or `rbind`). */
  bind: boolean;
  /**
   * The recursive options (`rro`, `rnosuid`, ...: runtime-spec 1.1), applied
   * to the mount and every mount under it with mount_setattr(2); `null`
   * when there are none.
   */
  recursive: MountAttr | null;
  /**
   * `tmpcopyup` (runc's and podman's): a tmpfs starts with a copy of what
   * the image has at its destination.
   */
  copyUp: boolean;
}

const FLAG_OPTIONS: Record<string, [set: boolean, flag: number]> = {
  acl: [true, MS.POSIXACL],
  async: [false, MS.SYNCHRONOUS],
  atime: [false, MS.NOATIME],
  bind: [true, MS.BIND],
  defaults: [true, 0],
  dev: [false, MS.NODEV],
  diratime: [false, MS.NODIRATIME],
  dirsync: [true, MS.DIRSYNC],
  exec: [false, MS.NOEXEC],
  iversion: [true, MS.I_VERSION],
  lazytime: [true, MS.LAZYTIME],
  loud: [false, MS.SILENT],
  mand: [true, MS.MANDLOCK],
  noacl: [false, MS.POSIXACL],
  noatime: [true, MS.NOATIME],
  nodev: [true, MS.NODEV],
  nodiratime: [true, MS.NODIRATIME],
  noiversion: [false, MS.I_VERSION],
  noexec: [true, MS.NOEXEC],
  nolazytime: [false, MS.LAZYTIME],
  nomand: [false, MS.MANDLOCK],
  norelatime: [false, MS.RELATIME],
  nostrictatime: [false, MS.STRICTATIME],
  nosuid: [true, MS.NOSUID],
  nosymfollow: [true, MS.NOSYMFOLLOW],
  rbind: [true, MS.BIND | MS.REC],
  relatime: [true, MS.RELATIME],
  remount: [true, MS.REMOUNT],
  ro: [true, MS.RDONLY],
  rw: [false, MS.RDONLY],
  silent: [true, MS.SILENT],
  strictatime: [true, MS.STRICTATIME],
  suid: [false, MS.NOSUID],
  symfollow: [false, MS.NOSYMFOLLOW],
  sync: [true, MS.SYNCHRONOUS],
};

/**
 * The recursive options: whether each sets or clears its attribute. An atime
 * option picks the atime mode of the whole tree: `ratime`, `rnostrictatime`
 * and `rrelatime` the kernel's default (relatime), `rnorelatime` and
 * `rstrictatime` strictatime, `rnoatime` noatime.
 */
const RECURSIVE_OPTIONS: Record<string, [set: boolean, attr: number]> = {
  rro: [true, MOUNT_ATTR.RDONLY],
  rrw: [false, MOUNT_ATTR.RDONLY],
  rnosuid: [true, MOUNT_ATTR.NOSUID],
  rsuid: [false, MOUNT_ATTR.NOSUID],
  rnodev: [true, MOUNT_ATTR.NODEV],
  rdev: [false, MOUNT_ATTR.NODEV],
  rnoexec: [true, MOUNT_ATTR.NOEXEC],
  rexec: [false, MOUNT_ATTR.NOEXEC],
  rnodiratime: [true, MOUNT_ATTR.NODIRATIME],
  rdiratime: [false, MOUNT_ATTR.NODIRATIME],
  rnosymfollow: [true, MOUNT_ATTR.NOSYMFOLLOW],
  rsymfollow: [false, MOUNT_ATTR.NOSYMFOLLOW],
};
const RECURSIVE_ATIME: Record<string, number> = {
  ratime: MOUNT_ATTR.RELATIME,
  rrelatime: MOUNT_ATTR.RELATIME,
  rnostrictatime: MOUNT_ATTR.RELATIME,
  rnorelatime: MOUNT_ATTR.STRICTATIME,
  rstrictatime: MOUNT_ATTR.STRICTATIME,
  rnoatime: MOUNT_ATTR.NOATIME,
};

const PROPAGATION_OPTIONS: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** The mount options tsk-runtime interprets (others go to the filesystem as data). */
export const MOUNT_OPTION_NAMES: readonly string[] = [
  ...Object.keys(FLAG_OPTIONS),
  ...Object.keys(PROPAGATION_OPTIONS),
  ...Object.keys(RECURSIVE_OPTIONS),
  ...Object.keys(RECURSIVE_ATIME),
  "tmpcopyup",
].sort();

/**
 * Turns mount(8)-style options into mount(2) flags, propagation changes and
 * filesystem data, as runc does.
 *
 * @param options The spec's `mounts[].options`.
 * @returns Flags, propagation and data.
 *
 * @example Parse a read-only bind mount
 * ```ts
 * import { parseMountOptions } from "@tsk/runtime";
 * const m = parseMountOptions(["rbind", "ro", "rprivate", "size=1m"]);
 * console.log(m.bind, m.data); // true ["size=1m"]
 * const r = parseMountOptions(["rbind", "rro"]);
 * console.log(r.recursive); // { set: 1, clear: 0 }
 * ```
 */
export function parseMountOptions(options: readonly string[]): MountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  let recursive: MountAttr | null = null;
  let copyUp = false;
  for (const o of options) {
    const f = FLAG_OPTIONS[o];
    if (f !== undefined) {
      flags = f[0] ? flags | f[1] : flags & ~f[1];
    } else if (o in PROPAGATION_OPTIONS) {
      propagation.push(PROPAGATION_OPTIONS[o]);
    } else if (o in RECURSIVE_OPTIONS) {
      const [set, attr] = RECURSIVE_OPTIONS[o];
      const r = recursive ??= { set: 0, clear: 0 };
      if (set) [r.set, r.clear] = [r.set | attr, r.clear & ~attr];
      else [r.set, r.clear] = [r.set & ~attr, r.clear | attr];
    } else if (o in RECURSIVE_ATIME) {
      const r = recursive ??= { set: 0, clear: 0 };
      r.set = (r.set & ~MOUNT_ATTR.ATIME) | RECURSIVE_ATIME[o];
      r.clear |= MOUNT_ATTR.ATIME;
    } else if (o === "tmpcopyup") {
      copyUp = true;
    } else {
      data.push(o);
    }
  }
  return { flags, propagation, data, bind: (flags & MS.BIND) !== 0, recursive, copyUp };
}

/** The mount_setattr(2) attributes of the per-mount MS_* flags in `flags`. */
function attrOfFlags(flags: number): MountAttr {
  let set = 0;
  if (flags & MS.RDONLY) set |= MOUNT_ATTR.RDONLY;
  if (flags & MS.NOSUID) set |= MOUNT_ATTR.NOSUID;
  if (flags & MS.NODEV) set |= MOUNT_ATTR.NODEV;
  if (flags & MS.NOEXEC) set |= MOUNT_ATTR.NOEXEC;
  if (flags & MS.NODIRATIME) set |= MOUNT_ATTR.NODIRATIME;
  if (flags & MS.NOSYMFOLLOW) set |= MOUNT_ATTR.NOSYMFOLLOW;
  let clear = 0;
  const atime = flags & MS.NOATIME
    ? MOUNT_ATTR.NOATIME
    : flags & MS.STRICTATIME
    ? MOUNT_ATTR.STRICTATIME
    : flags & MS.RELATIME
    ? MOUNT_ATTR.RELATIME
    : null;
  if (atime !== null) [set, clear] = [set | atime, MOUNT_ATTR.ATIME];
  return { set, clear };
}

/** Hosts whose mount_setattr(2) answered ENOSYS: kernels before 5.12. */
const withoutMountSetattr = new WeakSet<Syscalls>();

/**
 * Changes the attributes of the mount at `path` (and with `recursive` of
 * every mount under it) in one mount_setattr(2) call. Returns false, having
 * changed nothing, when the kernel has no mount_setattr(2): the caller then
 * remounts mount by mount.
 */
function setMountAttr(sys: Syscalls, path: string, attr: MountAttr, recursive: boolean): boolean {
  if (attr.set === 0 && attr.clear === 0) return true;
  if (withoutMountSetattr.has(sys)) return false;
  try {
    sys.mountSetattr(path, attr, recursive);
    return true;
  } catch (e) {
    if (!(e instanceof SyscallError) || e.code !== "ENOSYS") throw e;
    withoutMountSetattr.add(sys);
    return false;
  }
}

/**
 * Makes the mount at `path` take the per-mount flags in `flags` (read-only,
 * nosuid, ...) on top of those it has: by mount_setattr(2), or by a bind
 * remount that keeps the flags the kernel would not let it drop.
 */
function remountWith(sys: Syscalls, path: string, flags: number): void {
  if (setMountAttr(sys, path, attrOfFlags(flags), false)) return;
  const keep = sys.mountFlags(path) & LOCKABLE;
  sys.mount(null, path, null, MS.BIND | MS.REMOUNT | keep | flags, null);
}

/**
 * Joins `path` to `root` resolving every symbolic link inside `root`, so
 * that no link in the container's filesystem can point a mount outside it
 * (links are resolved as if `root` were `/`).
 *
 * @param root The root directory (absolute).
 * @param path The path inside it.
 * @returns An absolute host path under `root`.
 *
 * @example Resolve a path
 * ```ts
 * import { secureJoin } from "@tsk/runtime";
 * console.log(secureJoin("/nonexistent-root", "/a/../b")); // "/nonexistent-root/b"
 * ```
 */
export function secureJoin(root: string, path: string): string {
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  const resolved: string[] = [];
  let links = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const candidate = posix.join(root, ...resolved, part);
    // A missing component is created later; keep it as is.
    const target = symlinkTarget(candidate);
    if (target === null) {
      resolved.push(part);
      continue;
    }
    if (++links > 255) throw new SyscallError("secureJoin", 40, path);
    if (target.startsWith("/")) resolved.length = 0;
    parts.unshift(...target.split("/").filter((p) => p !== "" && p !== "."));
  }
  return posix.join(root, ...resolved);
}

const linkBuf = new Uint8Array(4096);
const utf8 = new TextDecoder();

/**
 * The target of the symlink at `path`, or `null` when `path` is anything
 * else or missing: one readlink(2), and no thrown error for a missing path
 * (in a fresh init each one cost 0.1-0.3 ms, and the set-up looks up dozens).
 */
function symlinkTarget(path: string): string | null {
  const n = Number(libc().readlink(cstr(path), linkBuf, BigInt(linkBuf.length)));
  return n < 0 ? null : utf8.decode(linkBuf.subarray(0, n));
}

function mkdirAll(path: string): void {
  Deno.mkdirSync(path, { recursive: true });
}

function ensureFile(path: string): void {
  mkdirAll(posix.dirname(path));
  try {
    Deno.lstatSync(path);
  } catch {
    Deno.writeFileSync(path, new Uint8Array(0), { mode: 0o755 });
  }
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** What {@linkcode prepareRootfs} needs besides the spec. */
export interface RootfsRequest {
  /** The validated spec; `root.path` is absolute. */
  spec: Spec;
  /** overlayfs layers mounted at `root.path`. */
  overlay: OverlayRootfs | null;
  /**
   * Host cgroup v1/v2 mounts to reproduce for a `cgroup` mount, or what
   * gets them (called once, when the first `cgroup` mount is made).
   */
  cgroupMounts: Mount[] | (() => Mount[]);
}

const LOCKABLE = MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.NOATIME | MS.NODIRATIME |
  MS.RELATIME;

/**
 * Builds the root filesystem at `root.path` and mounts everything the spec
 * asks for under it, still before pivot_root.
 *
 * @param sys The host.
 * @param req The spec and rootfs options.
 */
export function prepareRootfs(sys: Syscalls, req: RootfsRequest): void {
  const { spec } = req;
  const root = spec.root.path;
  const prop = spec.linux?.rootfsPropagation;
  const propFlag = prop ? PROPAGATION_OPTIONS[prop] : MS.SLAVE | MS.REC;
  sys.mount(null, "/", null, propFlag | MS.REC, null);
  // The mount holding the rootfs goes private (as in runc): the bind below
  // must not propagate anywhere, and pivot_root refuses shared parents.
  // After a recursive slave or private (the default) no mount is shared
  // any more, and finding that mount (reading mountinfo) is spared.
  if (propFlag & (MS.SHARED | MS.UNBINDABLE)) {
    sys.mount(null, mountPointOf(posix.dirname(root)), null, MS.PRIVATE, null);
  }

  if (req.overlay) {
    const o = req.overlay;
    const opts = [`lowerdir=${o.lowerDirs.join(":")}`];
    if (o.upperDir) opts.push(`upperdir=${o.upperDir}`, `workdir=${o.workDir}`);
    sys.mount("overlay", root, "overlay", 0, opts.join(","));
  } else {
    sys.mount(root, root, null, MS.BIND | MS.REC, null);
  }

  const mounts = spec.mounts ?? [];
  const cgroupMounts = typeof req.cgroupMounts === "function"
    ? req.cgroupMounts
    : ((list: Mount[]) => () => list)(req.cgroupMounts);
  for (const m of mounts) mountEntry(sys, root, m, cgroupMounts);
  const dests = new Set(mounts.map((m) => posix.normalize(m.destination)));
  const dev = secureJoin(root, "/dev");
  if (!dests.has("/dev")) {
    mkdirAll(dev);
    sys.mount("tmpfs", dev, "tmpfs", MS.NOSUID | MS.STRICTATIME, "mode=755,size=65536k");
  }
  if (!dests.has("/dev/pts")) {
    mountEntry(sys, root, {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
    }, () => []);
  }
  if (!dests.has("/dev/shm")) {
    mountEntry(sys, root, {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    }, () => []);
  }
  // A /dev mounted here as a tmpfs holds only the mount points made under
  // it: device nodes and links need no lookup or removal first (each
  // failed lookup costs a thrown error: about 3 ms of the init's set-up).
  const devTmpfs = !dests.has("/dev") ||
    mounts.some((m) => posix.normalize(m.destination) === "/dev" && m.type === "tmpfs");
  const taken = new Set(["pts", "shm"]);
  for (const d of dests) if (d.startsWith("/dev/")) taken.add(d.slice(5).split("/")[0]);
  createDevices(sys, root, spec.linux?.devices ?? [], devTmpfs ? { dir: dev, taken } : null);
}

function mountEntry(sys: Syscalls, root: string, m: Mount, cgroupMounts: () => Mount[]): void {
  const opts = parseMountOptions(m.options ?? []);
  const bind = opts.bind || m.type === "bind";
  const dest = secureJoin(root, m.destination);
  if (m.type === "cgroup") mountCgroup(sys, dest, opts, cgroupMounts());
  else if (bind) {
    const src = m.source!;
    let srcIsDir: boolean;
    try {
      srcIsDir = Deno.statSync(src).isDirectory;
    } catch (e) {
      throw new ConfigError(`mounts[${m.destination}].source`, `cannot bind ${src}: not found`, {
        cause: e,
      });
    }
    if (srcIsDir) mkdirAll(dest);
    else ensureFile(dest);
    sys.mount(src, dest, null, MS.BIND | (opts.flags & MS.REC), null);
    const extra = opts.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
    if (extra !== 0) remountWith(sys, dest, extra);
  } else {
    // As runc: a tmpfs over a directory of the image takes that directory's mode.
    const covered = m.type === "tmpfs" && pathKind(dest) === "dir"
      ? Deno.statSync(dest).mode! & 0o7777
      : null;
    mkdirAll(dest);
    let data = opts.data.join(",");
    if (m.type === "tmpfs" && m.destination === "/dev" && !data.includes("mode=")) {
      data = data ? `${data},mode=755` : "mode=755";
    }
    // What the tmpfs will hide stays reachable through a descriptor.
    const below = opts.copyUp ? sys.open(dest, O.RDONLY | O.DIRECTORY | O.CLOEXEC) : -1;
    // A read-only tmpfs is filled (and its mode set) first, then made read-only.
    const readOnlyLater = (covered !== null || below >= 0) && (opts.flags & MS.RDONLY) !== 0;
    try {
      const flags = readOnlyLater ? opts.flags & ~MS.RDONLY : opts.flags;
      sys.mount(m.source ?? m.type ?? "none", dest, m.type!, flags, data || null);
      if (below >= 0) copyTree(sys, `/proc/self/fd/${below}`, dest);
    } finally {
      if (below >= 0) sys.close(below);
    }
    if (covered !== null) Deno.chmodSync(dest, covered);
    if (readOnlyLater) remountWith(sys, dest, MS.RDONLY);
  }
  if (opts.recursive && !setMountAttr(sys, dest, opts.recursive, true)) {
    throw new ConfigError(
      `mounts[${m.destination}].options`,
      "recursive mount options (rro, rnosuid, ...) need mount_setattr(2): Linux 5.12 or later",
    );
  }
  for (const p of opts.propagation) sys.mount(null, dest, null, p, null);
}

/**
 * Copies what the directory `from` holds into the directory `to` (a fresh
 * tmpfs): directories, files, symbolic links, device nodes and FIFOs, with
 * their modes, owners and times. Links are copied as links, never followed.
 */
function copyTree(sys: Syscalls, from: string, to: string): void {
  for (const e of Deno.readDirSync(from)) {
    const src = `${from}/${e.name}`, dst = `${to}/${e.name}`;
    const st = Deno.lstatSync(src);
    if (st.isSymlink) {
      Deno.symlinkSync(Deno.readLinkSync(src), dst);
      sys.lchown(dst, st.uid ?? 0, st.gid ?? 0);
      continue;
    }
    if (st.isDirectory) {
      Deno.mkdirSync(dst);
      copyTree(sys, src, dst);
    } else if (st.isFile) {
      Deno.copyFileSync(src, dst);
    } else {
      // Devices, FIFOs and sockets: the node itself (mknod under umask 0).
      const old = sys.umask(0);
      try {
        sys.mknod(dst, st.mode!, BigInt(st.rdev ?? 0));
      } finally {
        sys.umask(old);
      }
    }
    // chown first: it clears the set-user-ID and set-group-ID bits.
    Deno.chownSync(dst, st.uid, st.gid);
    Deno.chmodSync(dst, st.mode! & 0o7777);
    if (st.atime && st.mtime) Deno.utimeSync(dst, st.atime, st.mtime);
  }
}

function mountCgroup(sys: Syscalls, dest: string, opts: MountOptions, host: Mount[]): void {
  mkdirAll(dest);
  const flags = opts.flags & ~MS.RDONLY;
  const unifiedOnly = host.length === 1 && host[0].type === "cgroup2" &&
    host[0].destination === "";
  if (unifiedOnly) {
    sys.mount("cgroup2", dest, "cgroup2", opts.flags, null);
    return;
  }
  sys.mount("tmpfs", dest, "tmpfs", flags | MS.NOSUID | MS.NODEV | MS.NOEXEC, "mode=755");
  const binds: string[] = [];
  for (const h of host) {
    const sub = posix.join(dest, h.destination);
    mkdirAll(sub);
    if (h.source !== undefined && bindCgroup(sys, h.source, sub)) {
      binds.push(sub);
      continue;
    }
    const data = (h.options ?? []).join(",") || null;
    sys.mount(h.type!, sub, h.type!, opts.flags, data);
  }
  // The binds take the mount's flags, and the whole tree its read-only bit:
  // one mount_setattr(2) for all (on v1, eighteen calls fewer).
  const perMount = opts.flags & ~(MS.REC | MS.BIND | MS.REMOUNT);
  if (setMountAttr(sys, dest, attrOfFlags(perMount), true)) return;
  for (const b of binds) {
    const keep = sys.mountFlags(b) & LOCKABLE;
    sys.mount(null, b, null, MS.BIND | MS.REMOUNT | keep | perMount, null);
  }
  if (opts.flags & MS.RDONLY) remountWith(sys, dest, MS.RDONLY);
}

/**
 * Binds the container's own cgroup directory (see `cgroupMountsFor` in
 * container.ts); false when the host's hierarchy cannot be bound (e.g. the
 * spec made every mount unbindable), and a new mount is needed instead.
 */
function bindCgroup(sys: Syscalls, source: string, dest: string): boolean {
  try {
    sys.mount(source, dest, null, MS.BIND, null);
  } catch {
    return false;
  }
  return true;
}

const DEFAULT_DEVICES: LinuxDevice[] = [
  { type: "c", path: "/dev/null", major: 1, minor: 3, fileMode: 0o666 },
  { type: "c", path: "/dev/zero", major: 1, minor: 5, fileMode: 0o666 },
  { type: "c", path: "/dev/full", major: 1, minor: 7, fileMode: 0o666 },
  { type: "c", path: "/dev/random", major: 1, minor: 8, fileMode: 0o666 },
  { type: "c", path: "/dev/urandom", major: 1, minor: 9, fileMode: 0o666 },
  { type: "c", path: "/dev/tty", major: 5, minor: 0, fileMode: 0o666 },
];

/** makedev(3). */
function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major), mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) |
    (mi & 0xffn);
}

/** A /dev that is a fresh tmpfs: its path, and the names already in it. */
interface FreshDev {
  dir: string;
  taken: Set<string>;
}

/** The name of `path` when it is directly in a fresh /dev and still free. */
function freshName(fresh: FreshDev | null, path: string): string | null {
  if (fresh === null) return null;
  const p = posix.normalize(path);
  if (!p.startsWith("/dev/")) return null;
  const name = p.slice(5);
  return name === "" || name.includes("/") || fresh.taken.has(name) ? null : name;
}

function createDevices(
  sys: Syscalls,
  root: string,
  extra: LinuxDevice[],
  fresh: FreshDev | null,
): void {
  const old = sys.umask(0);
  try {
    const all = new Map<string, LinuxDevice>();
    for (const d of [...DEFAULT_DEVICES, ...extra]) all.set(posix.normalize(d.path), d);
    for (const d of all.values()) {
      const name = freshName(fresh, d.path);
      let path: string;
      if (name !== null) {
        path = `${fresh!.dir}/${name}`;
        fresh!.taken.add(name);
      } else {
        path = secureJoin(root, d.path);
        mkdirAll(posix.dirname(path));
        try {
          Deno.removeSync(path);
        } catch { /* absent */ }
      }
      const type = d.type === "b" ? 0o060000 : d.type === "p" ? 0o010000 : 0o020000;
      const mode = type | ((d.fileMode ?? 0o666) & 0o7777);
      sys.mknod(path, mode, d.type === "p" ? 0n : makedev(d.major ?? 0, d.minor ?? 0));
      if (d.uid !== undefined || d.gid !== undefined) {
        Deno.chownSync(path, d.uid ?? 0, d.gid ?? 0);
      }
    }
    const links: [string, string][] = [
      ["/proc/self/fd", "/dev/fd"],
      ["/proc/self/fd/0", "/dev/stdin"],
      ["/proc/self/fd/1", "/dev/stdout"],
      ["/proc/self/fd/2", "/dev/stderr"],
      ["pts/ptmx", "/dev/ptmx"],
    ];
    for (const [target, link] of links) {
      const name = freshName(fresh, link);
      if (name !== null) {
        sys.symlink(target, `${fresh!.dir}/${name}`);
        continue;
      }
      const path = secureJoin(root, link);
      try {
        Deno.lstatSync(path);
        continue;
      } catch { /* absent: create it */ }
      sys.symlink(target, path);
    }
  } finally {
    sys.umask(old);
  }
}

/** The mount point of the mount that holds `path` (from /proc/self/mountinfo). */
function mountPointOf(path: string): string {
  let best = "/";
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const mp = line.split(" ")[4]?.replace(/\\040/g, " ");
    if (mp === undefined) continue;
    if ((path === mp || path.startsWith(`${mp}/`)) && mp.length > best.length) best = mp;
  }
  return best;
}

/**
 * Makes `root` the process's `/` with pivot_root(2) and detaches the old
 * root, so nothing of the host's mount tree stays reachable.
 *
 * @param sys The host.
 * @param root The prepared root filesystem.
 */
export function pivotRoot(sys: Syscalls, root: string): void {
  sys.chdir(root);
  // pivot_root(".", ".") stacks the old root on top of the new one; it is
  // then made a slave so the lazy unmount cannot propagate to the host.
  sys.pivotRoot(".", ".");
  sys.mount(null, ".", null, MS.SLAVE | MS.REC, null);
  sys.umount(".", 2 /* MNT_DETACH */);
  sys.chdir("/");
}

/**
 * Masks and write-protects paths after pivot_root: a masked directory gets
 * an empty read-only tmpfs, a masked file gets /dev/null bound over it, and
 * a read-only path is bound onto itself read-only. Missing paths are
 * skipped, as in runc.
 *
 * @param sys The host.
 * @param spec The validated spec.
 */
export function protectPaths(sys: Syscalls, spec: Spec): void {
  for (const p of spec.linux?.maskedPaths ?? []) {
    const kind = pathKind(p);
    if (kind === "dir") sys.mount("tmpfs", p, "tmpfs", MS.RDONLY, null);
    else if (kind === "other") sys.mount("/dev/null", p, null, MS.BIND, null);
  }
  for (const p of spec.linux?.readonlyPaths ?? []) {
    if (pathKind(p) === null) continue;
    sys.mount(p, p, null, MS.BIND | MS.REC, null);
    // Read-only all the way down where the kernel can (mount_setattr(2));
    // a bind remount reaches the top mount only.
    if (setMountAttr(sys, p, { set: MOUNT_ATTR.RDONLY, clear: 0 }, true)) continue;
    const keep = sys.mountFlags(p) & LOCKABLE;
    sys.mount(null, p, null, MS.BIND | MS.REMOUNT | MS.RDONLY | MS.REC | keep, null);
  }
  // The root alone: what is mounted on it (/proc, /dev, volumes) keeps its own.
  if (spec.root.readonly) remountWith(sys, "/", MS.RDONLY);
}

/** Whether `path` is a directory (exported for the init's cwd check). */
export { isDir };
