/**
 * The scheduling queue: pods waiting for a decision, highest priority first
 * (then oldest first). A pod that found no node waits among the
 * unschedulable pods until a cluster event that could help (a node added, a
 * pod deleted, ...) moves it back, after an exponential backoff.
 *
 * @module
 */
import { ALL_EVENTS, type ClusterEvent } from "./plugin.ts";
import type { PodInfo } from "./pod_info.ts";
import type { Pod } from "./types.ts";

/** Options for {@linkcode SchedulingQueue}. */
export interface SchedulingQueueOptions {
  /** Backoff after the first failed attempt, ms. @default 1000 */
  initialBackoffMs?: number;
  /** Largest backoff, ms. @default 10000 */
  maxBackoffMs?: number;
  /** Unschedulable pods are retried at least this often even without events, ms. @default 300000 */
  maxUnschedulableMs?: number;
  /** Clock in ms. @default performance.now */
  now?: () => number;
  /** Which events each plugin cares about (plugins that rejected a pod decide what requeues it). */
  pluginEvents?: ReadonlyMap<string, readonly ClusterEvent[]>;
}

/** A binary heap over a comparison. */
class Heap<T> {
  #a: T[] = [];
  constructor(private readonly less: (x: T, y: T) => boolean) {}
  get size(): number {
    return this.#a.length;
  }
  peek(): T | undefined {
    return this.#a[0];
  }
  push(x: T): void {
    const a = this.#a;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.#a;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l], a[m])) m = l;
        if (r < a.length && this.less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

function schedulingChanged(a: Pod, b: Pod): boolean {
  return JSON.stringify(a.spec) !== JSON.stringify(b.spec) ||
    JSON.stringify(a.metadata.labels ?? {}) !== JSON.stringify(b.metadata.labels ?? {});
}

interface Entry {
  pi: PodInfo;
  /** Sequence number: FIFO among equal priorities, and stale-entry detection. */
  seq: number;
  backoffUntil: number;
}

/**
 * The queue.
 *
 * @example Priority order
 * ```ts
 * import { makePod } from "./builders.ts";
 * import { SchedulingQueue } from "./queue.ts";
 * import { newPodInfo } from "./pod_info.ts";
 * const q = new SchedulingQueue();
 * q.add(newPodInfo(makePod("low", { priority: 1 })));
 * q.add(newPodInfo(makePod("high", { priority: 9 })));
 * q.pop()?.key; // "default/high"
 * ```
 */
export class SchedulingQueue {
  #active = new Heap<Entry>((a, b) =>
    a.pi.priority !== b.pi.priority ? a.pi.priority > b.pi.priority : a.seq < b.seq
  );
  #backoff = new Heap<Entry>((a, b) => a.backoffUntil < b.backoffUntil);
  #unschedulable = new Map<string, Entry>();
  /** The live entry of each queued pod (heaps may hold stale ones). */
  #live = new Map<string, Entry>();
  /** Pods popped and not yet done (a cluster event during their cycle must not be lost). */
  #inFlight = new Map<string, number>();
  #moveRequestCycle = -1;
  #cycle = 0;
  #seq = 0;
  #waiters: (() => void)[] = [];
  #closed = false;
  #opts: Required<Omit<SchedulingQueueOptions, "pluginEvents">>;
  #pluginEvents: ReadonlyMap<string, readonly ClusterEvent[]>;

  /**
   * Creates it.
   *
   * @param options Backoff and clock.
   */
  constructor(options: SchedulingQueueOptions = {}) {
    this.#opts = {
      initialBackoffMs: options.initialBackoffMs ?? 1000,
      maxBackoffMs: options.maxBackoffMs ?? 10000,
      maxUnschedulableMs: options.maxUnschedulableMs ?? 300000,
      now: options.now ?? (() => performance.now()),
    };
    this.#pluginEvents = options.pluginEvents ?? new Map();
  }

  #isUnsched(e: Entry): boolean {
    return this.#unschedulable.get(e.pi.key) === e;
  }

