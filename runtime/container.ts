/**
 * The container lifecycle and the library API: {@linkcode createContainer},
 * {@linkcode loadContainer}, {@linkcode listContainers} and
 * {@linkcode runContainer}. The `tsk-runtime` command line is a thin layer
 * over these.
 *
 * @module
 */
import * as posix from "./_path.ts";
import { hookWarning, runHooks } from "./hooks.ts";
import {
  type CgroupManager,
  type CgroupStats,
  createCgroupManager,
  type SubCgroup,
} from "./cgroup/manager.ts";
import {
  DEFAULT_DEVICE_RULES,
  type LinuxResources,
  validateResources,
  withoutZeroLimits,
} from "./cgroup/resources.ts";
import { resolveCapabilities } from "./capabilities.ts";
import { compileSeccomp } from "./seccomp/compile.ts";
import { seccompFilterFlags } from "./seccomp/profile.ts";
import { encodeBase64 } from "./_base64.ts";
import type {
  ExecConfigMessage,
  InitConfigMessage,
  OverlayRootfs,
  SecurityConfig,
} from "./_messages.ts";
import { pathExists } from "./_libc.ts";
import {
  ConfigError,
  ContainerNotFoundError,
  ContainerStateError,
  RuntimeError,
} from "./errors.ts";
import {
  closeStage,
  type InitProcess,
  sendCgroups,
  sendConfig,
  spawnStage,
  waitForInitReady,
} from "./parent.ts";
import type { Mount, Process, Spec } from "./spec/config.ts";
import { rootfsPath, validateConfig } from "./spec/validate.ts";
import {
  type ContainerStatus,
  DEFAULT_ROOT,
  listIds,
  type OciState,
  procStat,
  readState,
  statePaths,
  statusOf,
  type StoredState,
  validateId,
  writeState,
} from "./state.ts";
import { CLONE, linuxSyscalls, O, type Syscalls, type WaitStatus } from "./syscalls.ts";
import { signalNumber } from "./signals.ts";
import type { InitSource } from "./pool.ts";

/** Annotation with overlay lower dirs (colon-separated, uppermost first) for the CLI. */
export const ANNOTATION_LOWERDIRS = "dev.tsk.rootfs.lowerdirs";
/** Annotation with the overlay upper dir for the CLI. */
export const ANNOTATION_UPPERDIR = "dev.tsk.rootfs.upperdir";
/** Annotation with the overlay work dir for the CLI. */
export const ANNOTATION_WORKDIR = "dev.tsk.rootfs.workdir";

/**
 * One of the container's standard streams: inherit this process's, connect
 * to /dev/null, make a pipe readable/writable from this process, or pass one
 * of this process's file descriptors.
 */
export type StdioOption = "inherit" | "null" | "pipe" | number;

/** The container's stdin, stdout and stderr. */
export interface StdioOptions {
  /**
   * The container's standard input.
   * @default "null"
   */
  stdin?: StdioOption;
  /**
   * The container's standard output.
   * @default "inherit"
   */
  stdout?: StdioOption;
  /**
   * The container's standard error.
   * @default "inherit"
   */
  stderr?: StdioOption;
}

/** Options for {@linkcode createContainer}. */
export interface CreateContainerOptions {
  /**
   * The bundle directory: holds `config.json` unless `spec` is given, and
   * relative `root.path`s resolve against it.
   * @default Deno.cwd()
   */
  bundle?: string;
  /** The spec to use instead of `<bundle>/config.json`. */
  spec?: Spec;
  /**
   * State directory.
   * @default "/run/tsk-runtime"
   */
  root?: string;
  /** The container's stdio. */
  stdio?: StdioOptions;
  /**
   * Mount an overlayfs of these layers at `root.path` instead of binding
   * `root.path` (which is then only the mount point, created if missing; the
   * overlay exists only in the container's mount namespace, so the host
   * never sees it mounted). The CLI takes the same through the annotations
   * `dev.tsk.rootfs.lowerdirs` (colon-separated, uppermost first),
   * `dev.tsk.rootfs.upperdir` and `dev.tsk.rootfs.workdir`.
   */
  rootfs?: OverlayRootfs;
  /** Write the init's pid here once created. */
  pidFile?: string;
  /**
   * The host.
   * @default linuxSyscalls()
   */
  sys?: Syscalls;
  /**
   * Take a pre-started init from this pool (an {@linkcode InitPool}) instead
   * of spawning one, when the spec asks for a new PID namespace.
   */
  pool?: InitSource;
  /**
   * Start the container as part of creating it, as `run` does: the start
   * byte is in the init's FIFO before the init reads its configuration, so
   * the init goes from `ready` straight to execve while this process writes
   * the state. Resolves once the entrypoint has replaced the init (status
   * `running`); {@linkcode Container.start} is then not called.
   * @default false
   */
  start?: boolean;
  /**
   * With `process.terminal`: the unix socket (a listening path, as runc's
   * `--console-socket`) to which the init sends the master of the
   * container's terminal (SCM_RIGHTS) before it reports ready.
   */
  consoleSocket?: string;
  /**
   * Descriptors of this process to hand to the container's process as fds
   * 3, 4, ... in this order (runc's `--preserve-fds`; the rest stay closed).
   * They are duplicated: the caller keeps and closes its own.
   */
  preserveFds?: readonly number[];
  /**
   * Variables appended to the process's environment (the CLI's socket
   * activation adds `LISTEN_FDS` and `LISTEN_PID=1`, as runc does).
   */
  env?: readonly string[];
  /**
   * Keep the caller's session keyring (runc's `--no-new-keyring`) instead of
   * giving the container its own, `_ses.<id>`.
   * @default false
   */
  noNewKeyring?: boolean;
  /**
   * Takes the warning of each poststart hook (with `start`) or poststop
   * hook (after a failed create) that fails; by default printed on stderr.
   */
  onWarning?: (message: string) => void;
}

/** How a container or exec'd process ended. */
export interface ExitStatus {
  /** Exit code, or `null` if a signal ended it or the code is unknown. */
  exitCode: number | null;
  /** The signal number that ended it, if any. */
  signal?: number;
  /** Whether the kernel's OOM killer killed a process of the container. */
  oomKilled: boolean;
}

