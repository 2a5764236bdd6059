/**
 * Validation of OCI runtime-spec `config.json` objects: every field is
 * checked, and every field tsk-runtime does not support is rejected with an
 * error naming it, never silently ignored.
 *
 * @module
 */
import * as posix from "../_path.ts";
import { validateResources } from "../cgroup/resources.ts";
import { validateSeccomp } from "../seccomp/profile.ts";
import { resolveCapabilities } from "../capabilities.ts";
import { ConfigError } from "../errors.ts";
import type { NamespaceType, Spec } from "./config.ts";
import { RLIMITS } from "./rlimits.ts";

type Obj = Record<string, unknown>;

const NAMESPACES: readonly NamespaceType[] = ["pid", "network", "mount", "ipc", "uts", "cgroup"];

const PROPAGATION = [
  "private",
  "rprivate",
  "slave",
  "rslave",
  "shared",
  "rshared",
  "unbindable",
  "runbindable",
];

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function obj(v: unknown, field: string): Obj {
  if (!isObj(v)) throw new ConfigError(field, "expected an object");
  return v;
}

/** Rejects keys outside `known`; `unsupported` maps keys to a reason. */
function keys(
  o: Obj,
  field: string,
  known: readonly string[],
  unsupported: Readonly<Record<string, string>> = {},
): void {
  for (const [k, v] of Object.entries(o)) {
    const f = field ? `${field}.${k}` : k;
    if (k in unsupported) {
      // Empty or false values of unsupported fields ask for nothing.
      if (v === undefined || v === null || v === false || v === "") continue;
      if (Array.isArray(v) && v.length === 0) continue;
      if (isObj(v) && Object.keys(v).length === 0) continue;
      throw new ConfigError(f, unsupported[k]);
    }
    if (!known.includes(k)) throw new ConfigError(f, "unknown field");
  }
}

function str(v: unknown, field: string, opts: { optional?: boolean } = {}): string | undefined {
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== "string") throw new ConfigError(field, "expected a string");
  return v;
}

function int(
  v: unknown,
  field: string,
  opts: { optional?: boolean; min?: number; max?: number } = {},
): number | undefined {
  if (v === undefined && opts.optional) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new ConfigError(field, "expected an integer");
  }
  if (opts.min !== undefined && v < opts.min) {
    throw new ConfigError(field, `expected at least ${opts.min}, got ${v}`);
  }
  if (opts.max !== undefined && v > opts.max) {
    throw new ConfigError(field, `expected at most ${opts.max}, got ${v}`);
  }
  return v;
}

function bool(v: unknown, field: string): void {
  if (v !== undefined && typeof v !== "boolean") throw new ConfigError(field, "expected a boolean");
}

function strArray(v: unknown, field: string, opts: { nonEmpty?: boolean } = {}): string[] {
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) {
    throw new ConfigError(
      field,
      `expected ${opts.nonEmpty ? "a non-empty" : "an"} array of strings`,
    );
  }
  if (opts.nonEmpty && v.length === 0) {
    throw new ConfigError(field, "expected a non-empty array of strings");
  }
  return v as string[];
}

function absPath(v: unknown, field: string): string {
  const p = str(v, field)!;
  if (!p.startsWith("/")) throw new ConfigError(field, `expected an absolute path, got ${p}`);
  if (p.split("/").includes("..")) {
    throw new ConfigError(field, `must not contain "..": ${p} would leave the root filesystem`);
  }
  return p;
}

/**
 * Validates a parsed `config.json` and returns it typed. The first problem
 * found is thrown as a {@linkcode ConfigError} whose message starts with the
 * field's JSON path.
 *
 * @param value The parsed JSON.
 * @returns The same object, typed as a {@linkcode Spec}.
 * @throws {ConfigError} For a malformed or unsupported field.
 *
 * @example Reject an unsupported field
 * ```ts
 * import { defaultSpec, validateConfig } from "@tsk/runtime";
 * const spec = defaultSpec({ args: ["true"] });
 * validateConfig(spec);
 * try {
 *   validateConfig({ ...spec, linux: { ...spec.linux, intelRdt: { closID: "x" } } });
 * } catch (e) {
 *   console.log((e as Error).message); // "linux.intelRdt: not supported by tsk-runtime"
 * }
 * ```
 */
