/**
 * Starts the control plane's API server: opens the store (SQLite in the
 * data directory, or etcd), makes the cluster CA and certificates on first
 * start, creates the built-in namespaces, serves HTTPS, and writes the
 * admin's client config to `$TSK_HOME/config`.
 *
 * @module
 */
import { join } from "node:path";
import {
  type ApiObject,
  type ClientConfig,
  NotFoundError,
  tskHome,
  writeClientConfig,
} from "@tsk/api";
import { CertificateAuthority } from "@tsk/mesh";
import { parse as parseYaml } from "yaml";
import { ObjectStore } from "../store/object_store.ts";
import { SqliteKv } from "../store/sqlite.ts";
import { EtcdKv } from "../store/etcd.ts";
import type { KvBackend } from "../store/kv.ts";
import { createApiApp } from "./app.ts";
import { Authenticator, type TokenEntry } from "./authn.ts";
import { Authorizer, type Role, type RoleBinding } from "./authz.ts";
import { type AuditSink, fileAuditSink } from "./audit.ts";
import { RateLimiter } from "./rate_limit.ts";
import { MetricsRegistry } from "./metrics.ts";
import { jsonLogger, type Logger } from "./log.ts";
import { type HttpsServer, serveHttps } from "./server.ts";
import { expireEvents } from "./event_ttl.ts";

/** Options of {@linkcode startControlPlane}. */
export interface ControlPlaneOptions {
  /** The data directory (CA, tokens, SQLite file, audit log). */
  dataDir: string;
  /** The port; 0 picks a free one. @default 6443 */
  port?: number;
  /** The address to listen on. @default "127.0.0.1" */
  hostname?: string;
  /** `sqlite` or `etcd`. @default "sqlite" */
  store?: "sqlite" | "etcd";
  /** etcd client URLs, comma-separated, for `store: "etcd"`. */
  etcdEndpoints?: string;
  /** TLS to etcd: CA, client certificate and key (PEM text), for `https://` endpoints. */
  etcdTls?: { caPem?: string; certPem?: string; keyPem?: string };
  /** Client certificates required at the TLS handshake (tokens then cannot be used). @default "optional" */
  clientAuth?: "optional" | "require";
  /** Extra tokens, roles, bindings and limits (the `--config` file). */
  config?: ControlPlaneConfig;
  /** Where to write the admin client config; null to skip. @default `$TSK_HOME/config` */
  clientConfigPath?: string | null;
  /** The environment for `TSK_HOME`. @default Deno.env.toObject() */
  env?: Record<string, string | undefined>;
  /** The log. @default JSON lines on stdout */
  logger?: Logger;
}

/** The `--config` file of the scheduler program. */
export interface ControlPlaneConfig {
  /** Bearer tokens. */
  tokens?: TokenEntry[];
  /** Extra roles. */
  roles?: Role[];
  /** Extra bindings. */
  bindings?: RoleBinding[];
  /** Per-client limits. */
  rateLimit?: { qps?: number; burst?: number };
  /** Events kept for watches resuming from old versions (SQLite). */
  watchHistory?: number;
  /** Seconds an Event object lives after its last occurrence. @default 3600 */
  eventTtlSeconds?: number;
}

