/**
 * The key-value contract under the object store: what SQLite and etcd each
 * provide. Revisions are cluster-wide and increase with every write; the
 * object store turns them into resourceVersions.
 *
 * @module
 */

/** One stored key. */
export interface KvEntry {
  /** The key, e.g. `/registry/pods/default/web`. */
  key: string;
  /** The value (JSON text). */
  value: string;
  /** The revision that created the key. */
  createRevision: number;
  /** The revision of the last write to the key. */
  modRevision: number;
}

/** One change to a key, as a watch delivers it. */
export interface KvEvent {
  /** A create or update (`put`) or a delete. */
  type: "put" | "delete";
  /** The key. */
  key: string;
  /** The value after a put. */
  value?: string;
  /** The value before the change, when there was one. */
  prevValue?: string;
  /** The revision of the change. */
  revision: number;
}

/** A compare-and-swap write: the new value and the modRevision the key must have. */
export interface KvChange {
  /** The new value. */
  value: string;
  /** The modRevision the key must still have. */
  expect: number;
}

/** Options of `KvBackend.watch`. */
export interface KvWatchOptions {
  /** Deliver revisions above this one. */
  after: number;
  /** Ends the stream. */
  signal: AbortSignal;
}

/** A page of a range read. */
export interface KvRange {
  /** The entries, in key order. */
  entries: KvEntry[];
  /** The revision the read saw. */
  revision: number;
  /** True when more keys follow. */
  more: boolean;
}

/** Options of `KvBackend.range`. */
export interface KvRangeOptions {
  /** Start at this key (inclusive); the prefix's first key by default. */
  startKey?: string;
  /** The most entries to return; 0 for all. @default 0 */
  limit?: number;
  /** Read as of this revision where the backend keeps history (etcd). */
  revision?: number;
}

/** Raised when a compare-and-swap finds the key in another state. */
export class KvConflictError extends Error {
  /** The entry found, or undefined when the key is absent. */
  readonly current?: KvEntry;
  /** Creates the error. @param message What was expected. @param current What was found. */
  constructor(message: string, current?: KvEntry) {
    super(message);
    this.name = "KvConflictError";
    this.current = current;
  }
}

/** Raised when a watch or a read asks for a revision that was compacted away. */
export class KvCompactedError extends Error {
  /** The oldest revision still available. */
  readonly compactRevision: number;
  /** Creates the error. @param message Both revisions. @param compactRevision The oldest available. */
  constructor(message: string, compactRevision: number) {
    super(message);
    this.name = "KvCompactedError";
    this.compactRevision = compactRevision;
  }
}

/** Raised when the backend cannot be reached or fails. */
export class KvUnavailableError extends Error {
  /** Creates the error. @param message What failed. @param options The cause. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KvUnavailableError";
  }
}

/** A key-value store with revisions, compare-and-swap and watch. */
export interface KvBackend {
  /** A short name for logs and metrics: `sqlite` or `etcd`. */
  readonly name: string;
  /** Reads one key. */
  get(key: string): Promise<KvEntry | undefined>;
  /** Reads the keys under a prefix, in key order. */
  range(prefix: string, options?: KvRangeOptions): Promise<KvRange>;
  /**
   * Writes a key that must not exist.
   * @returns The new revision.
   * @throws {KvConflictError} When it exists.
   */
  create(key: string, value: string): Promise<number>;
  /**
   * Writes a key whose modRevision must be `change.expect`.
   * @returns The new revision.
   * @throws {KvConflictError} When it differs or the key is gone.
   */
  update(key: string, change: KvChange): Promise<number>;
  /**
   * Deletes a key whose modRevision must be `expect`.
   * @returns The new revision.
   * @throws {KvConflictError} When it differs or the key is gone.
   */
  delete(key: string, expect: number): Promise<number>;
  /**
   * Streams changes under a prefix with a revision above `options.after`, in order.
   * @throws {KvCompactedError} When `after` is older than the history kept.
   */
  watch(prefix: string, options: KvWatchOptions): AsyncIterable<KvEvent>;
  /** The latest revision. */
  revision(): Promise<number>;
  /**
   * Forgets the history up to and including a revision: watches from before
   * it then fail with `KvCompactedError`.
   */
  compact(revision: number): Promise<void>;
  /** Releases the backend. */
  close(): Promise<void>;
}
