/**
 * The messages between the parent stage and the init stage, and their
 * framing (a 4-byte little-endian length, then JSON). The init reads its
 * configuration from fd 3 (`INIT_CONFIG_FD`) and answers on fd 4
 * (`INIT_REPLY_FD`); both are O_CLOEXEC in the init, so neither reaches the
 * container's process.
 *
 * @module
 */
import type { Mount, POSIXRlimit, Spec, User } from "./spec/config.ts";
import type { Syscalls } from "./syscalls.ts";
import type { HookState } from "./hooks.ts";

/** The init's end of the configuration pipe. */
export const INIT_CONFIG_FD = 3;
/** The init's end of the reply pipe. */
export const INIT_REPLY_FD = 4;

/** Overlay root filesystem layers. */
export interface OverlayRootfs {
  /** Read-only lower directories, uppermost first (overlayfs `lowerdir` order). */
  lowerDirs: string[];
  /** Writable upper directory; absent makes a read-only overlay. */
  upperDir?: string;
  /** overlayfs work directory on the same filesystem as `upperDir`. */
  workDir?: string;
}

/** Security settings computed by the parent from the spec. */
export interface SecurityConfig {
  /** Capability masks as decimal strings (bigint does not survive JSON). */
  caps: {
    bounding: string;
    effective: string;
    permitted: string;
    inheritable: string;
    ambient: string;
  } | null;
  /** The compiled seccomp program, base64 of `struct sock_filter[]`. */
  seccomp: string | null;
  /** seccomp(2) filter flags. */
  seccompFlags: number;
  /** Set no_new_privs. */
  noNewPrivileges: boolean;
  /** The process credentials. */
  user: User;
  /** rlimits. */
  rlimits: POSIXRlimit[];
}

/** `waitForInitConfig`: what a container's init builds. */
export interface InitConfigMessage {
  /** Discriminator. */
  type: "init";
  /** The validated spec, with `root.path` absolute. */
  spec: Spec;
  /** Overlay layers mounted at `spec.root.path`, when asked. */
  overlay: OverlayRootfs | null;
  /** Path of the start FIFO the init blocks on until `start`. */
  fifo: string;
  /** Security settings. */
  security: SecurityConfig;
  /**
   * The cgroup mounts of the host to reproduce for `cgroup` mounts; `null`
   * when they follow as a {@linkcode CgroupsMessage} on the same
   * descriptor, once the container's cgroup is in place (a pooled init then
   * builds the rootfs while its parent adopts the cgroup).
   */
  cgroupMounts: Mount[] | null;
  /**
   * A pre-started init's stdio (it was spawned with /dev/null): for each of
   * fds 0-2, whether the next descriptor that came with this message
   * (SCM_RIGHTS) replaces it, or /dev/null does; `null` keeps the init's own.
   */
  stdio: boolean[] | null;
  /**
   * How many descriptors, after the stdio ones, came with this message
   * (SCM_RIGHTS) to become fds 3, 4, ... of the container's process (runc's
   * `--preserve-fds`).
   */
  preserved?: number;
  /** With `process.terminal`: the unix socket the terminal's master goes to. */
  consoleSocket?: string;
  /**
   * The spec has prestart or createRuntime hooks: once the rootfs is built
   * (before pivot_root) the init replies `hooks` and waits for a
   * {@linkcode HooksDoneMessage} on the configuration descriptor.
   */
  hookPause?: boolean;
  /** The state the init's own hooks (createContainer, startContainer) read, less the status. */
  hookState?: Omit<HookState, "status">;
  /** The session keyring the container gets (runc's `_ses.<id>`); none: the caller's. */
  sessionKeyring?: string;
}

/** The runtime's create hooks have run: the init goes on. */
export interface HooksDoneMessage {
  /** Always `hooks-done`. */
  type: "hooks-done";
}

/**
 * After an {@linkcode InitConfigMessage} without `cgroupMounts`: the
 * container's cgroup is in place, limits included. The init reads it before
 * its first cgroup mount, and before it reports ready in any case.
 */
export interface CgroupsMessage {
  /** Always `cgroups`. */
  type: "cgroups";
  /** As {@linkcode InitConfigMessage.cgroupMounts}. */
  cgroupMounts: Mount[];
}