/** A running control plane. */
export interface ControlPlane {
  /** The HTTPS URL. */
  url: string;
  /** The port. */
  port: number;
  /** The store. */
  store: ObjectStore;
  /** The cluster CA (shared with the mesh). */
  ca: CertificateAuthority;
  /** The admin's client config (also written to `$TSK_HOME/config`). */
  adminConfig: ClientConfig;
  /** The metrics registry. */
  metrics: MetricsRegistry;
  /** Stops serving, ends watches, closes the store. */
  close(): Promise<void>;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

function randomToken(): string {
  return [...crypto.getRandomValues(new Uint8Array(24))].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * Loads the CA from `<data>/pki`, creating it on first start.
 *
 * @param dataDir The data directory.
 * @returns The CA.
 *
 * @example Load or create the cluster CA
 * ```ts ignore
 * import { loadOrCreateCa } from "@tsk/sched";
 * const ca = await loadOrCreateCa("/var/lib/tsk/control-plane");
 * ```
 */
export async function loadOrCreateCa(dataDir: string): Promise<CertificateAuthority> {
  const pki = join(dataDir, "pki");
  await Deno.mkdir(pki, { recursive: true, mode: 0o700 });
  const cert = await readText(join(pki, "ca.crt"));
  const key = await readText(join(pki, "ca.key"));
  if (cert && key) return await CertificateAuthority.load(cert, key);
  const ca = await CertificateAuthority.create({ commonName: "tsk-cluster-ca" });
  await Deno.writeTextFile(join(pki, "ca.key"), ca.keyPem, { mode: 0o600 });
  await Deno.writeTextFile(join(pki, "ca.crt"), ca.certPem, { mode: 0o644 });
  return ca;
}

/**
 * Parses the scheduler's `--config` YAML.
 *
 * @param text The YAML.
 * @param source The file name, for messages.
 * @returns The config.
 * @throws {Error} Naming the bad field.
 *
 * @example Parse a config with a token
 * ```ts
 * import { parseControlPlaneConfig } from "@tsk/sched";
 * const c = parseControlPlaneConfig("tokens:\n- {token: 0123456789abcdef0, user: bob}\n");
 * console.log(c.tokens?.[0].user); // "bob"
 * ```
 */
export function parseControlPlaneConfig(text: string, source = "config"): ControlPlaneConfig {
  const v = parseYaml(text) ?? {};
  if (typeof v !== "object" || Array.isArray(v)) throw new Error(`${source}: expected a mapping`);
  const c = v as Record<string, unknown>;
  for (const f of ["tokens", "roles", "bindings"]) {
    if (c[f] !== undefined && !Array.isArray(c[f])) {
      throw new Error(`${source}: ${f}: expected a list`);
    }
  }
  for (const [i, t] of ((c.tokens ?? []) as TokenEntry[]).entries()) {
    if (typeof t?.token !== "string" || typeof t?.user !== "string") {
      throw new Error(`${source}: tokens[${i}]: expected { token, user, groups }`);
    }
  }
  for (const [i, r] of ((c.roles ?? []) as Role[]).entries()) {
    if (typeof r?.name !== "string" || !Array.isArray(r?.rules)) {
      throw new Error(
        `${source}: roles[${i}]: expected { name, rules: [{ verbs, resources, namespaces }] }`,
      );
    }
  }
  return c as ControlPlaneConfig;
}

/**
 * Starts the API server.
 *
 * @param options Data directory, port, store, config.
 * @returns The running control plane.
 *
 * @example Start on SQLite in a temporary directory
 * ```ts ignore
 * import { startControlPlane } from "@tsk/sched";
 * const cp = await startControlPlane({ dataDir: await Deno.makeTempDir(), port: 0 });
 * console.log(cp.url);
 * await cp.close();
 * ```
 */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const log = options.logger ?? jsonLogger();
  const dataDir = options.dataDir;
  await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const config = options.config ?? {};
  const ca = await loadOrCreateCa(dataDir);
  const hostname = options.hostname ?? "127.0.0.1";
  const serving = await ca.issue("tsk-apiserver", {
    usage: "server",
    dnsNames: ["localhost", "tsk-apiserver"],
    ipAddresses: [
      ...new Set([
        "127.0.0.1",
        "::1",
        ...(/^[\d.]+$|:/.test(hostname) && hostname !== "0.0.0.0" ? [hostname] : []),
      ]),
    ],
  });

  // The admin's credentials: a client certificate and a token, kept in the data directory.
  const pki = join(dataDir, "pki");
  let adminCert = await readText(join(pki, "admin.crt"));
  let adminKey = await readText(join(pki, "admin.key"));
  if (!adminCert || !adminKey) {
    const admin = await ca.issue("admin", { organizations: ["system:masters"], days: 3650 });
    adminCert = admin.certPem;
    adminKey = admin.keyPem;
    await Deno.writeTextFile(join(pki, "admin.key"), adminKey, { mode: 0o600 });
    await Deno.writeTextFile(join(pki, "admin.crt"), adminCert, { mode: 0o644 });
  }
  const tokensPath = join(dataDir, "tokens.json");
  let stored = JSON.parse(await readText(tokensPath) ?? "[]") as TokenEntry[];
  if (!stored.some((t) => t.user === "admin")) {
    stored = [...stored, { token: randomToken(), user: "admin", groups: ["system:masters"] }];
    await Deno.writeTextFile(tokensPath, JSON.stringify(stored, null, 2), { mode: 0o600 });
  }
  const adminToken = stored.find((t) => t.user === "admin")!.token;

  const metrics = new MetricsRegistry();
  const commitSeconds = metrics.histogram(
    "apiserver_storage_commit_duration_seconds",
    "SQLite transaction time of a batch of writes, fsync included.",
  );
  const writeSeconds = metrics.histogram(
    "apiserver_storage_write_duration_seconds",
    "Time from a batch's first write being queued to its acknowledgement.",
  );
  const commits = metrics.counter("apiserver_storage_commits_total", "SQLite commits.");
  const committedWrites = metrics.counter(
    "apiserver_storage_commit_writes_total",
    "Writes committed (over commits: the group-commit batch size).",
  );
  const answered = metrics.histogram(
    "apiserver_http_answer_duration_seconds",
    "Requests other than watches: from the request's headers parsed to the answer handed to the socket.",
  );
  const loopLag = metrics.histogram(
    "apiserver_event_loop_lag_seconds",
    "How late a 25 ms timer fires: time the event loop was busy with other work.",
  );
  let lagExpected = performance.now() + 25;
  const lagTimer = setInterval(() => {
    const now = performance.now();
    loopLag.observe({}, Math.max(0, now - lagExpected) / 1000);
    lagExpected = now + 25;
  }, 25);
  Deno.unrefTimer(lagTimer);

  let kv: KvBackend;
  if ((options.store ?? "sqlite") === "etcd") {
    if (!options.etcdEndpoints) throw new Error("--etcd-endpoints: required with --store etcd");
    kv = new EtcdKv(options.etcdEndpoints, { tls: options.etcdTls });
  } else {
    kv = new SqliteKv(join(dataDir, "state.db"), {
      history: config.watchHistory,
      onCommit: (c) => {
        commitSeconds.observe({}, c.commitMs / 1000);
        writeSeconds.observe({}, c.totalMs / 1000);
        commits.inc();
        committedWrites.inc({}, c.ops);
      },
    });
  }
  const store = new ObjectStore(kv);
  for (const name of ["default", "tsk-system"]) {
    try {
      await store.get("namespaces", name);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      const ns: ApiObject = {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name },
        status: { phase: "Active" },
      };
      await store.create(ns).catch((e) => {
        if (!/already exists/.test(String(e))) throw e;
      });
    }
  }