export function validateConfig(value: unknown): Spec {
  const s = obj(value, "config");
  keys(s, "", [
    "ociVersion",
    "process",
    "root",
    "hostname",
    "domainname",
    "mounts",
    "annotations",
    "linux",
    "hooks",
  ], {
    windows: "not supported by tsk-runtime (Linux only)",
    solaris: "not supported by tsk-runtime (Linux only)",
    vm: "not supported by tsk-runtime (Linux only)",
    zos: "not supported by tsk-runtime (Linux only)",
  });
  const version = str(s.ociVersion, "ociVersion")!;
  if (!/^1\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(version)) {
    throw new ConfigError("ociVersion", `expected a 1.x.y version, got ${version}`);
  }
  validateProcess(s.process, "process");
  const root = obj(s.root, "root");
  keys(root, "root", ["path", "readonly"]);
  if (str(root.path, "root.path") === "") {
    throw new ConfigError("root.path", "expected a non-empty path");
  }
  bool(root.readonly, "root.readonly");
  for (const name of ["hostname", "domainname"]) {
    const h = str(s[name], name, { optional: true });
    if (h !== undefined && (h.length > 64 || /[\s/]/.test(h))) {
      throw new ConfigError(name, `expected at most 64 characters without spaces or /, got ${h}`);
    }
  }
  if (s.mounts !== undefined) {
    if (!Array.isArray(s.mounts)) throw new ConfigError("mounts", "expected an array");
    s.mounts.forEach((m, i) => validateMount(m, `mounts[${i}]`));
  }
  if (s.hooks !== undefined) validateHooks(s.hooks);
  if (s.annotations !== undefined) {
    const a = obj(s.annotations, "annotations");
    for (const [k, v] of Object.entries(a)) str(v, `annotations.${k}`);
  }
  const nsTypes = new Set<string>();
  if (s.linux !== undefined) validateLinux(s.linux, "linux", nsTypes);
  if ((s.hostname || s.domainname) && !nsTypes.has("uts")) {
    throw new ConfigError(
      s.hostname ? "hostname" : "domainname",
      'needs a private UTS namespace: add {"type": "uts"} to linux.namespaces',
    );
  }
  return s as unknown as Spec;
}