/** `waitForExecConfig`: what an exec'd process joins. */
export interface ExecConfigMessage {
  /** Discriminator. */
  type: "exec";
  /** The container's init pid (host view). */
  pid: number;
  /** Namespace files (`/proc/<pid>/ns/<name>`) to join, in order, with their CLONE flag. */
  namespaces: { path: string; flag: number }[];
  /** The process. */
  process: Spec["process"];
  /** Security settings. */
  security: SecurityConfig;
  /** As {@linkcode InitConfigMessage.preserved} (an exec's stdio is its spawn's). */
  preserved?: number;
  /** The container's session keyring, to join. */
  sessionKeyring?: string;
  /** With `process.terminal`: the unix socket the terminal's master goes to. */
  consoleSocket?: string;
}

/** A message from the parent. */
export type ParentMessage = InitConfigMessage | ExecConfigMessage;

/** `initReady`, or an error before it. */
export type InitReply =
  | { type: "ready" }
  /** Namespaces and mounts are in place: the runtime's create hooks run now (see {@linkcode HooksDoneMessage}). */
  | { type: "hooks" }
  | { type: "error"; message: string; field?: string; errno?: number };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes one framed message. */
export function encodeMessage(msg: unknown): Uint8Array<ArrayBuffer> {
  const body = encoder.encode(JSON.stringify(msg));
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, true);
  out.set(body, 4);
  return out;
}

/**
 * Decodes a framed message once, for nothing: the first decode in a process
 * costs 0.3-0.5 ms (a 2 KB configuration, measured in pooled inits), which
 * an idle init pays while it waits rather than on the container's start.
 *
 * @example
 * ```ts
 * import { warmUpMessages } from "./_messages.ts";
 * warmUpMessages();
 * ```
 */
export function warmUpMessages(): void {
  const data = encodeMessage({ type: "warm-up", spec: { process: { args: ["true"] } } });
  JSON.parse(decoder.decode(data.subarray(4)));
}

/** Writes one framed message, synchronously. */
export function writeMessageSync(sys: Syscalls, fd: number, msg: unknown): void {
  const data = encodeMessage(msg);
  let off = 0;
  while (off < data.length) off += sys.write(fd, data.subarray(off) as Uint8Array<ArrayBuffer>);
}

function readExactSync(
  sys: Syscalls,
  fd: number,
  n: number,
  fds?: number[],
): Uint8Array<ArrayBuffer> | null {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const buf = out.subarray(off) as Uint8Array<ArrayBuffer>;
    let got: number;
    if (fds) {
      const r = sys.recvWithFds(fd, buf);
      fds.push(...r.fds);
      got = r.n;
    } else got = sys.read(fd, buf);
    if (got === 0) return null;
    off += got;
  }
  return out;
}

/**
 * Reads one framed message synchronously; `null` at end of file. With
 * `fds`, `fd` is a unix socket and the descriptors sent with the message
 * (SCM_RIGHTS, on its first bytes) are appended to it.
 */
export function readMessageSync<T>(sys: Syscalls, fd: number, fds?: number[]): T | null {
  const head = readExactSync(sys, fd, 4, fds);
  if (head === null) return null;
  const len = new DataView(head.buffer).getUint32(0, true);
  const body = readExactSync(sys, fd, len);
  if (body === null) return null;
  return JSON.parse(decoder.decode(body)) as T;
}

async function readExactAsync(
  sys: Syscalls,
  fd: number,
  n: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const buf = new Uint8Array(n - off);
    const got = await sys.readAsync(fd, buf);
    if (got === 0) return null;
    out.set(buf.subarray(0, got), off);
    off += got;
  }
  return out;
}

/** Reads one framed message on a pool thread; `null` at end of file. */
export async function readMessageAsync<T>(sys: Syscalls, fd: number): Promise<T | null> {
  const head = await readExactAsync(sys, fd, 4);
  if (head === null) return null;
  const len = new DataView(head.buffer).getUint32(0, true);
  const body = await readExactAsync(sys, fd, len);
  if (body === null) return null;
  return JSON.parse(decoder.decode(body)) as T;
}

/**
 * Environment variable naming a file where an idle init appends each libc
 * symbol it had to bind after its configuration arrived (see init.ts).
 */
export const LATE_BIND_LOG_ENV = "TSK_RUNTIME_LATE_BIND_LOG";
