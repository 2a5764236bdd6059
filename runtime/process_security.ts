/**
 * The last steps of the init and exec stages, in runc's order: rlimits,
 * capability bounding set, user and groups (raw per-thread system calls:
 * glibc's wrappers would signal every thread of the Deno process), the
 * remaining capability sets, no_new_privs, and the seccomp filter as the last
 * call before execve.
 *
 * @module
 */
import { decodeBase64 } from "./_base64.ts";
import { isExecutableFile } from "./_libc.ts";
import type { SecurityConfig } from "./_messages.ts";
import { PR, type Syscalls } from "./syscalls.ts";
import { RLIMITS } from "./spec/rlimits.ts";

/** Applies `process.rlimits` to the calling process. */
export function applyRlimits(sys: Syscalls, sec: SecurityConfig): void {
  for (const r of sec.rlimits) sys.setrlimit(RLIMITS[r.type], BigInt(r.soft), BigInt(r.hard));
}

/**
 * Drops privileges and installs the seccomp filter; the next call must be
 * execve. Without no_new_privs the filter goes in before capabilities are
 * dropped (installing one needs CAP_SYS_ADMIN then), as runc does.
 * {@linkcode dropPrivileges} then {@linkcode sealForExec}.
 *
 * @param sys The host.
 * @param sec The security settings.
 * @param lastCap The highest capability number the kernel knows.
 * @param preserved How many descriptors from 3 on the process keeps (`--preserve-fds`).
 */
export function applyProcessSecurity(
  sys: Syscalls,
  sec: SecurityConfig,
  lastCap: number,
  preserved = 0,
): void {
  dropPrivileges(sys, sec, lastCap);
  sealForExec(sys, sec, preserved);
}

/**
 * The process's credentials, as runc sets them before it reports the
 * container created (so a failure is create's): the seccomp filter first
 * without no_new_privs, the bounding set, groups and ids, the capability
 * sets, no_new_privs. All of it is this thread's only (raw system calls).
 *
 * @param sys The host.
 * @param sec The security settings.
 * @param lastCap The highest capability number the kernel knows.
 */
export function dropPrivileges(sys: Syscalls, sec: SecurityConfig, lastCap: number): void {
  const program = sec.seccomp === null ? null : decodeBase64(sec.seccomp);
  if (program !== null && !sec.noNewPrivileges) sys.seccompFilter(program, sec.seccompFlags);
  const caps = sec.caps;
  if (caps !== null) {
    const bounding = BigInt(caps.bounding);
    for (let n = 0; n <= lastCap; n++) {
      if (((bounding >> BigInt(n)) & 1n) === 0n) sys.prctl(PR.CAPBSET_DROP, BigInt(n));
    }
  }
  sys.prctl(PR.SET_KEEPCAPS, 1n);
  sys.setgroups(sec.user.additionalGids ?? []);
  sys.setresgid(sec.user.gid);
  sys.setresuid(sec.user.uid);
  sys.prctl(PR.SET_KEEPCAPS, 0n);
  if (caps !== null) {
    sys.capset(BigInt(caps.effective), BigInt(caps.permitted), BigInt(caps.inheritable));
    sys.prctl(PR.CAP_AMBIENT, BigInt(PR.CAP_AMBIENT_CLEAR_ALL));
    const ambient = BigInt(caps.ambient);
    for (let n = 0; n <= lastCap; n++) {
      if ((ambient >> BigInt(n)) & 1n) {
        sys.prctl(PR.CAP_AMBIENT, BigInt(PR.CAP_AMBIENT_RAISE), BigInt(n));
      }
    }
  }
  if (sec.noNewPrivileges) sys.prctl(PR.SET_NO_NEW_PRIVS, 1n);
}

/**
 * The last steps before execve: every descriptor but the stdio and the
 * preserved ones closes at execve, and with no_new_privs the seccomp filter
 * goes in last, so that as few calls as possible come after it.
 *
 * @param sys The host.
 * @param sec The security settings.
 * @param preserved How many descriptors from 3 on the process keeps.
 */
export function sealForExec(sys: Syscalls, sec: SecurityConfig, preserved = 0): void {
  // Every descriptor the runtime still holds (Deno's own included) closes
  // at execve; fds 0-2 are the container's stdio, 3 on the preserved ones.
  sys.cloexecFrom(3 + preserved);
  if (sec.seccomp !== null && sec.noNewPrivileges) {
    sys.seccompFilter(decodeBase64(sec.seccomp), sec.seccompFlags);
  }
}

/** Reads /proc/sys/kernel/cap_last_cap (before pivot_root). */
export function readLastCap(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim());
  } catch {
    return 40;
  }
}

/**
 * Finds the executable for `args[0]` like execvp(3): a name with a slash is
 * used as is (relative to the working directory), anything else is looked
 * up in the container's PATH.
 *
 * @param arg0 The program.
 * @param env The process environment.
 * @returns The path to execve, or `null` when no executable file matches.
 */
export function lookPath(arg0: string, env: readonly string[]): string | null {
  // access(2) and open(O_PATH), not Deno.statSync: each PATH entry that
  // misses would cost a thrown error (0.1-0.3 ms each in a fresh init).
  if (arg0.includes("/")) return isExecutableFile(arg0) ? arg0 : null;
  const pathVar = env.find((e) => e.startsWith("PATH="))?.slice(5) ??
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const dir of pathVar.split(":")) {
    const p = `${dir || "."}/${arg0}`;
    if (isExecutableFile(p)) return p;
  }
  return null;
}