function validateProcess(value: unknown, field: string): void {
  const p = obj(value, field);
  keys(p, field, [
    "terminal",
    "consoleSize",
    "user",
    "args",
    "env",
    "cwd",
    "capabilities",
    "rlimits",
    "noNewPrivileges",
    "oomScoreAdj",
  ], {
    commandLine: "not supported by tsk-runtime (Windows only)",
    apparmorProfile: "not supported by tsk-runtime",
    selinuxLabel: "not supported by tsk-runtime",
    ioPriority: "not supported by tsk-runtime",
    scheduler: "not supported by tsk-runtime",
    execCPUAffinity: "not supported by tsk-runtime",
  });
  bool(p.terminal, `${field}.terminal`);
  if (p.consoleSize !== undefined) {
    const size = obj(p.consoleSize, `${field}.consoleSize`);
    keys(size, `${field}.consoleSize`, ["height", "width"], {});
    for (const k of ["height", "width"]) {
      const v = size[k];
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff) {
        throw new ConfigError(
          `${field}.consoleSize.${k}`,
          `expected an integer from 0 to 65535, got ${JSON.stringify(v)}`,
        );
      }
    }
  }
  const user = obj(p.user, `${field}.user`);
  keys(user, `${field}.user`, ["uid", "gid", "umask", "additionalGids"], {
    username: "not supported by tsk-runtime (Windows only)",
  });
  int(user.uid, `${field}.user.uid`, { min: 0, max: 0xfffffffe });
  int(user.gid, `${field}.user.gid`, { min: 0, max: 0xfffffffe });
  int(user.umask, `${field}.user.umask`, { optional: true, min: 0, max: 0o777 });
  if (user.additionalGids !== undefined) {
    if (!Array.isArray(user.additionalGids)) {
      throw new ConfigError(`${field}.user.additionalGids`, "expected an array of integers");
    }
    user.additionalGids.forEach((g, i) =>
      int(g, `${field}.user.additionalGids[${i}]`, { min: 0, max: 0xfffffffe })
    );
  }
  strArray(p.args, `${field}.args`, { nonEmpty: true });
  if (p.env !== undefined) {
    strArray(p.env, `${field}.env`).forEach((e, i) => {
      if (!e.includes("=")) {
        throw new ConfigError(`${field}.env[${i}]`, `expected KEY=value, got ${e}`);
      }
    });
  }
  absPath(p.cwd, `${field}.cwd`);
  if (p.capabilities !== undefined) {
    try {
      resolveCapabilities(p.capabilities, `${field}.capabilities`);
    } catch (e) {
      throw asConfigError(e, `${field}.capabilities`);
    }
  }
  if (p.rlimits !== undefined) {
    if (!Array.isArray(p.rlimits)) throw new ConfigError(`${field}.rlimits`, "expected an array");
    const seen = new Set<string>();
    p.rlimits.forEach((r, i) => {
      const f = `${field}.rlimits[${i}]`;
      const o = obj(r, f);
      keys(o, f, ["type", "hard", "soft"]);
      const t = str(o.type, `${f}.type`)!;
      if (!(t in RLIMITS)) throw new ConfigError(`${f}.type`, `unknown rlimit ${t}`);
      if (seen.has(t)) throw new ConfigError(`${f}.type`, `duplicate rlimit ${t}`);
      seen.add(t);
      const hard = int(o.hard, `${f}.hard`, { min: 0 })!;
      const soft = int(o.soft, `${f}.soft`, { min: 0 })!;
      if (soft > hard) throw new ConfigError(`${f}.soft`, `greater than hard (${soft} > ${hard})`);
    });
  }
  bool(p.noNewPrivileges, `${field}.noNewPrivileges`);
  int(p.oomScoreAdj, `${field}.oomScoreAdj`, { optional: true, min: -1000, max: 1000 });
}

/**
 * The lifecycle hooks tsk-runtime runs, in the order a container meets them
 * (every one of the runtime-spec's).
 *
 * @example
 * ```ts
 * import { HOOK_NAMES } from "@tsk/runtime";
 * console.log(HOOK_NAMES[0]); // "prestart"
 * ```
 */
export const HOOK_NAMES = [
  "prestart",
  "createRuntime",
  "createContainer",
  "startContainer",
  "poststart",
  "poststop",
] as const;

function validateHooks(value: unknown): void {
  const h = obj(value, "hooks");
  keys(h, "hooks", HOOK_NAMES);
  for (const name of HOOK_NAMES) {
    const list = h[name];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new ConfigError(`hooks.${name}`, "expected an array");
    list.forEach((hook, i) => {
      const f = `hooks.${name}[${i}]`;
      const o = obj(hook, f);
      keys(o, f, ["path", "args", "env", "timeout"]);
      absPath(o.path, `${f}.path`);
      if (o.args !== undefined) strArray(o.args, `${f}.args`);
      if (o.env !== undefined) {
        strArray(o.env, `${f}.env`).forEach((e, j) => {
          if (!/^[^=]+=/.test(e)) {
            throw new ConfigError(`${f}.env[${j}]`, `expected KEY=value, got ${e}`);
          }
        });
      }
      int(o.timeout, `${f}.timeout`, { optional: true, min: 1 });
    });
  }
}

