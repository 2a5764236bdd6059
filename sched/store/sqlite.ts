/**
 * The embedded key-value backend: one SQLite file through `node:sqlite`,
 * WAL journal with `synchronous=FULL` so every commit is fsynced before a
 * write is acknowledged. Writes that arrive together are committed in one
 * transaction (group commit), which keeps one fsync per batch rather than
 * per write. A table of recent changes serves watches from a revision.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
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
import { AsyncQueue } from "./_queue.ts";

/** Options of {@linkcode SqliteKv}. */
export interface SqliteKvOptions {
  /**
   * Changes kept for watches resuming from an old revision; older ones are
   * compacted away (a watch from before them gets `KvCompactedError`).
   * @default 50000
   */
  history?: number;
}

interface Op {
  kind: "create" | "update" | "delete";
  key: string;
  value?: string;
  expect?: number;
  resolve: (rev: number) => void;
  reject: (err: unknown) => void;
}

interface Row {
  key: string;
  value: string;
  createRev: number;
  modRev: number;
}

interface Subscriber {
  prefix: string;
  queue: AsyncQueue<KvEvent>;
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
  #db: DatabaseSync;
  #history: number;
  #pending: Op[] = [];
  #scheduled = false;
  #subscribers = new Set<Subscriber>();
  #rev: number;
  #compacted: number;
  #closed = false;
  #st: Record<string, StatementSync>;

