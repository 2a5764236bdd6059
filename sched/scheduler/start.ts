/**
 * Wires a scheduler to a store: informers on nodes and pods feed it, a
 * {@linkcode StoreClient} writes its decisions, and its loop runs until
 * stopped. This is what the `scheduler` program starts.
 *
 * @module
 */
import type { Store } from "@tsk/api";
import { inTreeRegistry } from "../plugins/registry.ts";
import { runInformer } from "./informer.ts";
import type { SchedulerConfig } from "./profile.ts";
import type { Registry } from "./registry.ts";
import { type LogRecord, Scheduler } from "./scheduler.ts";
import { StoreClient } from "./store_client.ts";
import type { Node, Pod } from "./types.ts";

/** Options for {@linkcode startScheduler}. */
export interface StartSchedulerOptions {
  /** Profiles. @default the default profile */
  config?: SchedulerConfig;
  /** Plugins. @default inTreeRegistry() */
  registry?: Registry;
  /** Log sink. @default JSON lines on stdout */
  log?: (record: LogRecord) => void;
  /** Seed for tie-breaking. @default 1 */
  seed?: number;
  /** Record a Scheduled Event per bound pod. @default true */
  recordScheduledEvents?: boolean;
}

/** A running scheduler. */
export interface RunningScheduler {
  /** The scheduler (snapshot, queue, metrics). */
  readonly scheduler: Scheduler;
  /** Resolves once nodes and pods have been listed. */
  readonly synced: Promise<void>;
  /** Stops informers and the loop; in-flight bindings are written first. */
  stop(): Promise<void>;
}

/**
 * Starts a scheduler on a store.
 *
 * @param store The store (SQLite or etcd backed, or an API client).
 * @param options Profiles, plugins, logging.
 * @returns The running scheduler.
 *
 * @example Schedule a pod through an in-memory SQLite store
 * ```ts
 * import { ObjectStore, SqliteKv } from "@tsk/sched";
 * import { startScheduler } from "./start.ts";
 * import { makeNode, makePod } from "./builders.ts";
 * const store = new ObjectStore(new SqliteKv(":memory:"));
 * await store.create(makeNode("n1"));
 * const running = startScheduler(store, { log: () => {} });
 * await running.synced;
 * await store.create(makePod("p"));
 * await running.stop();
 * await store.close();
 * ```
 */
export function startScheduler(
  store: Store,
  options: StartSchedulerOptions = {},
): RunningScheduler {
  const log = options.log;
  const scheduler = new Scheduler(new StoreClient(store), {
    config: options.config,
    registry: options.registry ?? inTreeRegistry(),
    log,
    seed: options.seed,
    recordScheduledEvents: options.recordScheduledEvents,
  });
  const ac = new AbortController();
  const onError = (e: unknown) =>
    (log ?? (() => {}))({ level: "warn", msg: "watch failed, relisting", error: String(e) });
  const nodesSynced = Promise.withResolvers<void>();
  const podsSynced = Promise.withResolvers<void>();
  const nodes = runInformer<Node>(store, "nodes", {
    add: (n) => scheduler.onNodeAdd(n),
    update: (n) => scheduler.onNodeUpdate(n),
    delete: (n) => scheduler.onNodeDelete(n),
  }, { signal: ac.signal, onSynced: nodesSynced.resolve, onError });
  const pods = runInformer<Pod>(store, "pods", {
    add: (p) => scheduler.onPodAdd(p),
    update: (p) => scheduler.onPodUpdate(p),
    delete: (p) => scheduler.onPodDelete(p),
  }, { signal: ac.signal, onSynced: podsSynced.resolve, onError });
  const synced = Promise.all([nodesSynced.promise, podsSynced.promise]).then(() => {});
  // Start deciding only once the cluster is known (as kube-scheduler waits for cache sync).
  const loop = synced.then(() => scheduler.run(ac.signal));
  return {
    scheduler,
    synced,
    async stop() {
      ac.abort();
      scheduler.stop();
      nodesSynced.resolve();
      podsSynced.resolve();
      await Promise.all([nodes, pods, loop]);
    },
  };
}