function validateMount(value: unknown, field: string): void {
  const m = obj(value, field);
  keys(m, field, ["destination", "source", "type", "options"], {
    uidMappings: "not supported by tsk-runtime (idmapped mounts)",
    gidMappings: "not supported by tsk-runtime (idmapped mounts)",
  });
  absPath(m.destination, `${field}.destination`);
  str(m.source, `${field}.source`, { optional: true });
  str(m.type, `${field}.type`, { optional: true });
  if (m.options !== undefined) strArray(m.options, `${field}.options`);
  const isBind = m.type === "bind" ||
    ((m.options as string[] | undefined) ?? []).some((o) => o === "bind" || o === "rbind");
  if (!isBind && m.type === undefined) {
    throw new ConfigError(`${field}.type`, "required unless the mount is a bind mount");
  }
  if (isBind && (typeof m.source !== "string" || m.source === "")) {
    throw new ConfigError(`${field}.source`, "required for a bind mount");
  }
  // Other filesystems check the options they get as data; the kernel
  // ignores a bind mount's. As runc, tsk-runtime ignores the ones that are
  // the caller's own business (podman's copy, nocopy, copy-symlink, ...),
  // but refuses those that would change the mount and that it cannot honour.
  const unknown = isBind
    ? ((m.options as string[] | undefined) ?? []).find((o) => UNSUPPORTED_BIND_OPTIONS.has(o))
    : undefined;
  if (unknown !== undefined) {
    throw new ConfigError(`${field}.options`, `${unknown}: not supported for a bind mount`);
  }
  if (((m.options as string[] | undefined) ?? []).includes("tmpcopyup") && m.type !== "tmpfs") {
    throw new ConfigError(`${field}.options`, "tmpcopyup: only for a tmpfs mount");
  }
}

/** Bind mount options that change the mount and that tsk-runtime does not implement. */
const UNSUPPORTED_BIND_OPTIONS = new Set(["idmap", "ridmap"]);