  /** Pods in every part of the queue (active, backoff, unschedulable). */
  get size(): number {
    return this.#live.size;
  }

  /**
   * Counts by part of the queue, for the queue-depth metric.
   *
   * @returns Pods per part.
   */
  depth(): { active: number; backoff: number; unschedulable: number } {
    let active = 0, backoff = 0;
    for (const e of this.#live.values()) {
      if (this.#isUnsched(e)) continue;
      if (e.backoffUntil > 0) backoff++;
      else active++;
    }
    return { active, backoff, unschedulable: this.#unschedulable.size };
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /**
   * Adds a new pod (or replaces the queued copy of the same pod).
   *
   * @param pi The pod.
   */
  add(pi: PodInfo): void {
    const old = this.#live.get(pi.key);
    if (old) {
      // An update: keep the place in line and the history, take the new object. Only a
      // change scheduling can see (spec, labels) retries an unschedulable pod at once;
      // status writes (our own PodScheduled condition) do not.
      const changed = schedulingChanged(old.pi.pod, pi.pod);
      pi.attempts = old.pi.attempts;
      pi.initialQueuedAt = old.pi.initialQueuedAt;
      pi.queuedAt = old.pi.queuedAt;
      pi.unschedulablePlugins = old.pi.unschedulablePlugins;
      old.pi = pi;
      if (changed && this.#isUnsched(old)) this.#moveToActive(old, pi);
      return;
    }
    const e: Entry = { pi, seq: this.#seq++, backoffUntil: 0 };
    this.#live.set(pi.key, e);
    this.#active.push(e);
    this.#wake();
  }

  #moveToActive(old: Entry, pi: PodInfo): void {
    this.#unschedulable.delete(old.pi.key);
    const e: Entry = { pi, seq: this.#seq++, backoffUntil: 0 };
    this.#live.set(pi.key, e);
    this.#active.push(e);
    this.#wake();
  }

  /**
   * Removes a pod (deleted, or bound by someone else).
   *
   * @param key `namespace/name`.
   * @returns True when it was queued.
   */
  delete(key: string): boolean {
    const e = this.#live.get(key);
    this.#inFlight.delete(key);
    if (!e) return false;
    this.#live.delete(key);
    this.#unschedulable.delete(key);
    return true;
  }

  #flushBackoff(now: number): void {
    for (;;) {
      const top = this.#backoff.peek();
      if (!top || top.backoffUntil > now) break;
      this.#backoff.pop();
      if (this.#live.get(top.pi.key) !== top || this.#isUnsched(top)) continue;
      top.backoffUntil = 0;
      top.seq = this.#seq++;
      this.#active.push(top);
    }
  }

  #flushUnschedulable(now: number): void {
    if (this.#unschedulable.size === 0) return;
    for (const e of this.#unschedulable.values()) {
      if (now - e.pi.queuedAt >= this.#opts.maxUnschedulableMs) this.#requeue(e, now);
    }
  }

  /**
   * Takes the next pod to schedule without waiting.
   *
   * @returns The pod, or undefined when none is ready.
   */
  pop(): PodInfo | undefined {
    const now = this.#opts.now();
    this.#flushBackoff(now);
    for (;;) {
      const e = this.#active.pop();
      if (!e) return undefined;
      if (this.#live.get(e.pi.key) !== e || e.backoffUntil > 0 || this.#isUnsched(e)) continue;
      this.#live.delete(e.pi.key);
      this.#cycle++;
      this.#inFlight.set(e.pi.key, this.#cycle);
      e.pi.attempts++;
      return e.pi;
    }
  }

  /**
   * Waits until a pod is ready (or backoff expires, or the queue closes).
   *
   * @returns The pod, or undefined when the queue was closed.
   */
  async popWait(): Promise<PodInfo | undefined> {
    for (;;) {
      if (this.#closed) return undefined;
      const pi = this.pop();
      if (pi) return pi;
      this.#flushUnschedulable(this.#opts.now());
      const next = this.#backoff.peek();
      const wait = next ? Math.max(1, next.backoffUntil - this.#opts.now()) : 1000;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== done);
          resolve();
        }, wait);
        const done = () => {
          clearTimeout(t);
          resolve();
        };
        this.#waiters.push(done);
      });
    }
  }

  /** Stops `popWait` callers. */
  close(): void {
    this.#closed = true;
    this.#wake();
  }

  /**
   * Marks a popped pod done (bound or given up on).
   *
   * @param key `namespace/name`.
   */
  done(key: string): void {
    this.#inFlight.delete(key);
  }

  #backoffFor(pi: PodInfo): number {
    const { initialBackoffMs, maxBackoffMs } = this.#opts;
    const n = Math.max(1, pi.attempts);
    return Math.min(maxBackoffMs, initialBackoffMs * 2 ** Math.min(30, n - 1));
  }

  /** Backoff counts from the end of the last attempt: a pod that waited long enough goes straight to active. */
  #requeue(e: Entry, now: number): void {
    this.#unschedulable.delete(e.pi.key);
    const until = e.pi.queuedAt + this.#backoffFor(e.pi);
    e.seq = this.#seq++;
    this.#live.set(e.pi.key, e);
    if (until <= now) {
      e.backoffUntil = 0;
      this.#active.push(e);
    } else {
      e.backoffUntil = until;
      this.#backoff.push(e);
    }
    this.#wake();
  }

  /**
   * Returns a popped pod that found no node. It waits among the unschedulable
   * pods, unless a cluster event that could help arrived during its cycle, in
   * which case it goes straight to backoff.
   *
   * @param pi The pod (its `unschedulablePlugins` say which events matter).
   */
  addUnschedulable(pi: PodInfo): void {
    const cycle = this.#inFlight.get(pi.key);
    this.#inFlight.delete(pi.key);
    if (cycle === undefined) return; // deleted while in flight
    const now = this.#opts.now();
    pi.queuedAt = now;
    const e: Entry = { pi, seq: this.#seq++, backoffUntil: 0 };
    if (this.#moveRequestCycle >= cycle) {
      this.#requeue(e, now);
      return;
    }
    this.#live.set(pi.key, e);
    this.#unschedulable.set(pi.key, e);
  }

  /**
   * Returns a popped pod whose attempt failed for a reason other than fit
   * (an error, a failed binding): it retries after backoff.
   *
   * @param pi The pod.
   */
  addBackoff(pi: PodInfo): void {
    this.#inFlight.delete(pi.key);
    pi.queuedAt = this.#opts.now();
    const e: Entry = { pi, seq: this.#seq++, backoffUntil: 0 };
    this.#live.set(pi.key, e);
    this.#requeue(e, this.#opts.now());
  }

  #interested(pi: PodInfo, event: ClusterEvent): boolean {
    if (pi.unschedulablePlugins.size === 0) return true;
    for (const p of pi.unschedulablePlugins) {
      const ev = this.#pluginEvents.get(p) ?? ALL_EVENTS;
      if (ev.includes(event)) return true;
    }
    return false;
  }

  /**
   * A cluster event happened: unschedulable pods that a plugin interested in
   * it rejected move to backoff (or to active once their backoff is over).
   *
   * @param event The event.
   */
  onEvent(event: ClusterEvent): void {
    this.#moveRequestCycle = this.#cycle;
    if (this.#unschedulable.size === 0) return;
    const now = this.#opts.now();
    for (const e of [...this.#unschedulable.values()]) {
      if (this.#interested(e.pi, event)) this.#requeue(e, now);
    }
  }

  /**
   * Whether a pod is queued (in any part).
   *
   * @param key `namespace/name`.
   * @returns True when queued.
   */
  has(key: string): boolean {
    return this.#live.has(key);
  }
}
