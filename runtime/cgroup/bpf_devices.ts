/**
 * Loads a device program (see device_filter.ts) with bpf(2) through
 * `Deno.dlopen("libc.so.6")` and attaches it to a cgroup v2 directory,
 * replacing the programs tsk attached before.
 *
 * @module
 */
import { compileDeviceFilter } from "./device_filter.ts";
import { CgroupError } from "./errors.ts";
import type { LinuxDeviceCgroup } from "./resources.ts";

const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_DETACH = 9;
const BPF_PROG_GET_FD_BY_ID = 13;
const BPF_PROG_QUERY = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;
const BPF_F_ALLOW_MULTI = 2;
const O_RDONLY_DIRECTORY_CLOEXEC = 0o200000 | 0o2000000;
const ATTR_SIZE = 128;
const FIELD = "linux.resources.devices";

const SYS_BPF: Record<string, bigint> = { "x86_64": 321n, "aarch64": 280n };

const SYMBOLS = {
  syscall: { parameters: ["i64", "i64", "buffer", "u64"], result: "i64" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  strerror: { parameters: ["i32"], result: "pointer" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

let libc: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
function lib(): Deno.DynamicLibrary<typeof SYMBOLS> {
  libc ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return libc;
}

function errnoText(): string {
  const l = lib();
  const e = new Deno.UnsafePointerView(l.symbols.__errno_location()!).getInt32();
  const msg = l.symbols.strerror(e);
  return `${msg ? new Deno.UnsafePointerView(msg).getCString() : "error"} (errno ${e})`;
}

function bpf(cmd: number, attr: Uint8Array<ArrayBuffer>, what: string): number {
  const nr = SYS_BPF[Deno.build.arch];
  if (nr === undefined) {
    throw new CgroupError(`bpf(2) is not wired up for ${Deno.build.arch}`, { field: FIELD });
  }
  const rc = lib().symbols.syscall(nr, BigInt(cmd), attr, BigInt(ATTR_SIZE));
  if (rc < 0n) throw new CgroupError(`Cannot ${what}: ${errnoText()}`, { field: FIELD });
  return Number(rc);
}

function cstr(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${s}\0`) as Uint8Array<ArrayBuffer>;
}

function ptr(buf: Uint8Array<ArrayBuffer>): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

function loadProgram(insns: Uint8Array<ArrayBuffer>): number {
  const attr = new Uint8Array(ATTR_SIZE);
  const v = new DataView(attr.buffer);
  const license = cstr("GPL");
  const log = new Uint8Array(65536);
  v.setUint32(0, BPF_PROG_TYPE_CGROUP_DEVICE, true);
  v.setUint32(4, insns.length / 8, true);
  v.setBigUint64(8, ptr(insns), true);
  v.setBigUint64(16, ptr(license), true);
  v.setUint32(24, 1, true);
  v.setUint32(28, log.length, true);
  v.setBigUint64(32, ptr(log), true);
  attr.set(cstr("tsk_devices").subarray(0, 15), 48);
  v.setUint32(68, BPF_CGROUP_DEVICE, true);
  const rc = lib().symbols.syscall(
    SYS_BPF[Deno.build.arch] ?? -1n,
    BigInt(BPF_PROG_LOAD),
    attr,
    BigInt(ATTR_SIZE),
  );
  if (rc < 0n) {
    const err = errnoText();
    const end = log.indexOf(0);
    const verifier = new TextDecoder().decode(log.subarray(0, end < 0 ? log.length : end)).trim();
    throw new CgroupError(
      `Cannot load the device program: ${err}${verifier ? `: verifier: ${verifier}` : ""}`,
      { field: FIELD },
    );
  }
  // Keep the buffers alive until the call has returned.
  void [insns, license];
  return Number(rc);
}

function openDir(dir: string): number {
  const fd = lib().symbols.open(cstr(dir), O_RDONLY_DIRECTORY_CLOEXEC, 0);
  if (fd < 0) throw new CgroupError(`Cannot open cgroup ${dir}: ${errnoText()}`, { field: FIELD });
  return fd;
}

function queryIds(cgroupFd: number): number[] {
  const ids = new Uint32Array(64);
  const idBytes = new Uint8Array(ids.buffer);
  const attr = new Uint8Array(ATTR_SIZE);
  const v = new DataView(attr.buffer);
  v.setUint32(0, cgroupFd, true);
  v.setUint32(4, BPF_CGROUP_DEVICE, true);
  v.setBigUint64(16, ptr(idBytes), true);
  v.setUint32(24, ids.length, true);
  bpf(BPF_PROG_QUERY, attr, "query the cgroup's device programs");
  return [...ids.subarray(0, v.getUint32(24, true))];
}

function attachOrDetach(
  cmd: number,
  cgroupFd: number,
  progFd: number,
  flags: number,
  what: string,
): void {
  const attr = new Uint8Array(ATTR_SIZE);
  const v = new DataView(attr.buffer);
  v.setUint32(0, cgroupFd, true);
  v.setUint32(4, progFd, true);
  v.setUint32(8, BPF_CGROUP_DEVICE, true);
  v.setUint32(12, flags, true);
  bpf(cmd, attr, what);
}

function progFdById(id: number): number {
  const attr = new Uint8Array(ATTR_SIZE);
  new DataView(attr.buffer).setUint32(0, id, true);
  return bpf(BPF_PROG_GET_FD_BY_ID, attr, `open device program ${id}`);
}

/**
 * The ids of the device programs attached to a cgroup v2 directory.
 *
 * @param dir The cgroup directory.
 * @returns Program ids (empty when none).
 * @throws {CgroupError} When the directory cannot be opened or queried.
 *
 * @example
 * ```ts
 * import { attachedDevicePrograms } from "./bpf_devices.ts";
 * const ids = attachedDevicePrograms("/sys/fs/cgroup/unified");
 * ```
 */
export function attachedDevicePrograms(dir: string): number[] {
  const fd = openDir(dir);
  try {
    return queryIds(fd);
  } finally {
    lib().symbols.close(fd);
  }
}

/**
 * Compiles device rules, loads the program and attaches it to a cgroup v2
 * directory, then detaches the programs that were attached there before,
 * so a second call replaces the rules. Needs CAP_SYS_ADMIN (or CAP_BPF and
 * CAP_NET_ADMIN).
 *
 * @param dir The cgroup directory.
 * @param rules The OCI rules, in order (last match wins).
 * @throws {CgroupError} Naming `linux.resources.devices` with the errno and
 * the verifier's log when the kernel refuses.
 *
 * @example Only /dev/null for the cgroup
 * ```ts ignore
 * import { applyDeviceRulesBpf } from "./bpf_devices.ts";
 * await applyDeviceRulesBpf("/sys/fs/cgroup/tsk/x", [
 *   { allow: false, access: "rwm" },
 *   { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
 * ]);
 * ```
 */
export function applyDeviceRulesBpf(
  dir: string,
  rules: readonly LinuxDeviceCgroup[],
): Promise<void> {
  const insns = compileDeviceFilter(rules);
  const cgroupFd = openDir(dir);
  try {
    const before = queryIds(cgroupFd);
    const progFd = loadProgram(insns);
    try {
      attachOrDetach(
        BPF_PROG_ATTACH,
        cgroupFd,
        progFd,
        BPF_F_ALLOW_MULTI,
        "attach the device program",
      );
    } finally {
      lib().symbols.close(progFd);
    }
    for (const id of before) {
      const old = progFdById(id);
      try {
        attachOrDetach(BPF_PROG_DETACH, cgroupFd, old, 0, `detach device program ${id}`);
      } finally {
        lib().symbols.close(old);
      }
    }
  } finally {
    lib().symbols.close(cgroupFd);
  }
  return Promise.resolve();
}
