/**
 * The init stage: the module the runtime re-executes (a fresh Deno process,
 * spawned by the parent stage as PID 1 of the container's PID namespace).
 * It waits for its configuration on fd 3, builds the container from the main
 * thread only (namespaces are per thread, and execve keeps the calling
 * thread's), reports `ready` on fd 4, blocks on the start FIFO, drops
 * privileges and execve's the entrypoint. The same module joins a running
 * container for `exec`.
 *
 * Only synchronous calls run here: async Deno operations run on pool
 * threads, which stay in the host's namespaces.
 *
 * CVE-2019-5736: the init marks itself non-dumpable first, so no process
 * of the container can open /proc/<init>/exe (the Deno binary) before the
 * execve replaces it; the parent spawns it from a read-only bind mount of
 * the Deno binary, so even a handle on that file cannot be opened for
 * writing; and execve happens after pivot_root, so the container never sees
 * the host's binary as /proc/self/exe of a process it can trace. Before the
 * prctl runs (Deno's start-up) an exec stage is briefly dumpable inside the
 * container's PID namespace; the kernel still refuses container processes
 * access to it (ptrace, /proc/<pid>/exe) because its capabilities are not a
 * subset of theirs, unless the spec grants every capability.
 *
 * @module
 */
import * as posix from "./_path.ts";
import {
  type CgroupsMessage,
  type ExecConfigMessage,
  type HooksDoneMessage,
  INIT_CONFIG_FD,
  INIT_REPLY_FD,
  type InitConfigMessage,
  type InitReply,
  LATE_BIND_LOG_ENV,
  type ParentMessage,
  readMessageSync,
  warmUpMessages,
  writeMessageSync,
} from "./_messages.ts";
import { ConfigError, RuntimeError, SyscallError } from "./errors.ts";
import {
  applyRlimits,
  dropPrivileges,
  lookPath,
  readLastCap,
  sealForExec,
} from "./process_security.ts";
import { parseMountOptions, pivotRoot, prepareRootfs, protectPaths } from "./rootfs.ts";
import { CLONE, linuxSyscalls, MS, O, PR, type Syscalls } from "./syscalls.ts";
import { cstr, libc, type LibcSymbol, onLateBind, pathKind, preload } from "./_libc.ts";
import { attachTerminal } from "./_terminal.ts";
import type { Mount } from "./spec/config.ts";
import { connectUnix } from "./_unix_socket.ts";
import { runHooksSync } from "./hooks.ts";
import { releaseExecutablePages } from "./_memory.ts";

const NS_FLAGS: Record<string, number> = {
  mount: CLONE.NEWNS,
  uts: CLONE.NEWUTS,
  ipc: CLONE.NEWIPC,
  network: CLONE.NEWNET,
  cgroup: CLONE.NEWCGROUP,
};

/**
 * The libc symbols a container's set-up calls: an idle init binds these
 * while it waits (binding costs Deno about 0.3 ms a symbol, so not the
 * whole table: that was 18-22 ms of CPU in every pooled init).
 * `TSK_RUNTIME_LATE_BIND_LOG=FILE` makes an idle init append to FILE each
 * symbol it still had to bind once configured (the tests check it stays
 * empty).
 */
const INIT_SYMBOLS: readonly LibcSymbol[] = [
  "__errno_location",
  "access",
  "chdir",
  "close",
  "dup3",
  "execve",
  "getcwd",
  "mknod",
  "mount",
  "open",
  "read",
  "readlink",
  "recvmsg",
  "setdomainname",
  "sethostname",
  "setns",
  "statvfs",
  "symlink",
  "syscall",
  "umask",
  "umount2",
  "unshare",
  "write",
];

/** fcntl(2): duplicate to the lowest free descriptor at least `arg`, close-on-exec. */
const F_DUPFD_CLOEXEC = 1030;

/** Options for {@linkcode runStage}. */
export interface StageOptions {
  /**
   * Create the network, UTS and IPC namespaces before the configuration
   * arrives (pooled inits): nothing of the container goes into them first.
   */
  prepareNamespaces?: boolean;
  /** The stage idles in a pool first: bind every libc symbol while waiting. */
  idle?: boolean;
}

/** The namespaces a stage makes before its configuration: {@linkcode StageOptions.prepareNamespaces}. */
const PREPARED_NAMESPACES = [
  { flag: CLONE.NEWNET, name: "net" },
  { flag: CLONE.NEWUTS, name: "uts" },
  { flag: CLONE.NEWIPC, name: "ipc" },
] as const;

