/**
 * What every route handler gets: the stores, the clock, the settings.
 *
 * @module
 */
import type { Metadata } from "./metadata.ts";
import type { BlobStore } from "./storage.ts";
import type { Logger } from "./log.ts";

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
  meta: Metadata;
  store: BlobStore;
  now: () => number;
  log: Logger;
  settings: RouteSettings;
  /** Serialises work on one upload session. */
  uploadLocks: Map<string, Promise<void>>;
}

/**
 * Runs `fn` once no other holder of `key` runs.
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
