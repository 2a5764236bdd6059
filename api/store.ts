/**
 * The `Store` contract: what the API server keeps objects in, and what the
 * HTTP client offers controllers and agents. Both SQLite and etcd backends
 * implement it and pass one conformance suite.
 *
 * Semantics, as in Kubernetes:
 * - `resourceVersion` is a cluster-wide, increasing revision; every write
 *   gets a new one. `update` with a `metadata.resourceVersion` fails with a
 *   `ConflictError` when the stored object has moved on.
 * - `delete` of an object with finalizers only sets `deletionTimestamp`; the
 *   object goes when an update empties its finalizers. A pod bound to a
 *   node is deleted gracefully: `deletionTimestamp` is set and the node's
 *   agent finishes the delete with `gracePeriodSeconds: 0`.
 * - `watch` from a resourceVersion replays every change after it, in order,
 *   then streams; a version older than the store's history raises an
 *   `ExpiredError`: list again and watch from the list's resourceVersion.
 *
 * @module
 */
import type { ApiObject, ObjectList, Status } from "./meta.ts";

/** What a watch delivers. */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** One change seen by a watch. BOOKMARK carries only `metadata.resourceVersion`; ERROR a Status. */
export interface WatchEvent<T extends ApiObject = ApiObject> {
  /** What happened. */
  type: WatchEventType;
  /** The object after the change (before it, for DELETED). */
  object: T | (ApiObject & Status);
}

/** Options of `Store.get`. */
export interface GetOptions {
  /** The namespace, for namespaced kinds. */
  namespace?: string;
}

/** Options of `Store.list`. */
export interface ListOptions {
  /** Only this namespace; all namespaces when absent. */
  namespace?: string;
  /** A label selector in string form, e.g. `app=web,tier!=db`. */
  labelSelector?: string;
  /** A field selector, e.g. `spec.nodeName=n1`. */
  fieldSelector?: string;
  /** The most items to return; the rest follow with `continue`. 0 means all. @default 0 */
  limit?: number;
  /** The token from the previous page's `metadata.continue`. */
  continue?: string;
}

/** Options of `Store.watch`. */
export interface WatchOptions {
  /** Only this namespace; all namespaces when absent. */
  namespace?: string;
  /** A label selector in string form. */
  labelSelector?: string;
  /** A field selector. */
  fieldSelector?: string;
  /** Replay changes after this version; from now when absent or "0". */
  resourceVersion?: string;
  /** Send BOOKMARK events carrying the latest version while idle. @default false */
  allowBookmarks?: boolean;
  /** Milliseconds between bookmarks. @default 10000 */
  bookmarkIntervalMs?: number;
  /** Ends the watch. */
  signal?: AbortSignal;
}

/** Options of `Store.create`. */
export interface CreateOptions {
  /** Validate and return the result without storing it. @default false */
  dryRun?: boolean;
}

/** Options of `Store.update`. */
export interface UpdateOptions {
  /**
   * `status` writes only `status` (the rest of the object is taken from the
   * store); without it, `status` is kept from the store for kinds that have a
   * status subresource.
   */
  subresource?: "status";
}

/** Options of `Store.delete`. */
export interface DeleteOptions {
  /** The namespace, for namespaced kinds. */
  namespace?: string;
  /** Delete only if the stored object has this version. */
  resourceVersion?: string;
  /** Delete only if the stored object has this uid. */
  uid?: string;
  /** Seconds of grace; 0 deletes at once. Pods default to their terminationGracePeriodSeconds. */
  gracePeriodSeconds?: number;
}

/**
 * Where objects live. `resource` is the plural name (`pods`).
 */
export interface Store {
  /**
   * Reads one object.
   * @throws {NotFoundError} When it does not exist.
   */
  get<T extends ApiObject = ApiObject>(
    resource: string,
    name: string,
    options?: GetOptions,
  ): Promise<T>;
  /** Lists objects, optionally filtered and paginated. */
  list<T extends ApiObject = ApiObject>(
    resource: string,
    options?: ListOptions,
  ): Promise<ObjectList<T>>;
  /**
   * Stores a new object and returns it with uid, resourceVersion,
   * generation and creationTimestamp set.
   * @throws {AlreadyExistsError} When the name is taken.
   */
  create<T extends ApiObject = ApiObject>(object: T, options?: CreateOptions): Promise<T>;
  /**
   * Replaces an object. With `metadata.resourceVersion` set, only if the
   * stored object still has it.
   * @throws {ConflictError} When the version is stale.
   * @throws {NotFoundError} When it does not exist.
   */
  update<T extends ApiObject = ApiObject>(object: T, options?: UpdateOptions): Promise<T>;
  /**
   * Deletes an object, or marks it for deletion (finalizers, grace period).
   * @returns The object as deleted, or as marked.
   */
  delete<T extends ApiObject = ApiObject>(
    resource: string,
    name: string,
    options?: DeleteOptions,
  ): Promise<T>;
  /**
   * Streams changes.
   * @throws {ExpiredError} When `resourceVersion` is older than the store's history.
   */
  watch<T extends ApiObject = ApiObject>(
    resource: string,
    options?: WatchOptions,
  ): AsyncIterable<WatchEvent<T>>;
}