interface PreparedNamespaces {
  /** The CLONE_NEW* flags of the namespaces made. */
  flags: number;
  /** The host's namespaces of those kinds, for a spec that wants none. */
  host: { flag: number; fd: number }[];
}

/**
 * Calls, on harmless arguments, each Deno file operation the container's
 * set-up makes: a first call (and the first error thrown) costs 0.3-1 ms in
 * a fresh process, and the set-up makes a dozen different ones. Measured
 * with a pool: 1.5-2 ms less from create to delete.
 */
function warmUp(): void {
  const missing = "/nonexistent-tsk-runtime-warm-up";
  for (const f of [Deno.lstatSync, Deno.statSync, Deno.removeSync, Deno.readLinkSync]) {
    try {
      f(missing);
    } catch { /* expected */ }
  }
  // A tmpfs over a directory takes its mode; /dev gets its links.
  try {
    Deno.chmodSync(missing, 0o755);
  } catch { /* expected */ }
  try {
    Deno.symlinkSync("/", `${missing}/link`);
  } catch { /* expected */ }
  Deno.lstatSync("/");
  Deno.mkdirSync("/", { recursive: true });
  Deno.readLinkSync("/proc/self/exe");
  // Writing back the value read changes nothing.
  const adj = Deno.readTextFileSync("/proc/self/oom_score_adj");
  Deno.writeTextFileSync("/proc/self/oom_score_adj", adj);
  // The configuration's decoding.
  warmUpMessages();
  // A libc call (Deno's FFI dispatch): access(2) of "/" changes nothing.
  libc().access(cstr("/"), 0);
}

/** With {@linkcode LATE_BIND_LOG_ENV} set: report each symbol bound from now on. */
function reportLateBinds(sys: Syscalls): void {
  const path = Deno.env.get(LATE_BIND_LOG_ENV);
  if (!path) return;
  // Opened now: after pivot_root the host's path is out of reach.
  const fd = sys.open(path, O.WRONLY | O.APPEND | O.CREAT | O.CLOEXEC, 0o600);
  onLateBind((name) => sys.write(fd, new TextEncoder().encode(`${name}\n`)));
}

function reply(sys: Syscalls, msg: InitReply): void {
  writeMessageSync(sys, INIT_REPLY_FD, msg);
}

/**
 * Runs the init or exec stage on the calling thread. Returns only on error
 * (after reporting it to the parent when still possible).
 *
 * @param sys The host.
 */
export function runStage(sys: Syscalls, options: StageOptions = {}): void {
  // Before anything else: /proc/<us>/exe must not be reachable by others.
  sys.prctl(PR.SET_DUMPABLE, 0n);
  // Idle time is free: bind every libc symbol now rather than on first use,
  // and make the first call of each Deno operation the set-up uses.
  if (options.idle) {
    preload(INIT_SYMBOLS);
    // Unmap the binary's read-only pages now rather than in the execve
    // (_memory.ts), then fault back in, by the warm-up, the ones the set-up
    // uses.
    releaseExecutablePages();
    warmUp();
  }
  let prepared: PreparedNamespaces | null = null;
  if (options.prepareNamespaces) {
    // A pooled init creates while idle the namespaces that take nothing of
    // the container: the network's is the slowest to create (over 10 ms
    // here), UTS and IPC together about 0.2 ms. The host's stay reachable
    // through descriptors for specs that want none of a kind.
    const host = PREPARED_NAMESPACES.map(({ flag, name }) => ({
      flag,
      fd: sys.open(`/proc/self/ns/${name}`, O.RDONLY | O.CLOEXEC),
    }));
    const flags = host.reduce((all, h) => all | h.flag, 0);
    sys.unshare(flags);
    prepared = { flags, host };
  }
  // A pooled init's stdio comes with its configuration (SCM_RIGHTS).
  const passed: number[] = [];
  const msg = readMessageSync<ParentMessage>(sys, INIT_CONFIG_FD, passed);
  if (msg === null) return; // The parent went away before configuring us.
  if (options.idle) reportLateBinds(sys);
  // The cgroup mounts, when they follow, come on the same descriptor.
  // (and the go-ahead after the runtime's create hooks, when there are some).
  if (msg.type !== "init" || (msg.cgroupMounts !== null && !msg.hookPause)) {
    sys.close(INIT_CONFIG_FD);
  }
  let ready = false;
  try {
    if (msg.type === "init") runInit(sys, msg, () => (ready = true), prepared, passed);
    else runExec(sys, msg, () => (ready = true), passed);
  } catch (e) {
    const err = e as Error & { field?: string; errno?: number };
    if (!ready) {
      try {
        reply(sys, { type: "error", message: err.message, field: err.field, errno: err.errno });
      } catch { /* parent gone */ }
    } else {
      const text = new TextEncoder().encode(`tsk-runtime init: ${err.message}\n`);
      try {
        sys.write(2, text);
      } catch { /* stderr closed */ }
    }
  }
}

