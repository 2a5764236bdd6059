/**
 * The scheduler's writes through the `Store` contract of `@tsk/api`:
 * bindings set `spec.nodeName` (with the pod's resourceVersion, re-read on a
 * conflict, refused when the pod is gone, replaced or already bound),
 * the PodScheduled condition goes through the status subresource, Events are
 * created in the pod's namespace.
 *
 * Bindings of one batch are issued together, so the SQLite store commits
 * them in one transaction (its group commit).
 *
 * @module
 */
import { ConflictError, type Event, NotFoundError, type Store } from "@tsk/api";
import type { Binding, SchedulerClient, SchedulerEvent } from "./client.ts";
import type { Pod, PodCondition } from "./types.ts";

/** Options for {@linkcode StoreClient}. */
export interface StoreClientOptions {
  /** The component named in Events. @default "default-scheduler" */
  component?: string;
  /** Grace period of evictions, seconds; the pod's own when absent. */
  evictionGracePeriodSeconds?: number;
  /** Clock for Event timestamps. @default () => new Date() */
  now?: () => Date;
}

/** Raised when a binding cannot be written. */
export class BindingError extends Error {
  /**
   * Creates it.
   *
   * @param message What failed, naming the pod.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BindingError";
  }
}

function keyOf(pod: Pod): string {
  return `${pod.metadata.namespace ?? "default"}/${pod.metadata.name}`;
}

/**
 * A {@linkcode SchedulerClient} over a `Store`.
 *
 * @example Bind through an in-memory SQLite store
 * ```ts
 * import { ObjectStore, SqliteKv } from "@tsk/sched";
 * import { StoreClient } from "./store_client.ts";
 * import { makePod } from "./builders.ts";
 * const store = new ObjectStore(new SqliteKv(":memory:"));
 * const pod = await store.create(makePod("p"));
 * const [err] = await new StoreClient(store).bind([{ pod, nodeName: "n1" }]);
 * err; // null
 * await store.close();
 * ```
 */
export class StoreClient implements SchedulerClient {
  #store: Store;
  #component: string;
  #grace?: number;
  #now: () => Date;
  #seq = 0;

  /**
   * Creates it.
   *
   * @param store The store.
   * @param options Component name, eviction grace, clock.
   */
  constructor(store: Store, options: StoreClientOptions = {}) {
    this.#store = store;
    this.#component = options.component ?? "default-scheduler";
    this.#grace = options.evictionGracePeriodSeconds;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Writes bindings, all issued at once.
   *
   * @param bindings The bindings.
   * @returns Null per success, the error otherwise.
   */
  bind(bindings: readonly Binding[]): Promise<(Error | null)[]> {
    return Promise.all(bindings.map((b) => this.#bindOne(b).then(() => null, (e: Error) => e)));
  }

  async #bindOne(b: Binding): Promise<void> {
    let pod = b.pod;
    const key = keyOf(pod);
    for (let attempt = 0; attempt < 5; attempt++) {
      if (pod.spec.nodeName) {
        if (pod.spec.nodeName === b.nodeName) return;
        throw new BindingError(`bind ${key}: already bound to ${pod.spec.nodeName}`);
      }
      try {
        await this.#store.update<Pod>({ ...pod, spec: { ...pod.spec, nodeName: b.nodeName } });
        return;
      } catch (e) {
        if (e instanceof NotFoundError) {
          throw new BindingError(`bind ${key}: pod not found`, { cause: e });
        }
        if (!(e instanceof ConflictError)) {
          throw new BindingError(`bind ${key} to ${b.nodeName}: ${(e as Error).message}`, {
            cause: e,
          });
        }
      }
      // Stale copy: read it again; a different uid means a new pod of the same name.
      let fresh: Pod;
      try {
        fresh = await this.#store.get<Pod>("pods", pod.metadata.name ?? "", {
          namespace: pod.metadata.namespace ?? "default",
        });
      } catch (e) {
        throw new BindingError(`bind ${key}: pod not found`, { cause: e });
      }
      if (b.pod.metadata.uid && fresh.metadata.uid !== b.pod.metadata.uid) {
        throw new BindingError(`bind ${key}: pod not found (replaced by a new pod)`);
      }
      if (fresh.metadata.deletionTimestamp) {
        throw new BindingError(`bind ${key}: pod not found (being deleted)`);
      }
      pod = fresh;
    }
    throw new BindingError(`bind ${key}: too many conflicting writes`);
  }

  /**
   * Sets the PodScheduled condition (and nominatedNodeName) on the pod.
   *
   * @param pod The pod.
   * @param update Condition and nomination.
   */
  async updatePodStatus(
    pod: Pod,
    update: { condition: PodCondition; nominatedNodeName?: string },
  ): Promise<void> {
    const ns = pod.metadata.namespace ?? "default";
    for (let attempt = 0; attempt < 5; attempt++) {
      let cur: Pod;
      try {
        cur = await this.#store.get<Pod>("pods", pod.metadata.name ?? "", { namespace: ns });
      } catch (e) {
        if (e instanceof NotFoundError) return;
        throw e;
      }
      if (cur.spec.nodeName) return; // bound meanwhile: the condition no longer applies
      const conditions = (cur.status?.conditions ?? []).filter((c) => c.type !== "PodScheduled");
      const prev = cur.status?.conditions?.find((c) => c.type === "PodScheduled");
      const cond = prev && prev.status === update.condition.status
        ? { ...update.condition, lastTransitionTime: prev.lastTransitionTime }
        : update.condition;
      const status = {
        ...cur.status,
        phase: cur.status?.phase ?? "Pending",
        conditions: [...conditions, cond],
      };
      if (update.nominatedNodeName) status.nominatedNodeName = update.nominatedNodeName;
      try {
        await this.#store.update<Pod>({ ...cur, status }, { subresource: "status" });
        return;
      } catch (e) {
        if (e instanceof ConflictError) continue;
        if (e instanceof NotFoundError) return;
        throw e;
      }
    }
  }

  /**
   * Evicts a pod (graceful deletion; the node agent finishes it).
   *
   * @param pod The pod.
   */
  async deletePod(pod: Pod): Promise<void> {
    try {
      await this.#store.delete("pods", pod.metadata.name ?? "", {
        namespace: pod.metadata.namespace ?? "default",
        uid: pod.metadata.uid,
        gracePeriodSeconds: this.#grace,
      });
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }

  /**
   * Creates an Event about a pod.
   *
   * @param e The event.
   */
  async recordEvent(e: SchedulerEvent): Promise<void> {
    const now = this.#now().toISOString();
    const ns = e.pod.metadata.namespace ?? "default";
    const name = `${e.pod.metadata.name}.${Date.now().toString(16)}${(this.#seq++).toString(16)}`;
    const ev: Event = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name, namespace: ns },
      involvedObject: {
        kind: "Pod",
        apiVersion: "v1",
        namespace: ns,
        name: e.pod.metadata.name ?? "",
        uid: e.pod.metadata.uid,
        resourceVersion: e.pod.metadata.resourceVersion,
      },
      reason: e.reason,
      message: e.message,
      type: e.type,
      source: { component: this.#component },
      reportingComponent: `tsk/${this.#component}`,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    await this.#store.create(ev);
  }
}
