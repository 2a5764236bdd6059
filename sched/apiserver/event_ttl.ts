/**
 * Events expire: without it they would fill the store. As in Kubernetes
 * (one hour by default), an event whose last occurrence is older than the
 * TTL is deleted.
 *
 * @module
 */
import { type Event, NotFoundError, type Store } from "@tsk/api";

/** Options of {@linkcode expireEvents}. */
export interface ExpireEventsOptions {
  /** Seconds an event lives after its last occurrence. @default 3600 */
  ttlSeconds?: number;
  /** The current time. @default new Date() */
  now?: Date;
}

/**
 * Deletes the events older than the TTL, in every namespace.
 *
 * @param store The store.
 * @param options TTL and clock.
 * @returns How many events were deleted.
 *
 * @example Expire events older than an hour
 * ```ts
 * import { expireEvents, ObjectStore, SqliteKv } from "@tsk/sched";
 * const store = new ObjectStore(new SqliteKv(":memory:"));
 * console.log(await expireEvents(store)); // 0
 * await store.close();
 * ```
 */
export async function expireEvents(
  store: Store,
  options: ExpireEventsOptions = {},
): Promise<number> {
  const ttl = (options.ttlSeconds ?? 3600) * 1000;
  const now = (options.now ?? new Date()).getTime();
  let deleted = 0;
  let token: string | undefined;
  do {
    const page = await store.list<Event>("events", { limit: 500, continue: token });
    for (const e of page.items) {
      const last = Date.parse(
        e.lastTimestamp ?? e.firstTimestamp ?? e.metadata.creationTimestamp ?? "",
      );
      if (!Number.isFinite(last) || now - last <= ttl) continue;
      try {
        await store.delete("events", e.metadata.name!, { namespace: e.metadata.namespace });
        deleted++;
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
    token = page.metadata.continue;
  } while (token);
  return deleted;
}
