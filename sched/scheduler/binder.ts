/**
 * Batches bindings: the scheduling loop hands over one binding at a time and
 * the batcher writes them in groups (one store transaction each), so the
 * store's per-write cost is paid once per batch, not once per pod.
 *
 * @module
 */
import type { Binding, SchedulerClient } from "./client.ts";

/** Options for {@linkcode BatchBinder}. */
export interface BatchBinderOptions {
  /** Largest batch. @default 500 */
  maxBatch?: number;
}

interface Pending {
  binding: Binding;
  resolve: (e: Error | null) => void;
}

/**
 * Collects bindings and flushes them when the batch is full or when the event
 * loop next runs timers (the scheduling loop yields between chunks of pods).
 *
 * @example Bind through a memory client
 * ```ts
 * import { makePod } from "./builders.ts";
 * import { BatchBinder } from "./binder.ts";
 * import { MemoryClient } from "./client.ts";
 * const b = new BatchBinder(new MemoryClient());
 * const err = await b.bind({ pod: makePod("p"), nodeName: "n" });
 * err; // null
 * ```
 */
export class BatchBinder {
  #client: SchedulerClient;
  #max: number;
  #pending: Pending[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight = new Set<Promise<void>>();

  /**
   * Creates it.
   *
   * @param client Where bindings are written.
   * @param options Batch size.
   */
  constructor(client: SchedulerClient, options: BatchBinderOptions = {}) {
    this.#client = client;
    this.#max = options.maxBatch ?? 500;
  }

  /**
   * Queues a binding.
   *
   * @param binding The binding.
   * @returns Resolves to null once written, or to the error.
   */
  bind(binding: Binding): Promise<Error | null> {
    return new Promise((resolve) => {
      this.#pending.push({ binding, resolve });
      if (this.#pending.length >= this.#max) this.flush();
      else if (this.#timer === undefined) this.#timer = setTimeout(() => this.flush(), 0);
    });
  }

  /** Bindings queued and not yet handed to the client. */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * Writes what is queued now.
   *
   * @returns Resolves when this batch is written.
   */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const batch = this.#pending;
    if (batch.length === 0) return Promise.resolve();
    this.#pending = [];
    const p = (async () => {
      let results: (Error | null)[];
      try {
        results = await this.#client.bind(batch.map((b) => b.binding));
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        results = batch.map(() => err);
      }
      for (let i = 0; i < batch.length; i++) {
        batch[i].resolve(results[i] ?? null);
      }
    })();
    this.#inFlight.add(p);
    p.finally(() => this.#inFlight.delete(p));
    return p;
  }

  /**
   * Flushes and waits for every write in flight (clean shutdown).
   *
   * @returns Resolves when nothing is pending.
   */
  async drain(): Promise<void> {
    while (this.#pending.length > 0 || this.#inFlight.size > 0) {
      await this.flush();
      await Promise.all([...this.#inFlight]);
    }
  }
}
