/**
 * Informers: a local cache of one resource kept in sync by list then
 * watch, with handlers called on every add, update and delete. When the
 * watch breaks or its version expires, the informer lists again, diffs the
 * new list against its cache (so handlers see what changed meanwhile) and
 * watches from the new list's version.
 *
 * @module
 */
import type { ApiObject } from "./meta.ts";
import type { Store } from "./store.ts";

/** What an informer calls on changes. */
export interface InformerHandlers<T extends ApiObject> {
  /** An object appeared. */
  add?(obj: T): void;
  /** An object changed. */
  update?(oldObj: T, newObj: T): void;
  /** An object went away (the last known state). */
  delete?(obj: T): void;
}

/** Options of {@linkcode Informer}. */
export interface InformerOptions {
  /** Only this namespace. */
  namespace?: string;
  /** A label selector. */
  labelSelector?: string;
  /** A field selector. */
  fieldSelector?: string;
  /** Milliseconds to wait before relisting after an error (doubles up to 30 s). @default 200 */
  backoffMs?: number;
  /** Called with errors that forced a relist. */
  onError?: (err: unknown) => void;
  /**
   * Milliseconds between resyncs, which call `update(obj, obj)` for every
   * cached object so level-triggered controllers revisit them; 0 disables.
   * @default 0
   */
  resyncMs?: number;
}

/** The cache key of an object: `namespace/name` or `name`. */
export function objectKey(obj: ApiObject): string {
  return obj.metadata.namespace
    ? `${obj.metadata.namespace}/${obj.metadata.name}`
    : obj.metadata.name ?? "";
}

/**
 * A list+watch cache of one resource.
 *
 * @example Follow pods
 * ```ts ignore
 * import { ApiClient, Informer, type Pod } from "@tsk/api";
 * const client = await ApiClient.fromConfig();
 * const pods = new Informer<Pod>(client, "pods");
 * pods.on({ add: (p) => console.log("added", p.metadata.name) });
 * await pods.start();
 * console.log(pods.list().length);
 * pods.stop();
 * ```
 */
export class Informer<T extends ApiObject = ApiObject> {
  /** The plural resource it follows. */
  readonly resource: string;
  #store: Store;
  #options: InformerOptions;
  #cache = new Map<string, T>();
  #handlers: InformerHandlers<T>[] = [];
  #stop = new AbortController();
  #synced = false;
  #syncedWaiters: (() => void)[] = [];
  #lastRv = "";
  #loop: Promise<void> | undefined;
  /** How many times it listed (1 + relists). */
  lists = 0;

  /**
   * Creates an informer; nothing happens until `start()`.
   * @param store The server's client (or any Store).
   * @param resource The plural resource name.
   * @param options Filters, backoff, error hook.
   */
  constructor(store: Store, resource: string, options: InformerOptions = {}) {
    this.#store = store;
    this.resource = resource;
    this.#options = options;
  }

  /** Adds handlers. @param handlers The handlers. @returns This informer. */
  on(handlers: InformerHandlers<T>): this {
    this.#handlers.push(handlers);
    return this;
  }

  /** True once the first list is in the cache. */
  get hasSynced(): boolean {
    return this.#synced;
  }

  /** The last resourceVersion seen. */
  get resourceVersion(): string {
    return this.#lastRv;
  }

  /**
   * Reads one cached object.
   * @param name The name.
   * @param namespace The namespace, for namespaced kinds.
   * @returns The object or undefined.
   */
  get(name: string, namespace?: string): T | undefined {
    return this.#cache.get(namespace ? `${namespace}/${name}` : name);
  }

  /** All cached objects. @returns A new array. */
  list(): T[] {
    return [...this.#cache.values()];
  }

  /**
   * Lists, fills the cache, then keeps watching in the background. A
   * failing list is retried with backoff until it succeeds or `stop()`.
   * @returns When the first list is in the cache.
   */
  async start(): Promise<void> {
    if (!this.#loop) {
      this.#loop = this.#run();
    }
    if (this.#synced || this.#stop.signal.aborted) return;
    await new Promise<void>((resolve) => this.#syncedWaiters.push(resolve));
  }

  /** Stops watching; a pending `start()` returns. */
  stop(): void {
    this.#stop.abort();
    for (const w of this.#syncedWaiters.splice(0)) w();
  }

  /** Resolves when the watch loop has ended after `stop()`. */
  async stopped(): Promise<void> {
    await this.#loop?.catch(() => {});
  }

  #emit(kind: "add" | "update" | "delete", a: T, b?: T): void {
    for (const h of this.#handlers) {
      try {
        if (kind === "add") h.add?.(a);
        else if (kind === "update") h.update?.(a, b!);
        else h.delete?.(a);
      } catch (err) {
        this.#options.onError?.(err);
      }
    }
  }

  async #relist(): Promise<void> {
    const list = await this.#store.list<T>(this.resource, {
      namespace: this.#options.namespace,
      labelSelector: this.#options.labelSelector,
      fieldSelector: this.#options.fieldSelector,
    });
    this.lists++;
    const seen = new Set<string>();
    for (const item of list.items) {
      const key = objectKey(item);
      seen.add(key);
      const old = this.#cache.get(key);
      this.#cache.set(key, item);
      if (!old) this.#emit("add", item);
      else if (old.metadata.resourceVersion !== item.metadata.resourceVersion) {
        this.#emit("update", old, item);
      }
    }
    for (const [key, old] of this.#cache) {
      if (!seen.has(key)) {
        this.#cache.delete(key);
        this.#emit("delete", old);
      }
    }
    this.#lastRv = list.metadata.resourceVersion ?? "";
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncedWaiters.splice(0)) w();
    }
  }

  async #run(): Promise<void> {
    const resync = this.#options.resyncMs ?? 0;
    const timer = resync > 0
      ? setInterval(() => {
        if (!this.#synced) return;
        for (const obj of this.#cache.values()) this.#emit("update", obj, obj);
      }, resync)
      : undefined;
    try {
      await this.#watchLoop();
    } finally {
      if (timer !== undefined) clearInterval(timer);
    }
  }

  async #watchLoop(): Promise<void> {
    let backoff = this.#options.backoffMs ?? 200;
    let needList = true;
    while (!this.#stop.signal.aborted) {
      try {
        if (needList) {
          await this.#relist();
          needList = false;
        }
        for await (
          const ev of this.#store.watch<T>(this.resource, {
            namespace: this.#options.namespace,
            labelSelector: this.#options.labelSelector,
            fieldSelector: this.#options.fieldSelector,
            resourceVersion: this.#lastRv,
            allowBookmarks: true,
            signal: this.#stop.signal,
          })
        ) {
          backoff = this.#options.backoffMs ?? 200;
          const obj = ev.object as T;
          if (obj.metadata?.resourceVersion) this.#lastRv = obj.metadata.resourceVersion;
          if (ev.type === "BOOKMARK") continue;
          const key = objectKey(obj);
          const old = this.#cache.get(key);
          if (ev.type === "DELETED") {
            this.#cache.delete(key);
            this.#emit("delete", old ?? obj);
          } else {
            this.#cache.set(key, obj);
            if (old) this.#emit("update", old, obj);
            else this.#emit("add", obj);
          }
        }
        // The server ended the watch (timeout): resume from the last version.
      } catch (err) {
        if (this.#stop.signal.aborted) break;
        this.#options.onError?.(err);
        needList = true;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 30000);
      }
    }
  }
}
