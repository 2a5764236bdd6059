/**
 * Helpers for tests and demos that run real containers: a busybox root
 * filesystem and bundle from Debian's busybox-static, and a root
 * precondition that fails loudly in CI. Import as `@tsk/runtime/testing`.
 *
 * @module
 */
import { posix } from "node:path";
import { defaultSpec } from "./spec/default.ts";
import type { Spec } from "./spec/config.ts";
import type { Syscalls } from "./syscalls.ts";
import { SyscallError } from "./errors.ts";

/** Where Debian's busybox-static puts the binary. */
export const BUSYBOX = "/bin/busybox";

let applets: string[] | undefined;

async function busyboxApplets(): Promise<string[]> {
  if (applets) return applets;
  const out = await new Deno.Command(BUSYBOX, { args: ["--list-full"], stdout: "piped" }).output();
  if (!out.success) throw new Error(`Cannot list busybox applets: ${BUSYBOX} --list-full failed`);
  applets = new TextDecoder().decode(out.stdout).split("\n").filter(Boolean);
  return applets;
}

/**
 * Whether busybox-static is installed, checked by its static binary.
 *
 * @returns True when /bin/busybox exists and is statically linked.
 *
 * @example Check
 * ```ts
 * import { hasBusybox } from "@tsk/runtime/testing";
 * console.log(typeof (await hasBusybox())); // "boolean"
 * ```
 */
export async function hasBusybox(): Promise<boolean> {
  try {
    const head = await Deno.readFile(BUSYBOX);
    // A static binary has no PT_INTERP ("/lib64/ld-linux" string) near the start.
    const text = new TextDecoder("latin1").decode(head.subarray(0, 4096));
    return !text.includes("ld-linux");
  } catch {
    return false;
  }
}

/**
 * Installs Debian's busybox-static with apt-get when it is missing, saying
 * so on stderr.
 *
 * @returns Nothing; throws when it cannot be installed.
 *
 * @example Make sure busybox is there
 * ```ts ignore
 * import { ensureBusybox } from "@tsk/runtime/testing";
 * await ensureBusybox();
 * ```
 */