/** Options for {@linkcode Container.exec}. */
export interface ExecOptions {
  /** The process's stdio (with a terminal: replaced by it). */
  stdio?: StdioOptions;
  /** With `process.terminal`: where the terminal's master goes (see {@linkcode CreateContainerOptions.consoleSocket}). */
  consoleSocket?: string;
  /** As {@linkcode CreateContainerOptions.preserveFds}: fds 3, 4, ... of the process. */
  preserveFds?: readonly number[];
  /**
   * Exec into a paused container too (runc's `--ignore-paused`): the process
   * joins the frozen cgroup, so this resolves once the container is resumed.
   * @default false
   */
  ignorePaused?: boolean;
  /**
   * An existing sub-cgroup of the container's for the process (runc's
   * `--cgroup`, as `parseSubCgroup` parses it).
   */
  cgroup?: SubCgroup;
}

/** A process started by {@linkcode Container.exec}. */
export interface ExecProcess {
  /** Host pid. */
  readonly pid: number;
  /** Pipe to the process's stdin when `stdin: "pipe"`. */
  readonly stdin: WritableStream<Uint8Array> | null;
  /** Pipe from the process's stdout when `stdout: "pipe"`. */
  readonly stdout: ReadableStream<Uint8Array> | null;
  /** Pipe from the process's stderr when `stderr: "pipe"`. */
  readonly stderr: ReadableStream<Uint8Array> | null;
  /** Waits for the process to end. */
  wait(): Promise<ExitStatus>;
}

/** Options for {@linkcode Container.delete}. */
export interface DeleteOptions {
  /**
   * Kill the container's processes if it still runs.
   * @default false
   */
  force?: boolean;
  /**
   * Takes the warning of each poststop hook that fails (the lifecycle goes
   * on). By default it is printed on stderr.
   */
  onWarning?: (message: string) => void;
  /**
   * Leave the state directory for the caller to remove once it has
   * answered its own client (a supervisor whose `run` moved the state out
   * of the root first: 0.2-0.4 ms of file-system work off the answer).
   * @default false
   */
  keepStateDir?: boolean;
}

/** Options for {@linkcode Container.start}. */
export interface StartOptions {
  /** Takes the warning of each poststart hook that fails; by default printed on stderr. */
  onWarning?: (message: string) => void;
}

/** `onWarning` as {@linkcode runHooks} takes it, stderr by default. */
function warnWith(onWarning: ((message: string) => void) | undefined): (e: unknown) => void {
  return onWarning ? (e) => onWarning((e as Error).message) : hookWarning;
}

/** A container this process created or loaded. */
export interface Container {
  /** Container id. */
  readonly id: string;
  /** Absolute bundle path. */
  readonly bundle: string;
  /** Host pid of the container's init. */
  readonly pid: number;
  /** The validated spec. */
  readonly spec: Spec;
  /** Pipe to the container's stdin when created with `stdin: "pipe"`. */
  readonly stdin: WritableStream<Uint8Array> | null;
  /** Pipe from stdout when created with `stdout: "pipe"`. */
  readonly stdout: ReadableStream<Uint8Array> | null;
  /** Pipe from stderr when created with `stderr: "pipe"`. */
  readonly stderr: ReadableStream<Uint8Array> | null;
  /** Lets the init execve the entrypoint. */
  start(options?: StartOptions): Promise<void>;
  /** Waits until the init exits. */
  wait(): Promise<ExitStatus>;
  /** Sends a signal (name like `SIGTERM`/`TERM` or number) to the init. */
  kill(signal?: string | number): void;
  /** The OCI state. */
  state(): OciState;
  /** cgroup statistics. */
  stats(): Promise<CgroupStats>;
  /** The pids in the container's cgroup. */
  pids(): Promise<number[]>;
  /**
   * Changes the cgroup limits of a created or running container (like
   * `runc update`); the given fields replace the stored ones.
   */
  update(resources: LinuxResources): Promise<void>;
  /** Freezes every process of the container (cgroup freezer). */
  pause(): Promise<void>;
  /** Thaws a paused container. */
  resume(): Promise<void>;
  /** Starts another process in the running container. */
  exec(process: Process, options?: ExecOptions): Promise<ExecProcess>;
  /** Removes the container: cgroup, state and (with `force`) its processes. */
  delete(options?: DeleteOptions): Promise<void>;
}

interface StdioSetup {
  childFds: [number | null, number | null, number | null];
  toClose: number[];
  stdin: WritableStream<Uint8Array> | null;
  stdout: ReadableStream<Uint8Array> | null;
  stderr: ReadableStream<Uint8Array> | null;
}

function setupStdio(sys: Syscalls, opts: StdioOptions | undefined): StdioSetup {
  const want = [opts?.stdin ?? "null", opts?.stdout ?? "inherit", opts?.stderr ?? "inherit"];
  const out: StdioSetup = {
    childFds: [null, null, null],
    toClose: [],
    stdin: null,
    stdout: null,
    stderr: null,
  };
  want.forEach((w, i) => {
    if (w === "null") return;
    if (w === "inherit") {
      out.childFds[i] = i;
      return;
    }
    if (typeof w === "number") {
      out.childFds[i] = w;
      return;
    }
    const [r, wr] = sys.pipe();
    const [childEnd, ourEnd] = i === 0 ? [r, wr] : [wr, r];
    out.childFds[i] = childEnd;
    out.toClose.push(childEnd);
    // Reopening through /proc gives a Deno file on the same pipe.
    const file = Deno.openSync(`/proc/self/fd/${ourEnd}`, { read: i !== 0, write: i === 0 });
    sys.close(ourEnd);
    if (i === 0) out.stdin = file.writable;
    else if (i === 1) out.stdout = file.readable;
    else out.stderr = file.readable;
  });
  return out;
}