function validateLinux(value: unknown, field: string, nsTypes: Set<string>): void {
  const l = obj(value, field);
  keys(l, field, [
    "namespaces",
    "devices",
    "cgroupsPath",
    "resources",
    "rootfsPropagation",
    "seccomp",
    "sysctl",
    "maskedPaths",
    "readonlyPaths",
  ], {
    uidMappings: "not supported by tsk-runtime (user namespaces)",
    gidMappings: "not supported by tsk-runtime (user namespaces)",
    timeOffsets: "not supported by tsk-runtime (time namespaces)",
    intelRdt: "not supported by tsk-runtime",
    personality: "not supported by tsk-runtime",
    mountLabel: "not supported by tsk-runtime",
    memoryPolicy: "not supported by tsk-runtime",
    netDevices: "not supported by tsk-runtime",
  });
  if (l.namespaces !== undefined) {
    if (!Array.isArray(l.namespaces)) {
      throw new ConfigError(`${field}.namespaces`, "expected an array");
    }
    l.namespaces.forEach((n, i) => {
      const f = `${field}.namespaces[${i}]`;
      const o = obj(n, f);
      keys(o, f, ["type", "path"]);
      const t = str(o.type, `${f}.type`)!;
      if (t === "user" || t === "time") {
        throw new ConfigError(`${f}.type`, `${t} namespaces are not supported by tsk-runtime`);
      }
      if (!(NAMESPACES as readonly string[]).includes(t)) {
        throw new ConfigError(`${f}.type`, `unknown namespace type ${t}`);
      }
      if (nsTypes.has(t)) throw new ConfigError(`${f}.type`, `duplicate namespace ${t}`);
      nsTypes.add(t);
      if (o.path !== undefined) absPath(o.path, `${f}.path`);
    });
  }
  if (l.devices !== undefined) {
    if (!Array.isArray(l.devices)) throw new ConfigError(`${field}.devices`, "expected an array");
    l.devices.forEach((d, i) => {
      const f = `${field}.devices[${i}]`;
      const o = obj(d, f);
      keys(o, f, ["type", "path", "major", "minor", "fileMode", "uid", "gid"]);
      const t = str(o.type, `${f}.type`)!;
      if (!["c", "b", "u", "p"].includes(t)) {
        throw new ConfigError(`${f}.type`, `expected one of c, b, u, p, got ${t}`);
      }
      const p = absPath(o.path, `${f}.path`);
      if (!p.startsWith("/dev/")) throw new ConfigError(`${f}.path`, "expected a path under /dev");
      int(o.major, `${f}.major`, { optional: t === "p", min: 0 });
      int(o.minor, `${f}.minor`, { optional: t === "p", min: 0 });
      // Permission bits, and (as podman sends it: st_mode) maybe the type's.
      const mode = int(o.fileMode, `${f}.fileMode`, { optional: true, min: 0, max: 0o177777 });
      const typeBits = (mode ?? 0) & 0o170000;
      const wanted = t === "b" ? 0o060000 : t === "p" ? 0o010000 : 0o020000;
      if (typeBits !== 0 && typeBits !== wanted) {
        throw new ConfigError(
          `${f}.fileMode`,
          `file type bits 0o${typeBits.toString(8)} do not match type ${t}`,
        );
      }
      int(o.uid, `${f}.uid`, { optional: true, min: 0 });
      int(o.gid, `${f}.gid`, { optional: true, min: 0 });
    });
  }
  if (l.cgroupsPath !== undefined) {
    const c = str(l.cgroupsPath, `${field}.cgroupsPath`)!;
    if (c.includes(":")) {
      throw new ConfigError(
        `${field}.cgroupsPath`,
        "systemd slice:prefix:name paths are not supported by tsk-runtime; use a path",
      );
    }
    if (c.split("/").includes("..")) {
      throw new ConfigError(`${field}.cgroupsPath`, 'must not contain ".."');
    }
  }
  if (l.resources !== undefined) {
    try {
      validateResources(l.resources, `${field}.resources`);
    } catch (e) {
      throw asConfigError(e, `${field}.resources`);
    }
  }
  if (l.rootfsPropagation !== undefined) {
    const p = str(l.rootfsPropagation, `${field}.rootfsPropagation`)!;
    if (!PROPAGATION.includes(p)) {
      throw new ConfigError(
        `${field}.rootfsPropagation`,
        `expected one of ${PROPAGATION.join(", ")}, got ${p}`,
      );
    }
  }
  if (l.seccomp !== undefined) {
    try {
      validateSeccomp(l.seccomp, `${field}.seccomp`);
    } catch (e) {
      throw asConfigError(e, `${field}.seccomp`);
    }
  }
  if (l.sysctl !== undefined) {
    const s = obj(l.sysctl, `${field}.sysctl`);
    for (const [k, v] of Object.entries(s)) {
      const f = `${field}.sysctl.${k}`;
      str(v, f);
      if (!/^[a-z0-9_]+(\.[a-zA-Z0-9_\-]+)+$/.test(k) || k.includes("..")) {
        throw new ConfigError(f, "expected a dotted kernel parameter name");
      }
      if (!NAMESPACED_SYSCTL.some((p) => k === p || k.startsWith(`${p}.`))) {
        throw new ConfigError(f, "not namespaced: refusing to change the host's value");
      }
      if (k.startsWith("net.") && !nsTypes.has("network")) {
        throw new ConfigError(f, "needs a private network namespace");
      }
    }
  }
  for (const key of ["maskedPaths", "readonlyPaths"]) {
    if (l[key] !== undefined) {
      strArray(l[key], `${field}.${key}`).forEach((p, i) => absPath(p, `${field}.${key}[${i}]`));
    }
  }
}

/** sysctl prefixes that belong to a namespace (runc's list). */
const NAMESPACED_SYSCTL = [
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
  "kernel.domainname",
  "kernel.hostname",
  "fs.mqueue",
  "net",
];

function asConfigError(e: unknown, fallback: string): ConfigError {
  if (e instanceof ConfigError) return e;
  const err = e as Error & { field?: string };
  const field = err.field ?? fallback;
  const prefix = `${field}: `;
  const detail = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  return new ConfigError(field, detail, { cause: e });
}

/**
 * Resolves `root.path` against the bundle directory.
 *
 * @param spec A validated spec.
 * @param bundle The bundle directory (absolute).
 * @returns The absolute, normalised root filesystem path.
 *
 * @example Resolve a relative root
 * ```ts
 * import { defaultSpec, rootfsPath } from "@tsk/runtime";
 * console.log(rootfsPath(defaultSpec(), "/b")); // "/b/rootfs"
 * ```
 */
export function rootfsPath(spec: Spec, bundle: string): string {
  return posix.resolve(bundle, spec.root.path);
}