export async function ensureBusybox(): Promise<void> {
  if (await hasBusybox()) return;
  console.error("tsk: installing Debian package busybox-static (for the busybox root filesystem)");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  await new Deno.Command("apt-get", { args: ["update", "-qq"], env }).output();
  const r = await new Deno.Command("apt-get", {
    args: ["install", "-y", "-qq", "--no-install-recommends", "busybox-static"],
    env,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!r.success || !(await hasBusybox())) {
    throw new Error("Cannot install busybox-static: apt-get install busybox-static failed");
  }
}

/**
 * Builds a busybox root filesystem in `dir`: /bin/busybox with a symlink per
 * applet, and the usual empty directories.
 *
 * @param dir The directory to fill (created if needed).
 * @returns `dir`.
 *
 * @example Build a root filesystem
 * ```ts ignore
 * import { busyboxRootfs } from "@tsk/runtime/testing";
 * await busyboxRootfs("/tmp/rootfs");
 * ```
 */
export async function busyboxRootfs(dir: string): Promise<string> {
  await ensureBusybox();
  for (
    const d of [
      "bin",
      "sbin",
      "usr/bin",
      "usr/sbin",
      "etc",
      "proc",
      "sys",
      "dev",
      "tmp",
      "root",
      "var",
      "run",
    ]
  ) {
    await Deno.mkdir(posix.join(dir, d), { recursive: true });
  }
  await Deno.chmod(posix.join(dir, "tmp"), 0o1777);
  await Deno.copyFile(BUSYBOX, posix.join(dir, "bin/busybox"));
  await Deno.chmod(posix.join(dir, "bin/busybox"), 0o755);
  for (const applet of await busyboxApplets()) {
    const link = posix.join(dir, applet);
    if (applet === "bin/busybox") continue;
    await Deno.mkdir(posix.dirname(link), { recursive: true });
    try {
      await Deno.symlink("/bin/busybox", link);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
  }
  await Deno.writeTextFile(
    posix.join(dir, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
  );
  await Deno.writeTextFile(posix.join(dir, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
  return dir;
}

/** Options for {@linkcode busyboxBundle}. */
export interface BusyboxBundleOptions {
  /**
   * The container's argv.
   * @default ["sh"]
   */
  args?: string[];
  /** Changes to the default spec, applied before writing config.json. */
  edit?: (spec: Spec) => void;
  /**
   * Create the rootfs (set false to reuse one already in `<dir>/rootfs`).
   * @default true
   */
  rootfs?: boolean;
}

/**
 * Writes an OCI bundle in `dir`: `rootfs/` from busybox and a `config.json`
 * from {@linkcode defaultSpec} (the same as `runc spec`).
 *
 * @param dir The bundle directory.
 * @param options argv and spec changes.
 * @returns The spec written.
 *
 * @example A bundle that prints its hostname
 * ```ts ignore
 * import { busyboxBundle } from "@tsk/runtime/testing";
 * await busyboxBundle("/tmp/bundle", { args: ["hostname"] });
 * ```
 */
export async function busyboxBundle(
  dir: string,
  options: BusyboxBundleOptions = {},
): Promise<Spec> {
  await Deno.mkdir(dir, { recursive: true });
  if (options.rootfs ?? true) await busyboxRootfs(posix.join(dir, "rootfs"));
  const spec = defaultSpec({ args: options.args ?? ["sh"] });
  options.edit?.(spec);
  await Deno.writeTextFile(posix.join(dir, "config.json"), JSON.stringify(spec, null, 2));
  return spec;
}

/**
 * Whether real-container tests can run: as root, or else `false` outside
 * CI; with `CI=true` a missing precondition throws, so tests never skip
 * silently there. Use as `ignore: !requireRoot()`.
 *
 * @returns True when running as root.
 * @throws {Error} In CI when not root.
 *
 * @example Guard a test
 * ```ts
 * import { requireRoot } from "@tsk/runtime/testing";
 * Deno.test({ name: "needs root", ignore: !requireRoot(), fn() {} });
 * ```
 */
export function requireRoot(): boolean {
  const root = Deno.uid() === 0;
  if (!root && Deno.env.get("CI") === "true") {
    throw new Error("Cannot run container tests: they need root (CI=true, so not skipping)");
  }
  return root;
}

/** One system call recorded by {@linkcode recordingSyscalls}. */
export interface RecordedCall {
  /** The method name (`mount`, `setresuid`, ...). */
  name: string;
  /** Its arguments. */
  args: unknown[];
}

/** Options for {@linkcode recordingSyscalls}. */
export interface RecordingSyscallsOptions {
  /**
   * Make calls fail: method name → errno, or `{ errno, skip }` to let the
   * first `skip` calls succeed.
   */
  fail?: Record<string, number | { errno: number; skip: number }>;
  /** Bytes that `read` returns, per fd, in order (then end of file). */
  reads?: Record<number, Uint8Array[]>;
}

/** A {@linkcode Syscalls} double that records every call. */
export interface RecordingSyscalls extends Syscalls {
  /** Every call, in order. */
  readonly calls: RecordedCall[];
  /** Bytes written, per fd. */
  readonly written: Record<number, Uint8Array[]>;
}

/** Thrown by the double's `execve`, which cannot replace the test process. */
export class ExecveCalled extends Error {
  /**
   * Creates the marker.
   * @param path The program execve was asked to run.
   */
  constructor(readonly path: string) {
    super(`execve ${path}`);
    this.name = "ExecveCalled";
  }
}

/**
 * A recording test double of {@linkcode Syscalls} (youki's pattern): every
 * call is recorded, chosen calls fail with an errno, and nothing touches the
 * kernel. `execve` throws {@linkcode ExecveCalled}.
 *
 * @param options Which calls fail, what reads return.
 * @returns The double.
 *
 * @example Make the second mount fail with EPERM
 * ```ts
 * import { recordingSyscalls } from "@tsk/runtime/testing";
 * const sys = recordingSyscalls({ fail: { mount: { errno: 1, skip: 1 } } });
 * sys.mount(null, "/", null, 0, null);
 * try {
 *   sys.mount("proc", "/proc", "proc", 0, null);
 * } catch (e) {
 *   console.log((e as Error).message); // "mount proc on /proc: EPERM (operation not permitted)"
 * }
 * ```
 */
export function recordingSyscalls(options: RecordingSyscallsOptions = {}): RecordingSyscalls {
  const calls: RecordedCall[] = [];
  const written: Record<number, Uint8Array[]> = {};
  const reads: Record<number, Uint8Array[]> = structuredClone(options.reads ?? {});
  const seen: Record<string, number> = {};
  let nextFd = 100;
  const detailOf = (name: string, args: unknown[]): string => {
    if (name === "mount") return `${args[0] ?? "none"} on ${args[1]}`;
    return args.length > 0 && typeof args[0] !== "object" ? String(args[0]) : "";
  };
  const readQueued = (fd: number, buf: Uint8Array): number => {
    const q = reads[fd];
    if (!q || q.length === 0) return 0;
    const chunk = q[0];
    const n = Math.min(chunk.length, buf.length);
    buf.set(chunk.subarray(0, n));
    if (n === chunk.length) q.shift();
    else q[0] = chunk.subarray(n);
    return n;
  };
  const impl: Record<string, (...args: never[]) => unknown> = {
    open: () => nextFd++,
    pipe: () => [nextFd++, nextFd++],
    socketpair: () => [nextFd++, nextFd++],
    read: (fd: number, buf: Uint8Array) => readQueued(fd, buf),
    recvWithFds: (fd: number, buf: Uint8Array) => ({ n: readQueued(fd, buf), fds: [] }),
    write: (fd: number, buf: Uint8Array) => {
      (written[fd] ??= []).push(buf.slice());
      return buf.length;
    },
    getcwd: () => "/",
    getpid: () => 4242,
    umask: () => 0o022,
    mountFlags: () => 0,
    prctl: () => 0,
    fcntl: () => 0,
    pidfdOpen: () => nextFd++,
    spawn: () => 4243,
    waitpidNoHang: () => null,
    execve: (path: string) => {
      throw new ExecveCalled(path);
    },
  };
  const asyncImpl: Record<string, unknown> = {
    readAsync: (fd: number, buf: Uint8Array) =>
      Promise.resolve(impl.read(fd as never, buf as never)),
    waitpidAsync: () => Promise.resolve({ exitCode: 0, signal: null }),
    pollReadable: () => Promise.resolve(true),
    pollHangup: () => Promise.resolve(true),
  };
  return new Proxy({ calls, written } as unknown as RecordingSyscalls, {
    get(target, prop: string) {
      if (prop === "calls" || prop === "written") return target[prop];
      return (...args: unknown[]) => {
        calls.push({ name: prop, args });
        const rule = options.fail?.[prop];
        if (rule !== undefined) {
          const { errno, skip } = typeof rule === "number" ? { errno: rule, skip: 0 } : rule;
          const n = (seen[prop] = (seen[prop] ?? 0) + 1);
          if (n > skip) {
            const err = new SyscallError(prop, errno, detailOf(prop, args));
            if (prop in asyncImpl) return Promise.reject(err);
            throw err;
          }
        }
        if (prop in asyncImpl) return (asyncImpl[prop] as (...a: unknown[]) => unknown)(...args);
        return impl[prop]?.(...(args as never[]));
      };
    },
  });
}
