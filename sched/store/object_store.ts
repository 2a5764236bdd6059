/**
 * The object store: Kubernetes' storage semantics (uids, resourceVersions,
 * generations, finalizers, graceful deletion, status subresource, selectors,
 * pagination, watch with replay) on top of any {@linkcode KvBackend}. SQLite
 * and etcd differ only below this line, so one conformance suite covers both.
 *
 * Watches share one upstream watch per resource (a watch cache, as the
 * kube-apiserver's cacher): recent events are kept decoded in memory so that
 * thousands of watchers cost one backend stream, and a watcher resuming from
 * a recent resourceVersion replays from memory.
 *
 * @module
 */
import {
  AlreadyExistsError,
  ApiError,
  type ApiObject,
  BadRequestError,
  ConflictError,
  type CreateOptions,
  type DeleteOptions,
  ExpiredError,
  type FieldRequirement,
  type GetOptions,
  type ListOptions,
  matchesFieldSelector,
  matchesSelector,
  NotFoundError,
  type ObjectList,
  parseFieldSelector,
  parseSelector,
  resourceByName,
  resourceForKind,
  type ResourceInfo,
  type Selector,
  type Store,
  type UpdateOptions,
  type WatchEvent,
  type WatchOptions,
} from "@tsk/api";
import {
  type KvBackend,
  KvCompactedError,
  KvConflictError,
  type KvEntry,
  type KvEvent,
  KvUnavailableError,
} from "./kv.ts";
import { AsyncQueue } from "./_queue.ts";

/** Options of {@linkcode ObjectStore}. */
export interface ObjectStoreOptions {
  /**
   * The clock for creation and deletion timestamps.
   * @default () => new Date()
   */
  now?: () => Date;
  /**
   * Recent events kept decoded in memory per resource, for watchers resuming
   * from a recent resourceVersion.
   * @default 10000
   */
  historyWindow?: number;
  /**
   * Events a watcher may fall behind before it is closed with an error
   * (it then relists).
   * @default 100000
   */
  maxWatcherBacklog?: number;
  /**
   * Objects this store wrote recently, kept (as copies) with the revision
   * they were written at, so that an update naming that resourceVersion
   * merges onto them without reading the key back (the write is still a
   * compare-and-swap on that revision). Events are not kept. 0 turns it off.
   * @default 16384
   */
  recentObjects?: number;
}

/** Where {@linkcode ObjectStore.subscribe} delivers a watch. */
export interface WatchSink {
  /** Receives the next event. */
  push(event: WatchEvent): void;
  /** Receives the error that ends the watch (then `end` follows). */
  fail(error: Error): void;
  /** Called once when the watch ends, for whatever reason. */
  end(): void;
  /** How many events wait undelivered; past the limit the watch fails as Expired. */
  backlog(): number;
}

/** The error of an `ObjectStore` whose backend failed (503). */
export class StoreUnavailableError extends ApiError {
  /** Creates the error. @param message What failed. @param options The cause. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, "ServiceUnavailable", 503, options);
    this.name = "StoreUnavailableError";
  }
}

/**
 * A change, decoded once for every watcher. The previous object is parsed
 * only when a watcher needs it (a selector to match, a DELETED event): most
 * watchers of updates do not.
 */
class Decoded {
  readonly type: "put" | "delete";
  readonly revision: number;
  readonly key: string;
  readonly object?: ApiObject;
  /** Whether the key held a value before the change. */
  readonly hadPrev: boolean;
  /** The DELETED event, made once when the first watcher needs it. */
  deleted?: WatchEvent;
  /**
   * The events with the new object, made once each when the first watcher
   * needs it, so that 10,000 watchers of a change share one event (and its
   * encoding) rather than allocate one each.
   */
  #withObject?: Partial<Record<"ADDED" | "MODIFIED" | "DELETED", WatchEvent>>;
  #prevValue?: string;
  #prev?: ApiObject;

  /**
   * Decodes a change.
   * @param ev The change.
   * @param known The object as this store wrote it at that revision, when it still has it: copied, not parsed.
   */
  constructor(ev: KvEvent, known?: ApiObject) {
    this.type = ev.type;
    this.revision = ev.revision;
    this.key = ev.key;
    this.object = ev.value === undefined
      ? undefined
      : known
      ? cloneJson(known)
      : decode(ev.value, ev.revision);
    this.hadPrev = ev.prevValue !== undefined;
    this.#prevValue = ev.prevValue;
  }

  /**
   * The event of a type that carries the new object, the same object for every watcher.
   * @param type ADDED, MODIFIED, or DELETED (the object left a watcher's selector).
   * @returns The event.
   */
  withObject(type: "ADDED" | "MODIFIED" | "DELETED"): WatchEvent {
    const events = this.#withObject ??= {};
    return events[type] ??= { type, object: this.object! };
  }