  let audit: AuditSink | undefined = fileAuditSink(join(dataDir, "audit.log"));
  const app = createApiApp({
    store,
    authenticator: new Authenticator([...stored, ...(config.tokens ?? [])]),
    authorizer: new Authorizer({ roles: config.roles, bindings: config.bindings }),
    audit,
    rateLimiter: new RateLimiter(config.rateLimit ?? {}),
    metrics,
    logger: log,
  });
  const server: HttpsServer = await serveHttps(app.fetch, {
    port: options.port ?? 6443,
    hostname,
    certPem: serving.certPem,
    keyPem: serving.keyPem,
    caPem: ca.certPem,
    clientAuth: options.clientAuth,
    onAnswered: (seconds) => answered.observe({}, seconds),
  });
  const urlHost = hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname;
  const url = `https://${urlHost.includes(":") ? `[${urlHost}]` : urlHost}:${server.port}`;
  const adminConfig: ClientConfig = {
    apiVersion: "tsk/v1",
    kind: "Config",
    server: url,
    certificateAuthority: ca.certPem,
    clientCertificate: adminCert,
    clientKey: adminKey,
    token: adminToken,
  };
  const configPath = options.clientConfigPath === undefined
    ? join(tskHome({ env: options.env }), "config")
    : options.clientConfigPath;
  if (configPath !== null) await writeClientConfig(configPath, adminConfig);

  // etcd keeps every revision until compacted: keep about five minutes, as kube-apiserver does.
  let compactTimer: ReturnType<typeof setInterval> | undefined;
  if (kv.name === "etcd") {
    let previous = await kv.revision();
    compactTimer = setInterval(async () => {
      try {
        const now = await kv.revision();
        await store.compact(previous);
        previous = now;
      } catch (err) {
        log.warn("etcd compaction failed", { error: String(err) });
      }
    }, 5 * 60_000);
  }

  const eventTtl = config.eventTtlSeconds ?? 3600;
  const eventTimer = setInterval(async () => {
    try {
      const n = await expireEvents(store, { ttlSeconds: eventTtl });
      if (n > 0) log.info("expired events", { count: n });
    } catch (err) {
      log.warn("event expiry failed", { error: String(err) });
    }
  }, Math.min(60_000, Math.max(1000, eventTtl * 100)));

  log.info("listening", {
    url,
    port: server.port,
    store: kv.name,
    dataDir,
    clientAuth: options.clientAuth ?? "optional",
    clientConfig: configPath,
  });
  let closed = false;
  return {
    url,
    port: server.port,
    store,
    ca,
    adminConfig,
    metrics,
    async close() {
      if (closed) return;
      closed = true;
      if (compactTimer !== undefined) clearInterval(compactTimer);
      clearInterval(eventTimer);
      clearInterval(lagTimer);
      await server.close();
      await store.close();
      await audit?.close();
      audit = undefined;
      log.info("stopped", { url });
    },
  };
}
