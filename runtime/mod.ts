/**
 * `@tsk/runtime`: an OCI container runtime for Deno built on Linux
 * primitives called through `Deno.dlopen("libc.so.6")`: namespaces, cgroups
 * (v2, or v1 as a full fallback), overlayfs, pivot_root, capabilities and a
 * seccomp-BPF filter compiled here.
 *
 * The library API ({@linkcode createContainer}, {@linkcode loadContainer},
 * {@linkcode listContainers}, {@linkcode runContainer}) is what the agent and
 * the image builder use in-process; `tsk-runtime` (`main.ts`) is a command
 * line compatible with runc's.
 *
 * @example Run a bundle to completion
 * ```ts ignore
 * import { runContainer } from "@tsk/runtime";
 * const status = await runContainer("hello", {
 *   bundle: "/tmp/bundle",
 *   stdio: { stdout: "inherit" },
 * });
 * console.log(status.exitCode);
 * ```
 *
 * @module
 */
export {
  ANNOTATION_LOWERDIRS,
  ANNOTATION_UPPERDIR,
  ANNOTATION_WORKDIR,
  type Container,
  createContainer,
  type CreateContainerOptions,
  type DeleteOptions,
  type ExecOptions,
  type ExecProcess,
  type ExitStatus,
  listContainers,
  loadContainer,
  type LoadContainerOptions,
  runContainer,
  type RunContainerOptions,
  type StartOptions,
  type StdioOption,
  type StdioOptions,
} from "./container.ts";
export { type HookState, hookWarning, runHooks, runHooksSync } from "./hooks.ts";
export {
  InitPool,
  type InitPoolOptions,
  type InitSource,
  removeOrphanPoolCgroups,
  type RemoveOrphanPoolCgroupsOptions,
} from "./pool.ts";
export { runSupervisor, Supervisor, type SupervisorOptions } from "./supervisor.ts";
export {
  ConfigError,
  ContainerNotFoundError,
  ContainerStateError,
  errnoName,
  RuntimeError,
  SyscallError,
} from "./errors.ts";
export { type ContainerStatus, DEFAULT_ROOT, type OciState, validateId } from "./state.ts";
export type {
  Hook,
  Hooks,
  Linux,
  LinuxCapabilities,
  LinuxDevice,
  LinuxNamespace,
  LinuxResources,
  LinuxSeccomp,
  Mount,
  NamespaceType,
  POSIXRlimit,
  Process,
  Root,
  Spec,
  User,
} from "./spec/config.ts";
export { HOOK_NAMES, rootfsPath, validateConfig } from "./spec/validate.ts";
export { RLIMITS } from "./spec/rlimits.ts";
export { defaultSpec, type DefaultSpecOptions } from "./spec/default.ts";
export { type MountOptions, parseMountOptions, secureJoin } from "./rootfs.ts";
export { signalName, signalNumber, SIGNALS } from "./signals.ts";
export type { OverlayRootfs } from "./_messages.ts";
export {
  CLONE,
  linuxSyscalls,
  MOUNT_ATTR,
  type MountAttr,
  MS,
  O,
  PR,
  type SpawnPidNamespace,
  type SpawnRequest,
  type Syscalls,
  type WaitStatus,
} from "./syscalls.ts";
export {
  type CgroupManager,
  type CgroupManagerOptions,
  type CgroupStats,
  type CpuStats,
  createCgroupManager,
  type IoStats,
  type MemoryStats,
  parseSubCgroup,
  type PidsStats,
  type SubCgroup,
} from "./cgroup/manager.ts";
export type { CgroupFs } from "./cgroup/host.ts";
export type { DeviceRuleApplier } from "./cgroup/v2.ts";
export {
  type LinuxBlockIO,
  type LinuxCPU,
  type LinuxDeviceCgroup,
  type LinuxHugepageLimit,
  type LinuxMemory,
  type LinuxPids,
  type LinuxThrottleDevice,
  type LinuxWeightDevice,
  validateResources,
} from "./cgroup/resources.ts";
export { compileSeccomp, type CompileSeccompOptions } from "./seccomp/compile.ts";
export { DEFAULT_SECCOMP_PROFILE } from "./seccomp/default_profile.ts";
export {
  type LinuxSeccompArg,
  type LinuxSyscall,
  type SeccompAction,
  type SeccompOperator,
  unknownSyscalls,
  validateSeccomp,
} from "./seccomp/profile.ts";
export type { InitProcess } from "./parent.ts";
export { capabilityMask, DEFAULT_CAPABILITIES } from "./capabilities.ts";

// `deno run -A jsr:@tsk/runtime ...` runs the tsk-runtime command line.
if (import.meta.main) {
  const { main } = await import("./main.ts");
  Deno.exit(await main(Deno.args));
}
