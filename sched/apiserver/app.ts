/**
 * The API server as a Hono app: Kubernetes-shaped REST over the object
 * store, with authentication, authorization, admission, audit, rate limits,
 * watch streaming, the status/scale/binding subresources and merge patch.
 * It is a `fetch` handler, so tests call it in-process and
 * `server.ts` serves it over TLS.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import {
  AdmissionChain,
  type AdmissionRequest,
  ApiError,
  type ApiObject,
  BadRequestError,
  ConflictError,
  defaultingPlugin,
  type DeleteOptions,
  NotFoundError,
  type Pod,
  type ResourceInfo,
  RESOURCES,
  type Scale,
  type Status,
  type Store,
  type UserInfo,
  validationPlugin,
  type WatchEvent,
} from "@tsk/api";
import { Authenticator, type Credentials } from "./authn.ts";
import { Authorizer } from "./authz.ts";
import type { AuditEntry, AuditSink } from "./audit.ts";
import { RateLimiter } from "./rate_limit.ts";
import { MetricsRegistry } from "./metrics.ts";
import { type Logger, silentLogger } from "./log.ts";
import { parseResourcePath, type ResourcePath } from "./paths.ts";
import { mergePatch } from "./merge_patch.ts";
import { type EncodedEvent, encodeLine, setWatchAttach, type WatchWire } from "./_watch_wire.ts";
import type { ObjectStore } from "../store/object_store.ts";

/** What the transport tells the app about a connection (Hono `env`). */
export interface ConnectionInfo {
  /** The verified client certificate's subject, when one was presented. */
  certificate?: { commonName: string; organizations: string[] };
  /** The client's address. */
  remoteAddr?: string;
}

/** Options of {@linkcode createApiApp}. */
export interface ApiAppOptions {
  /** The store objects live in. */
  store: Store;
  /**
   * The admission chain. Always gets the namespace-lifecycle check appended.
   * @default defaulting, then validation
   */
  admission?: AdmissionChain;
  /** Token and certificate authentication. @default no tokens */
  authenticator?: Authenticator;
  /** Role-based authorization. @default the built-in roles and bindings */
  authorizer?: Authorizer;
  /** Where audit lines go. @default nowhere */
  audit?: AuditSink;
  /** Per-client rate limits. @default 5000 qps per client */
  rateLimiter?: RateLimiter;
  /** Metrics. @default a new registry */
  metrics?: MetricsRegistry;
  /** The log. @default silent */
  logger?: Logger;
  /** Reports readiness beyond the store's; `/readyz` fails while false. @default () => true */
  ready?: () => boolean;
}

const MUTATING = new Set(["create", "update", "patch", "delete", "deletecollection"]);
const PROTECTED_NAMESPACES = new Set(["default", "tsk-system"]);

/** The Hono environment of the API app: what the transport passes in. */
export type ApiAppEnv = {
  /** Connection facts from the transport. */
  Bindings: ConnectionInfo | undefined;
  /** Per-request values. */
  Variables: { user: UserInfo; verb: string };
};

/**
 * Builds the API server's Hono app.
 *
 * @param options The store and the request pipeline.
 * @returns The app; serve `app.fetch`.
 *
 * @example Create a pod in-process
 * ```ts
 * import { Authenticator, createApiApp, ObjectStore, SqliteKv } from "@tsk/sched";
 * const store = new ObjectStore(new SqliteKv(":memory:"));
 * await store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "default" } });
 * const app = createApiApp({
 *   store,
 *   authenticator: new Authenticator([{ token: "0123456789abcdef", user: "admin", groups: ["system:masters"] }]),
 * });
 * const res = await app.request("/api/v1/namespaces/default/pods", {
 *   method: "POST",
 *   headers: { authorization: "Bearer 0123456789abcdef" },
 *   body: JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "p" },
 *     spec: { containers: [{ name: "c", image: "busybox" }] } }),
 * });
 * console.log(res.status); // 201
 * await store.close();
 * ```
 */
