/**
 * What `tsk-runtime features` prints: runc's features document
 * (runtime-spec `features.md`) describing what this runtime supports.
 *
 * @module
 */
import { HOOK_NAMES } from "./spec/validate.ts";
import { CAPABILITIES } from "./capabilities.ts";
import { MOUNT_OPTION_NAMES } from "./rootfs.ts";

import { VERSION } from "./version.ts";

export { VERSION };

/** The runtime-spec `features` document. */
export interface Features {
  /** Oldest spec version accepted. */
  ociVersionMin: string;
  /** Newest spec version known. */
  ociVersionMax: string;
  /** Supported hooks: all of the runtime-spec's. */
  hooks: string[];
  /** Mount options interpreted by the runtime. */
  mountOptions: string[];
  /** Linux features. */
  linux: {
    namespaces: string[];
    capabilities: string[];
    cgroup: { v1: boolean; v2: boolean; systemd: boolean; systemdUser: boolean };
    seccomp: { enabled: boolean; actions: string[]; operators: string[]; archs: string[] };
    apparmor: { enabled: boolean };
    selinux: { enabled: boolean };
  };
  /** Runtime-specific annotations. */
  annotations: Record<string, string>;
}

/**
 * The features document.
 *
 * @returns A fresh object.
 *
 * @example Print the namespaces
 * ```ts
 * import { featuresJson } from "./features.ts";
 * console.log(featuresJson().linux.namespaces);
 * ```
 */
export function featuresJson(): Features {
  return {
    ociVersionMin: "1.0.0",
    ociVersionMax: "1.2.0",
    hooks: [...HOOK_NAMES],
    mountOptions: [...MOUNT_OPTION_NAMES],
    linux: {
      namespaces: ["cgroup", "ipc", "mount", "network", "pid", "uts"],
      capabilities: Object.keys(CAPABILITIES),
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
      seccomp: {
        enabled: true,
        actions: [
          "SCMP_ACT_ALLOW",
          "SCMP_ACT_ERRNO",
          "SCMP_ACT_KILL",
          "SCMP_ACT_KILL_PROCESS",
          "SCMP_ACT_KILL_THREAD",
          "SCMP_ACT_LOG",
          "SCMP_ACT_TRACE",
          "SCMP_ACT_TRAP",
        ],
        operators: [
          "SCMP_CMP_EQ",
          "SCMP_CMP_GE",
          "SCMP_CMP_GT",
          "SCMP_CMP_LE",
          "SCMP_CMP_LT",
          "SCMP_CMP_MASKED_EQ",
          "SCMP_CMP_NE",
        ],
        archs: ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: {
      "dev.tsk.runtime.version": VERSION,
      "dev.tsk.rootfs.lowerdirs": "overlayfs lower dirs, colon-separated, uppermost first",
      "dev.tsk.rootfs.upperdir": "overlayfs upper dir",
      "dev.tsk.rootfs.workdir": "overlayfs work dir",
    },
  };
}