  /** The object before the change. */
  get prev(): ApiObject | undefined {
    if (this.#prev === undefined && this.#prevValue !== undefined) {
      this.#prev = decode(this.#prevValue, this.revision);
      this.#prevValue = undefined;
    }
    return this.#prev;
  }
}

interface Filter {
  prefix: string;
  labels: Selector;
  fields: FieldRequirement[];
}

const ROOT = "/registry/";

function resourceInfo(resource: string): ResourceInfo {
  const info = resourceByName(resource);
  if (!info) {
    throw new NotFoundError(
      `resource: the server does not serve ${JSON.stringify(resource)}`,
    );
  }
  return info;
}

function checkName(name: unknown, field: string): string {
  if (
    typeof name !== "string" || name === "" || name.includes("/") ||
    name === "." || name === ".."
  ) {
    throw new BadRequestError(
      `${field}: expected a name without '/', got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

function keyOf(
  info: ResourceInfo,
  namespace: string | undefined,
  name: string,
): string {
  if (info.namespaced) {
    if (!namespace) {
      throw new BadRequestError(
        `metadata.namespace: required for ${info.plural}`,
      );
    }
    return `${ROOT}${info.plural}/${checkName(namespace, "metadata.namespace")}/${
      checkName(name, "metadata.name")
    }`;
  }
  return `${ROOT}${info.plural}/${checkName(name, "metadata.name")}`;
}

function prefixOf(info: ResourceInfo, namespace?: string): string {
  if (info.namespaced && namespace) {
    return `${ROOT}${info.plural}/${checkName(namespace, "namespace")}/`;
  }
  return `${ROOT}${info.plural}/`;
}

function decode(value: string, revision: number): ApiObject {
  const obj = JSON.parse(value) as ApiObject;
  obj.metadata.resourceVersion = String(revision);
  return obj;
}

function encode(obj: ApiObject): string {
  const { resourceVersion: _rv, ...meta } = obj.metadata;
  return JSON.stringify({ ...obj, metadata: meta });
}

/**
 * A deep copy of a JSON value as `JSON.parse(JSON.stringify(v))` would make
 * it (undefined properties dropped, undefined array items and non-finite
 * numbers as null), without the text: several times cheaper than that or
 * `structuredClone` (the V8 serializer) for the small objects of the store.
 */
function cloneJson<T>(v: T): T {
  return copyJson(v) as T;
}

function copyJson(v: unknown): unknown {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) {
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const item = v[i];
      out[i] = item === undefined || typeof item === "function" ? null : copyJson(item);
    }
    return out;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) {
    // Not plain JSON (a Date, a class): copy it as the store will write it.
    return JSON.parse(JSON.stringify(v));
  }
  const out: Record<string, unknown> = {};
  const src = v as Record<string, unknown>;
  for (const k in src) {
    const val = src[k];
    if (val !== undefined && typeof val !== "function") out[k] = copyJson(val);
  }
  return out;
}

/**
 * Whether two JSON values are equal as JSON (undefined properties absent,
 * key order ignored), without building their text.
 */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return false;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
      // JSON writes undefined array items as null.
      if (!sameJson(a[i] ?? null, b[i] ?? null)) return false;
    }
    return true;
  }
  if (Array.isArray(b)) return false;
  return sameFields(a as Record<string, unknown>, b as Record<string, unknown>);
}

/** {@linkcode sameJson} for two objects, ignoring up to two keys. */
function sameFields(
  x: Record<string, unknown>,
  y: Record<string, unknown>,
  skip?: string,
  skip2?: string,
): boolean {
  let nx = 0;
  for (const k in x) {
    if (k === skip || k === skip2 || x[k] === undefined) continue;
    nx++;
    if (!sameJson(x[k], y[k])) return false;
  }
  let ny = 0;
  for (const k in y) if (k !== skip && k !== skip2 && y[k] !== undefined) ny++;
  return nx === ny;
}

type Fields = Record<string, unknown>;

/** Whether two objects have the same spec: everything but metadata and status. */
function sameSpec(a: ApiObject, b: ApiObject): boolean {
  return sameFields(a as unknown as Fields, b as unknown as Fields, "metadata", "status");
}

/** Whether an update changes nothing that is stored (the resourceVersion is not). */
function unchanged(next: ApiObject, prev: ApiObject): boolean {
  return sameFields(next as unknown as Fields, prev as unknown as Fields, "metadata") &&
    sameFields(
      next.metadata as unknown as Fields,
      prev.metadata as unknown as Fields,
      "resourceVersion",
    );
}

function describe(info: ResourceInfo, name: string): string {
  return `${info.plural} ${JSON.stringify(name)}`;
}

function randomSuffix(): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}

function parseRv(rv: string | undefined, field: string): number | undefined {
  if (rv === undefined || rv === "") return undefined;
  if (!/^\d+$/.test(rv)) {
    throw new BadRequestError(
      `${field}: expected a number, got ${JSON.stringify(rv)}`,
    );
  }
  return Number(rv);
}

function encodeContinue(key: string, revision: number): string {
  return btoa(JSON.stringify({ k: key, rv: revision }));
}

function decodeContinue(token: string): { k: string; rv: number } {
  try {
    const v = JSON.parse(atob(token));
    if (typeof v.k === "string" && typeof v.rv === "number") return v;
  } catch {
    // fall through
  }
  throw new BadRequestError(
    "continue: expected the token from a previous list's metadata.continue",
  );
}

function wrap(err: unknown): unknown {
  if (err instanceof KvCompactedError) {
    return new ExpiredError(
      `resourceVersion: too old (${err.message}); list again and watch from the list's resourceVersion`,
      { cause: err },
    );
  }
  if (err instanceof KvUnavailableError) {
    return new StoreUnavailableError(`store: ${err.message}`, { cause: err });
  }
  return err;
}

/**
 * Timers shared by every watch with the same interval: one `setInterval`
 * per distinct interval rather than one per watcher, so 10,000 watchers'
 * bookmarks go out together, once per interval (a watcher's first may come
 * sooner than one interval after it started, never later).
 */
class Ticker {
  #groups = new Map<number, { timer: ReturnType<typeof setInterval>; entries: Set<() => void> }>();