function securityFor(process: Process, spec: Spec): SecurityConfig {
  let caps: SecurityConfig["caps"] = null;
  if (process.capabilities !== undefined) {
    const m = resolveCapabilities(process.capabilities, "process.capabilities");
    caps = {
      bounding: String(m.bounding),
      effective: String(m.effective),
      permitted: String(m.permitted),
      inheritable: String(m.inheritable),
      ambient: String(m.ambient),
    };
  }
  let seccomp: string | null = null;
  let seccompFlags = 0;
  if (spec.linux?.seccomp !== undefined) {
    seccomp = encodeBase64(compileSeccomp(spec.linux.seccomp));
    seccompFlags = seccompFilterFlags(spec.linux.seccomp);
  }
  return {
    caps,
    seccomp,
    seccompFlags,
    noNewPrivileges: process.noNewPrivileges ?? false,
    user: process.user,
    rlimits: process.rlimits ?? [],
  };
}

/** The host's cgroup mounts, reproduced inside the container for `cgroup` mounts. */
function hostCgroupMounts(): Mount[] {
  let text = "";
  try {
    text = Deno.readTextFileSync("/proc/self/mountinfo");
  } catch {
    return [];
  }
  const out: Mount[] = [];
  for (const line of text.split("\n")) {
    const [left, right] = line.split(" - ");
    if (!right) continue;
    const mountPoint = left.split(" ")[4];
    const [fstype, , superOpts] = right.split(" ");
    if (!mountPoint.startsWith("/sys/fs/cgroup")) continue;
    const rel = posix.relative("/sys/fs/cgroup", mountPoint);
    // On a hybrid host runc shows only the v1 controllers; so do we.
    if (fstype === "cgroup2" && rel === "") {
      out.push({ destination: rel, type: "cgroup2", options: [] });
    } else if (fstype === "cgroup") {
      const opts = superOpts.split(",").filter((o) =>
        !["rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode"].includes(o) &&
        !o.startsWith("release_agent=")
      );
      out.push({ destination: rel, type: "cgroup", options: opts });
    }
  }
  return out;
}

/**
 * The host's cgroup mounts for a container whose init is `pid`: each v1
 * hierarchy gets, as its `source`, the init's own cgroup directory there,
 * which the init binds, as runc does. Without a cgroup namespace that is
 * what keeps the host's tree out of sight and puts the container's own
 * limits at /sys/fs/cgroup/<controller>/ (where programs that size
 * themselves look); with one, the view is that of a new mount (the
 * namespace's root is that directory), and a new v1 mount would first wait
 * for the host's dying cgroups to drain (10-16 ms after a delete). A v2
 * hierarchy is mounted anew: inside a cgroup namespace it shows the
 * container's cgroup, outside it the host's tree, as with runc.
 */
