/**
 * The registry as a Hono app: routing of `/v2/` paths to the route
 * handlers, access checks, the spec's error bodies, metrics and request logs.
 *
 * @module
 */
import { Hono } from "hono";
import { join } from "node:path";
import { Activity, type RegistryContext, type RouteSettings } from "./context.ts";
import { RegistryError } from "./errors.ts";
import { errorResponse } from "./_http.ts";
import { checkName } from "./_reference.ts";
import { Metadata } from "./metadata.ts";
import { BlobStore } from "./storage.ts";
import { Logger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { type Access, Auth, type AuthOptions } from "./auth.ts";
import { collectGarbage, type GcOptions, type GcResult } from "./gc.ts";
import { deleteBlob, getBlob } from "./routes/blobs.ts";
import {
  cancelUpload,
  patchUpload,
  postUpload,
  putUpload,
  uploadStatus,
} from "./routes/uploads.ts";
import { deleteManifest, getManifest, putManifest } from "./routes/manifests.ts";
import { listTags } from "./routes/tags.ts";
import { listCatalog } from "./routes/catalog.ts";
import { listReferrers } from "./routes/referrers.ts";

/** Options for {@linkcode createRegistry}. */
export interface RegistryOptions {
  /**
   * Access control.
   * @default { mode: "none" }
   */
  auth?: AuthOptions;
  /**
   * Garbage collection settings, used by `gc()` and the periodic pass.
   * @default {}
   */
  gc?: GcOptions;
  /**
   * Allow DELETE of blobs, manifests and tags.
   * @default true
   */
  deleteEnabled?: boolean;
  /**
   * The most entries a page of `_catalog` or a tag list holds.
   * @default 1000
   */
  maxPageSize?: number;
  /**
   * The largest manifest accepted, in bytes.
   * @default 4194304
   */
  maxManifestSize?: number;
  /**
   * The largest blob accepted, in bytes; a longer upload is refused with 413.
   * @default Infinity
   */
  maxBlobSize?: number;
  /**
   * The logger.
   * @default a JSON logger on stderr at level info
   */
  log?: Logger;
  /**
   * The clock, in ms since the epoch.
   * @default Date.now
   */
  now?: () => number;
}

/** What the HTTP server tells the app about a request it serves. */
export interface ServeBindings {
  /**
   * Settles when the server is done writing the response (`Deno.serve`'s
   * `info.completed`). Given, blob bodies are sent from mmap windows of the
   * blob files, released when it settles; without it they are copied.
   */
  completed?: Promise<void>;
}

/** The web-standard face of the Hono app. */
export interface RegistryApp {
  /**
   * Serves one request (what `Deno.serve` calls).
   *
   * @param request The request.
   * @param env What the server knows about it; omit in-process.
   * @returns The response.
   */
  fetch(request: Request, env?: ServeBindings): Response | Promise<Response>;
  /**
   * Serves a request built from a path or URL, in-process (for tests).
   *
   * @param input A path such as `/v2/`, a URL or a request.
   * @param init Method, headers, body.
   * @returns The response.
   */
  request(input: string | URL | Request, init?: RequestInit): Response | Promise<Response>;
}

/** A registry instance: its Hono app and the handles to run it. */
export interface Registry {
  /** The Hono app; `app.fetch` serves requests. */
  app: RegistryApp;
  /** The data directory. */
  dataDir: string;
  /** Requests and blob streams in flight, for a graceful shutdown. */
  activity: Activity;
  /** The metrics. */
  metrics: Metrics;
  /** The access control. */
  auth: Auth;
  /**
   * Runs one garbage-collection pass.
   *
   * @param options Overrides of the configured settings.
   * @returns What was removed.
   */
  gc(options?: GcOptions): Promise<GcResult>;
  /** Closes the database. */
  close(): void;
}

type Route = "base" | "catalog" | "blobs" | "uploads" | "manifests" | "tags" | "referrers";
type Vars = { route: string; user: string | undefined };

const PATH_RE =
  /^\/v2\/(.+)\/(?:blobs\/uploads\/?([^/]*)|blobs\/([^/]+)|manifests\/([^/]+)|(tags)\/list|referrers\/([^/]+))$/;

interface Matched {
  route: Route;
  name: string;
  ref: string;
}

function match(path: string): Matched | undefined {
  if (path === "/v2/" || path === "/v2") return { route: "base", name: "", ref: "" };
  if (path === "/v2/_catalog") return { route: "catalog", name: "", ref: "" };
  const m = PATH_RE.exec(path);
  if (!m) return undefined;
  const name = m[1];
  if (m[2] !== undefined) return { route: "uploads", name, ref: m[2] };
  if (m[3] !== undefined) return { route: "blobs", name, ref: decodeURIComponent(m[3]) };
  if (m[4] !== undefined) return { route: "manifests", name, ref: decodeURIComponent(m[4]) };
  if (m[5] !== undefined) return { route: "tags", name, ref: "" };
  return { route: "referrers", name, ref: decodeURIComponent(m[6]) };
}

const ALLOWED: Record<Route, string[]> = {
  base: ["GET", "HEAD"],
  catalog: ["GET"],
  blobs: ["GET", "HEAD", "DELETE"],
  uploads: ["POST", "PATCH", "PUT", "GET", "DELETE"],
  manifests: ["GET", "HEAD", "PUT", "DELETE"],
  tags: ["GET"],
  referrers: ["GET"],
};

function neededAccess(m: Matched, method: string): Access[] {
  if (m.route === "base") return [];
  if (m.route === "catalog") return [{ type: "registry", name: "catalog", actions: ["*"] }];
  const action = method === "GET" || method === "HEAD"
    ? (m.route === "uploads" ? "push" : "pull")
    : method === "DELETE" && m.route !== "uploads"
    ? "delete"
    : "push";
  return [{ type: "repository", name: m.name, actions: [action] }];
}

/**
 * Opens a registry on a data directory and builds its Hono app.
 *
 * @param dataDir The data directory (created if missing).
 * @param options Auth, GC, limits, logger, clock.
 * @returns The registry.
 *
 * @example Serve in-process
 * ```ts
 * import { createRegistry } from "@tsk/registry";
 * const reg = await createRegistry(await Deno.makeTempDir());
 * const res = await reg.app.request("/v2/");
 * console.log(res.status); // 200
 * reg.close();
 * ```
 */
export async function createRegistry(
  dataDir: string,
  options: RegistryOptions = {},
): Promise<Registry> {
  await Deno.mkdir(dataDir, { recursive: true });
  // Auth first: a bad auth setting must not leave the database locked.
  const auth = await Auth.create({ ...options.auth, now: options.auth?.now ?? options.now });
  const store = new BlobStore(dataDir, { maxBlobSize: options.maxBlobSize });
  await store.init();
  const meta = new Metadata(join(dataDir, "registry.db"));
  const log = options.log ?? new Logger();
  const settings: RouteSettings = {
    deleteEnabled: options.deleteEnabled ?? true,
    maxPageSize: options.maxPageSize ?? 1000,
    maxManifestSize: options.maxManifestSize ?? 4 * 1024 * 1024,
  };
  const metrics = new Metrics();
  const ctx: RegistryContext = {
    meta,
    store,
    now: options.now ?? Date.now,
    log,
    settings,
    uploadLocks: new Map(),
    activity: new Activity(),
    metrics,
  };
  const app = new Hono<{ Variables: Vars; Bindings: ServeBindings | undefined }>();

  app.use("*", async (c, next) => {
    const start = performance.now();
    c.set("route", "other");
    c.set("user", undefined);
    await next();
    const seconds = (performance.now() - start) / 1000;
    const route = c.get("route");
    const status = c.res.status;
    const bytesIn = Number(c.req.header("Content-Length") ?? 0) || 0;
    const bytesOut = Number(c.res.headers.get("Content-Length") ?? 0) || 0;
    metrics.observe({ route, method: c.req.method, status, seconds, bytesIn, bytesOut });
    if (route !== "healthz" && route !== "metrics") {
      log.info("request", {
        method: c.req.method,
        route,
        path: c.req.path,
        status,
        user: c.get("user"),
        ms: Math.round(seconds * 1e4) / 10,
        bytesIn,
        bytesOut,
      });
    }
  });

  app.onError((err, c) => {
    if (err instanceof RegistryError) return errorResponse(err, c.req.method);
    log.error("internal error", {
      path: c.req.path,
      error: String(err),
      stack: (err as Error).stack,
    });
    return c.json({
      errors: [{ code: "UNKNOWN", message: "internal error: see the registry log" }],
    }, 500);
  });

  app.get("/healthz", (c) => {
    c.set("route", "healthz");
    return c.text("ok\n");
  });
  app.get("/metrics", (c) => {
    c.set("route", "metrics");
    return c.body(metrics.render(), 200, { "Content-Type": "text/plain; version=0.0.4" });
  });
  app.get("/token", (c) => {
    c.set("route", "token");
    return auth.tokenResponse(c.req.raw);
  });

  app.all("/v2/*", async (c) => {
    const req = c.req.raw;
    const path = new URL(req.url).pathname;
    const m = match(path);
    if (!m) {
      throw new RegistryError(
        "NAME_INVALID",
        `path: ${path} is not an endpoint of the distribution API`,
        {
          status: 404,
        },
      );
    }
    c.set("route", m.route);
    const method = req.method;
    if (!ALLOWED[m.route].includes(method)) {
      throw new RegistryError("UNSUPPORTED", `method: ${method} is not allowed on ${m.route}`, {
        status: 405,
        headers: { Allow: ALLOWED[m.route].join(", ") },
      });
    }
    if (m.name) checkName(m.name);
    c.set("user", await auth.authorize(req, neededAccess(m, method)));
    switch (m.route) {
      case "base":
        return new Response(method === "HEAD" ? null : "{}", {
          status: 200,
          headers: {
            "Content-Type": "application/json",
            "Docker-Distribution-API-Version": "registry/2.0",
          },
        });
      case "catalog":
        return listCatalog(ctx, req);
      case "blobs":
        return method === "DELETE"
          ? deleteBlob(ctx, m.name, m.ref)
          : await getBlob(ctx, req, m.name, m.ref, c.env?.completed);
      case "manifests":
        if (method === "PUT") return await putManifest(ctx, req, m.name, m.ref);
        if (method === "DELETE") return deleteManifest(ctx, m.name, m.ref);
        return getManifest(ctx, req, m.name, m.ref);
      case "tags":
        return listTags(ctx, req, m.name);
      case "referrers":
        return listReferrers(ctx, req, m.name, m.ref);
      case "uploads": {
        if (method === "POST") {
          const url = new URL(req.url);
          const from = url.searchParams.get("from");
          if (from !== null && url.searchParams.has("mount")) {
            // Mount only from a repository the client may pull; else upload.
            let ok = true;
            try {
              checkName(from);
              await auth.authorize(req, [{ type: "repository", name: from, actions: ["pull"] }]);
            } catch {
              ok = false;
            }
            if (!ok) {
              url.searchParams.delete("mount");
              url.searchParams.delete("from");
              return await postUpload(ctx, new Request(url, req), m.name);
            }
          }
          return await postUpload(ctx, req, m.name);
        }
        if (m.ref === "") {
          throw new RegistryError(
            "BLOB_UPLOAD_UNKNOWN",
            "upload: the session id is missing from the path",
          );
        }
        if (method === "PATCH") return await patchUpload(ctx, req, m.name, m.ref);
        if (method === "PUT") return await putUpload(ctx, req, m.name, m.ref);
        if (method === "DELETE") return await cancelUpload(ctx, m.name, m.ref);
        return uploadStatus(ctx, m.name, m.ref);
      }
    }
  });

  app.notFound((c) =>
    errorResponse(
      new RegistryError("UNSUPPORTED", `path: ${c.req.path} is not served here`, { status: 404 }),
      c.req.method,
    )
  );

  return {
    app,
    dataDir,
    activity: ctx.activity,
    metrics,
    auth,
    async gc(overrides?: GcOptions): Promise<GcResult> {
      const r = await collectGarbage(ctx, { ...options.gc, ...overrides });
      metrics.count("gc_runs");
      metrics.count("gc_blobs_deleted", r.blobs);
      metrics.count("gc_manifests_deleted", r.manifests);
      metrics.count("gc_uploads_expired", r.uploads);
      return r;
    },
    close(): void {
      meta.close();
      log.flush();
    },
  };
}
