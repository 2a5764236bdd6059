/**
 * What every route handler gets: the stores, the clock, the settings.
 *
 * @module
 */
import type { Metadata } from "./metadata.ts";
import type { BlobStore } from "./storage.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";

/** The settings the routes read. */
export interface RouteSettings {
  /** Whether DELETE of blobs and manifests is allowed. */
  deleteEnabled: boolean;
  /** The most entries `_catalog` and tag lists return at once. */
  maxPageSize: number;
  /** The largest manifest accepted, in bytes. */
  maxManifestSize: number;
}

/** Shared state of one registry instance. */
export interface RegistryContext {
  /** The SQLite metadata. */
  meta: Metadata;
  /** The blob and upload files. */
  store: BlobStore;
  /** The clock, in ms since the epoch. */
  now: () => number;
  /** The logger. */
  log: Logger;
  /** Limits and switches. */
  settings: RouteSettings;
  /** Serialises work on one upload session. */
  uploadLocks: Map<string, Promise<void>>;
  /** Requests and blob streams in flight, for a graceful shutdown. */
  activity: Activity;
  /** Counters the routes add to (blob bytes in and out). */
  metrics: Metrics;
}

/**
 * Counts work in flight so that shutdown can wait for it.
 *
 * @example Wait for work to end
 * ```ts
 * import { Activity } from "@tsk/registry";
 * const activity = new Activity();
 * const done = activity.begin();
 * done();
 * await activity.idle();
 * ```
 */
export class Activity {
  #n = 0;
  #waiters: (() => void)[] = [];

  /** The number of pieces of work in flight. */
  get count(): number {
    return this.#n;
  }

  /**
   * Starts a piece of work.
   *
   * @returns A function to call (once) when it ends.
   */
  begin(): () => void {
    this.#n++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.#n === 0) this.#waiters.splice(0).forEach((w) => w());
    };
  }

  /**
   * Waits for every piece of work to end.
   *
   * @returns A promise that resolves when nothing is in flight.
   */
  idle(): Promise<void> {
    return this.#n === 0 ? Promise.resolve() : new Promise((r) => this.#waiters.push(r));
  }
}

/**
 * Runs `fn` once no other holder of `key` runs.
 *
 * @param locks The lock table.
 * @param key What to lock.
 * @param fn The work.
 * @returns What `fn` returns.
 *
 * @example Serialise two tasks
 * ```ts
 * import { withLock } from "./context.ts";
 * const locks = new Map<string, Promise<void>>();
 * await Promise.all([withLock(locks, "a", async () => 1), withLock(locks, "a", async () => 2)]);
 * ```
 */
export async function withLock<T>(
  locks: Map<string, Promise<void>>,
  key: string,
  fn: () => Promise<T>,
): Promise<T> {
  while (locks.has(key)) await locks.get(key);
  let release!: () => void;
  locks.set(key, new Promise<void>((r) => release = r));
  try {
    return await fn();
  } finally {
    locks.delete(key);
    release();
  }
}
