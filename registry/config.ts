/**
 * The registry program's configuration: flags, an optional YAML file, and
 * defaults, in that order of precedence.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { tskHome } from "@tsk/api/home";
import { ConfigError } from "./errors.ts";
import type { AccessRule, AuthMode } from "./auth.ts";
import type { LogLevel } from "./log.ts";

/** The resolved configuration. */
export interface RegistryConfig {
  /** The TCP port; 0 picks a free one. */
  port: number;
  /** The address to listen on. */
  host: string;
  /** The data directory. */
  data: string;
  /** TLS certificate and key files (PEM), or null for plain HTTP. */
  tls: { cert: string; key: string } | null;
  /** Access control. */
  auth: {
    mode: AuthMode;
    htpasswd: string | null;
    service: string;
    realm: string | null;
    secret: string | null;
    tokenTtl: number;
    access: AccessRule[];
  };
  /** Whether DELETE is allowed. */
  deleteEnabled: boolean;
  /**
   * Whether blob GETs are sent from mmap windows of the blob files (see
   * `_mmap.ts`): less CPU per byte, but a disk error or a blob file truncated
   * by something outside the registry ends the process with SIGBUS. Off, blob
   * bodies are read into buffers.
   * @default true
   */
  mmap: boolean;
  /** Garbage collection; durations in ms, interval 0 disables the periodic pass. */
  gc: { interval: number; grace: number; untaggedRetention: number | null; uploadTtl: number };
  /** The most entries a page of `_catalog` or tags holds. */
  maxPageSize: number;
  /** The largest blob accepted, in bytes (Infinity for no limit). */
  maxBlobSize: number;
  /** The lowest log level written. */
  logLevel: LogLevel;
  /** How long shutdown waits for requests in flight, in ms. */
  shutdownTimeout: number;
}

/** The `--help` text. */
export const HELP = `Usage: registry [flags]
       registry gc [flags]     one garbage-collection pass, then exit
                               (on a data directory no server holds)

An OCI distribution-spec registry (pull, push, content discovery and
management; OCI and Docker manifests; referrers API).

Flags:
  --port N                 TCP port (0 picks a free one)            [5000]
  --host ADDR              address to listen on                     [127.0.0.1]
  --data DIR               data directory                           [$TSK_HOME/registry]
  --config FILE            YAML configuration file (flags win)
  --tls-cert FILE          serve HTTPS with this PEM certificate...
  --tls-key FILE           ...and this PEM key
  --auth MODE              none, htpasswd or token                  [none]
  --htpasswd FILE          bcrypt htpasswd file (htpasswd -B)
  --token-secret S         HMAC key for tokens                      [random]
  --no-delete              refuse DELETE of blobs, manifests and tags
  --no-mmap                read blobs into buffers instead of sending them
                           from mmap windows (slower; a disk error then
                           fails one request instead of the process)
  --gc-interval DUR        periodic garbage collection; 0 disables  [1h]
  --gc-grace DUR           keep unreferenced blobs younger than     [1h]
  --untagged-retention DUR delete untagged manifests older than     [keep]
  --upload-ttl DUR         expire idle uploads after                [24h]
  --log-level LEVEL        debug, info, warn or error               [info]
  -h, --help               show this help

Durations: 90s, 15m, 2h, 1d, 500ms. The YAML file has the same settings:
  port, host, data, log: {level}, tls: {cert, key},
  auth: {mode, htpasswd, service, realm, secret, tokenTtl, access: [{account, name, actions}]},
  storage: {delete, mmap}, shutdownTimeout, gc: {interval, grace, untaggedRetention, uploadTtl}, limits: {maxPageSize, maxBlobSize (bytes)}
`;

/**
 * Parses a duration such as `90s`, `15m`, `2h`, `1d`, `500ms` (a bare number is seconds).
 *
 * @param v The value.
 * @param field The setting's name, for errors.
 * @returns Milliseconds.
 */
export function parseDuration(v: unknown, field: string): number {
  if (typeof v === "number" && v >= 0) return v * 1000;
  const m = typeof v === "string" ? /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim()) : null;
  if (!m) {
    throw new ConfigError(
      `${field}: expected a duration like 30s, 15m or 2h, got ${JSON.stringify(v)}`,
    );
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? "s"]!;
  return Number(m[1]) * unit;
}

function str(v: unknown, field: string): string {
  if (typeof v !== "string" || v === "") {
    throw new ConfigError(`${field}: expected a non-empty string`);
  }
  return v;
}

/** Options for {@linkcode loadConfig}. */
export interface LoadConfigOptions {
  /**
   * Reads a file.
   * @default Deno.readTextFile
   */
  readTextFile?: (path: string) => Promise<string>;
  /**
   * The environment, for the default data directory.
   * @default Deno.env.toObject()
   */
  env?: Record<string, string | undefined>;
}

/**
 * Builds the configuration from command-line arguments (and the YAML file
 * they name).
 *
 * @param args The arguments.
 * @param options File reading and environment.
 * @returns The configuration, or "help" when `--help` was asked for.
 *
 * @example Parse flags
 * ```ts
 * import { loadConfig } from "@tsk/registry";
 * const cfg = await loadConfig(["--port", "0", "--data", "/tmp/reg"]);
 * ```
 */
