/**
 * The typed HTTP client of the API server. It implements the same `Store`
 * contract as the server's own store, so controllers, agents and the CLI
 * can run against either, and adds patch, scale and bind.
 *
 * @module
 */
import { ApiError, errorFromStatus } from "./errors.ts";
import type { ApiObject, ObjectList, Status } from "./meta.ts";
import { resourceByName, resourceForKind, type ResourceInfo } from "./resources.ts";
import type { Scale } from "./apps_v1.ts";
import type {
  CreateOptions,
  DeleteOptions,
  GetOptions,
  ListOptions,
  Store,
  UpdateOptions,
  WatchEvent,
  WatchOptions,
} from "./store.ts";
import {
  type ClientConfig,
  loadClientConfig,
  type LoadClientConfigOptions,
} from "./client_config.ts";

/** Options of {@linkcode ApiClient}. */
export interface ApiClientOptions {
  /** Milliseconds a non-watch request may take. @default 30000 */
  timeoutMs?: number;
  /** The User-Agent header. @default "tsk" */
  userAgent?: string;
}

/** What {@linkcode ApiClient.patch} changes. */
export interface PatchRequest {
  /** The object's name. */
  name: string;
  /** The JSON merge patch. */
  patch: unknown;
  /** The namespace, for namespaced kinds. @default "default" */
  namespace?: string;
  /** `status` or `scale`. */
  subresource?: "status" | "scale";
}

/** What {@linkcode ApiClient.scale} changes. */
export interface ScaleRequest {
  /** The Deployment's or ReplicaSet's name. */
  name: string;
  /** The desired replicas. */
  replicas: number;
  /** The namespace. @default "default" */
  namespace?: string;
}

/** The server is unreachable (503); names the URL. */
export class ServerUnavailableError extends ApiError {
  /** Creates the error. @param message Names the server. @param options The cause. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, "ServiceUnavailable", 503, options);
    this.name = "ServerUnavailableError";
  }
}

function infoOf(resource: string): ResourceInfo {
  const info = resourceByName(resource);
  if (!info) {
    throw new ApiError(
      `resource: the server does not serve ${JSON.stringify(resource)}`,
      "NotFound",
      404,
    );
  }
  return info;
}

/**
 * The path of a collection or an object.
 *
 * @param info The kind.
 * @param namespace The namespace, for namespaced kinds (absent lists all namespaces).
 * @param name The object's name.
 * @param subresource `status`, `scale`, `binding`.
 * @returns The path, e.g. `/api/v1/namespaces/default/pods/web`.
 *
 * @example A deployment's scale path
 * ```ts
 * import { resourcePath, resourceByName } from "@tsk/api";
 * console.log(resourcePath(resourceByName("deploy")!, "default", "web", "scale"));
 * // "/apis/apps/v1/namespaces/default/deployments/web/scale"
 * ```
 */
export function resourcePath(
  info: ResourceInfo,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  let p = info.group === "" ? "/api/v1" : `/apis/${info.group}/v1`;
  if (info.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${info.plural}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}

/**
 * A client of the tsk API server.
 *
 * @example List pods with the admin config
 * ```ts ignore
 * import { ApiClient } from "@tsk/api";
 * const client = await ApiClient.fromConfig();
 * const pods = await client.list("pods", { namespace: "default" });
 * console.log(pods.items.length);
 * client.close();
 * ```
 */
export class ApiClient implements Store {
  /** The config in use. */
  readonly config: ClientConfig;
  #http: Deno.HttpClient | undefined;
  #timeout: number;
  #ua: string;

  /**
   * Creates a client.
   * @param config Server URL, CA and credentials.
   * @param options Timeout and User-Agent.
   */
  constructor(config: ClientConfig, options: ApiClientOptions = {}) {
    this.config = config;
    this.#timeout = options.timeoutMs ?? 30000;
    this.#ua = options.userAgent ?? "tsk";
    if (config.server.startsWith("https:")) {
      this.#http = Deno.createHttpClient({
        caCerts: config.certificateAuthority ? [config.certificateAuthority] : undefined,
        ...(config.clientCertificate && config.clientKey
          ? { cert: config.clientCertificate, key: config.clientKey }
          : {}),
      });
    }
  }

  /**
   * Creates a client from `$TSK_HOME/config`, `TSK_SERVER` and `--server`.
   * @param options Where to look.
   * @param clientOptions Timeout and User-Agent.
   * @returns The client.
   */
  static async fromConfig(
    options: LoadClientConfigOptions = {},
    clientOptions: ApiClientOptions = {},
  ): Promise<ApiClient> {
    return new ApiClient(await loadClientConfig(options), clientOptions);
  }

