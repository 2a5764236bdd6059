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
export * from "./apiserver/event_ttl.ts";
export * from "./apiserver/rate_limit.ts";
export * from "./apiserver/metrics.ts";
export * from "./apiserver/log.ts";
export * from "./apiserver/paths.ts";
export * from "./apiserver/merge_patch.ts";
export * from "./apiserver/server.ts";
export * from "./apiserver/control_plane.ts";
export {
  jsonLineLogger,
  type LogRecord,
  Scheduler,
  type SchedulerOptions,
} from "./scheduler/scheduler.ts";
export {
  type RunningScheduler,
  startScheduler,
  type StartSchedulerOptions,
} from "./scheduler/start.ts";
export { BindingError, StoreClient, type StoreClientOptions } from "./scheduler/store_client.ts";
export {
  type Binding,
  MemoryClient,
  type SchedulerClient,
  type SchedulerEvent,
} from "./scheduler/client.ts";
export { fitErrorMessage, Framework, type FrameworkOptions } from "./scheduler/framework.ts";
export * from "./scheduler/plugin.ts";
export { Registry, SchedulerConfigError } from "./scheduler/registry.ts";
export * from "./scheduler/profile.ts";
export { CycleState } from "./scheduler/cycle_state.ts";
export {
  type Code,
  errorStatus,
  isSuccess,
  SKIP,
  type Status as PluginStatus,
  status,
  SUCCESS,
} from "./scheduler/status.ts";
export { NodeInfo } from "./scheduler/node_info.ts";
export * from "./scheduler/pod_info.ts";
export * from "./scheduler/snapshot.ts";
export * from "./scheduler/queue.ts";
export * from "./scheduler/metrics.ts";
export * from "./scheduler/builders.ts";
export { inTreeRegistry } from "./plugins/registry.ts";
export type { LabelMatcher, NodeMatcher } from "./scheduler/selectors.ts";
export type { MemoryClientCall } from "./scheduler/client.ts";
export { type PodRequests, type Resources } from "./scheduler/resources.ts";