export async function loadConfig(
  args: string[],
  options: LoadConfigOptions = {},
): Promise<RegistryConfig | "help"> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        data: { type: "string" },
        config: { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        auth: { type: "string" },
        htpasswd: { type: "string" },
        "token-secret": { type: "string" },
        "no-delete": { type: "boolean" },
        "no-mmap": { type: "boolean" },
        "gc-interval": { type: "string" },
        "gc-grace": { type: "string" },
        "untagged-retention": { type: "string" },
        "upload-ttl": { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    throw new ConfigError(`flags: ${(err as Error).message}; run 'registry --help'`, {
      cause: err,
    });
  }
  const f = parsed.values;
  if (f.help) return "help";
  // deno-lint-ignore no-explicit-any
  let y: any = {};
  if (f.config) {
    const read = options.readTextFile ?? Deno.readTextFile;
    let text: string;
    try {
      text = await read(f.config);
    } catch (err) {
      throw new ConfigError(`config: cannot read ${f.config}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      y = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(`config: ${f.config} is not valid YAML: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (typeof y !== "object" || Array.isArray(y)) {
      throw new ConfigError("config: expected a YAML mapping");
    }
  }
  const portRaw = f.port ?? y.port ?? 5000;
  const port = Number(portRaw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(
      `port: expected an integer from 0 to 65535, got ${JSON.stringify(portRaw)}`,
    );
  }
  const env = options.env ?? Deno.env.toObject();
  const data = f.data ?? y.data ?? `${tskHome({ env })}/registry`;
  const cert = f["tls-cert"] ?? y.tls?.cert;
  const key = f["tls-key"] ?? y.tls?.key;
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError("tls: give both --tls-cert and --tls-key, or neither");
  }
  const mode = (f.auth ?? y.auth?.mode ?? "none") as AuthMode;
  if (!["none", "htpasswd", "token"].includes(mode)) {
    throw new ConfigError(
      `auth.mode: expected none, htpasswd or token, got ${JSON.stringify(mode)}`,
    );
  }
  const htpasswd = f.htpasswd ?? y.auth?.htpasswd ?? null;
  if (mode !== "none" && htpasswd === null) {
    throw new ConfigError(`auth.htpasswd: required with auth mode ${mode}: pass --htpasswd FILE`);
  }
  const access: AccessRule[] = (y.auth?.access ?? []).map(
    (r: Record<string, unknown>, i: number) => {
      if (!Array.isArray(r?.actions)) {
        throw new ConfigError(`auth.access[${i}].actions: expected a list`);
      }
      return {
        account: str(r.account, `auth.access[${i}].account`),
        name: str(r.name, `auth.access[${i}].name`),
        actions: r.actions.map(String),
      };
    },
  );
  const level = (f["log-level"] ?? y.log?.level ?? "info") as LogLevel;
  if (!["debug", "info", "warn", "error"].includes(level)) {
    throw new ConfigError(
      `log.level: expected debug, info, warn or error, got ${JSON.stringify(level)}`,
    );
  }
  const retentionRaw = f["untagged-retention"] ?? y.gc?.untaggedRetention ?? null;
  const maxBlobSize = Number(y.limits?.maxBlobSize ?? Infinity);
  if (!(maxBlobSize > 0)) {
    throw new ConfigError(
      `limits.maxBlobSize: expected a positive number of bytes, got ${y.limits?.maxBlobSize}`,
    );
  }
  const maxPageSize = Number(y.limits?.maxPageSize ?? 1000);
  if (!Number.isInteger(maxPageSize) || maxPageSize < 1) {
    throw new ConfigError(
      `limits.maxPageSize: expected a positive integer, got ${y.limits?.maxPageSize}`,
    );
  }
  const mmapRaw = y.storage?.mmap;
  if (mmapRaw !== undefined && typeof mmapRaw !== "boolean") {
    throw new ConfigError(`storage.mmap: expected true or false, got ${JSON.stringify(mmapRaw)}`);
  }
  return {
    port,
    host: str(f.host ?? y.host ?? "127.0.0.1", "host"),
    data: str(data, "data"),
    tls: cert !== undefined ? { cert: str(cert, "tls.cert"), key: str(key, "tls.key") } : null,
    auth: {
      mode,
      htpasswd,
      service: y.auth?.service ?? "tsk-registry",
      realm: y.auth?.realm ?? null,
      secret: f["token-secret"] ?? y.auth?.secret ?? null,
      tokenTtl: y.auth?.tokenTtl !== undefined
        ? parseDuration(y.auth.tokenTtl, "auth.tokenTtl") / 1000
        : 300,
      access,
    },
    deleteEnabled: f["no-delete"] ? false : (y.storage?.delete ?? true) !== false,
    mmap: f["no-mmap"] ? false : mmapRaw !== false,
    gc: {
      interval: parseDuration(f["gc-interval"] ?? y.gc?.interval ?? "1h", "gc.interval"),
      grace: parseDuration(f["gc-grace"] ?? y.gc?.grace ?? "1h", "gc.grace"),
      untaggedRetention: retentionRaw === null || retentionRaw === "keep"
        ? null
        : parseDuration(retentionRaw, "gc.untaggedRetention"),
      uploadTtl: parseDuration(f["upload-ttl"] ?? y.gc?.uploadTtl ?? "24h", "gc.uploadTtl"),
    },
    maxPageSize,
    maxBlobSize,
    logLevel: level,
    shutdownTimeout: parseDuration(y.shutdownTimeout ?? "30s", "shutdownTimeout"),
  };
}