function cgroupMountsFor(pid: number): Mount[] {
  const mounts = hostCgroupMounts();
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/cgroup`);
  } catch {
    return mounts;
  }
  const paths = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = line.match(/^\d+:([^:]+):(.*)$/);
    if (m) paths.set(m[1].split(",").sort().join(","), m[2]);
  }
  return mounts.map((m) => {
    if (m.type !== "cgroup") return m;
    const path = paths.get([...(m.options ?? [])].sort().join(","));
    if (path === undefined) return m;
    return { ...m, source: posix.join("/sys/fs/cgroup", m.destination, path) };
  });
}

function overlayFromAnnotations(spec: Spec): OverlayRootfs | undefined {
  const a = spec.annotations ?? {};
  const lower = a[ANNOTATION_LOWERDIRS];
  if (lower === undefined) {
    for (const k of [ANNOTATION_UPPERDIR, ANNOTATION_WORKDIR]) {
      if (a[k] !== undefined) {
        throw new ConfigError(`annotations.${k}`, `needs annotations.${ANNOTATION_LOWERDIRS}`);
      }
    }
    return undefined;
  }
  return {
    lowerDirs: lower.split(":").filter(Boolean),
    upperDir: a[ANNOTATION_UPPERDIR],
    workDir: a[ANNOTATION_WORKDIR],
  };
}

function validateOverlay(o: OverlayRootfs, field: string): void {
  if (!Array.isArray(o.lowerDirs) || o.lowerDirs.length === 0) {
    throw new ConfigError(`${field}.lowerDirs`, "expected at least one directory");
  }
  o.lowerDirs.forEach((d, i) => {
    if (!d.startsWith("/") || d.includes(":") || d.includes(",")) {
      throw new ConfigError(`${field}.lowerDirs[${i}]`, `expected an absolute path without : or ,`);
    }
  });
  if ((o.upperDir === undefined) !== (o.workDir === undefined)) {
    throw new ConfigError(
      `${field}.${o.upperDir === undefined ? "upperDir" : "workDir"}`,
      "upperDir and workDir go together",
    );
  }
  for (const k of ["upperDir", "workDir"] as const) {
    const v = o[k];
    if (v !== undefined && (!v.startsWith("/") || v.includes(",") || v.includes(":"))) {
      throw new ConfigError(`${field}.${k}`, "expected an absolute path without : or ,");
    }
  }
}

function loadSpec(options: CreateContainerOptions, bundle: string): Spec {
  if (options.spec !== undefined) return validateConfig(structuredClone(options.spec));
  const file = posix.join(bundle, "config.json");
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    throw new ConfigError("bundle", `cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError("config.json", `not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  return validateConfig(json);
}

function cgroupPathFor(spec: Spec, id: string): string {
  const p = spec.linux?.cgroupsPath;
  if (p === undefined || p === "") return `/tsk-runtime/${id}`;
  return p.startsWith("/") ? p : `/${p}`;
}

/**
 * Creates a container: validates the spec, sets up its cgroup, starts its
 * init (which builds the namespaces and root filesystem) and returns once
 * the init waits for {@linkcode Container.start}. On any failure nothing is
 * left behind: no state, no cgroup, no process.
 *
 * @param id The container id (letters, digits, `_ . + -`).
 * @param options Bundle or spec, state root, stdio, overlay layers.
 * @returns The created container.
 * @throws {ConfigError} For a malformed or unsupported spec, naming the field.
 * @throws {ContainerStateError} When the id is taken.
 *
 * @example Run `echo hi` in a busybox bundle
 * ```ts ignore
 * import { createContainer } from "@tsk/runtime";
 * const c = await createContainer("demo", { bundle: "/tmp/bundle" });
 * await c.start();
 * console.log(await c.wait()); // { exitCode: 0, oomKilled: false }
 * await c.delete();
 * ```
 */
export async function createContainer(
  id: string,
  options: CreateContainerOptions = {},
): Promise<Container> {
  validateId(id);
  const sys = options.sys ?? linuxSyscalls();
  const root = posix.resolve(options.root ?? DEFAULT_ROOT);
  const bundle = posix.resolve(options.bundle ?? Deno.cwd());
  const spec = loadSpec(options, bundle);
  if (options.env?.length) {
    const bad = options.env.findIndex((e) => !/^[^=]+=/.test(e));
    if (bad >= 0) {
      throw new ConfigError(`env[${bad}]`, `expected KEY=value, got ${options.env[bad]}`);
    }
    spec.process.env = [...(spec.process.env ?? []), ...options.env];
  }
  spec.root.path = rootfsPath(spec, bundle);
  const overlay = options.rootfs ?? overlayFromAnnotations(spec) ?? null;
  if (overlay) validateOverlay(overlay, options.rootfs ? "rootfs" : "annotations");
  const security = securityFor(spec.process, spec);
  checkTerminal(spec.process, options.consoleSocket);
  if (!(spec.linux?.namespaces ?? []).some((n) => n.type === "mount" && !n.path)) {
    throw new ConfigError(
      "linux.namespaces",
      'tsk-runtime needs a new mount namespace: add {"type": "mount"}',
    );
  }
  // With overlay layers, root.path is only the mount point: make it if missing.
  if (overlay) Deno.mkdirSync(spec.root.path, { recursive: true });
  try {
    if (!Deno.statSync(spec.root.path).isDirectory) throw new Error("not a directory");
  } catch (e) {
    throw new ConfigError("root.path", `${spec.root.path}: not a directory`, { cause: e });
  }

  Deno.mkdirSync(root, { recursive: true, mode: 0o700 });
  const paths = statePaths(root, id);
  try {
    Deno.mkdirSync(paths.dir, { mode: 0o700 });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new ContainerStateError(id, "already exists", { cause: e });
    }
    throw e;
  }

  const cgroupPath = cgroupPathFor(spec, id);
  let cgroup: CgroupManager | undefined;
  let init: InitProcess | undefined;
  let stdio: StdioSetup | undefined;
  let adopted = false;
  let prepared: CgroupManager | null = null;
  // The pooled init's cgroup while it is still being made (the CLI's early init).
  let preparing: Promise<CgroupManager | null> | undefined;
  // With `start`: our end of the FIFO (to see it hang up at execve), and a
  // writer that holds the start byte in it until the init has opened it.
  let startReader = -1, startWriter = -1;
  let reaped: Promise<WaitStatus> | undefined;
  let stillUnreaped = () => true;
  try {
    sys.mkfifo(paths.fifo, 0o600);
    if (options.start) {
      startReader = sys.open(paths.fifo, O.RDONLY | O.NONBLOCK | O.CLOEXEC);
      startWriter = sys.open(paths.fifo, O.WRONLY | O.NONBLOCK | O.CLOEXEC);
      sys.write(startWriter, new Uint8Array([0]));
    }
    stdio = setupStdio(sys, options.stdio);
    const pidNs = spec.linux?.namespaces?.find((n) => n.type === "pid");
    const pooled = options.pool && pidNs && !pidNs.path ? options.pool.take() : undefined;
    if (pooled) init = pooled;
    preparing = pooled?.cgroup;
    // A pooled init was spawned with /dev/null: the container's stdio goes
    // with its configuration, the very open files (offsets, O_APPEND).
    const passStdio = pooled !== undefined && !pooled.stdioReady;
    const preserved = options.preserveFds ?? [];
    const fds = [
      ...(passStdio ? stdio.childFds.filter((fd): fd is number => fd !== null) : []),
      ...preserved,
    ];
    const config: InitConfigMessage = {
      type: "init",
      spec,
      overlay,
      fifo: paths.fifo,
      security,
      cgroupMounts: null,
      stdio: passStdio ? stdio.childFds.map((fd) => fd !== null) : null,
      preserved: preserved.length,
      consoleSocket: options.consoleSocket && posix.resolve(options.consoleSocket),
      ...(options.noNewKeyring ? {} : { sessionKeyring: `_ses.${id}` }),
    };
    // A pooled init gets its configuration first and builds the rootfs
    // while its cgroup is settled (the pool's adopted by rename, or a new
    // one it is moved into) and limited; it waits for the cgroup mounts
    // before its first cgroup mount, before making its cgroup namespace and
    // before it reports ready (so before anything of the container runs).
    // Only when the device rules it runs under stay: rewriting them denies
    // every device for a moment (v1 starts from "deny all"), and the init
    // opens /dev/null and makes nodes meanwhile. The CLI's early init's
    // cgroup is still being made when its container is created: this is
    // when that overlaps the init's work.
    const resources = effectiveResources(spec);
    const defaultDevices = sameRules(resources.devices ?? [], DEFAULT_DEVICE_RULES);
    const early = pooled !== undefined && pooled.cgroup !== undefined && defaultDevices;
    // Create hooks: the init stops before pivot_root for the runtime's
    // (prestart, createRuntime); it runs createContainer and startContainer
    // ones itself, in the container's namespaces.
    const hooks = spec.hooks;
    const hookPause = Boolean(hooks?.prestart?.length || hooks?.createRuntime?.length);
    const hookState = (pid: number) => ({
      ociVersion: spec.ociVersion,
      id,
      pid,
      bundle,
      annotations: spec.annotations ?? {},
    });
    if (hookPause) config.hookPause = true;
    if (early) {
      if (hooks) config.hookState = hookState(pooled.pid);
      await sendConfig(sys, pooled, config, { keepOpen: true, fds });
    }
    prepared = preparing ? await preparing : null;
    if (prepared && canAdopt(prepared, cgroupPath)) {
      cgroup = await adoptCgroup(prepared, cgroupPath).catch(() => undefined);
      adopted = cgroup !== undefined;
    }
    if (cgroup === undefined) {
      cgroup = await createCgroupManager(cgroupPath);
      await cgroup.create();
    }
    init = pooled ?? spawnStage(sys, {
      stdio: stdio.childFds,
      pidNamespace: pidNs === undefined
        ? { kind: "inherit" }
        : pidNs.path
        ? { kind: "join", path: pidNs.path }
        : { kind: "new" },
    });
    // An adopted pool cgroup already has the default device rules.
    if (adopted && defaultDevices) delete resources.devices;
    // Moved right after the spawn, while the child is still one thread
    // exec'ing Deno: moving a running multi-threaded Deno between cgroup v1
    // hierarchies costs several times more. Limits follow before the init
    // gets its configuration (configured early: before it gets its cgroup
    // mounts), so nothing of the container runs unlimited.
    if (early && !adopted) {
      // A configured init is at work: into its cgroup only once limited.
      await cgroup.set(resources);
      await cgroup.apply(init.pid);
    } else {
      if (!adopted) await cgroup.apply(init.pid);
      await cgroup.set(resources);
    }
    // A pool cgroup that could not be adopted is empty now: remove it.
    if (prepared && !adopted) await prepared.destroy().catch(() => {});
    const cgroupMounts = cgroupMountsFor(init.pid);
    // An init that failed on its configuration has stopped reading it: what
    // it reported (naming the field) is the error, not the broken pipe.
    let unsent: unknown = null;
    if (early) {
      await sendCgroups(sys, init, cgroupMounts, { keepOpen: hookPause })
        .catch((e) => (unsent = e));
    } else {
      const withState = hooks ? { hookState: hookState(init.pid) } : {};
      await sendConfig(sys, init, { ...config, ...withState, cgroupMounts }, {
        fds,
        keepOpen: hookPause,
      });
    }
    // The state goes in now, while the init works: with a start byte
    // already in the FIFO (`start`) nothing waits between its `ready` and
    // its execve, and the container must not run before its state exists.
    const started = procStat(init.pid);
    const state: StoredState | null = started && {
      id,
      pid: init.pid,
      initStartTime: started.startTime,
      bundle,
      created: new Date().toISOString(),
      cgroupPath,
      overlay,
      spec,
      ...(options.noNewKeyring ? { noNewKeyring: true } : {}),
    };
    if (state) writeState(root, state);
    const paused = init;
    await waitForInitReady(sys, init, undefined, async () => {
      const state = { ...hookState(paused.pid), status: "creating" as const };
      await runHooks(sys, "prestart", hooks, state);
      await runHooks(sys, "createRuntime", hooks, state);
      await sendConfig(sys, paused, { type: "hooks-done" });
    });
    if (unsent !== null) throw unsent;
    // The init has its own end of the FIFO now (it is past `ready`): only
    // its execve (or death) leaves the FIFO without a writer.
    if (startWriter >= 0) {
      sys.close(startWriter);
      startWriter = -1;
    }
    for (const fd of stdio.toClose) sys.close(fd);
    stdio.toClose = [];
    if (state === null || procStat(init.pid)?.startTime !== state.initStartTime) {
      throw new RuntimeError(`Container ${id}: init exited after ready`);
    }
    if (options.pidFile) writePidFile(options.pidFile, init.pid);
    if (startReader >= 0) {
      // Waited for from here, on a pool thread (the state is written: the
      // pid is no longer needed alive): the exit is seen as it happens,
      // not after one more hand-off once this returns.
      let isReaped = false;
      reaped = sys.waitpidAsync(init.pid).finally(() => (isReaped = true));
      reaped.catch(() => {/* the clean-up below */});
      stillUnreaped = () => !isReaped;
      // As start(): return once the entrypoint has replaced the init.
      Deno.removeSync(paths.fifo);
      while (!(await sys.pollHangup(startReader, 1000))) { /* execve pending */ }
      const failed = startFailure(sys, startReader);
      sys.close(startReader);
      startReader = -1;
      if (failed !== null) throw new RuntimeError(`Cannot start container ${id}: ${failed}`);
      const running = { ...hookState(init.pid), status: "running" as const };
      await runHooks(sys, "poststart", hooks, running, warnWith(options.onWarning));
    }
    return new LiveContainer(sys, root, state, cgroup, true, stdio, reaped);
  } catch (e) {
    for (const fd of [startWriter, startReader]) if (fd >= 0) sys.close(fd);
    if (init && reaped) {
      // Waited for on a pool thread: once reaped its pid may be free again,
      // so the cgroup first, and the pid only while it is still unreaped.
      closeStage(sys, init);
      await cgroup?.killAll("SIGKILL").catch(() => {});
      if (stillUnreaped()) {
        try {
          sys.kill(init.pid, 9);
        } catch { /* gone */ }
      }
      await reaped.catch(() => {});
    } else if (init) {
      closeStage(sys, init);
      try {
        sys.kill(init.pid, 9);
      } catch { /* gone */ }
      try {
        await sys.waitpidAsync(init.pid);
      } catch { /* not ours */ }
    }
    if (stdio) { for (const fd of stdio.toClose) sys.close(fd); }
    if (cgroup) await cgroup.destroy().catch(() => {});
    // A pool cgroup still being made when the create failed goes too.
    prepared ??= preparing ? await preparing.catch(() => null) : null;
    if (prepared && !adopted) await prepared.destroy().catch(() => {});
    try {
      Deno.removeSync(paths.dir, { recursive: true });
    } catch { /* a concurrent delete took it (its state was written) */ }
    // A failed create goes on to delete's end, as the runtime-spec has it
    // (and as runc does): whatever a create hook set up gets its poststop.
    if (spec.hooks?.poststop?.length) {
      const stopped = {
        ociVersion: spec.ociVersion,
        id,
        status: "stopped" as const,
        bundle,
        annotations: spec.annotations ?? {},
      };
      await runHooks(sys, "poststop", spec.hooks, stopped, warnWith(options.onWarning));
    }
    throw e;
  }
}

/**
 * After the start FIFO hung up: what the init wrote into it when a
 * startContainer hook failed (it then exits instead of exec'ing), or `null`.
 */
function startFailure(sys: Syscalls, reader: number): string | null {
  const buf = new Uint8Array(4096);
  try {
    const n = sys.read(reader, buf);
    return n > 0 ? new TextDecoder().decode(buf.subarray(0, n)) : null;
  } catch {
    return null;
  }
}

/** The limits an update's 0 leaves as they are. */
/** A terminal needs a console socket to go to, and a console socket a terminal (as runc). */
function checkTerminal(process: Process, consoleSocket: string | undefined): void {
  if (process.terminal && !consoleSocket) {
    throw new ConfigError(
      "process.terminal",
      "a terminal needs a console socket to send its master to (--console-socket, as with runc)",
    );
  }
  if (consoleSocket && !process.terminal) {
    throw new ConfigError(
      "process.terminal",
      "a console socket was given but the process asks for no terminal",
    );
  }
}

/**
 * The spec's resources with runc's device rules added: after the spec's own
 * rules, the default devices (and mknod) are allowed, and so is every node
 * in `linux.devices`.
 */
function effectiveResources(spec: Spec): LinuxResources {
  const r: LinuxResources = structuredClone(spec.linux?.resources ?? {});
  const extra = (spec.linux?.devices ?? [])
    .filter((d) => d.type === "c" || d.type === "b")
    .map((d) => ({
      allow: true,
      type: d.type as "c" | "b",
      major: d.major,
      minor: d.minor,
      access: "rwm",
    }));
  r.devices = [...(r.devices ?? []), ...DEFAULT_DEVICE_RULES.slice(1), ...extra];
  return r;
}

/**
 * Takes over a pool's cgroup (the init is already in it) by renaming its
 * directory in every hierarchy to the container's path: moving a running
 * multi-threaded Deno between v1 hierarchies costs far more than a rename.
 * Only within the same parent; on failure the renames are undone.
 */
async function adoptCgroup(prepared: CgroupManager, path: string): Promise<CgroupManager> {
  if (posix.dirname(prepared.path) !== posix.dirname(path)) {
    throw new RuntimeError("Cannot adopt the pool's cgroup: different parent");
  }
  const name = posix.basename(path);
  const done: [string, string][] = [];
  try {
    for (const dir of new Set(Object.values(prepared.dirs()))) {
      const to = posix.join(posix.dirname(dir), name);
      Deno.renameSync(dir, to);
      done.push([dir, to]);
    }
  } catch (e) {
    for (const [from, to] of done.reverse()) Deno.renameSync(to, from);
    throw e;
  }
  return await createCgroupManager(path);
}

/**
 * Whether {@linkcode adoptCgroup} can take `prepared` over as `path`: the
 * same parent, and no directory of that name yet in any hierarchy.
 */
function canAdopt(prepared: CgroupManager, path: string): boolean {
  if (posix.dirname(prepared.path) !== posix.dirname(path)) return false;
  const name = posix.basename(path);
  return [...new Set(Object.values(prepared.dirs()))].every((dir) =>
    !pathExists(posix.join(posix.dirname(dir), name))
  );
}

function sameRules(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((r, i) => JSON.stringify(r) === JSON.stringify(b[i]));
}

function writePidFile(path: string, pid: number): void {
  const tmp = `${path}.tmp-${Deno.pid}`;
  Deno.writeTextFileSync(tmp, String(pid));
  Deno.renameSync(tmp, path);
}

/** Options for {@linkcode loadContainer} and {@linkcode listContainers}. */
export interface LoadContainerOptions {
  /**
   * State directory.
   * @default "/run/tsk-runtime"
   */
  root?: string;
  /**
   * The host.
   * @default linuxSyscalls()
   */
  sys?: Syscalls;
}

/**
 * Loads a container created earlier (by this or another process).
 *
 * @param id The container id.
 * @param options The state root.
 * @returns The container.
 * @throws {ContainerNotFoundError} When there is no such container.
 *
 * @example Print a container's status
 * ```ts ignore
 * import { loadContainer } from "@tsk/runtime";
 * const c = await loadContainer("demo");
 * console.log(c.state().status);
 * ```
 */
export async function loadContainer(
  id: string,
  options: LoadContainerOptions = {},
): Promise<Container> {
  const root = posix.resolve(options.root ?? DEFAULT_ROOT);
  const state = readState(root, id);
  const cgroup = await createCgroupManager(state.cgroupPath);
  return new LiveContainer(options.sys ?? linuxSyscalls(), root, state, cgroup, false, null);
}

/**
 * The same container after its state directory moved to `root` (same id):
 * a container this process holds keeps its cgroup manager and stays the
 * parent of its init, so nothing is read back; any other is loaded from the
 * new place. Internal: the supervisor moves a container's state out of its
 * root in one rename before deleting it.
 *
 * @param c The container, whose state directory now lives under `root`.
 * @param root The state root it moved to.
 * @returns The container bound to its new state root.
 */
export async function relocateContainer(c: Container, root: string): Promise<Container> {
  return c instanceof LiveContainer ? c.relocate(root) : await loadContainer(c.id, { root });
}

/**
 * Lists the containers under a state root with their OCI state.
 *
 * @param options The state root.
 * @returns One state per container, sorted by id.
 *
 * @example List containers
 * ```ts
 * import { listContainers } from "@tsk/runtime";
 * const all = await listContainers({ root: "/nonexistent-tsk-root" });
 * console.log(all.length); // 0
 * ```
 */
export function listContainers(options: LoadContainerOptions = {}): Promise<OciState[]> {
  const root = posix.resolve(options.root ?? DEFAULT_ROOT);
  const out: OciState[] = [];
  for (const id of listIds(root)) {
    try {
      out.push(ociState(root, readState(root, id)));
    } catch (e) {
      if (!(e instanceof ContainerNotFoundError)) throw e;
    }
  }
  return Promise.resolve(out);
}

function ociState(root: string, s: StoredState): OciState {
  const status: ContainerStatus = statusOf(root, s);
  return {
    ociVersion: s.spec.ociVersion,
    id: s.id,
    status,
    pid: status === "stopped" ? 0 : s.pid,
    bundle: s.bundle,
    annotations: s.spec.annotations ?? {},
    created: s.created,
    rootfs: s.spec.root.path,
    owner: "",
  };
}

const NS_FILES: Record<string, [string, number]> = {
  ipc: ["ipc", CLONE.NEWIPC],
  uts: ["uts", CLONE.NEWUTS],
  network: ["net", CLONE.NEWNET],
  cgroup: ["cgroup", CLONE.NEWCGROUP],
  mount: ["mnt", CLONE.NEWNS],
};

class LiveContainer implements Container {
  readonly stdin: WritableStream<Uint8Array> | null;
  readonly stdout: ReadableStream<Uint8Array> | null;
  readonly stderr: ReadableStream<Uint8Array> | null;
  #exit: Promise<ExitStatus> | undefined;

  constructor(
    private readonly sys: Syscalls,
    private readonly root: string,
    private readonly stored: StoredState,
    private readonly cgroup: CgroupManager,
    private readonly isParent: boolean,
    stdio: StdioSetup | null,
    private readonly reaped?: Promise<WaitStatus>,
  ) {
    this.stdin = stdio?.stdin ?? null;
    this.stdout = stdio?.stdout ?? null;
    this.stderr = stdio?.stderr ?? null;
  }

  get id(): string {
    return this.stored.id;
  }
  /** This container with its state under `root` (see {@linkcode relocateContainer}). */
  relocate(root: string): LiveContainer {
    const moved = new LiveContainer(
      this.sys,
      root,
      this.stored,
      this.cgroup,
      this.isParent,
      null,
      this.reaped,
    );
    moved.#exit = this.#exit;
    return moved;
  }
  get bundle(): string {
    return this.stored.bundle;
  }
  get pid(): number {
    return this.stored.pid;
  }
  get spec(): Spec {
    return this.stored.spec;
  }

  state(): OciState {
    return ociState(this.root, this.stored);
  }

  async start(options: StartOptions = {}): Promise<void> {
    const status = statusOf(this.root, this.stored);
    if (status !== "created") {
      throw new ContainerStateError(this.id, `cannot start: status is ${status}`);
    }
    const { fifo } = statePaths(this.root, this.id);
    // As runc's exec fifo: return only once the entrypoint has replaced the
    // init. Until then the init is a multi-threaded Deno whose execve waits
    // for its other threads to die; a cgroup v1 freeze in that window holds
    // those threads in the refrigerator, where SIGKILL does not reach them,
    // and the group stays FREEZING. The init holds the FIFO open (close on
    // exec) and reads one byte; our reader, opened first, sees it hang up
    // once execve has closed the init's end (or the init has died).
    let reader: number;
    try {
      reader = this.sys.open(fifo, O.RDONLY | O.NONBLOCK | O.CLOEXEC);
    } catch (e) {
      throw new ContainerStateError(this.id, "cannot start: the init is not waiting", {
        cause: e,
      });
    }
    try {
      const writer = this.sys.open(fifo, O.WRONLY | O.NONBLOCK | O.CLOEXEC);
      try {
        this.sys.write(writer, new Uint8Array([0]));
      } finally {
        this.sys.close(writer);
      }
      Deno.removeSync(fifo);
      // An init that dies instead closes its end too; wait() reports how.
      while (!(await this.sys.pollHangup(reader, 1000))) { /* execve pending */ }
      const failed = startFailure(this.sys, reader);
      if (failed !== null) throw new RuntimeError(`Cannot start container ${this.id}: ${failed}`);
    } finally {
      this.sys.close(reader);
    }
    const running = { ...this.#hookState(), status: "running" as const };
    await runHooks(this.sys, "poststart", this.spec.hooks, running, warnWith(options.onWarning));
  }

  #hookState() {
    return {
      ociVersion: this.spec.ociVersion,
      id: this.id,
      pid: this.pid,
      bundle: this.stored.bundle,
      annotations: this.spec.annotations ?? {},
    };
  }

  wait(): Promise<ExitStatus> {
    this.#exit ??= this.#waitExit();
    return this.#exit;
  }

  async #waitExit(): Promise<ExitStatus> {
    let exitCode: number | null = null;
    let signal: number | undefined;
    if (this.isParent) {
      const st = await (this.reaped ?? this.sys.waitpidAsync(this.pid));
      exitCode = st.exitCode;
      if (st.signal !== null) signal = st.signal;
    } else {
      await waitGone(this.sys, this.stored);
    }
    const oomKilled = await this.cgroup.oomKilled().catch(() => false);
    return signal === undefined ? { exitCode, oomKilled } : { exitCode, signal, oomKilled };
  }

  kill(signal: string | number = "SIGTERM"): void {
    const status = statusOf(this.root, this.stored);
    if (status === "stopped") throw new ContainerStateError(this.id, "cannot kill: not running");
    this.sys.kill(this.pid, signalNumber(signal));
  }

  stats(): Promise<CgroupStats> {
    return this.cgroup.stats();
  }

  async update(resources: LinuxResources): Promise<void> {
    const status = statusOf(this.root, this.stored);
    if (status === "stopped") throw new ContainerStateError(this.id, "cannot update: stopped");
    const invalid = (e: unknown) => {
      const err = e as Error & { field?: string };
      return new ConfigError(err.field ?? "resources", err.message.replace(/^[^:]*: /, ""), {
        cause: e,
      });
    };
    if (resources === null || typeof resources !== "object" || Array.isArray(resources)) {
      throw new ConfigError("resources", "expected an object");
    }
    const r = withoutZeroLimits(resources);
    let merged: LinuxResources = { ...(this.stored.spec.linux?.resources ?? {}) };
    for (const [k, v] of Object.entries(r)) {
      const key = k as keyof LinuxResources;
      const old = merged[key];
      (merged as Record<string, unknown>)[key] =
        typeof v === "object" && !Array.isArray(v) && typeof old === "object" && !Array.isArray(old)
          ? { ...old, ...v }
          : v;
    }
    // Checked as it will stand: a new swap limit holds with the memory
    // limit already set, say.
    try {
      merged = validateResources(merged, "resources");
    } catch (e) {
      throw invalid(e);
    }
    const spec = structuredClone(this.stored.spec);
    spec.linux = { ...(spec.linux ?? {}), resources: merged };
    await this.cgroup.set(effectiveResources(spec));
    this.stored.spec = spec;
    writeState(this.root, this.stored);
  }

  async pause(): Promise<void> {
    const status = statusOf(this.root, this.stored);
    if (status !== "running") {
      throw new ContainerStateError(this.id, `cannot pause: status is ${status}`);
    }
    await this.cgroup.freeze();
    this.stored.paused = true;
    writeState(this.root, this.stored);
  }

  async resume(): Promise<void> {
    const status = statusOf(this.root, this.stored);
    if (status !== "paused") {
      throw new ContainerStateError(this.id, `cannot resume: status is ${status}`);
    }
    await this.cgroup.thaw();
    this.stored.paused = false;
    writeState(this.root, this.stored);
  }

  pids(): Promise<number[]> {
    return this.cgroup.pids();
  }

  async exec(process: Process, options: ExecOptions = {}): Promise<ExecProcess> {
    const status = statusOf(this.root, this.stored);
    if (status === "paused" && !options.ignorePaused) {
      throw new ContainerStateError(
        this.id,
        "cannot exec in a paused container (ignorePaused, --ignore-paused, to do it anyway)",
      );
    }
    if (status !== "running" && status !== "created" && status !== "paused") {
      throw new ContainerStateError(this.id, `cannot exec: status is ${status}`);
    }
    const spec = validateConfig({ ...this.stored.spec, process });
    const security = securityFor(spec.process, spec);
    checkTerminal(spec.process, options.consoleSocket);
    const namespaces: ExecConfigMessage["namespaces"] = [];
    for (const ns of spec.linux?.namespaces ?? []) {
      const f = NS_FILES[ns.type];
      if (f) namespaces.push({ path: `/proc/${this.pid}/ns/${f[0]}`, flag: f[1] });
    }
    // The mount namespace last: joining it changes what /proc means.
    namespaces.sort((a, b) => (a.flag === CLONE.NEWNS ? 1 : 0) - (b.flag === CLONE.NEWNS ? 1 : 0));
    const hasPidNs = (spec.linux?.namespaces ?? []).some((n) => n.type === "pid");
    const stdio = setupStdio(this.sys, options.stdio);
    let stage: InitProcess | undefined;
    try {
      stage = spawnStage(this.sys, {
        stdio: stdio.childFds,
        pidNamespace: hasPidNs
          ? { kind: "join", path: `/proc/${this.pid}/ns/pid` }
          : { kind: "inherit" },
      });
      await this.cgroup.apply(stage.pid, options.cgroup);
      const preserved = options.preserveFds ?? [];
      await sendConfig(this.sys, stage, {
        type: "exec",
        pid: this.pid,
        namespaces,
        process: spec.process,
        security,
        preserved: preserved.length,
        consoleSocket: options.consoleSocket && posix.resolve(options.consoleSocket),
        ...(this.stored.noNewKeyring ? {} : { sessionKeyring: `_ses.${this.id}` }),
      }, { fds: preserved });
      await waitForInitReady(this.sys, stage);
    } catch (e) {
      if (stage) {
        closeStage(this.sys, stage);
        try {
          this.sys.kill(stage.pid, 9);
          await this.sys.waitpidAsync(stage.pid);
        } catch { /* gone */ }
      }
      throw e;
    } finally {
      for (const fd of stdio.toClose) this.sys.close(fd);
    }
    const pid = stage.pid;
    const sys = this.sys;
    const cgroup = this.cgroup;
    let exit: Promise<ExitStatus> | undefined;
    return {
      pid,
      stdin: stdio.stdin,
      stdout: stdio.stdout,
      stderr: stdio.stderr,
      wait() {
        exit ??= sys.waitpidAsync(pid).then(async (st) => {
          const oomKilled = await cgroup.oomKilled().catch(() => false);
          return st.signal === null
            ? { exitCode: st.exitCode, oomKilled }
            : { exitCode: null, signal: st.signal, oomKilled };
        });
        return exit;
      },
    };
  }

  async delete(options: DeleteOptions = {}): Promise<void> {
    const status = statusOf(this.root, this.stored);
    if ((status === "running" || status === "paused") && !options.force) {
      throw new ContainerStateError(
        this.id,
        "cannot delete: the container is running; stop it or use force",
      );
    }
    if (status === "paused") await this.cgroup.thaw().catch(() => {});
    if (status !== "stopped") {
      await this.cgroup.killAll("SIGKILL").catch(() => {});
      try {
        this.sys.kill(this.pid, 9);
      } catch { /* already gone */ }
    }
    if (this.isParent) {
      await this.wait();
    } else if (status !== "stopped") {
      await waitGone(this.sys, this.stored);
    }
    await this.cgroup.destroy();
    if (!options.keepStateDir) {
      Deno.removeSync(statePaths(this.root, this.id).dir, { recursive: true });
    }
    const { pid: _, ...state } = this.#hookState();
    await runHooks(
      this.sys,
      "poststop",
      this.spec.hooks,
      { ...state, status: "stopped" },
      warnWith(options.onWarning),
    );
  }
}

async function waitGone(sys: Syscalls, stored: StoredState): Promise<void> {
  let fd: number;
  try {
    fd = sys.pidfdOpen(stored.pid);
  } catch {
    return;
  }
  try {
    const st = procStat(stored.pid);
    if (st === null || st.startTime !== stored.initStartTime) return;
    while (!(await sys.pollReadable(fd, 1000))) { /* still running */ }
  } finally {
    sys.close(fd);
  }
}

/** Options for {@linkcode runContainer}. */
export type RunContainerOptions = CreateContainerOptions;

/**
 * Creates, starts and waits for a container, then deletes it, also when
 * anything fails on the way.
 *
 * @param id The container id.
 * @param options As for {@linkcode createContainer}.
 * @returns How the container's init ended.
 *
 * @example Run a bundle to completion
 * ```ts ignore
 * import { runContainer } from "@tsk/runtime";
 * const { exitCode } = await runContainer("once", { bundle: "/tmp/bundle" });
 * ```
 */
export async function runContainer(
  id: string,
  options: RunContainerOptions = {},
): Promise<ExitStatus> {
  const c = await createContainer(id, { ...options, start: true });
  try {
    return await c.wait();
  } finally {
    await c.delete({ force: true });
  }
}