  /**
   * Sends a request and decodes the JSON answer; a Status failure becomes
   * the matching `ApiError`.
   * @param method The HTTP method.
   * @param path The path and query.
   * @param body The body (sent as JSON) and content type.
   * @returns The decoded body.
   */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: { value: unknown; contentType?: string; signal?: AbortSignal },
  ): Promise<T> {
    const res = await this.#fetch(method, path, body, false);
    const text = await res.text();
    let value: unknown;
    try {
      value = text === "" ? undefined : JSON.parse(text);
    } catch {
      value = undefined;
    }
    if (!res.ok) {
      const s = value as Status | undefined;
      if (s && s.kind === "Status") throw errorFromStatus(s);
      throw new ApiError(
        `${method} ${path}: HTTP ${res.status}: ${text.slice(0, 200)}`,
        "Unknown",
        res.status,
      );
    }
    return value as T;
  }

  async #fetch(
    method: string,
    path: string,
    body: { value: unknown; contentType?: string; signal?: AbortSignal } | undefined,
    stream: boolean,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json", "user-agent": this.#ua };
    if (this.config.token) headers.authorization = `Bearer ${this.config.token}`;
    if (body?.value !== undefined) headers["content-type"] = body.contentType ?? "application/json";
    const signals = [
      ...(body?.signal ? [body.signal] : []),
      ...(stream ? [] : [AbortSignal.timeout(this.#timeout)]),
    ];
    try {
      return await fetch(`${this.config.server.replace(/\/+$/, "")}${path}`, {
        method,
        headers,
        body: body?.value !== undefined ? JSON.stringify(body.value) : undefined,
        client: this.#http,
        // AbortSignal.any costs a dependent signal per request: only when there are two.
        signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0],
      });
    } catch (err) {
      if (body?.signal?.aborted) throw err;
      throw new ServerUnavailableError(
        `Cannot reach the API server at ${this.config.server}: ${
          err instanceof Error ? err.message : err
        }`,
        { cause: err },
      );
    }
  }

  /**
   * Reads one object.
   * @param resource The plural name (or short name), e.g. `pods`.
   * @param name The name.
   * @param options The namespace.
   * @returns The object.
   */
  get<T extends ApiObject = ApiObject>(
    resource: string,
    name: string,
    options: GetOptions = {},
  ): Promise<T> {
    const info = infoOf(resource);
    return this.request<T>("GET", resourcePath(info, options.namespace ?? defaultNs(info), name));
  }

  /**
   * Lists objects.
   * @param resource The plural name.
   * @param options Namespace (all when absent), selectors, pagination.
   * @returns The list.
   */
  list<T extends ApiObject = ApiObject>(
    resource: string,
    options: ListOptions = {},
  ): Promise<ObjectList<T>> {
    const info = infoOf(resource);
    const q = new URLSearchParams();
    if (options.labelSelector) q.set("labelSelector", options.labelSelector);
    if (options.fieldSelector) q.set("fieldSelector", options.fieldSelector);
    if (options.limit) q.set("limit", String(options.limit));
    if (options.continue) q.set("continue", options.continue);
    const qs = q.toString();
    return this.request("GET", resourcePath(info, options.namespace) + (qs ? `?${qs}` : ""));
  }

  /**
   * Creates an object; a namespaced object without a namespace goes to `default`.
   * @param object The object.
   * @param options Dry run.
   * @returns The stored object.
   */
  create<T extends ApiObject = ApiObject>(object: T, options: CreateOptions = {}): Promise<T> {
    const info = kindInfo(object);
    const ns = object.metadata?.namespace ?? defaultNs(info);
    return this.request<T>(
      "POST",
      resourcePath(info, ns) + (options.dryRun ? "?dryRun=All" : ""),
      { value: object },
    );
  }

  /**
   * Replaces an object (optimistic concurrency on `metadata.resourceVersion`).
   * @param object The object.
   * @param options `subresource: "status"`.
   * @returns The stored object.
   */
  update<T extends ApiObject = ApiObject>(object: T, options: UpdateOptions = {}): Promise<T> {
    const info = kindInfo(object);
    const ns = object.metadata?.namespace ?? defaultNs(info);
    return this.request<T>(
      "PUT",
      resourcePath(info, ns, object.metadata.name, options.subresource),
      {
        value: object,
      },
    );
  }

  /**
   * Applies a JSON merge patch.
   * @param resource The plural name.
   * @param request The name, the patch, the namespace and subresource.
   * @returns The patched object (or Scale).
   */
  patch<T extends ApiObject = ApiObject>(resource: string, request: PatchRequest): Promise<T> {
    const info = infoOf(resource);
    return this.request<T>(
      "PATCH",
      resourcePath(info, request.namespace ?? defaultNs(info), request.name, request.subresource),
      { value: request.patch, contentType: "application/merge-patch+json" },
    );
  }

  /**
   * Sets the replicas of a Deployment or ReplicaSet through its scale subresource.
   * @param resource `deployments` or `replicasets`.
   * @param request The name, the replicas and the namespace.
   * @returns The Scale.
   */
  async scale(resource: string, request: ScaleRequest): Promise<Scale> {
    const scale = await this.patch<ApiObject>(resource, {
      name: request.name,
      namespace: request.namespace,
      patch: { spec: { replicas: request.replicas } },
      subresource: "scale",
    });
    return scale as unknown as Scale;
  }

  /**
   * Binds a pod to a node (the scheduler's last step).
   * @param pod The pod's name and namespace (default `default`).
   * @param node The node's name.
   * @returns When bound.
   * @throws {ConflictError} When the pod is already bound.
   */
  async bind(pod: { name: string; namespace?: string }, node: string): Promise<void> {
    const namespace = pod.namespace ?? "default";
    await this.request("POST", resourcePath(infoOf("pods"), namespace, pod.name, "binding"), {
      value: {
        apiVersion: "v1",
        kind: "Binding",
        metadata: { name: pod.name, namespace },
        target: { apiVersion: "v1", kind: "Node", name: node },
      },
    });
  }

  /**
   * Deletes an object (or marks it for deletion).
   * @param resource The plural name.
   * @param name The name.
   * @param options Namespace, preconditions, grace period.
   * @returns The deleted or marked object.
   */
  delete<T extends ApiObject = ApiObject>(
    resource: string,
    name: string,
    options: DeleteOptions = {},
  ): Promise<T> {
    const info = infoOf(resource);
    const body: Record<string, unknown> = { apiVersion: "v1", kind: "DeleteOptions" };
    if (options.gracePeriodSeconds !== undefined) {
      body.gracePeriodSeconds = options.gracePeriodSeconds;
    }
    if (options.resourceVersion || options.uid) {
      body.preconditions = { resourceVersion: options.resourceVersion, uid: options.uid };
    }
    return this.request<T>(
      "DELETE",
      resourcePath(info, options.namespace ?? defaultNs(info), name),
      {
        value: body,
      },
    );
  }

  /**
   * Streams changes; an ERROR event from the server is raised as its error
   * (an `ExpiredError` means: list again and watch from the list's version).
   * @param resource The plural name.
   * @param options Namespace, selectors, start version, bookmarks, signal.
   * @returns The events.
   */
  async *watch<T extends ApiObject = ApiObject>(
    resource: string,
    options: WatchOptions = {},
  ): AsyncIterable<WatchEvent<T>> {
    const info = infoOf(resource);
    const q = new URLSearchParams({ watch: "1" });
    if (options.resourceVersion) q.set("resourceVersion", options.resourceVersion);
    if (options.labelSelector) q.set("labelSelector", options.labelSelector);
    if (options.fieldSelector) q.set("fieldSelector", options.fieldSelector);
    if (options.allowBookmarks) q.set("allowWatchBookmarks", "true");
    const path = `${resourcePath(info, options.namespace)}?${q}`;
    const res = await this.#fetch("GET", path, { value: undefined, signal: options.signal }, true);
    if (!res.ok || !res.body) {
      const text = await res.text();
      let s: Status | undefined;
      try {
        s = JSON.parse(text);
      } catch { /* not a Status */ }
      if (s?.kind === "Status") throw errorFromStatus(s);
      throw new ApiError(`GET ${path}: HTTP ${res.status}`, "Unknown", res.status);
    }
    // A plain reader and one TextDecoder: cheaper per chunk than a TextDecoderStream.
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    // Ending the watch must end the read at once, even mid-stream.
    const onAbort = () => reader.cancel().catch(() => {});
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let buf = "";
    try {
      while (true) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          if (options.signal?.aborted) return;
          throw new ServerUnavailableError(`watch ${resource}: the stream broke: ${String(err)}`, {
            cause: err,
          });
        }
        if (chunk.done || options.signal?.aborted) return;
        buf += decoder.decode(chunk.value, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim() === "") continue;
          const ev = JSON.parse(line) as WatchEvent<T>;
          if (ev.type === "ERROR") throw errorFromStatus(ev.object as unknown as Status);
          yield ev;
        }
      }
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      reader.cancel().catch(() => {});
    }
  }

  /** Releases the HTTP client's connections. */
  close(): void {
    this.#http?.close();
    this.#http = undefined;
  }
}

function defaultNs(info: ResourceInfo): string | undefined {
  return info.namespaced ? "default" : undefined;
}

function kindInfo(object: ApiObject): ResourceInfo {
  const info = object && typeof object === "object"
    ? resourceForKind(object.apiVersion, object.kind)
    : undefined;
  if (!info) {
    throw new ApiError(
      `kind: expected a served apiVersion and kind, got ${JSON.stringify(object?.apiVersion)} ${
        JSON.stringify(object?.kind)
      }`,
      "BadRequest",
      400,
    );
  }
  return info;
}