  add(everyMs: number, fire: () => void): () => void {
    let group = this.#groups.get(everyMs);
    if (!group) {
      const entries = new Set<() => void>();
      const timer = setInterval(() => {
        for (const f of [...entries]) f();
      }, everyMs);
      group = { timer, entries };
      this.#groups.set(everyMs, group);
    }
    const g = group;
    g.entries.add(fire);
    return () => {
      g.entries.delete(fire);
      if (g.entries.size === 0 && this.#groups.get(everyMs) === g) {
        clearInterval(g.timer);
        this.#groups.delete(everyMs);
      }
    };
  }
}

/** One resource's shared upstream watch and recent history. */
class Feed {
  readonly history: Decoded[] = [];
  /** Every event with a revision above this is in `history`. */
  startRev = 0;
  lastRev = 0;
  readonly subscribers = new Set<(e: Decoded | Error) => void>();
  #abort = new AbortController();
  #ready: Promise<void>;
  #kv: KvBackend;
  #prefix: string;
  #window: number;
  #onEnd: () => void;
  #known: (key: string, rev: number) => ApiObject | undefined;

  constructor(
    kv: KvBackend,
    prefix: string,
    window: number,
    onEnd: () => void,
    known: (key: string, rev: number) => ApiObject | undefined,
  ) {
    this.#kv = kv;
    this.#prefix = prefix;
    this.#window = window;
    this.#onEnd = onEnd;
    this.#known = known;
    this.#ready = this.#start();
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  async #start(): Promise<void> {
    this.startRev = this.lastRev = await this.#kv.revision();
    this.#run();
  }

  async #run(): Promise<void> {
    try {
      for await (
        const ev of this.#kv.watch(this.#prefix, {
          after: this.lastRev,
          signal: this.#abort.signal,
        })
      ) {
        const d = new Decoded(ev, this.#known(ev.key, ev.revision));
        this.lastRev = ev.revision;
        this.history.push(d);
        if (this.history.length > this.#window * 1.25) {
          const drop = this.history.length - this.#window;
          this.startRev = this.history[drop - 1].revision;
          this.history.splice(0, drop);
        }
        for (const s of this.subscribers) s(d);
      }
    } catch (err) {
      if (!this.#abort.signal.aborted) {
        const e = wrap(err) as Error;
        for (const s of this.subscribers) {
          s(
            e instanceof Error ? e : new Error(String(e)),
          );
        }
      }
    } finally {
      this.#abort.abort();
      this.#onEnd();
    }
  }

  stop(): void {
    this.#abort.abort();
  }

  forget(revision: number): void {
    if (revision <= this.startRev) return;
    let drop = 0;
    while (drop < this.history.length && this.history[drop].revision <= revision) drop++;
    this.history.splice(0, drop);
    this.startRev = Math.min(revision, this.lastRev);
  }
}

/**
 * A `Store` over a key-value backend.
 *
 * @example Keep objects in SQLite
 * ```ts
 * import type { ConfigMap } from "@tsk/api";
 * import { ObjectStore, SqliteKv } from "@tsk/sched";
 * const kv = new SqliteKv(":memory:");
 * const store = new ObjectStore(kv);
 * const cm = await store.create<ConfigMap>({
 *   apiVersion: "v1", kind: "ConfigMap",
 *   metadata: { name: "settings", namespace: "default" }, data: { a: "1" },
 * });
 * console.log(cm.metadata.resourceVersion);
 * await store.close();
 * ```
 */
