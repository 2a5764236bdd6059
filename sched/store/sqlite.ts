/**
 * The embedded key-value backend: one SQLite file through `node:sqlite`,
 * WAL journal with `synchronous=FULL` so every commit is fsynced before a
 * write is acknowledged. Writes that arrive while a commit is under way are
 * committed together in the next transaction (group commit). For a file,
 * the write connection lives in a worker, so a commit's fsync does not hold
 * the event loop; reads use a connection of their own (WAL readers never
 * wait for the writer). A table of recent changes serves watches from a
 * revision.
 *
 * @module
 */
import {
  type KvBackend,
  type KvChange,
  KvCompactedError,
  KvConflictError,
  type KvEntry,
  type KvEvent,
  type KvRange,
  type KvRangeOptions,
  KvUnavailableError,
  type KvWatchOptions,
} from "./kv.ts";
import {
  type BatchResult,
  compactDb,
  type Db,
  openDb,
  readMeta,
  toEntry,
  writeBatch,
  type WriteOp,
} from "./_sqlite_db.ts";
import { AsyncQueue } from "./_queue.ts";
import {
  ANSWER,
  ANSWER_LENGTH,
  controlOf,
  newChannel,
  readMessage,
  REQUEST,
  REQUEST_LENGTH,
  writeMessage,
} from "./_sqlite_channel.ts";

/** Options of {@linkcode SqliteKv}. */
export interface SqliteKvOptions {
  /**
   * Changes kept for watches resuming from an old revision; older ones are
   * compacted away (a watch from before them gets `KvCompactedError`).
   * @default 50000
   */
  history?: number;
  /**
   * Where commits run: `worker` (a writer thread; the default for files) or
   * `inline` (this thread; always for `:memory:`).
   * @default "worker"
   */
  writer?: "worker" | "inline";
  /** Called after each commit, for metrics. @default none */
  onCommit?: (commit: SqliteCommit) => void;
}

/** One committed batch, as reported to {@linkcode SqliteKvOptions.onCommit}. */
export interface SqliteCommit {
  /** Writes in the batch (group commit: all made while the previous commit ran). */
  ops: number;
  /** Milliseconds the transaction took, fsync included. */
  commitMs: number;
  /** Milliseconds from the batch's first write being queued to its acknowledgement. */
  totalMs: number;
}

interface Op extends WriteOp {
  queued: number;
  resolve: (rev: number) => void;
  reject: (err: unknown) => void;
}

interface Subscriber {
  prefix: string;
  queue: AsyncQueue<KvEvent>;
  /** The last revision delivered; later copies of it are skipped. */
  last: number;
}

function upper(prefix: string): string {
  return prefix + "\uffff";
}

/**
 * A key-value backend in one SQLite file.
 *
 * @example Write and read a key
 * ```ts
 * import { SqliteKv } from "@tsk/sched";
 * const kv = new SqliteKv(":memory:");
 * const rev = await kv.create("/registry/a", "{}");
 * console.log((await kv.get("/registry/a"))?.modRevision === rev); // true
 * await kv.close();
 * ```
 */
export class SqliteKv implements KvBackend {
  /** The backend's name, for logs and metrics. */
  readonly name = "sqlite";
  /** The database file. */
  readonly path: string;
  #read: Db;
  #history: number;
  #worker: Worker | undefined;
  #channel: SharedArrayBuffer | undefined;
  #calls: Promise<unknown> = Promise.resolve();
  #opened: Promise<unknown> = Promise.resolve();
  #failure: unknown;
  #abandon: ((err: unknown) => void) | undefined;
  #pending: Op[] = [];
  #scheduled = false;
  #inFlight = false;
  #subscribers = new Set<Subscriber>();
  #closed = false;
  #onCommit: ((commit: SqliteCommit) => void) | undefined;

  /**
   * Opens (creating when absent) the database file.
   * @param path The file, or `:memory:`.
   * @param options History kept for watches; where commits run.
   */
  constructor(path: string, options: SqliteKvOptions = {}) {
    this.path = path;
    this.#history = options.history ?? 50000;
    this.#onCommit = options.onCommit;
    try {
      this.#read = openDb(path);
    } catch (err) {
      throw new KvUnavailableError(`Cannot open SQLite database ${path}: ${String(err)}`, {
        cause: err,
      });
    }
    if (path !== ":memory:" && (options.writer ?? "worker") === "worker") {
      const worker = new Worker(new URL("./_sqlite_writer.ts", import.meta.url), {
        type: "module",
      });
      const channel = newChannel();
      this.#channel = channel;
      let opened: (v?: unknown) => void;
      let failedOpen: (e: unknown) => void;
      this.#opened = new Promise((resolve, reject) => {
        opened = resolve;
        failedOpen = reject;
      });
      this.#opened.catch(() => {});
      worker.onmessage = (e: MessageEvent<{ ok: boolean; error?: string }>) => {
        if (e.data.ok) opened();
        else failedOpen(new KvUnavailableError(`sqlite: ${e.data.error}`));
      };
      worker.onerror = (e) => {
        e.preventDefault();
        const err = new KvUnavailableError(`sqlite: the writer thread failed: ${e.message}`);
        failedOpen(err);
        this.#failure = err;
        this.#abandon?.(err);
      };
      worker.postMessage({ id: 0, type: "open", path, history: this.#history, channel });
      this.#worker = worker;
    }
  }

