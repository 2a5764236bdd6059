/**
 * Linux capabilities: the names the OCI runtime spec uses, their numbers,
 * bit masks built from an OCI `process.capabilities` object, and the bytes
 * that `capset(2)` (version 3) takes. The container's init stage makes the
 * system calls; this module only computes what to pass them.
 *
 * @module
 */

/** Every Linux capability, by the name the OCI runtime spec uses, with its number. */
export const CAPABILITIES: Readonly<Record<string, number>> = Object.freeze({
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
});

/** The highest capability number this module knows (CAP_CHECKPOINT_RESTORE). */
export const CAP_LAST_CAP = 40;

/**
 * The capabilities Docker grants a container by default (the same set runc's
 * spec template and containerd use for bounding, effective and permitted).
 */
export const DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
]);

/** `_LINUX_CAPABILITY_VERSION_3`, the capset/capget header version for 64-bit sets. */
export const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

/** A capability name was unknown or a capability set was malformed. */
export class CapabilityError extends Error {
  /** The config field the error is about, e.g. `process.capabilities.bounding[3]`. */
  readonly field: string;
  /**
   * Creates the error.
   *
   * @param field The config field at fault.
   * @param message The detail, appended after the field name.
   * @param options Standard error options (`cause`).
   */
  constructor(field: string, message: string, options?: ErrorOptions) {
    super(`${field}: ${message}`, options);
    this.name = "CapabilityError";
    this.field = field;
  }
}

/**
 * Returns the number of a capability name.
 *
 * @param name A name such as `CAP_NET_ADMIN`.
 * @returns The capability number, or `undefined` when the name is unknown.
 *
 * @example Look up a capability
 * ```ts
 * import { capabilityNumber } from "./capabilities.ts";
 * capabilityNumber("CAP_SYS_ADMIN"); // 21
 * ```
 */
export function capabilityNumber(name: string): number | undefined {
  return Object.hasOwn(CAPABILITIES, name) ? CAPABILITIES[name] : undefined;
}

/**
 * Builds the 64-bit mask of a list of capability names.
 *
 * @param names The names, as in an OCI capability set.
 * @param path The config field the list came from, used in error messages.
 * @returns A bigint with bit N set for capability number N.
 * @throws {CapabilityError} When `names` is not an array of known names.
 *
 * @example Mask of two capabilities
 * ```ts
 * import { capabilityMask } from "./capabilities.ts";
 * const mask = capabilityMask(["CAP_CHOWN", "CAP_KILL"], "process.capabilities.bounding");
 * // mask === 0b100001n
 * ```
 */
export function capabilityMask(names: unknown, path: string): bigint {
  if (!Array.isArray(names)) {
    throw new CapabilityError(path, "expected an array of capability names");
  }
  let mask = 0n;
  names.forEach((name, i) => {
    const n = typeof name === "string" ? capabilityNumber(name) : undefined;
    if (n === undefined) {
      throw new CapabilityError(
        `${path}[${i}]`,
        typeof name === "string"
          ? `unknown capability ${JSON.stringify(name)}`
          : "expected a capability name string",
      );
    }
    mask |= 1n << BigInt(n);
  });
  return mask;
}

/**
 * Lists the names of the capabilities set in a mask, lowest number first.
 *
 * @param mask A capability mask, such as `CapEff` from /proc/self/status.
 * @returns The names; bits above {@linkcode CAP_LAST_CAP} appear as `CAP_<n>`.
 *
 * @example Decode a mask
 * ```ts
 * import { capabilityNames } from "./capabilities.ts";
 * capabilityNames(0x21n); // ["CAP_CHOWN", "CAP_KILL"]
 * ```
 */
export function capabilityNames(mask: bigint): string[] {
  const byNumber = new Map(Object.entries(CAPABILITIES).map(([k, v]) => [v, k]));
  const out: string[] = [];
  for (let n = 0; n < 64; n++) {
    if ((mask >> BigInt(n)) & 1n) out.push(byNumber.get(n) ?? `CAP_${n}`);
  }
  return out;
}

/** The OCI runtime spec's `process.capabilities` object. */
export interface LinuxCapabilities {
  /** The bounding set: the limit on capabilities the process can ever gain. */
  bounding?: string[];
  /** The effective set: the capabilities the kernel checks. */
  effective?: string[];
  /** The inheritable set, preserved across execve. */
  inheritable?: string[];
  /** The permitted set: the limit on the effective set. */
  permitted?: string[];
  /** The ambient set, kept across execve of unprivileged programs. */
  ambient?: string[];
}

/** The five capability sets of a process as bit masks. */
export interface CapabilityMasks {
  /** Bounding set mask. */
  bounding: bigint;
  /** Effective set mask. */
  effective: bigint;
  /** Inheritable set mask. */
  inheritable: bigint;
  /** Permitted set mask. */
  permitted: bigint;
  /** Ambient set mask. */
  ambient: bigint;
}

const SETS = ["bounding", "effective", "inheritable", "permitted", "ambient"] as const;