function connectConsole(path: string): number {
  const fd = connectUnix(path);
  if (fd === null) {
    throw new ConfigError("consoleSocket", `cannot connect to the console socket ${path}`);
  }
  return fd;
}

/**
 * Installs the stdio that came with the configuration (the very open files
 * of the caller: offsets and O_APPEND hold), /dev/null where none did.
 */
function installStdio(sys: Syscalls, stdio: boolean[], passed: number[]): number[] {
  let next = 0;
  stdio.forEach((has, i) => {
    const fd = has
      ? passed[next++]
      : sys.open("/dev/null", (i === 0 ? O.RDONLY : O.WRONLY) | O.CLOEXEC);
    if (fd === undefined) {
      throw new RuntimeError(`stdio: descriptor ${i} did not come with the configuration`);
    }
    sys.dup3(fd, i, 0);
    sys.close(fd);
  });
  return passed.slice(next);
}

/** The descriptors that came after the stdio ones for fds 3, 4, ... (`preserved` of them). */
function preservedFds(rest: number[], preserved: number): number[] {
  if (rest.length < preserved) {
    throw new RuntimeError(
      `preserved descriptors: ${preserved} expected, ${rest.length} came with the configuration`,
    );
  }
  return rest.slice(0, preserved);
}

/**
 * Puts the preserved descriptors at 3, 4, ... (without close-on-exec) just
 * before the process's security is applied; whatever held those numbers
 * closes (it is the runtime's, closed at execve anyway), except `keep`
 * (the start FIFO, open until execve), which moves above them first.
 * Returns where `keep` is now.
 */
function placePreserved(sys: Syscalls, fds: number[], keep: number): number {
  if (fds.length === 0) return keep;
  const top = 3 + fds.length;
  const above = (fd: number) => {
    const moved = sys.fcntl(fd, F_DUPFD_CLOEXEC, top);
    sys.close(fd);
    return moved;
  };
  // First above every target, so that no move overwrites one still to come.
  const moved = fds.map(above);
  const kept = keep >= 0 && keep < top ? above(keep) : keep;
  moved.forEach((fd, i) => {
    sys.dup3(fd, 3 + i, 0);
    sys.close(fd);
  });
  return kept;
}

