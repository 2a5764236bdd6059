/**
 * Wires a scheduler to a store: informers on nodes and pods feed it, a
 * {@linkcode StoreClient} writes its decisions, and its loop runs until
 * stopped. This is what the `scheduler` program starts.
 *
 * @module
 */
import { Informer, type Store } from "@tsk/api";
import { inTreeRegistry } from "../plugins/registry.ts";
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
  const onError = (e: unknown) =>
    (log ?? (() => {}))({ level: "warn", msg: "watch failed, relisting", error: String(e) });
  const nodes = new Informer<Node>(store, "nodes", { onError }).on({
    add: (n) => scheduler.onNodeAdd(n),
    update: (_old, n) => scheduler.onNodeUpdate(n),
    delete: (n) => scheduler.onNodeDelete(n),
  });
  const pods = new Informer<Pod>(store, "pods", { onError }).on({
    add: (p) => scheduler.onPodAdd(p),
    update: (_old, p) => scheduler.onPodUpdate(p),
    delete: (p) => scheduler.onPodDelete(p),
  });
  const synced = Promise.all([nodes.start(), pods.start()]).then(() => {});
  // Start deciding only once the cluster is known (as kube-scheduler waits for cache sync).
  let stopping = false;
  const loop = synced.then(() => stopping ? undefined : scheduler.run());
  return {
    scheduler,
    synced,
    async stop() {
      stopping = true;
      nodes.stop();
      pods.stop();
      scheduler.stop();
      await Promise.all([nodes.stopped(), pods.stopped(), loop]);
    },
  };
}