/**
 * Validates an OCI `process.capabilities` object and turns each set into a
 * mask. A missing set is empty, as in runc. The kernel's own rules (ambient
 * must be within permitted and inheritable) are checked here so the error
 * names the field instead of surfacing as EPERM from prctl.
 *
 * @param value The `process.capabilities` value from config.json.
 * @param path The field path used in error messages.
 * @returns The five masks.
 * @throws {CapabilityError} For a malformed object, an unknown name or an
 * ambient capability missing from permitted or inheritable.
 *
 * @example Resolve a spec's capability sets
 * ```ts
 * import { resolveCapabilities } from "./capabilities.ts";
 * const masks = resolveCapabilities(
 *   { bounding: ["CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"] },
 *   "process.capabilities",
 * );
 * // masks.effective === 1n << 5n
 * ```
 */
export function resolveCapabilities(value: unknown, path: string): CapabilityMasks {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new CapabilityError(path, "expected an object with capability sets");
  }
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!(SETS as readonly string[]).includes(key)) {
      throw new CapabilityError(
        `${path}.${key}`,
        `unknown capability set; expected one of ${SETS.join(", ")}`,
      );
    }
  }
  const masks = {} as CapabilityMasks;
  for (const set of SETS) {
    masks[set] = obj[set] === undefined ? 0n : capabilityMask(obj[set], `${path}.${set}`);
  }
  const stray = masks.ambient & ~(masks.permitted & masks.inheritable);
  if (stray !== 0n) {
    throw new CapabilityError(
      `${path}.ambient`,
      `${capabilityNames(stray).join(", ")} must also be in the permitted and inheritable sets`,
    );
  }
  return masks;
}

/**
 * Encodes the `struct __user_cap_header_struct` for capset/capget version 3.
 *
 * @param pid The target thread; 0 means the calling thread.
 * @returns 8 bytes in host (little-endian) order.
 *
 * @example Header for the calling thread
 * ```ts
 * import { capsetHeader } from "./capabilities.ts";
 * const header = capsetHeader(); // pass as a pointer to capset(2)
 * ```
 */
export function capsetHeader(pid = 0): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, LINUX_CAPABILITY_VERSION_3, true);
  view.setInt32(4, pid, true);
  return bytes;
}

/** The three sets capset(2) changes. */
export interface CapsetSets {
  /** Effective set mask. */
  effective: bigint;
  /** Permitted set mask. */
  permitted: bigint;
  /** Inheritable set mask. */
  inheritable: bigint;
}

/**
 * Encodes `struct __user_cap_data_struct[2]` for capset(2) version 3: the
 * low 32 bits of each set in the first element, the high 32 in the second.
 *
 * @param sets The effective, permitted and inheritable masks.
 * @returns 24 bytes in host (little-endian) order.
 *
 * @example Data for a process keeping only CAP_KILL
 * ```ts
 * import { capsetData, capsetHeader } from "./capabilities.ts";
 * const k = 1n << 5n;
 * const data = capsetData({ effective: k, permitted: k, inheritable: 0n });
 * const header = capsetHeader();
 * // libc.symbols.capset(Deno.UnsafePointer.of(header), Deno.UnsafePointer.of(data))
 * ```
 */
export function capsetData(sets: CapsetSets): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(24);
  const view = new DataView(bytes.buffer);
  const order = [sets.effective, sets.permitted, sets.inheritable];
  for (let half = 0; half < 2; half++) {
    order.forEach((mask, i) => {
      const word = Number((mask >> BigInt(32 * half)) & 0xffffffffn);
      view.setUint32(half * 12 + i * 4, word, true);
    });
  }
  return bytes;
}

/**
 * Lists the capability numbers to drop from the bounding set (with
 * `prctl(PR_CAPBSET_DROP, n)`) so that only `bounding` remains.
 *
 * @param bounding The bounding mask to keep.
 * @param lastCap The kernel's highest capability, from
 * /proc/sys/kernel/cap_last_cap (capabilities above it do not exist there).
 * @returns The numbers to drop, ascending.
 *
 * @example Keep only CAP_CHOWN on a kernel that knows 41 capabilities
 * ```ts
 * import { boundingDrops } from "./capabilities.ts";
 * boundingDrops(1n, 40).length; // 40
 * ```
 */
export function boundingDrops(bounding: bigint, lastCap: number): number[] {
  const out: number[] = [];
  for (let n = 0; n <= lastCap; n++) {
    if (((bounding >> BigInt(n)) & 1n) === 0n) out.push(n);
  }
  return out;
}

/**
 * Parses a capability mask as the kernel prints it in /proc/<pid>/status
 * (`CapEff:\t000001ffffffffff`).
 *
 * @param status The whole text of a status file.
 * @param set Which line to read.
 * @returns The mask.
 * @throws {CapabilityError} When the line is missing.
 *
 * @example Read the effective set of the current thread
 * ```ts
 * import { parseStatusCapabilities } from "./capabilities.ts";
 * const eff = parseStatusCapabilities("CapEff:\t0000000000000021\n", "CapEff"); // 0x21n
 * ```
 */
export function parseStatusCapabilities(
  status: string,
  set: "CapInh" | "CapPrm" | "CapEff" | "CapBnd" | "CapAmb",
): bigint {
  const m = status.match(new RegExp(`^${set}:\\s*([0-9a-f]+)$`, "m"));
  if (!m) throw new CapabilityError(set, "line not found in the status text");
  return BigInt(`0x${m[1]}`);
}