function runInit(
  sys: Syscalls,
  msg: InitConfigMessage,
  markReady: () => void,
  prepared: PreparedNamespaces | null,
  passed: number[],
): void {
  const { spec } = msg;
  const rest = msg.stdio ? installStdio(sys, msg.stdio, passed) : passed;
  const preserved = preservedFds(rest, msg.preserved ?? 0);
  // The console socket's path is the host's: connect before anything moves.
  const consoleFd = msg.consoleSocket ? connectConsole(msg.consoleSocket) : -1;
  const lastCap = readLastCap();
  if (spec.process.oomScoreAdj !== undefined) {
    Deno.writeTextFileSync("/proc/self/oom_score_adj", String(spec.process.oomScoreAdj));
  }
  // The start FIFO is opened read-write so that this open does not block;
  // `start` writes one byte into it.
  const fifo = sys.open(msg.fifo, O.RDWR | O.CLOEXEC);

  // Join namespaces by path first (their files live in the host's /proc),
  // then create the rest in one unshare.
  const namespaces = spec.linux?.namespaces ?? [];
  let fresh = 0;
  const joins: { fd: number; flag: number }[] = [];
  for (const ns of namespaces) {
    if (ns.type === "pid") continue;
    const flag = NS_FLAGS[ns.type];
    if (ns.path) joins.push({ fd: sys.open(ns.path, O.RDONLY | O.CLOEXEC), flag });
    else fresh |= flag;
  }
  if (joins.some((j) => j.flag === CLONE.NEWNS)) sys.unshare(CLONE.FS);
  for (const j of joins) {
    sys.setns(j.fd, j.flag);
    sys.close(j.fd);
  }
  if (prepared) {
    for (const { flag, fd } of prepared.host) {
      // Not in the spec: back to the host's (one joined by path is joined above).
      if (!namespaces.some((n) => NS_FLAGS[n.type] === flag)) sys.setns(fd, flag);
      sys.close(fd);
    }
    fresh &= ~prepared.flags; // already new, or joined above
  }
  // Configured before its cgroup is settled (a pooled init, see
  // createContainer), the init may still be moved to another cgroup: its
  // cgroup namespace, rooted where the init is when it is made, waits for
  // the cgroup mounts (as runc's, made last).
  const lateCgroupNs = msg.cgroupMounts === null ? fresh & CLONE.NEWCGROUP : 0;
  fresh &= ~lateCgroupNs;
  if (fresh !== 0) sys.unshare(fresh);
  const newMount = (fresh & CLONE.NEWNS) !== 0;
  if (!newMount) {
    throw new ConfigError(
      "linux.namespaces",
      "tsk-runtime needs a new mount namespace to build the root filesystem",
    );
  }

  // A pooled init's parent adopts the cgroup while this builds the rootfs:
  // its cgroup mounts (and the limits) come once that is done.
  let cgroupMounts = msg.cgroupMounts;
  const cgroupsReady = () => {
    if (cgroupMounts === null) {
      cgroupMounts = awaitCgroups(sys, msg.hookPause === true);
      if (lateCgroupNs !== 0) sys.unshare(lateCgroupNs);
    }
    return cgroupMounts;
  };
  prepareRootfs(sys, { spec, overlay: msg.overlay, cgroupMounts: cgroupsReady });
  if (msg.hookPause) {
    // Namespaces, cgroup and mounts are in place, pivot_root is not done:
    // the runtime runs its prestart and createRuntime hooks now.
    cgroupsReady();
    reply(sys, { type: "hooks" });
    const go = readMessageSync<HooksDoneMessage>(sys, INIT_CONFIG_FD);
    sys.close(INIT_CONFIG_FD);
    if (go === null || go.type !== "hooks-done") {
      throw new RuntimeError("the runtime stopped the container at its create hooks");
    }
  }
  // In the container's namespaces (its cgroup's too), the host's paths
  // still in reach.
  if (spec.hooks?.createContainer?.length) {
    cgroupsReady();
    runHooksSync(sys, "createContainer", spec.hooks, { ...msg.hookState!, status: "creating" });
  }
  pivotRoot(sys, spec.root.path);
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    Deno.writeTextFileSync(`/proc/sys/${key.replaceAll(".", "/")}`, value);
  }
  protectPaths(sys, spec);
  // The container's own devpts is mounted: its terminal comes from there.
  if (consoleFd >= 0) attachTerminal(sys, consoleFd, spec.process.consoleSize);
  const propagation = spec.linux?.rootfsPropagation;
  if (propagation !== undefined) {
    // As runc: the asked propagation of / applies once the tree is built
    // (an unbindable tree would refuse the masked paths' binds).
    sys.mount(null, "/", null, parseMountOptions([propagation]).propagation[0] | MS.REC, null);
  }
  if (spec.hostname !== undefined) sys.sethostname(spec.hostname);
  if (spec.domainname !== undefined) sys.setdomainname(spec.domainname);
  applyRlimits(sys, msg.security);
  const exe = enterCwdAndResolve(sys, spec.process);
  sys.umask(spec.process.user.umask ?? 0o022);

  // Nothing of the container runs before its cgroup has its limits.
  cgroupsReady();
  if (msg.sessionKeyring) joinKeyring(sys, msg.sessionKeyring, true);
  // The process's credentials now, as runc sets them: a failure is the
  // create's, not an exit after start.
  dropPrivileges(sys, msg.security, lastCap);
  reply(sys, { type: "ready" });
  markReady();
  sys.close(INIT_REPLY_FD);
  // waitForStart: one byte from `start`. The descriptor stays open (it is
  // close-on-exec) so that `start` sees the FIFO hang up only once execve
  // has replaced this multi-threaded process (see LiveContainer.start).
  const one = new Uint8Array(1);
  while (sys.read(fifo, one) !== 1) { /* spurious wakeup */ }
  if (spec.hooks?.startContainer?.length) {
    try {
      runHooksSync(sys, "startContainer", spec.hooks, { ...msg.hookState!, status: "created" });
    } catch (e) {
      // `start` reads why from the FIFO once it hangs up (nothing comes
      // after an execve that worked).
      try {
        sys.write(fifo, new TextEncoder().encode((e as Error).message.slice(0, 4000)));
      } catch { /* start gave up */ }
      throw e;
    }
  }

  // The FIFO stays open until execve: `start` waits for it to hang up.
  placePreserved(sys, preserved, fifo);
  sealForExec(sys, msg.security, preserved.length);
  sys.execve(exe, spec.process.args, spec.process.env ?? []);
}

/**
 * Joins the container's own session keyring (made by its init, joined by
 * what is exec'd in it), as runc does, so that nothing of the caller's
 * keyring reaches the container. Its maker adds search for its owner to the
 * kernel's permissions (runc's). A kernel without keys goes on without one.
 */
