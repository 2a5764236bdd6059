/**
 * What the scheduler writes to the store: bindings (in batches), pod status
 * (the PodScheduled condition, nominatedNodeName), evictions, events.
 *
 * This interface is what the scheduler needs, nothing more: `StoreClient`
 * (store_client.ts) implements it over any `@tsk/api` Store (the SQLite or
 * etcd object store in process, or the HTTP client of a remote API server).
 *
 * @module
 */
import type { Pod, PodCondition } from "./types.ts";

/** One binding: put `pod` on `nodeName`. */
export interface Binding {
  /** The pod as the scheduler last saw it. */
  readonly pod: Pod;
  /** Target node. */
  readonly nodeName: string;
}

/** A Kubernetes-shaped Event about a pod. */
export interface SchedulerEvent {
  /** The pod concerned. */
  readonly pod: Pod;
  /** Normal or Warning. */
  readonly type: "Normal" | "Warning";
  /** Scheduled, FailedScheduling, Preempted, ... */
  readonly reason: string;
  /** Human-readable message. */
  readonly message: string;
}

/** The scheduler's writes. */
export interface SchedulerClient {
  /**
   * Writes bindings, ideally in one transaction.
   * @returns One entry per binding: null on success, the error otherwise.
   */
  bind(bindings: readonly Binding[]): Promise<(Error | null)[]>;
  /** Sets the PodScheduled condition and nominatedNodeName on a pod's status. */
  updatePodStatus(
    pod: Pod,
    update: { condition: PodCondition; nominatedNodeName?: string },
  ): Promise<void>;
  /** Deletes (evicts) a pod, for preemption. */
  deletePod(pod: Pod): Promise<void>;
  /** Records an Event. */
  recordEvent(event: SchedulerEvent): Promise<void>;
}

/** A recorded call of {@linkcode MemoryClient}. */
export type MemoryClientCall =
  | { kind: "bind"; pod: string; nodeName: string }
  | { kind: "status"; pod: string; condition: PodCondition; nominatedNodeName?: string }
  | { kind: "delete"; pod: string }
  | { kind: "event"; pod: string; type: string; reason: string; message: string };

/**
 * A client that records calls in memory, for framework tests that run without
 * a store (scenario tests use the real store). It can be told to fail binds.
 *
 * @example Record a binding
 * ```ts
 * import { makePod } from "./builders.ts";
 * import { MemoryClient } from "./client.ts";
 * const c = new MemoryClient();
 * await c.bind([{ pod: makePod("p"), nodeName: "n1" }]);
 * c.calls.length; // 1
 * ```
 */
export class MemoryClient implements SchedulerClient {
  /** Every call in order. */
  readonly calls: MemoryClientCall[] = [];
  /** Bindings to refuse, by pod key (`ns/name`). */
  readonly failBindings = new Set<string>();
  /** Called after each delete (tests feed it back into the scheduler). */
  onDelete?: (pod: Pod) => void;

  /**
   * Records bindings.
   *
   * @param bindings The bindings.
   * @returns Null per success; an error for pods in `failBindings`.
   */
  bind(bindings: readonly Binding[]): Promise<(Error | null)[]> {
    return Promise.resolve(bindings.map((b) => {
      const key = `${b.pod.metadata.namespace ?? "default"}/${b.pod.metadata.name}`;
      if (this.failBindings.has(key)) return new Error(`bind ${key}: refused by test`);
      this.calls.push({ kind: "bind", pod: key, nodeName: b.nodeName });
      return null;
    }));
  }

  /**
   * Records a status update.
   *
   * @param pod The pod.
   * @param update The condition and nomination.
   */
  updatePodStatus(
    pod: Pod,
    update: { condition: PodCondition; nominatedNodeName?: string },
  ): Promise<void> {
    this.calls.push({ kind: "status", pod: keyOf(pod), ...update });
    return Promise.resolve();
  }

  /**
   * Records a deletion.
   *
   * @param pod The pod.
   */
  deletePod(pod: Pod): Promise<void> {
    this.calls.push({ kind: "delete", pod: keyOf(pod) });
    this.onDelete?.(pod);
    return Promise.resolve();
  }

  /**
   * Records an event.
   *
   * @param e The event.
   */
  recordEvent(e: SchedulerEvent): Promise<void> {
    this.calls.push({
      kind: "event",
      pod: keyOf(e.pod),
      type: e.type,
      reason: e.reason,
      message: e.message,
    });
    return Promise.resolve();
  }
}

function keyOf(pod: Pod): string {
  return `${pod.metadata.namespace ?? "default"}/${pod.metadata.name}`;
}