  /** One request to the writer worker over the shared channel, after those before it. */
  #call(msg: Record<string, unknown>): Promise<unknown> {
    const run = async () => {
      await this.#opened;
      if (this.#failure) throw this.#failure;
      const channel = this.#channel!;
      const ctl = controlOf(channel);
      ctl[REQUEST_LENGTH] = writeMessage(channel, JSON.stringify(msg));
      Atomics.store(ctl, ANSWER, 0);
      Atomics.store(ctl, REQUEST, 1);
      Atomics.notify(ctl, REQUEST);
      const wait = Atomics.waitAsync(ctl, ANSWER, 0);
      if (wait.async) {
        // A failed worker never answers: its error handler rejects this wait.
        await new Promise<void>((resolve, reject) => {
          this.#abandon = reject;
          wait.value.then(() => resolve());
        });
        this.#abandon = undefined;
      }
      const answer = JSON.parse(readMessage(channel, ctl[ANSWER_LENGTH])) as {
        ok: boolean;
        value?: unknown;
        error?: string;
      };
      if (!answer.ok) throw new KvUnavailableError(`sqlite: ${answer.error}`);
      return answer.value;
    };
    const p = this.#calls.then(run);
    this.#calls = p.catch(() => {});
    return p;
  }

  #check(): void {
    if (this.#closed) throw new KvUnavailableError("sqlite: the store is closed");
  }

  /** Reads one key. @param key The key. @returns The entry or undefined. */
  get(key: string): Promise<KvEntry | undefined> {
    this.#check();
    const row = this.#read.st.get.get(key) as Parameters<typeof toEntry>[0] | undefined;
    return Promise.resolve(row ? toEntry(row) : undefined);
  }

  /**
   * Reads keys under a prefix in order, with the revision of the same
   * snapshot. SQLite keeps no old versions, so `revision` is ignored and each
   * page reads the current state.
   * @param prefix The prefix.
   * @param options Start key and limit.
   * @returns The page.
   */
  range(prefix: string, options: KvRangeOptions = {}): Promise<KvRange> {
    this.#check();
    const start = options.startKey && options.startKey > prefix ? options.startKey : prefix;
    const limit = options.limit && options.limit > 0 ? options.limit : -1;
    const db = this.#read.db;
    // One read transaction: the rows and the revision come from the same snapshot.
    db.exec("BEGIN");
    try {
      const rows = this.#read.st.range.all(
        start,
        upper(prefix),
        limit > 0 ? limit + 1 : -1,
      ) as unknown as Parameters<
        typeof toEntry
      >[0][];
      const revision = readMeta(this.#read, "revision");
      const more = limit > 0 && rows.length > limit;
      if (more) rows.length = limit;
      return Promise.resolve({ entries: rows.map(toEntry), revision, more });
    } finally {
      db.exec("COMMIT");
    }
  }

  /** Creates a key. @param key The key. @param value The value. @returns The revision. */
  create(key: string, value: string): Promise<number> {
    return this.#enqueue({ kind: "create", key, value });
  }

  /**
   * Updates a key at a revision.
   * @param key The key.
   * @param change The value and the modRevision the key must have.
   * @returns The revision.
   */
  update(key: string, change: KvChange): Promise<number> {
    return this.#enqueue({ kind: "update", key, value: change.value, expect: change.expect });
  }

  /** Deletes a key at a revision. @param key The key. @param expect The modRevision. @returns The revision. */
  delete(key: string, expect: number): Promise<number> {
    return this.#enqueue({ kind: "delete", key, expect });
  }

  #enqueue(op: WriteOp): Promise<number> {
    this.#check();
    return new Promise((resolve, reject) => {
      this.#pending.push({ ...op, queued: performance.now(), resolve, reject });
      if (!this.#scheduled && !this.#inFlight) {
        // Writes made in the same turn of the event loop go in one batch; a
        // timer here would add a millisecond or more to every idle write.
        this.#scheduled = true;
        queueMicrotask(() => this.#flush());
      }
    });
  }