function joinKeyring(sys: Syscalls, name: string, make: boolean): void {
  try {
    const id = sys.joinSessionKeyring(name);
    if (make) {
      const perm = parseInt(sys.describeKey(id).split(";")[3] ?? "", 16);
      if (Number.isInteger(perm)) sys.setKeyPerm(id, (perm | 0x00080000) >>> 0);
    }
  } catch (e) {
    if (e instanceof SyscallError && e.code === "ENOSYS") return;
    throw e;
  }
}

/** Reads the {@linkcode CgroupsMessage} that follows a configuration without cgroup mounts. */
function awaitCgroups(sys: Syscalls, keepOpen: boolean): Mount[] {
  const msg = readMessageSync<CgroupsMessage>(sys, INIT_CONFIG_FD);
  if (!keepOpen) sys.close(INIT_CONFIG_FD);
  if (msg === null || msg.type !== "cgroups") {
    throw new RuntimeError("the parent went away before the container's cgroup was ready");
  }
  return msg.cgroupMounts;
}

function enterCwdAndResolve(sys: Syscalls, process: InitConfigMessage["spec"]["process"]): string {
  try {
    sys.chdir(process.cwd);
  } catch (e) {
    throw new ConfigError("process.cwd", `cannot enter ${process.cwd} in the container`, {
      cause: e,
    });
  }
  // A working directory reached through a leaked descriptor would not be
  // under the container's root (CVE-2024-21626); refuse anything else.
  const cwd = sys.getcwd();
  if (!cwd.startsWith("/") || posix.normalize(cwd) !== cwd) {
    throw new ConfigError("process.cwd", `resolves outside the root filesystem: ${cwd}`);
  }
  const env = process.env ?? [];
  if (!env.some((e) => e.startsWith("HOME="))) env.push(`HOME=${homeOf(process.user.uid)}`);
  process.env = env;
  const exe = lookPath(process.args[0], env);
  if (exe === null) {
    throw new ConfigError(
      "process.args[0]",
      `executable file not found in the container: ${process.args[0]}`,
    );
  }
  return exe;
}

/** The home directory of `uid` in the container's /etc/passwd, or `/` (as runc). */
function homeOf(uid: number): string {
  // No thrown error for a rootfs without /etc/passwd (most minimal images).
  if (pathKind("/etc/passwd") !== "other") return "/";
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const f = line.split(":");
      if (f.length >= 6 && Number(f[2]) === uid && f[2] !== "") return f[5] || "/";
    }
  } catch { /* no passwd */ }
  return "/";
}

function runExec(
  sys: Syscalls,
  msg: ExecConfigMessage,
  markReady: () => void,
  passed: number[],
): void {
  const lastCap = readLastCap();
  if (msg.process.oomScoreAdj !== undefined) {
    Deno.writeTextFileSync("/proc/self/oom_score_adj", String(msg.process.oomScoreAdj));
  }
  const consoleFd = msg.consoleSocket ? connectConsole(msg.consoleSocket) : -1;
  // Open every namespace file while /proc is still the host's.
  const fds = msg.namespaces.map((n) => ({
    fd: sys.open(n.path, O.RDONLY | O.CLOEXEC),
    flag: n.flag,
  }));
  if (fds.some((n) => n.flag === CLONE.NEWNS)) sys.unshare(CLONE.FS);
  for (const n of fds) {
    sys.setns(n.fd, n.flag);
    sys.close(n.fd);
  }
  // In the container's mount namespace now (setns moved the root there).
  if (consoleFd >= 0) attachTerminal(sys, consoleFd, msg.process.consoleSize);
  applyRlimits(sys, msg.security);
  const exe = enterCwdAndResolve(sys, msg.process);
  sys.umask(msg.process.user.umask ?? 0o022);
  if (msg.sessionKeyring) joinKeyring(sys, msg.sessionKeyring, false);
  dropPrivileges(sys, msg.security, lastCap);
  reply(sys, { type: "ready" });
  markReady();
  sys.close(INIT_REPLY_FD);
  const preserved = preservedFds(passed, msg.preserved ?? 0);
  placePreserved(sys, preserved, -1);
  sealForExec(sys, msg.security, preserved.length);
  sys.execve(exe, msg.process.args, msg.process.env ?? []);
}

if (import.meta.main) {
  runStage(linuxSyscalls(), {
    prepareNamespaces: Deno.args.includes("--prepare-namespaces"),
    idle: Deno.args.includes("--idle"),
  });
  Deno.exit(127);
}
