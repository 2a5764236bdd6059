/**
 * List-then-watch of one resource into add/update/delete handlers, relisting
 * when the watch breaks or its version is too old.
 *
 * TODO(unify with @tsk/api): the api package is to ship informers for the
 * HTTP client; switch to them when they land. This one reads any `Store`.
 *
 * @module
 */
import { ExpiredError, type Store } from "@tsk/api";
import type { ObjectMeta } from "./types.ts";

/** What an informer calls. */
export interface InformerHandlers<T> {
  /** An object appeared. */
  add(obj: T): void;
  /** An object changed. */
  update(obj: T): void;
  /** An object went away. */
  delete(obj: T): void;
}

/** Options for {@linkcode runInformer}. */
export interface InformerOptions {
  /** Stops the informer. */
  signal: AbortSignal;
  /** Called once the first list has been delivered. */
  onSynced?: () => void;
  /** Called on errors before relisting. @default ignore */
  onError?: (err: unknown) => void;
  /** Wait before relisting after an error, ms. @default 200 */
  retryMs?: number;
}

type Obj = { metadata: ObjectMeta };

function keyOf(o: Obj): string {
  return `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

/**
 * Keeps handlers in sync with a resource until the signal aborts.
 *
 * @param store The store.
 * @param resource Plural resource name (`pods`, `nodes`).
 * @param handlers Add, update, delete.
 * @param options Signal, callbacks.
 * @returns Resolves when stopped.
 *
 * @example Watch nodes
 * ```ts
 * import { ObjectStore, SqliteKv } from "@tsk/sched";
 * import { runInformer } from "./informer.ts";
 * import { makeNode } from "./builders.ts";
 * const store = new ObjectStore(new SqliteKv(":memory:"));
 * await store.create(makeNode("n1"));
 * const ac = new AbortController();
 * const names: string[] = [];
 * const synced = Promise.withResolvers<void>();
 * const done = runInformer(store, "nodes", {
 *   add: (n) => names.push(n.metadata.name ?? ""), update: () => {}, delete: () => {},
 * }, { signal: ac.signal, onSynced: synced.resolve });
 * await synced.promise;
 * ac.abort();
 * await done;
 * await store.close();
 * names; // ["n1"]
 * ```
 */
export async function runInformer<T extends Obj>(
  store: Store,
  resource: string,
  handlers: InformerHandlers<T>,
  options: InformerOptions,
): Promise<void> {
  const { signal } = options;
  const known = new Map<string, T>();
  let synced = false;
  while (!signal.aborted) {
    try {
      const list = await store.list(resource);
      const seen = new Set<string>();
      for (const item of list.items as unknown as T[]) {
        const k = keyOf(item);
        seen.add(k);
        const old = known.get(k);
        known.set(k, item);
        if (!old) handlers.add(item);
        else if (old.metadata.resourceVersion !== item.metadata.resourceVersion) {
          handlers.update(item);
        }
      }
      for (const [k, old] of known) {
        if (!seen.has(k)) {
          known.delete(k);
          handlers.delete(old);
        }
      }
      if (!synced) {
        synced = true;
        options.onSynced?.();
      }
      const events = store.watch(resource, {
        resourceVersion: list.metadata.resourceVersion,
        signal,
      });
      for await (const ev of events) {
        if (ev.type === "BOOKMARK") continue;
        if (ev.type === "ERROR") throw new Error(`watch ${resource}: ${JSON.stringify(ev.object)}`);
        const obj = ev.object as unknown as T;
        const k = keyOf(obj);
        if (ev.type === "DELETED") {
          known.delete(k);
          handlers.delete(obj);
        } else if (known.has(k)) {
          known.set(k, obj);
          handlers.update(obj);
        } else {
          known.set(k, obj);
          handlers.add(obj);
        }
      }
    } catch (e) {
      if (signal.aborted) break;
      if (!(e instanceof ExpiredError)) options.onError?.(e);
      await new Promise((r) => setTimeout(r, options.retryMs ?? 200));
    }
  }
}