  /** Commits what is queued; with a worker, one batch at a time. */
  async #flush(): Promise<void> {
    this.#scheduled = false;
    if (this.#inFlight || this.#pending.length === 0) return;
    // Everything queued goes in one transaction, up to 64 MiB of values.
    let take = 0;
    for (let bytes = 0; take < this.#pending.length && (take === 0 || bytes < 64 << 20); take++) {
      bytes += this.#pending[take].value?.length ?? 0;
    }
    const ops = this.#pending.slice(0, take);
    this.#pending = this.#pending.slice(take);
    const plain: WriteOp[] = ops.map(({ kind, key, value, expect }) => ({
      kind,
      key,
      value,
      expect,
    }));
    this.#inFlight = true;
    let result: BatchResult;
    const t0 = performance.now();
    try {
      result = this.#worker
        ? await this.#call({ type: "batch", ops: plain }) as BatchResult
        : writeBatch(this.#read, plain, this.#history);
    } catch (err) {
      const e = err instanceof KvUnavailableError
        ? err
        : new KvUnavailableError(`sqlite: write failed: ${String(err)}`, { cause: err });
      for (const op of ops) op.reject(e);
      this.#inFlight = false;
      this.#next();
      return;
    }
    this.#inFlight = false;
    if (this.#onCommit) {
      const now = performance.now();
      this.#onCommit({
        ops: ops.length,
        commitMs: result.commitMs ?? now - t0,
        totalMs: now - ops[0].queued,
      });
    }
    let applied = 0;
    ops.forEach((op, i) => {
      const r = result.results[i];
      if ("rev" in r) {
        // Events come in the order of the ops that applied; the worker leaves out the values.
        const ev = result.events[applied++];
        if (op.kind !== "delete") ev.value = op.value;
        op.resolve(r.rev);
      } else op.reject(new KvConflictError(r.conflict, r.current));
    });
    for (const ev of result.events) {
      for (const s of this.#subscribers) {
        if (ev.revision > s.last && ev.key.startsWith(s.prefix)) {
          s.last = ev.revision;
          s.queue.push(ev);
        }
      }
    }
    this.#next();
  }

  #next(): void {
    // Writes that queued up during the commit go together in the next one.
    if (this.#pending.length > 0 && !this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#flush());
    }
  }

  /**
   * Streams changes after a revision.
   * @param prefix The key prefix.
   * @param options `after`: deliver revisions above it; `signal`: ends the stream.
   * @returns The events in revision order.
   */
  async *watch(prefix: string, options: KvWatchOptions): AsyncIterable<KvEvent> {
    const { after, signal } = options;
    this.#check();
    const compacted = readMeta(this.#read, "compacted");
    if (after < compacted) {
      throw new KvCompactedError(
        `revision ${after} was compacted; the oldest available is ${compacted}`,
        compacted,
      );
    }
    const queue = new AsyncQueue<KvEvent>();
    const sub: Subscriber = { prefix, queue, last: after };
    // Committed changes come from the table; the ones still being acknowledged
    // arrive from the writer afterwards and are skipped when already read.
    const rows = this.#read.st.events.all(after, prefix, upper(prefix)) as unknown as {
      rev: number;
      key: string;
      type: number;
      value: string | null;
      prev: string | null;
    }[];
    for (const r of rows) {
      queue.push({
        type: r.type === 0 ? "put" : "delete",
        key: r.key,
        value: r.value ?? undefined,
        prevValue: r.prev ?? undefined,
        revision: r.rev,
      });
      sub.last = r.rev;
    }
    this.#subscribers.add(sub);
    const onAbort = () => queue.close();
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) queue.close();
    try {
      yield* queue;
    } finally {
      this.#subscribers.delete(sub);
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** The latest committed revision. @returns The revision. */
  revision(): Promise<number> {
    this.#check();
    return Promise.resolve(readMeta(this.#read, "revision"));
  }

  /**
   * Forgets changes up to a revision.
   * @param revision The last revision to forget.
   */
  async compact(revision: number): Promise<void> {
    this.#check();
    if (this.#worker) await this.#call({ type: "compact", revision });
    else compactDb(this.#read, revision);
  }

  /** Commits what is queued, ends watches and closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    while (this.#inFlight || this.#pending.length > 0) {
      if (!this.#inFlight) await this.#flush();
      else await new Promise((r) => setTimeout(r, 1));
    }
    this.#closed = true;
    for (const s of this.#subscribers) s.queue.close();
    if (this.#worker) {
      await this.#call({ type: "close" }).catch(() => {});
      this.#worker.terminate();
    }
    this.#read.db.close();
  }
}