  /**
   * Opens (creating when absent) the database file.
   * @param path The file, or `:memory:`.
   * @param options History kept for watches.
   */
  constructor(path: string, options: SqliteKvOptions = {}) {
    this.path = path;
    this.#history = options.history ?? 50000;
    try {
      this.#db = new DatabaseSync(path);
      this.#db.exec(`
        PRAGMA journal_mode = WAL;
        PRAGMA synchronous = FULL;
        PRAGMA busy_timeout = 5000;
        CREATE TABLE IF NOT EXISTS kv (
          key TEXT PRIMARY KEY, value TEXT NOT NULL,
          createRev INTEGER NOT NULL, modRev INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS events (
          rev INTEGER PRIMARY KEY, key TEXT NOT NULL, type INTEGER NOT NULL,
          value TEXT, prev TEXT
        );
        CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT OR IGNORE INTO meta VALUES ('revision', 1), ('compacted', 0);
      `);
    } catch (err) {
      throw new KvUnavailableError(`Cannot open SQLite database ${path}: ${String(err)}`, {
        cause: err,
      });
    }
    const db = this.#db;
    this.#st = {
      get: db.prepare("SELECT key, value, createRev, modRev FROM kv WHERE key = ?"),
      range: db.prepare(
        "SELECT key, value, createRev, modRev FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?",
      ),
      insert: db.prepare("INSERT INTO kv (key, value, createRev, modRev) VALUES (?, ?, ?, ?)"),
      update: db.prepare("UPDATE kv SET value = ?, modRev = ? WHERE key = ?"),
      delete: db.prepare("DELETE FROM kv WHERE key = ?"),
      event: db.prepare("INSERT INTO events (rev, key, type, value, prev) VALUES (?, ?, ?, ?, ?)"),
      events: db.prepare(
        "SELECT rev, key, type, value, prev FROM events WHERE rev > ? AND key >= ? AND key < ? ORDER BY rev",
      ),
      setMeta: db.prepare("UPDATE meta SET value = ? WHERE name = ?"),
      meta: db.prepare("SELECT value FROM meta WHERE name = ?"),
      compact: db.prepare("DELETE FROM events WHERE rev <= ?"),
    };
    this.#rev = Number((this.#st.meta.get("revision") as { value: number }).value);
    this.#compacted = Number((this.#st.meta.get("compacted") as { value: number }).value);
  }

  #check(): void {
    if (this.#closed) throw new KvUnavailableError("sqlite: the store is closed");
  }

  /** Reads one key. @param key The key. @returns The entry or undefined. */
  get(key: string): Promise<KvEntry | undefined> {
    this.#check();
    const row = this.#st.get.get(key) as Row | undefined;
    return Promise.resolve(row ? toEntry(row) : undefined);
  }

  /**
   * Reads keys under a prefix in order. SQLite keeps no old versions, so
   * `revision` is ignored and each page reads the current state.
   * @param prefix The prefix.
   * @param options Start key and limit.
   * @returns The page.
   */
  range(prefix: string, options: KvRangeOptions = {}): Promise<KvRange> {
    this.#check();
    const start = options.startKey && options.startKey > prefix ? options.startKey : prefix;
    const limit = options.limit && options.limit > 0 ? options.limit : -1;
    const rows = this.#st.range.all(
      start,
      upper(prefix),
      limit > 0 ? limit + 1 : -1,
    ) as unknown as Row[];
    const more = limit > 0 && rows.length > limit;
    if (more) rows.length = limit;
    return Promise.resolve({ entries: rows.map(toEntry), revision: this.#rev, more });
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

  #enqueue(op: Omit<Op, "resolve" | "reject">): Promise<number> {
    this.#check();
    return new Promise((resolve, reject) => {
      this.#pending.push({ ...op, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setTimeout(() => this.#flush(), 0);
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const ops = this.#pending;
    this.#pending = [];
    if (ops.length === 0) return;
    if (this.#closed) {
      for (const op of ops) op.reject(new KvUnavailableError("sqlite: the store is closed"));
      return;
    }
    const results: (number | Error)[] = [];
    const events: KvEvent[] = [];
    let rev = this.#rev;
    const st = this.#st;
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      for (const op of ops) {
        const cur = st.get.get(op.key) as Row | undefined;
        if (op.kind === "create") {
          if (cur) {
            results.push(new KvConflictError(`key ${op.key} exists`, toEntry(cur)));
            continue;
          }
          rev++;
          st.insert.run(op.key, op.value!, rev, rev);
          st.event.run(rev, op.key, 0, op.value!, null);
          events.push({ type: "put", key: op.key, value: op.value, revision: rev });
        } else {
          if (!cur || cur.modRev !== op.expect) {
            results.push(
              new KvConflictError(
                `key ${op.key}: expected revision ${op.expect}, found ${cur?.modRev ?? "none"}`,
                cur ? toEntry(cur) : undefined,
              ),
            );
            continue;
          }
          rev++;
          if (op.kind === "update") {
            st.update.run(op.value!, rev, op.key);
            st.event.run(rev, op.key, 0, op.value!, cur.value);
            events.push({
              type: "put",
              key: op.key,
              value: op.value,
              prevValue: cur.value,
              revision: rev,
            });
          } else {
            st.delete.run(op.key);
            st.event.run(rev, op.key, 1, null, cur.value);
            events.push({ type: "delete", key: op.key, prevValue: cur.value, revision: rev });
          }
        }
        results.push(rev);
      }
      if (rev !== this.#rev) {
        st.setMeta.run(rev, "revision");
        if (rev - this.#compacted > this.#history * 1.1) {
          const upTo = rev - this.#history;
          st.compact.run(upTo);
          st.setMeta.run(upTo, "compacted");
          this.#compacted = upTo;
        }
      }
      this.#db.exec("COMMIT");
    } catch (err) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // The transaction may not have begun.
      }
      const e = new KvUnavailableError(`sqlite: write failed: ${String(err)}`, { cause: err });
      for (const op of ops) op.reject(e);
      return;
    }
    this.#rev = rev;
    ops.forEach((op, i) => {
      const r = results[i];
      if (r instanceof Error) op.reject(r);
      else op.resolve(r);
    });
    for (const ev of events) {
      for (const s of this.#subscribers) if (ev.key.startsWith(s.prefix)) s.queue.push(ev);
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
    if (after < this.#compacted) {
      throw new KvCompactedError(
        `revision ${after} was compacted; the oldest available is ${this.#compacted}`,
        this.#compacted,
      );
    }
    const queue = new AsyncQueue<KvEvent>();
    const rows = this.#st.events.all(after, prefix, upper(prefix)) as unknown as {
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
    }
    const sub: Subscriber = { prefix, queue };
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

  /** The latest revision. @returns The revision. */
  revision(): Promise<number> {
    this.#check();
    return Promise.resolve(this.#rev);
  }

  /**
   * Forgets changes up to a revision.
   * @param revision The last revision to forget.
   */
  compact(revision: number): Promise<void> {
    this.#check();
    const upTo = Math.min(revision, this.#rev);
    if (upTo > this.#compacted) {
      this.#st.compact.run(upTo);
      this.#st.setMeta.run(upTo, "compacted");
      this.#compacted = upTo;
    }
    return Promise.resolve();
  }

  /** Writes what is queued, ends watches and closes the file. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#flush();
    this.#closed = true;
    for (const s of this.#subscribers) s.queue.close();
    this.#db.close();
    return Promise.resolve();
  }
}

function toEntry(row: Row): KvEntry {
  return {
    key: row.key,
    value: row.value,
    createRevision: Number(row.createRev),
    modRevision: Number(row.modRev),
  };
}