export function createApiApp(options: ApiAppOptions): Hono<ApiAppEnv> {
  const store = options.store;
  const authn = options.authenticator ?? new Authenticator();
  const authz = options.authorizer ?? new Authorizer();
  const limiter = options.rateLimiter ?? new RateLimiter();
  const metrics = options.metrics ?? new MetricsRegistry();
  const log = options.logger ?? silentLogger;
  const admission = options.admission ??
    new AdmissionChain().useMutating(defaultingPlugin).useValidating(validationPlugin);
  // Namespaces seen active recently: saves a store read per create (one etcd round trip).
  const activeNamespaces = new Map<string, number>();
  admission.useValidating({
    name: "NamespaceLifecycle",
    async validate(req) {
      if (req.operation !== "CREATE" || !req.resource.namespaced || !req.namespace) return;
      const seen = activeNamespaces.get(req.namespace);
      if (seen !== undefined && performance.now() - seen < 1000) return;
      let ns: ApiObject;
      try {
        ns = await store.get("namespaces", req.namespace);
      } catch (err) {
        if (err instanceof NotFoundError) {
          throw new NotFoundError(
            `namespaces ${
              JSON.stringify(req.namespace)
            } not found: create it first (tsk apply a Namespace)`,
          );
        }
        throw err;
      }
      if (!ns.metadata.deletionTimestamp) {
        if (activeNamespaces.size > 10000) activeNamespaces.clear();
        activeNamespaces.set(req.namespace, performance.now());
      }
      if (ns.metadata.deletionTimestamp) {
        throw new ApiError(
          `namespaces ${
            JSON.stringify(req.namespace)
          } is being deleted: no new objects may be created in it`,
          "Forbidden",
          403,
        );
      }
    },
  });
  let inflightWatches = 0;
  metrics.gauge("apiserver_watchers", "Open watch streams.", () => inflightWatches);
  metrics.gauge(
    "process_resident_memory_bytes",
    "Resident memory of the API server process.",
    () => Deno.memoryUsage().rss,
  );
  const requests = metrics.counter(
    "apiserver_request_total",
    "API requests by verb, resource and code.",
  );
  const latency = metrics.histogram(
    "apiserver_request_duration_seconds",
    "API request latency by verb and resource.",
  );

  const app = new Hono<ApiAppEnv>();

  const respond = (c: Context<ApiAppEnv>, body: unknown, status: number): Response => {
    const wantsYaml = /yaml/.test(c.req.header("accept") ?? "");
    if (wantsYaml) {
      return new Response(stringifyYaml(body), {
        status,
        headers: { "content-type": "application/yaml" },
      });
    }
    return new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json" },
    });
  };

  const fail = (c: Context<ApiAppEnv>, err: unknown): Response => {
    if (err instanceof ApiError) {
      const res = respond(c, err.toStatus(), err.code);
      if (err.retryAfterSeconds !== undefined) {
        res.headers.set("retry-after", String(err.retryAfterSeconds));
      }
      return res;
    }
    log.error("request failed", { path: c.req.path, method: c.req.method, error: String(err) });
    const status: Status = {
      apiVersion: "v1",
      kind: "Status",
      status: "Failure",
      message: `Internal error: ${err instanceof Error ? err.message : String(err)}`,
      reason: "InternalError",
      code: 500,
    };
    return respond(c, status, 500);
  };

  const credentials = (c: Context<ApiAppEnv>): Credentials => {
    const auth = c.req.header("authorization") ?? "";
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    return { bearer: m?.[1], certificate: c.env?.certificate };
  };

  // ------------------------------------------------------------ health, metrics, discovery
  app.get("/healthz", (c) => c.text("ok"));
  app.get("/livez", (c) => c.text("ok"));
  app.get("/readyz", async (c) => {
    try {
      if (options.ready && !options.ready()) return c.text("not ready: starting", 503);
      await store.list("namespaces", { limit: 1 });
      return c.text("ok");
    } catch (err) {
      return c.text(`not ready: store: ${err instanceof Error ? err.message : String(err)}`, 503);
    }
  });
  app.get(
    "/metrics",
    (c) => c.body(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }),
  );
  app.get(
    "/version",
    (c) => c.json({ gitVersion: "v0.1.0-tsk", platform: `${Deno.build.os}/${Deno.build.arch}` }),
  );
  app.get("/api", (c) => c.json({ kind: "APIVersions", versions: ["v1"] }));
  app.get("/apis", (c) => {
    const groups = [...new Set(RESOURCES.filter((r) => r.group !== "").map((r) => r.group))];
    return c.json({
      kind: "APIGroupList",
      apiVersion: "v1",
      groups: groups.map((g) => ({
        name: g,
        versions: [{ groupVersion: `${g}/v1`, version: "v1" }],
        preferredVersion: { groupVersion: `${g}/v1`, version: "v1" },
      })),
    });
  });
  const discovery = (group: string) => ({
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group === "" ? "v1" : `${group}/v1`,
    resources: RESOURCES.filter((r) => r.group === group).flatMap((r) => [
      {
        name: r.plural,
        singularName: r.singular,
        namespaced: r.namespaced,
        kind: r.kind,
        shortNames: r.shortNames,
        verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
      },
      ...(r.statusSubresource
        ? [{
          name: `${r.plural}/status`,
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: ["get", "patch", "update"],
        }]
        : []),
      ...(r.scaleSubresource
        ? [{
          name: `${r.plural}/scale`,
          namespaced: r.namespaced,
          kind: "Scale",
          verbs: ["get", "patch", "update"],
        }]
        : []),
    ]),
  });
  app.get("/api/v1", (c) => c.json(discovery("")));
  app.get("/apis/:group/v1", (c) => c.json(discovery(c.req.param("group"))));

  // ------------------------------------------------------------ resources
  app.all("/api/v1/*", (c) => serveResource(c));
  app.all("/apis/*", (c) => serveResource(c));
  app.notFound((c) =>
    respond(
      c,
      new NotFoundError(`path ${c.req.path}: not served; see /api/v1 and /apis`).toStatus(),
      404,
    )
  );

  async function serveResource(c: Context<ApiAppEnv>): Promise<Response> {
    const started = performance.now();
    const path = parseResourcePath(c.req.path);
    if (!path) {
      return respond(
        c,
        new NotFoundError(`path ${c.req.path}: no such resource; see /api/v1 and /apis`).toStatus(),
        404,
      );
    }
    const verb = verbOf(c.req.method, path, c.req.query("watch"));
    const resource = path.subresource
      ? `${path.info.plural}/${path.subresource}`
      : path.info.plural;
    let user: UserInfo | undefined;
    let code = 500;
    try {
      if (!verb) {
        throw new ApiError(
          `method ${c.req.method} is not allowed on ${c.req.path}`,
          "MethodNotAllowed",
          405,
        );
      }
      if (path.subresource && !subresourceServed(path)) {
        throw new NotFoundError(`${resource}: no such subresource`);
      }
      user = authn.authenticate(credentials(c));
      if (!user) {
        throw new ApiError(
          "Unauthorized: present a client certificate signed by the cluster CA or a bearer token",
          "Unauthorized",
          401,
        );
      }
      const wait = limiter.take(user.name);
      if (wait > 0) {
        throw new ApiError(
          `Too many requests from ${
            JSON.stringify(user.name)
          }: over ${limiter.qps} requests per second; retry after ${wait}s`,
          "TooManyRequests",
          429,
          { retryAfterSeconds: wait },
        );
      }
      const decision = authz.authorize({
        user,
        verb,
        resource,
        namespace: path.namespace ?? (path.info.kind === "Namespace" ? path.name : undefined),
      });
      if (!decision.allowed) throw new ApiError(`Forbidden: ${decision.reason}`, "Forbidden", 403);
      const res = await handle(c, verb, path, user);
      code = res.status;
      return res;
    } catch (err) {
      const res = fail(c, err);
      code = res.status;
      return res;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const labels = { verb: verb ?? c.req.method.toLowerCase(), resource, code: String(code) };
      requests.inc(labels);
      if (verb !== "watch") latency.observe({ verb: labels.verb, resource }, seconds);
      if (verb && MUTATING.has(verb) && options.audit) {
        // The answer waits for its audit line (written off the event loop).
        await audited(options.audit, {
          ts: new Date().toISOString(),
          requestId: crypto.randomUUID(),
          user: user?.name ?? "system:anonymous",
          groups: user?.groups ?? [],
          verb,
          resource,
          namespace: path.namespace,
          name: path.name,
          code,
          sourceIP: c.env?.remoteAddr,
          latencyMs: Math.round(seconds * 1000 * 100) / 100,
        });
      }
    }
  }

  async function audited(sink: AuditSink, entry: AuditEntry): Promise<void> {
    try {
      await sink.write(entry);
    } catch (err) {
      // The change is made: report the failure, do not turn the answer into an error.
      log.error("audit write failed", { error: String(err), requestId: entry.requestId });
    }
  }

  function subresourceServed(path: ResourcePath): boolean {
    switch (path.subresource) {
      case "status":
        return path.info.statusSubresource;
      case "scale":
        return path.info.scaleSubresource;
      case "binding":
        return path.info.kind === "Pod";
      default:
        return false;
    }
  }

  async function body(c: Context<ApiAppEnv>): Promise<Record<string, unknown>> {
    const text = await c.req.text();
    if (text.trim() === "") {
      throw new BadRequestError("body: required: send the object as JSON or YAML");
    }
    const type = c.req.header("content-type") ?? "";
    let value: unknown;
    try {
      value = /yaml/.test(type) ? parseYaml(text) : JSON.parse(text);
    } catch (err) {
      throw new BadRequestError(
        `body: cannot parse ${/yaml/.test(type) ? "YAML" : "JSON"}: ${
          err instanceof Error ? err.message.split("\n")[0] : err
        }`,
      );
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new BadRequestError("body: expected an object");
    }
    return value as Record<string, unknown>;
  }

  function intQuery(c: Context<ApiAppEnv>, name: string): number | undefined {
    const v = c.req.query(name);
    if (v === undefined || v === "") return undefined;
    if (!/^\d+$/.test(v)) {
      throw new BadRequestError(
        `${name}: expected a non-negative integer, got ${JSON.stringify(v)}`,
      );
    }
    return Number(v);
  }

  function prepare(
    info: ResourceInfo,
    path: ResourcePath,
    obj: Record<string, unknown>,
  ): ApiObject {
    obj.apiVersion ??= info.apiVersion;
    obj.kind ??= info.kind;
    if (obj.kind !== info.kind || obj.apiVersion !== info.apiVersion) {
      throw new BadRequestError(
        `kind: expected ${info.apiVersion} ${info.kind} at this path, got ${
          String(obj.apiVersion)
        } ${String(obj.kind)}`,
      );
    }
    const meta = (obj.metadata ??= {}) as Record<string, unknown>;
    if (typeof meta !== "object" || meta === null) {
      throw new BadRequestError("metadata: expected an object");
    }
    if (info.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== path.namespace) {
        throw new BadRequestError(
          `metadata.namespace: ${
            JSON.stringify(meta.namespace)
          } does not match the namespace in the path (${JSON.stringify(path.namespace)})`,
        );
      }
      meta.namespace = path.namespace;
    }
    if (path.name !== undefined) {
      if (meta.name !== undefined && meta.name !== path.name) {
        throw new BadRequestError(
          `metadata.name: ${JSON.stringify(meta.name)} does not match the name in the path (${
            JSON.stringify(path.name)
          })`,
        );
      }
      meta.name = path.name;
    }
    return obj as unknown as ApiObject;
  }

  function admissionRequest(
    operation: AdmissionRequest["operation"],
    path: ResourcePath,
    user: UserInfo,
    object?: ApiObject,
    oldObject?: ApiObject,
  ): AdmissionRequest {
    return {
      operation,
      resource: path.info,
      subresource: path.subresource,
      namespace: path.namespace,
      name: path.name ?? object?.metadata.name,
      object,
      oldObject,
      user,
    };
  }

  async function handle(
    c: Context<ApiAppEnv>,
    verb: string,
    path: ResourcePath,
    user: UserInfo,
  ): Promise<Response> {
    const { info } = path;
    const ns = path.namespace;
    switch (verb) {
      case "get": {
        const obj = await store.get(info.plural, path.name!, { namespace: ns });
        if (path.subresource === "scale") return respond(c, toScale(obj), 200);
        return respond(c, obj, 200);
      }
      case "list": {
        const list = await store.list(info.plural, {
          namespace: ns,
          labelSelector: c.req.query("labelSelector"),
          fieldSelector: c.req.query("fieldSelector"),
          limit: intQuery(c, "limit"),
          continue: c.req.query("continue"),
        });
        return respond(c, list, 200);
      }
      case "watch":
        return watch(c, path);
      case "create": {
        if (path.subresource === "binding") return bind(c, path, user);
        const obj = prepare(info, path, await body(c));
        await admission.admit(admissionRequest("CREATE", path, user, obj));
        const created = await store.create(obj, { dryRun: c.req.query("dryRun") === "All" });
        return respond(c, created, 201);
      }
      case "update":
      case "patch":
        return write(c, verb, path, user);
      case "delete":
        return remove(c, path, user);
      case "deletecollection": {
        const list = await store.list(info.plural, {
          namespace: ns,
          labelSelector: c.req.query("labelSelector"),
          fieldSelector: c.req.query("fieldSelector"),
        });
        const items: ApiObject[] = [];
        for (const item of list.items) {
          try {
            items.push(
              await store.delete(info.plural, item.metadata.name!, {
                namespace: item.metadata.namespace,
                gracePeriodSeconds: intQuery(c, "gracePeriodSeconds"),
              }),
            );
          } catch (err) {
            if (!(err instanceof NotFoundError)) throw err;
          }
        }
        return respond(c, { ...list, items }, 200);
      }
    }
    throw new ApiError(`verb ${verb}: not served`, "MethodNotAllowed", 405);
  }

  async function write(
    c: Context<ApiAppEnv>,
    verb: string,
    path: ResourcePath,
    user: UserInfo,
  ): Promise<Response> {
    const { info } = path;
    const input = await body(c);
    const isPatch = verb === "patch";
    if (isPatch) {
      const type = c.req.header("content-type") ?? "";
      if (/json-patch\+json/.test(type)) {
        throw new ApiError(
          "content-type: application/json-patch+json is not supported; send application/merge-patch+json",
          "UnsupportedMediaType",
          415,
        );
      }
    }
    const pinned = isPatch
      ? ((input.metadata as Record<string, unknown> | undefined)?.resourceVersion as
        | string
        | undefined)
      : undefined;
    for (let attempt = 0;; attempt++) {
      const current = await store.get(info.plural, path.name!, { namespace: path.namespace });
      let next: ApiObject;
      if (path.subresource === "scale") {
        const scale = isPatch
          ? mergePatch(toScale(current), input) as Scale
          : input as unknown as Scale;
        const replicas = scale?.spec?.replicas;
        if (!Number.isInteger(replicas) || (replicas as number) < 0) {
          throw new ApiError(
            `Scale is invalid: spec.replicas: expected a non-negative integer, got ${
              JSON.stringify(replicas)
            }`,
            "Invalid",
            422,
            { causes: [{ field: "spec.replicas", message: "expected a non-negative integer" }] },
          );
        }
        next = structuredClone(current);
        (next.spec as { replicas?: number }).replicas = replicas;
        const rv = scale.metadata?.resourceVersion;
        next.metadata.resourceVersion = rv && !isPatch ? rv : current.metadata.resourceVersion;
      } else if (isPatch) {
        next = mergePatch(current, input) as ApiObject;
        next.metadata.resourceVersion = pinned ?? current.metadata.resourceVersion;
        if (next.kind !== current.kind || next.apiVersion !== current.apiVersion) {
          throw new BadRequestError("kind: a patch may not change apiVersion or kind");
        }
      } else {
        next = prepare(info, path, input);
        if (path.subresource === "status") {
          const merged = structuredClone(current);
          merged.status = next.status;
          merged.metadata.resourceVersion = next.metadata.resourceVersion;
          next = merged;
        }
      }
      prepare(info, path, next as unknown as Record<string, unknown>);
      await admission.admit(admissionRequest("UPDATE", path, user, next, current));
      try {
        const updated = await store.update(next, {
          subresource: path.subresource === "status" ? "status" : undefined,
        });
        return respond(c, path.subresource === "scale" ? toScale(updated) : updated, 200);
      } catch (err) {
        // A patch, or a scale that named no resourceVersion, is re-applied on the newer object;
        // a full update that names its version reports the conflict.
        const scaleVersion = (input as { metadata?: { resourceVersion?: string } }).metadata
          ?.resourceVersion;
        const reapply = isPatch
          ? pinned === undefined
          : path.subresource === "scale" && !scaleVersion;
        if (!(err instanceof ConflictError) || !reapply || attempt >= 50) throw err;
      }
    }
  }

  async function remove(
    c: Context<ApiAppEnv>,
    path: ResourcePath,
    user: UserInfo,
  ): Promise<Response> {
    const { info } = path;
    const text = await c.req.text();
    let opts: {
      gracePeriodSeconds?: number;
      preconditions?: { resourceVersion?: string; uid?: string };
    } = {};
    if (text.trim() !== "") {
      try {
        opts = JSON.parse(text);
      } catch {
        throw new BadRequestError("body: expected DeleteOptions as JSON");
      }
    }
    const del: DeleteOptions = {
      namespace: path.namespace,
      gracePeriodSeconds: intQuery(c, "gracePeriodSeconds") ?? opts.gracePeriodSeconds,
      resourceVersion: opts.preconditions?.resourceVersion,
      uid: opts.preconditions?.uid,
    };
    const current = await store.get(info.plural, path.name!, { namespace: path.namespace });
    await admission.admit(admissionRequest("DELETE", path, user, undefined, current));
    if (info.kind === "Namespace") {
      activeNamespaces.delete(path.name!);
      if (PROTECTED_NAMESPACES.has(path.name!)) {
        throw new ApiError(
          `namespaces ${JSON.stringify(path.name)} may not be deleted`,
          "Forbidden",
          403,
        );
      }
      // No namespace controller yet: empty the namespace here, then delete it.
      for (const r of RESOURCES.filter((r) => r.namespaced)) {
        const list = await store.list(r.plural, { namespace: path.name });
        for (const item of list.items) {
          await store.delete(r.plural, item.metadata.name!, {
            namespace: path.name,
            gracePeriodSeconds: 0,
          })
            .catch((err) => {
              if (!(err instanceof NotFoundError)) throw err;
            });
        }
      }
    }
    const out = await store.delete(info.plural, path.name!, del);
    return respond(c, out, 200);
  }

  async function bind(
    c: Context<ApiAppEnv>,
    path: ResourcePath,
    user: UserInfo,
  ): Promise<Response> {
    const b = await body(c) as {
      target?: { name?: string; kind?: string };
      metadata?: { name?: string };
    };
    const node = b.target?.name;
    if (typeof node !== "string" || node === "") {
      throw new ApiError(
        "Binding is invalid: target.name: required: the node to bind to",
        "Invalid",
        422,
        {
          causes: [{ field: "target.name", message: "required" }],
        },
      );
    }
    if (b.metadata?.name !== undefined && b.metadata.name !== path.name) {
      throw new BadRequestError(
        `metadata.name: ${JSON.stringify(b.metadata.name)} does not match the pod ${
          JSON.stringify(path.name)
        }`,
      );
    }
    const pod = await store.get<Pod>("pods", path.name!, { namespace: path.namespace });
    if (pod.metadata.deletionTimestamp) {
      throw new ConflictError(
        `pods ${JSON.stringify(path.name)} is being deleted; it cannot be bound`,
      );
    }
    if (pod.spec.nodeName) {
      throw new ConflictError(
        `pods ${JSON.stringify(path.name)} is already assigned to node ${
          JSON.stringify(pod.spec.nodeName)
        }`,
      );
    }
    const next = structuredClone(pod);
    next.spec.nodeName = node;
    await admission.admit(
      admissionRequest("UPDATE", { ...path, subresource: undefined }, user, next, pod),
    );
    const bound = await store.update(next);
    const withStatus = structuredClone(bound);
    const status = withStatus.status ?? {};
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    status.conditions = [
      ...(status.conditions ?? []).filter((x) => x.type !== "PodScheduled"),
      { type: "PodScheduled", status: "True", lastTransitionTime: now },
    ];
    delete status.nominatedNodeName;
    withStatus.status = status;
    delete withStatus.metadata.resourceVersion;
    await store.update(withStatus, { subresource: "status" });
    return respond(c, {
      apiVersion: "v1",
      kind: "Status",
      status: "Success",
      code: 201,
      reason: "",
      message: `bound to ${node}`,
    }, 201);
  }

  // Each event is encoded once, however many watchers get it (the store hands
  // every watcher of a resource the same object for the same change).
  const lineCache = new WeakMap<object, Map<string, EncodedEvent>>();
  function encodeEvent(ev: WatchEvent): EncodedEvent {
    let byType = lineCache.get(ev.object);
    if (!byType) {
      byType = new Map();
      lineCache.set(ev.object, byType);
    }
    let bytes = byType.get(ev.type);
    if (!bytes) {
      bytes = encodeLine(JSON.stringify(ev));
      byType.set(ev.type, bytes);
    }
    return bytes;
  }

  function watch(c: Context<ApiAppEnv>, path: ResourcePath): Response {
    // One controller ends the watch: the server's wire (connection closed),
    // the body's cancel, the request's signal or the timeout abort it. Plain
    // listeners rather than AbortSignal.any: a composite signal costs weak
    // references and registry cells per watcher, kept for 10,000 watchers.
    const stop = new AbortController();
    const signal = stop.signal;
    const abort = () => stop.abort();
    const requestSignal = c.req.raw.signal;
    requestSignal.addEventListener("abort", abort, { once: true });
    const timeout = intQuery(c, "timeoutSeconds");
    const timer = timeout ? setTimeout(abort, timeout * 1000) : undefined;
    // As AbortSignal.timeout: the timeout alone does not keep the process running.
    if (timer !== undefined) Deno.unrefTimer(timer);
    if (requestSignal.aborted) abort();
    const options = {
      namespace: path.namespace,
      labelSelector: c.req.query("labelSelector"),
      fieldSelector: c.req.query("fieldSelector"),
      resourceVersion: c.req.query("resourceVersion"),
      allowBookmarks: ["true", "1"].includes(c.req.query("allowWatchBookmarks") ?? ""),
      signal,
    };
    inflightWatches++;
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        inflightWatches--;
        clearTimeout(timer);
        requestSignal.removeEventListener("abort", abort);
      }
    };
    const errorLine = (err: unknown) => {
      const status = err instanceof ApiError
        ? err.toStatus()
        : new ApiError(`watch: ${err instanceof Error ? err.message : String(err)}`).toStatus();
      return encodeLine(JSON.stringify({ type: "ERROR", object: status }));
    };
    const subscribable = store as Store & Partial<Pick<ObjectStore, "subscribe">>;
    // The watch starts once, on whichever output asks first: the server's
    // wire (see _watch_wire.ts) or the response body's first read.
    let started = false;
    const run = async (out: WatchWire): Promise<void> => {
      started = true;
      const close = () => {
        finish();
        out.end();
      };
      try {
        if (typeof subscribable.subscribe === "function") {
          // Events go straight to the output, with no iterator per event.
          await subscribable.subscribe(path.info.plural, {
            push: (ev) => out.send(encodeEvent(ev)),
            fail: (err) => {
              if (!stop.signal.aborted) out.send(errorLine(err));
            },
            end: close,
            backlog: () => out.backlog(),
          }, options);
          return;
        }
        for await (const ev of store.watch(path.info.plural, options)) out.send(encodeEvent(ev));
      } catch (err) {
        if (!stop.signal.aborted) out.send(errorLine(err));
      }
      close();
    };
    signal.addEventListener("abort", () => {
      if (!started) finish();
    }, { once: true });
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (started) return;
        let open = true;
        run({
          send: (ev) => {
            if (!open) return;
            try {
              controller.enqueue(ev.line);
            } catch { /* cancelled: the watch is ending */ }
          },
          end: () => {
            if (!open) return;
            open = false;
            try {
              controller.close();
            } catch { /* already closed */ }
          },
          backlog: () => -(controller.desiredSize ?? 0),
        });
      },
      cancel() {
        stop.abort();
        finish();
      },
    }, { highWaterMark: 0 });
    const response = new Response(stream, {
      status: 200,
      headers: {
        "content-type": "application/json",
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
      },
    });
    setWatchAttach(response, (wire) => {
      if (started) return undefined;
      run(wire);
      return abort;
    });
    return response;
  }

  return app;
}

function verbOf(method: string, path: ResourcePath, watch: string | undefined): string | undefined {
  const item = path.name !== undefined;
  switch (method) {
    case "GET":
      if (item) return "get";
      return watch === "true" || watch === "1" ? "watch" : "list";
    case "POST":
      if (!item) return "create";
      return path.subresource === "binding" ? "create" : undefined;
    case "PUT":
      return item ? "update" : undefined;
    case "PATCH":
      return item ? "patch" : undefined;
    case "DELETE":
      return item ? (path.subresource ? undefined : "delete") : "deletecollection";
  }
  return undefined;
}

function toScale(obj: ApiObject): Scale {
  const spec = (obj.spec ?? {}) as {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> };
  };
  const status = (obj.status ?? {}) as { replicas?: number };
  const selector = Object.entries(spec.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`)
    .join(",");
  return {
    apiVersion: "autoscaling/v1",
    kind: "Scale",
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      creationTimestamp: obj.metadata.creationTimestamp,
    },
    spec: { replicas: spec.replicas ?? 1 },
    status: { replicas: status.replicas ?? 0, selector },
  };
}
