/**
 * Runs a registry as a server: listens (HTTP or HTTPS), collects garbage
 * periodically, and shuts down gracefully.
 *
 * @module
 */
import { createRegistry, type Registry } from "./app.ts";
import type { RegistryConfig } from "./config.ts";
import { Logger } from "./log.ts";

/** A running server. */
export interface RegistryServer {
  /** The registry. */
  registry: Registry;
  /** The bound port. */
  port: number;
  /** The base URL, e.g. `http://127.0.0.1:5000`. */
  url: string;
  /** Stops accepting, lets in-flight requests finish, closes the store. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/**
 * Starts the registry described by `config`.
 *
 * @param config The configuration (see {@linkcode loadConfig}).
 * @returns The running server.
 *
 * @example Serve on a free port
 * ```ts ignore
 * import { loadConfig, startServer } from "@tsk/registry";
 * const cfg = await loadConfig(["--port", "0", "--data", await Deno.makeTempDir()]);
 * if (cfg !== "help") {
 *   const srv = await startServer(cfg);
 *   await srv.shutdown();
 * }
 * ```
 */
export async function startServer(config: RegistryConfig): Promise<RegistryServer> {
  const log = new Logger({ level: config.logLevel });
  const htpasswd = config.auth.htpasswd ? await Deno.readTextFile(config.auth.htpasswd) : undefined;
  const registry = await createRegistry(config.data, {
    log,
    deleteEnabled: config.deleteEnabled,
    maxPageSize: config.maxPageSize,
    maxBlobSize: config.maxBlobSize,
    auth: {
      mode: config.auth.mode,
      htpasswd,
      service: config.auth.service,
      realm: config.auth.realm ?? undefined,
      secret: config.auth.secret ?? undefined,
      tokenTtl: config.auth.tokenTtl,
      access: config.auth.access,
    },
    gc: {
      graceMs: config.gc.grace,
      untaggedRetentionMs: config.gc.untaggedRetention,
      uploadTtlMs: config.gc.uploadTtl,
    },
  });
  const tls = config.tls
    ? {
      cert: await Deno.readTextFile(config.tls.cert),
      key: await Deno.readTextFile(config.tls.key),
    }
    : {};
  // Deno's server.shutdown() cuts the bodies of requests in flight, so drain
  // first: wait for handlers and blob streams (ctx.activity) to end.
  const activity = registry.activity;
  let draining = false;
  const handler = async (req: Request, info: Deno.ServeHandlerInfo): Promise<Response> => {
    if (draining) {
      return new Response("shutting down\n", { status: 503, headers: { Connection: "close" } });
    }
    const done = activity.begin();
    try {
      // Without `completed`, blob bodies are read into buffers (--no-mmap).
      return await registry.app.fetch(req, config.mmap ? { completed: info.completed } : {});
    } finally {
      done();
    }
  };
  let resolvePort!: (p: number) => void;
  const bound = new Promise<number>((r) => resolvePort = r);
  const server = Deno.serve({
    port: config.port,
    hostname: config.host,
    ...tls,
    onListen: ({ port }) => resolvePort(port),
  }, handler);
  const port = await bound;
  const scheme = config.tls ? "https" : "http";
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `${scheme}://${host}:${port}`;
  const where = { url, port, data: config.data, auth: config.auth.mode, tls: !!config.tls };
  log.log("info", "listening", where, true);
  log.flush();
  let gcTimer: ReturnType<typeof setInterval> | undefined;
  let gcRunning = false;
  if (config.gc.interval > 0) {
    gcTimer = setInterval(async () => {
      if (gcRunning) return;
      gcRunning = true;
      try {
        await registry.gc();
      } catch (err) {
        log.error("gc failed", { error: String(err) });
      } finally {
        gcRunning = false;
      }
    }, config.gc.interval);
  }
  let closed: Promise<void> | undefined;
  const finished = server.finished.then(() => {});
  return {
    registry,
    port,
    url,
    finished,
    shutdown(): Promise<void> {
      closed ??= (async () => {
        if (gcTimer !== undefined) clearInterval(gcTimer);
        log.info("shutting down", { inflight: activity.count });
        draining = true;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const limit = new Promise<void>((r) => timer = setTimeout(r, config.shutdownTimeout));
        await Promise.race([activity.idle(), limit]);
        clearTimeout(timer);
        await server.shutdown();
        registry.close();
        log.log("info", "stopped", {}, true);
        log.flush();
      })();
      return closed;
    },
  };
}