export class ObjectStore implements Store {
  /** The key-value backend underneath. */
  readonly kv: KvBackend;
  #now: () => Date;
  #window: number;
  #backlog: number;
  /** See {@linkcode ObjectStoreOptions.recentObjects}; oldest first. */
  #recent = new Map<string, { rev: number; obj: ApiObject }>();
  #recentMax: number;
  #feeds = new Map<string, Feed>();
  #closed = new AbortController();
  #bookmarks = new Ticker();
  #lastBookmark = new Map<string, WatchEvent>();

  /**
   * Creates an object store.
   * @param kv The backend.
   * @param options Clock, history window, watcher backlog.
   */
  constructor(kv: KvBackend, options: ObjectStoreOptions = {}) {
    this.kv = kv;
    this.#now = options.now ?? (() => new Date());
    this.#window = options.historyWindow ?? 10000;
    this.#recentMax = options.recentObjects ?? 16384;
    this.#backlog = options.maxWatcherBacklog ?? 100000;
  }

  /** The object this store wrote at `key` and `rev`, when it still has it (read-only). */
  #knownAt(key: string, rev: number): ApiObject | undefined {
    const e = this.#recent.get(key);
    return e && e.rev === rev ? e.obj : undefined;
  }

  #remember(info: ResourceInfo, key: string, rev: number, obj: ApiObject): void {
    if (this.#recentMax === 0 || info.kind === "Event") return;
    this.#recent.delete(key);
    this.#recent.set(key, { rev, obj: cloneJson(obj) });
    if (this.#recent.size > this.#recentMax) {
      this.#recent.delete(this.#recent.keys().next().value!);
    }
  }

  /** Watchers open now, over all resources. */
  get watcherCount(): number {
    let n = 0;
    for (const f of this.#feeds.values()) n += f.subscribers.size;
    return n;
  }

  /**
   * Reads one object.
   * @param resource The plural name, e.g. `pods`.
   * @param name The object's name.
   * @param options The namespace.
   * @returns The object.
   */
  async get<T extends ApiObject = ApiObject>(
    resource: string,
    name: string,
    options: GetOptions = {},
  ): Promise<T> {
    const info = resourceInfo(resource);
    const entry = await this.#kvGet(keyOf(info, options.namespace, name));
    if (!entry) throw new NotFoundError(`${describe(info, name)} not found`);
    return decode(entry.value, entry.modRevision) as T;
  }

  async #kvGet(key: string): Promise<KvEntry | undefined> {
    try {
      return await this.kv.get(key);
    } catch (err) {
      throw wrap(err);
    }
  }

  /**
   * Lists objects.
   * @param resource The plural name.
   * @param options Namespace, selectors and pagination.
   * @returns The items with the list's resourceVersion and continue token.
   */
  async list<T extends ApiObject = ApiObject>(
    resource: string,
    options: ListOptions = {},
  ): Promise<ObjectList<T>> {
    const info = resourceInfo(resource);
    const filter = this.#filter(info, options);
    const limit = options.limit ?? 0;
    if (!Number.isInteger(limit) || limit < 0) {
      throw new BadRequestError(
        `limit: expected a non-negative integer, got ${limit}`,
      );
    }
    let startKey: string | undefined;
    let revision: number | undefined;
    if (options.continue) {
      const c = decodeContinue(options.continue);
      startKey = c.k + "\x00";
      revision = c.rv;
    }
    const items: T[] = [];
    let next: string | undefined;
    try {
      while (true) {
        const want = limit === 0 ? 0 : Math.max(limit - items.length, 64);
        const page = await this.kv.range(filter.prefix, {
          startKey,
          limit: want,
          revision,
        });
        revision ??= page.revision;
        let stoppedAt = -1;
        for (let i = 0; i < page.entries.length; i++) {
          const e = page.entries[i];
          const obj = decode(e.value, e.modRevision);
          if (this.#matches(filter, e.key, obj)) items.push(obj as T);
          if (limit > 0 && items.length === limit) {
            stoppedAt = i;
            break;
          }
        }
        if (stoppedAt >= 0) {
          if (stoppedAt < page.entries.length - 1 || page.more) {
            next = encodeContinue(page.entries[stoppedAt].key, revision);
          }
          break;
        }
        if (!page.more || page.entries.length === 0) break;
        startKey = page.entries[page.entries.length - 1].key + "\x00";
      }
    } catch (err) {
      throw wrap(err);
    }
    const metadata: ObjectList["metadata"] = {
      resourceVersion: String(revision),
    };
    if (next) metadata.continue = next;
    return {
      apiVersion: info.apiVersion,
      kind: `${info.kind}List`,
      metadata,
      items,
    };
  }

  #filter(
    info: ResourceInfo,
    options: {
      namespace?: string;
      labelSelector?: string;
      fieldSelector?: string;
    },
  ): Filter {
    return {
      prefix: prefixOf(info, options.namespace),
      labels: parseSelector(options.labelSelector ?? ""),
      fields: parseFieldSelector(options.fieldSelector ?? ""),
    };
  }

  #matches(filter: Filter, key: string, obj: ApiObject): boolean {
    return key.startsWith(filter.prefix) &&
      matchesSelector(filter.labels, obj.metadata.labels) &&
      matchesFieldSelector(filter.fields, obj);
  }

  #info(obj: ApiObject): ResourceInfo {
    const info = obj && typeof obj === "object"
      ? resourceForKind(obj.apiVersion, obj.kind)
      : undefined;
    if (!info) {
      throw new BadRequestError(
        `kind: expected a served apiVersion and kind, got ${JSON.stringify(obj?.apiVersion)} ${
          JSON.stringify(obj?.kind)
        }`,
      );
    }
    if (!obj.metadata || typeof obj.metadata !== "object") {
      throw new BadRequestError("metadata: required: an object with a name");
    }
    return info;
  }

  /**
   * Stores a new object.
   * @param object The object; `metadata.name` or `generateName` must be set.
   * @param options Dry run.
   * @returns The stored object.
   */
  async create<T extends ApiObject = ApiObject>(
    object: T,
    options: CreateOptions = {},
  ): Promise<T> {
    const info = this.#info(object);
    const meta = { ...object.metadata };
    if (!meta.name && meta.generateName) {
      meta.name = meta.generateName + randomSuffix();
    }
    if (!info.namespaced) delete meta.namespace;
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    meta.uid = crypto.randomUUID();
    meta.creationTimestamp = this.#now().toISOString().replace(/\.\d+Z$/, "Z");
    meta.generation = 1;
    const obj = { ...object, metadata: meta } as T;
    const key = keyOf(info, meta.namespace, meta.name ?? "");
    if (options.dryRun) return obj;
    try {
      const rev = await this.kv.create(key, encode(obj));
      obj.metadata.resourceVersion = String(rev);
      this.#remember(info, key, rev, obj);
      return obj;
    } catch (err) {
      if (err instanceof KvConflictError) {
        throw new AlreadyExistsError(
          `${describe(info, meta.name!)} already exists`,
        );
      }
      throw wrap(err);
    }
  }

  /**
   * Replaces an object, with optimistic concurrency when
   * `metadata.resourceVersion` is set.
   * @param object The new object.
   * @param options `subresource: "status"` to write only the status.
   * @returns The stored object.
   */
  async update<T extends ApiObject = ApiObject>(
    object: T,
    options: UpdateOptions = {},
  ): Promise<T> {
    const info = this.#info(object);
    const name = object.metadata.name ?? "";
    const key = keyOf(
      info,
      info.namespaced ? object.metadata.namespace : undefined,
      name,
    );
    const wanted = parseRv(
      object.metadata.resourceVersion,
      "metadata.resourceVersion",
    );
    for (let attempt = 0;; attempt++) {
      // The object at the named revision, when this store wrote it: no read.
      const known = wanted !== undefined && attempt === 0 ? this.#recent.get(key) : undefined;
      let prev: ApiObject;
      let curRev: number;
      if (known && known.rev === wanted) {
        prev = known.obj; // shared with the cache: read, never returned or changed
        curRev = wanted;
      } else {
        const cur = await this.#kvGet(key);
        if (!cur) throw new NotFoundError(`${describe(info, name)} not found`);
        if (wanted !== undefined && wanted !== cur.modRevision) {
          throw new ConflictError(
            `Operation cannot be fulfilled on ${
              describe(info, name)
            }: the object has been modified ` +
              `(resourceVersion ${wanted}, stored ${cur.modRevision}); read it again and retry`,
          );
        }
        prev = decode(cur.value, cur.modRevision);
        curRev = cur.modRevision;
      }
      const next = this.#merge(info, prev, object, options);
      if (object.metadata.uid && object.metadata.uid !== prev.metadata.uid) {
        throw new ConflictError(
          `Operation cannot be fulfilled on ${
            describe(info, name)
          }: metadata.uid ${object.metadata.uid} ` +
            `does not match the stored object's ${prev.metadata.uid}`,
        );
      }
      const finalDelete = next.metadata.deletionTimestamp !== undefined &&
        (next.metadata.finalizers ?? []).length === 0 &&
        (prev.metadata.finalizers ?? []).length > 0;
      try {
        if (finalDelete) {
          this.#recent.delete(key);
          await this.kv.delete(key, curRev);
          return next as T;
        }
        if (unchanged(next, prev)) {
          // Nothing to write, so no compare-and-swap: read to check the version.
          if (prev === known?.obj) continue;
          return prev as T;
        }
        const rev = await this.kv.update(key, { value: encode(next), expect: curRev });
        next.metadata.resourceVersion = String(rev);
        this.#remember(info, key, rev, next);
        return next as T;
      } catch (err) {
        if (
          err instanceof KvConflictError && wanted === undefined && attempt < 20
        ) continue;
        if (err instanceof KvConflictError) {
          if (!err.current) {
            throw new NotFoundError(`${describe(info, name)} not found`);
          }
          throw new ConflictError(
            `Operation cannot be fulfilled on ${
              describe(info, name)
            }: the object has been modified; ` +
              "read it again and retry",
          );
        }
        throw wrap(err);
      }
    }
  }

  #merge(
    info: ResourceInfo,
    prev: ApiObject,
    object: ApiObject,
    options: UpdateOptions,
  ): ApiObject {
    let next: ApiObject;
    if (options.subresource === "status") {
      next = cloneJson(prev);
      next.status = cloneJson(object.status);
    } else {
      next = cloneJson(object);
      if (info.statusSubresource) {
        if (prev.status === undefined) delete next.status;
        else next.status = cloneJson(prev.status);
      }
    }
    const m = next.metadata;
    m.name = prev.metadata.name;
    m.uid = prev.metadata.uid;
    m.creationTimestamp = prev.metadata.creationTimestamp;
    if (info.namespaced) m.namespace = prev.metadata.namespace;
    else delete m.namespace;
    delete m.generateName;
    if (prev.metadata.generateName) m.generateName = prev.metadata.generateName;
    // Deletion marks are the server's: a client can neither set nor clear them.
    if (prev.metadata.deletionTimestamp) {
      m.deletionTimestamp = prev.metadata.deletionTimestamp;
      if (prev.metadata.deletionGracePeriodSeconds !== undefined) {
        m.deletionGracePeriodSeconds = prev.metadata.deletionGracePeriodSeconds;
      }
    } else {
      delete m.deletionTimestamp;
      delete m.deletionGracePeriodSeconds;
    }
    if (options.subresource === "status") {
      m.finalizers = prev.metadata.finalizers;
      if (m.finalizers === undefined) delete m.finalizers;
    }
    const gen = prev.metadata.generation ?? 1;
    m.generation = sameSpec(next, prev) ? gen : gen + 1;
    delete m.resourceVersion;
    return next;
  }

  /**
   * Deletes an object, or marks it for deletion.
   * @param resource The plural name.
   * @param name The object's name.
   * @param options Namespace, preconditions, grace period.
   * @returns The deleted or marked object.
   */
  async delete<T extends ApiObject = ApiObject>(
    resource: string,
    name: string,
    options: DeleteOptions = {},
  ): Promise<T> {
    const info = resourceInfo(resource);
    const key = keyOf(info, options.namespace, name);
    const wanted = parseRv(
      options.resourceVersion,
      "preconditions.resourceVersion",
    );
    this.#recent.delete(key);
    for (let attempt = 0;; attempt++) {
      const cur = await this.#kvGet(key);
      if (!cur) throw new NotFoundError(`${describe(info, name)} not found`);
      const obj = decode(cur.value, cur.modRevision);
      if (wanted !== undefined && wanted !== cur.modRevision) {
        throw new ConflictError(
          `Operation cannot be fulfilled on ${describe(info, name)}: precondition failed ` +
            `(resourceVersion ${wanted}, stored ${cur.modRevision}); read it again and retry`,
        );
      }
      if (options.uid && options.uid !== obj.metadata.uid) {
        throw new ConflictError(
          `Operation cannot be fulfilled on ${describe(info, name)}: precondition failed ` +
            `(uid ${options.uid}, stored ${obj.metadata.uid})`,
        );
      }
      let marked: ApiObject | undefined;
      const finalizers = obj.metadata.finalizers ?? [];
      const now = this.#now();
      if (finalizers.length > 0) {
        if (obj.metadata.deletionTimestamp) return obj as T;
        marked = cloneJson(obj);
        marked.metadata.deletionTimestamp = now.toISOString().replace(
          /\.\d+Z$/,
          "Z",
        );
        marked.metadata.deletionGracePeriodSeconds = options.gracePeriodSeconds ?? 0;
      } else if (info.kind === "Pod") {
        const spec = (obj.spec ?? {}) as {
          nodeName?: string;
          terminationGracePeriodSeconds?: number;
        };
        const grace = options.gracePeriodSeconds ??
          spec.terminationGracePeriodSeconds ?? 30;
        const phase = (obj.status as { phase?: string } | undefined)?.phase;
        const finished = phase === "Succeeded" || phase === "Failed";
        if (spec.nodeName && grace > 0 && !finished) {
          const prevGrace = obj.metadata.deletionGracePeriodSeconds;
          if (
            obj.metadata.deletionTimestamp && prevGrace !== undefined &&
            prevGrace <= grace
          ) {
            return obj as T;
          }
          marked = cloneJson(obj);
          marked.metadata.deletionTimestamp = new Date(
            now.getTime() + grace * 1000,
          ).toISOString()
            .replace(/\.\d+Z$/, "Z");
          marked.metadata.deletionGracePeriodSeconds = grace;
        }
      }
      try {
        if (marked) {
          const rev = await this.kv.update(key, { value: encode(marked), expect: cur.modRevision });
          marked.metadata.resourceVersion = String(rev);
          return marked as T;
        }
        await this.kv.delete(key, cur.modRevision);
        return obj as T;
      } catch (err) {
        if (
          err instanceof KvConflictError && wanted === undefined && attempt < 20
        ) continue;
        if (err instanceof KvConflictError) {
          throw new ConflictError(
            `Operation cannot be fulfilled on ${
              describe(info, name)
            }: the object has been modified`,
          );
        }
        throw wrap(err);
      }
    }
  }

  /**
   * Streams changes to a resource. Without a resourceVersion it first sends
   * an ADDED event for every existing object, as Kubernetes does.
   * @param resource The plural name.
   * @param options Namespace, selectors, start version, bookmarks, signal.
   * @returns The events.
   */
  watch<T extends ApiObject = ApiObject>(
    resource: string,
    options: WatchOptions = {},
  ): AsyncIterable<WatchEvent<T>> {
    const info = resourceInfo(resource);
    const filter = this.#filter(info, options);
    const from = parseRv(options.resourceVersion, "resourceVersion");
    return this.#watch(info, filter, from, options) as AsyncIterable<
      WatchEvent<T>
    >;
  }

  async *#watch(
    info: ResourceInfo,
    filter: Filter,
    from: number | undefined,
    options: WatchOptions,
  ): AsyncGenerator<WatchEvent> {
    let cancel = () => {};
    const queue = new AsyncQueue<WatchEvent>(() => cancel());
    try {
      cancel = await this.#subscribe(info, filter, from, options, {
        push: (ev) => queue.push(ev),
        fail: (err) => queue.fail(err),
        end: () => queue.close(),
        backlog: () => queue.size,
      });
      yield* queue;
    } finally {
      cancel();
    }
  }

  /**
   * Delivers changes to a resource to a sink, without an async iterator per
   * event: the API server writes them straight to the watcher's stream.
   * Same semantics as {@linkcode ObjectStore.watch}.
   * @param resource The plural name.
   * @param sink Receives events, the error that ends the watch, or its end.
   * @param options Namespace, selectors, start version, bookmarks, signal.
   * @returns A function that ends the watch.
   */
  subscribe(
    resource: string,
    sink: WatchSink,
    options: WatchOptions = {},
  ): Promise<() => void> {
    const info = resourceInfo(resource);
    const filter = this.#filter(info, options);
    const from = parseRv(options.resourceVersion, "resourceVersion");
    return this.#subscribe(info, filter, from, options, sink);
  }

  async #subscribe(
    info: ResourceInfo,
    filter: Filter,
    from: number | undefined,
    options: WatchOptions,
    sink: WatchSink,
  ): Promise<() => void> {
    // Only a watch older than the shared history reads the backend itself and needs a signal.
    let stop: AbortController | undefined;
    let stopBookmarks = () => {};
    let unsubscribe = () => {};
    let ended = false;
    const cancel = () => {
      if (ended) return;
      ended = true;
      stopBookmarks();
      unsubscribe();
      stop?.abort();
      options.signal?.removeEventListener("abort", onAbort);
      this.#closed.signal.removeEventListener("abort", onAbort);
      sink.end();
    };
    const onAbort = () => cancel();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    this.#closed.signal.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted || this.#closed.signal.aborted) {
      cancel();
      return cancel;
    }
    const fail = (err: Error) => {
      if (ended) return;
      sink.fail(err);
      cancel();
    };
    try {
      const initial: WatchEvent[] = [];
      if (from === undefined || from === 0) {
        const list = await this.list(info.plural, {
          namespace: options.namespace,
          labelSelector: options.labelSelector,
          fieldSelector: options.fieldSelector,
        });
        for (const item of list.items) initial.push({ type: "ADDED", object: item });
        from = Number(list.metadata.resourceVersion);
      }
      let lastRev = from;
      const deliver = (d: Decoded | Error) => {
        if (ended) return;
        if (d instanceof Error) return fail(d);
        if (d.revision <= lastRev) return;
        lastRev = d.revision;
        const ev = this.#toEvent(filter, d);
        if (!ev) return;
        if (sink.backlog() >= this.#backlog) {
          return fail(
            new ExpiredError(
              "watch: the client fell too far behind; list again and watch from the list's resourceVersion",
            ),
          );
        }
        sink.push(ev);
      };
      const feed = await this.#feed(`${ROOT}${info.plural}/`);
      if (ended) return cancel;
      for (const ev of initial) sink.push(ev);
      let direct = false;
      if (from >= feed.startRev) {
        for (const d of feed.history) if (d.revision > from) deliver(d);
        feed.subscribers.add(deliver);
        unsubscribe = () => feed.subscribers.delete(deliver);
      } else {
        // Older than the shared history: a watch of its own from the backend.
        direct = true;
        const start = from;
        const own = stop = new AbortController();
        (async () => {
          try {
            for await (
              const ev of this.kv.watch(filter.prefix, { after: start, signal: own.signal })
            ) {
              deliver(this.#decodeEvent(ev));
            }
          } catch (err) {
            if (!own.signal.aborted) deliver(wrap(err) as Error);
          }
        })();
      }
      if (options.allowBookmarks) {
        stopBookmarks = this.#bookmarks.add(options.bookmarkIntervalMs ?? 10000, () => {
          if (ended) return;
          const rv = direct ? lastRev : Math.max(lastRev, feed.lastRev);
          sink.push(this.#bookmark(info, rv));
        });
      }
    } catch (err) {
      fail(err instanceof Error ? err : new Error(String(err)));
    }
    return cancel;
  }

  /**
   * A BOOKMARK event; the same object for every watcher of a resource at
   * the same version, so that it is encoded once for all of them.
   */
  #bookmark(info: ResourceInfo, rv: number): WatchEvent {
    const last = this.#lastBookmark.get(info.plural);
    if (last && last.object.metadata.resourceVersion === String(rv)) return last;
    const ev: WatchEvent = {
      type: "BOOKMARK",
      object: {
        apiVersion: info.apiVersion,
        kind: info.kind,
        metadata: { resourceVersion: String(rv) },
      },
    };
    this.#lastBookmark.set(info.plural, ev);
    return ev;
  }

  #decodeEvent(ev: KvEvent): Decoded {
    return new Decoded(ev, this.#knownAt(ev.key, ev.revision));
  }

  #toEvent(filter: Filter, d: Decoded): WatchEvent | undefined {
    if (!d.key.startsWith(filter.prefix)) return undefined;
    const nowMatch = d.object !== undefined &&
      this.#matches(filter, d.key, d.object);
    // Without selectors every object under the prefix matches: no need to parse the old one.
    const prevMatch = d.hadPrev &&
      (filter.labels.length === 0 && filter.fields.length === 0 ||
        this.#matches(filter, d.key, d.prev!));
    if (d.type === "delete") {
      if (!prevMatch) return undefined;
      // One object for every watcher, so that it is encoded once.
      if (!d.deleted) {
        const obj = cloneJson(d.prev!);
        obj.metadata.resourceVersion = String(d.revision);
        d.deleted = { type: "DELETED", object: obj };
      }
      return d.deleted;
    }
    if (nowMatch && prevMatch) return d.withObject("MODIFIED");
    if (nowMatch) return d.withObject("ADDED");
    if (prevMatch) return d.withObject("DELETED");
    return undefined;
  }

  async #feed(prefix: string): Promise<Feed> {
    let feed = this.#feeds.get(prefix);
    if (!feed) {
      const f: Feed = new Feed(this.kv, prefix, this.#window, () => {
        if (this.#feeds.get(prefix) === f) this.#feeds.delete(prefix);
      }, (key, rev) => this.#knownAt(key, rev));
      feed = f;
      this.#feeds.set(prefix, f);
    }
    try {
      await feed.ready();
    } catch (err) {
      if (this.#feeds.get(prefix) === feed) this.#feeds.delete(prefix);
      throw wrap(err);
    }
    return feed;
  }

  /**
   * Forgets history up to a revision, in the backend and in the shared
   * watch history: watches from before it then fail with `ExpiredError`.
   * @param revision The last revision to forget.
   */
  async compact(revision: number): Promise<void> {
    try {
      await this.kv.compact(revision);
    } catch (err) {
      throw wrap(err);
    }
    for (const feed of this.#feeds.values()) feed.forget(revision);
  }

  /** Ends every watch and closes the backend. */
  async close(): Promise<void> {
    this.#closed.abort();
    for (const f of this.#feeds.values()) f.stop();
    this.#feeds.clear();
    await this.kv.close();
  }
}
