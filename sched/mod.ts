/**
 * `@tsk/sched`: the control plane. The object store over SQLite or etcd,
 * the API server, and (from the scheduler's own files) the scheduler.
 *
 * @example Keep objects in an in-memory SQLite store
 * ```ts
 * import { ObjectStore, SqliteKv } from "@tsk/sched";
 * const store = new ObjectStore(new SqliteKv(":memory:"));
 * await store.close();
 * ```
 *
 * @module
 */
export * from "./store/kv.ts";
export * from "./store/object_store.ts";
export * from "./store/sqlite.ts";
