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
export * from "./store/etcd.ts";
export * from "./store/etcd_server.ts";
export * from "./apiserver/app.ts";
export * from "./apiserver/authn.ts";
export * from "./apiserver/authz.ts";
export * from "./apiserver/audit.ts";
export * from "./apiserver/rate_limit.ts";
export * from "./apiserver/metrics.ts";
export * from "./apiserver/log.ts";
export * from "./apiserver/paths.ts";
export * from "./apiserver/merge_patch.ts";
export * from "./apiserver/server.ts";
export * from "./apiserver/control_plane.ts";
