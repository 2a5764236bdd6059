/**
 * The default `config.json`, the same as `runc spec` writes (with a cgroup
 * namespace), so a bundle made here runs unchanged under runc.
 *
 * @module
 */
import type { Spec } from "./config.ts";
import { DEFAULT_SECCOMP_PROFILE } from "../seccomp/default_profile.ts";

/** Options for {@linkcode defaultSpec}. */
export interface DefaultSpecOptions {
  /**
   * The process's argv.
   * @default ["sh"]
   */
  args?: string[];
  /**
   * The root filesystem path, relative to the bundle.
   * @default "rootfs"
   */
  rootPath?: string;
  /**
   * The hostname.
   * @default "tsk"
   */
  hostname?: string;
  /**
   * Mount the root filesystem read-only.
   * @default true
   */
  readonly?: boolean;
  /**
   * Add tsk's default seccomp profile (Docker's intent); `runc spec` adds none.
   * @default false
   */
  seccomp?: boolean;
}

const RUNC_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

/**
 * Returns a fresh default spec, the same as `runc spec` but with a cgroup
 * namespace: pid, network, ipc, uts, mount and cgroup namespaces, proc, /dev
 * tmpfs, devpts, shm, mqueue, sysfs and a read-only cgroup mount, runc's
 * masked and read-only paths, three capabilities and no_new_privs.
 *
 * @param options What to change from the defaults.
 * @returns A new object that the caller may modify.
 *
 * @example A spec for `echo hi`
 * ```ts
 * import { defaultSpec } from "@tsk/runtime";
 * const spec = defaultSpec({ args: ["echo", "hi"], readonly: false });
 * console.log(spec.process.args); // ["echo", "hi"]
 * ```
 */
export function defaultSpec(options: DefaultSpecOptions = {}): Spec {
  const spec: Spec = {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: options.args ?? ["sh"],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: {
        bounding: [...RUNC_CAPS],
        effective: [...RUNC_CAPS],
        permitted: [...RUNC_CAPS],
      },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: options.rootPath ?? "rootfs", readonly: options.readonly ?? true },
    hostname: options.hostname ?? "tsk",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      {
        destination: "/dev",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
      },
      {
        destination: "/dev/pts",
        type: "devpts",
        source: "devpts",
        options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
      },
      {
        destination: "/dev/shm",
        type: "tmpfs",
        source: "shm",
        options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
      },
      {
        destination: "/dev/mqueue",
        type: "mqueue",
        source: "mqueue",
        options: ["nosuid", "noexec", "nodev"],
      },
      {
        destination: "/sys",
        type: "sysfs",
        source: "sysfs",
        options: ["nosuid", "noexec", "nodev", "ro"],
      },
      {
        destination: "/sys/fs/cgroup",
        type: "cgroup",
        source: "cgroup",
        options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
      },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: "rwm" }] },
      namespaces: [
        { type: "pid" },
        { type: "network" },
        { type: "ipc" },
        { type: "uts" },
        { type: "mount" },
        { type: "cgroup" },
      ],
      maskedPaths: [
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
      ],
      readonlyPaths: [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
      ],
    },
  };
  if (options.seccomp) spec.linux!.seccomp = structuredClone(DEFAULT_SECCOMP_PROFILE);
  return spec;
}
