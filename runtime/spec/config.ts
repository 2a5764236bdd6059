/**
 * The OCI runtime-spec 1.x `config.json` types, as far as tsk-runtime
 * supports them. Fields tsk-runtime cannot honour are rejected by
 * {@linkcode validateConfig} with an error naming the field.
 *
 * @module
 */
import type { LinuxResources } from "../cgroup/resources.ts";
import type { LinuxSeccomp } from "../seccomp/profile.ts";
import type { LinuxCapabilities } from "../capabilities.ts";

export type { LinuxCapabilities, LinuxResources, LinuxSeccomp };

/** `process.user`. */
export interface User {
  /** User id in the container. */
  uid: number;
  /** Group id in the container. */
  gid: number;
  /** File mode creation mask; runc leaves 0o022 when unset. */
  umask?: number;
  /** Supplementary group ids. */
  additionalGids?: number[];
}

/** One entry of `process.rlimits`. */
export interface POSIXRlimit {
  /** `RLIMIT_NOFILE` and friends. */
  type: string;
  /** Hard limit. */
  hard: number;
  /** Soft limit. */
  soft: number;
}

/** `process`: what runs in the container. */
export interface Process {
  /**
   * Give the process a pseudo-terminal as its controlling terminal and
   * stdio; its master goes to the console socket the caller names
   * (`--console-socket`, as with runc).
   */
  terminal?: boolean;
  /** The terminal's size, with `terminal`. */
  consoleSize?: { height: number; width: number };
  /** The user the process runs as. */
  user: User;
  /** argv; args[0] is looked up in the container's PATH when it has no slash. */
  args: string[];
  /** `KEY=value` strings. */
  env?: string[];
  /** Absolute working directory inside the container. */
  cwd: string;
  /** Capability sets. */
  capabilities?: LinuxCapabilities;
  /** Resource limits. */
  rlimits?: POSIXRlimit[];
  /** Sets no_new_privs. */
  noNewPrivileges?: boolean;
  /** /proc/self/oom_score_adj of the process. */
  oomScoreAdj?: number;
  /** AppArmor profile: refused by the spec's check (tsk-runtime has no AppArmor support). */
  apparmorProfile?: string;
  /** SELinux label: refused by the spec's check (tsk-runtime has no SELinux support). */
  selinuxLabel?: string;
}

/** `root`. */
export interface Root {
  /** The root filesystem, relative to the bundle or absolute. */
  path: string;
  /** Mount the root filesystem read-only. */
  readonly?: boolean;
}

/** One entry of `mounts`. */
export interface Mount {
  /** Absolute path inside the container. */
  destination: string;
  /** Device, path or `none`. */
  source?: string;
  /** Filesystem type; `bind` (or a `bind`/`rbind` option) makes a bind mount. */
  type?: string;
  /** mount(8)-style options. */
  options?: string[];
}

/** The namespace kinds tsk-runtime can create or join. */
export type NamespaceType = "pid" | "network" | "mount" | "ipc" | "uts" | "cgroup";

/** One entry of `linux.namespaces`. */
export interface LinuxNamespace {
  /** Which namespace. */
  type: NamespaceType;
  /** Join the namespace at this path (`/proc/<pid>/ns/net`) instead of creating one. */
  path?: string;
}

/** One entry of `linux.devices`: a node created in the container's /dev. */
export interface LinuxDevice {
  /** `c`, `b`, `u` or `p`. */
  type: string;
  /** Path inside the container. */
  path: string;
  /** Major number (not for `p`). */
  major?: number;
  /** Minor number (not for `p`). */
  minor?: number;
  /** Permission bits. */
  fileMode?: number;
  /** Owner uid. */
  uid?: number;
  /** Owner gid. */
  gid?: number;
}

/** `linux`. */
export interface Linux {
  /** Namespaces to create or join. */
  namespaces?: LinuxNamespace[];
  /** Device nodes. */
  devices?: LinuxDevice[];
  /** cgroup path, relative to the cgroup root; default `/tsk-runtime/<id>`. */
  cgroupsPath?: string;
  /** cgroup limits. */
  resources?: LinuxResources;
  /** `private`, `rprivate`, `slave`, `rslave`, `shared`, `rshared`, `unbindable`, `runbindable`. */
  rootfsPropagation?: string;
  /** Seccomp filter. */
  seccomp?: LinuxSeccomp;
  /** Kernel parameters under /proc/sys. */
  sysctl?: Record<string, string>;
  /** Paths made unreadable. */
  maskedPaths?: string[];
  /** Paths made read-only. */
  readonlyPaths?: string[];
}

/** An OCI runtime-spec `config.json`. */
/** A lifecycle hook: a program run with the container's state on its stdin. */
export interface Hook {
  /** Absolute path of the program. */
  path: string;
  /** argv, `args[0]` included (execv's semantics); `[path]` when absent. */
  args?: string[];
  /** The environment, `KEY=value` (nothing else is passed). */
  env?: string[];
  /** Seconds before the hook is killed and counts as failed. */
  timeout?: number;
}

/** The lifecycle hooks, by when they run (runtime-spec `hooks`). */
export interface Hooks {
  /** Deprecated: during create, as `createRuntime` (before it). */
  prestart?: Hook[];
  /** During create, in the runtime's namespaces, before pivot_root. */
  createRuntime?: Hook[];
  /** During create, in the container's namespaces, before pivot_root. */
  createContainer?: Hook[];
  /** During start, in the container, before the process's program. */
  startContainer?: Hook[];
  /** After start has started the program, in the runtime's namespaces. */
  poststart?: Hook[];
  /** After delete, in the runtime's namespaces. */
  poststop?: Hook[];
}

/** An OCI runtime-spec `config.json`: the parts tsk-runtime reads (validated by `validateConfig`). */
export interface Spec {
  /** Spec version, `1.x.y`. */
  ociVersion: string;
  /** The process to run. */
  process: Process;
  /** The root filesystem. */
  root: Root;
  /** The container's hostname (needs a UTS namespace). */
  hostname?: string;
  /** The container's NIS domain name (needs a UTS namespace). */
  domainname?: string;
  /** Additional mounts, in order. */
  mounts?: Mount[];
  /** Arbitrary metadata; `dev.tsk.*` keys steer tsk-runtime. */
  annotations?: Record<string, string>;
  /** Linux-specific settings. */
  linux?: Linux;
  /** Lifecycle hooks. */
  hooks?: Hooks;
}
