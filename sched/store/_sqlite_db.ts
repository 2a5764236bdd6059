/**
 * The SQLite schema and the write transaction shared by the in-thread
 * writer and the writer worker: one batch of compare-and-swap operations
 * in one transaction, fsynced on commit (WAL, synchronous=FULL).
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { KvEntry, KvEvent } from "./kv.ts";

/** One write of a batch. */
export interface WriteOp {
  /** What to do. */
  kind: "create" | "update" | "delete";
  /** The key. */
  key: string;
  /** The new value (create, update). */
  value?: string;
  /** The modRevision the key must have (update, delete). */
  expect?: number;
}

/** The outcome of one write: its revision, or why it did not apply. */
export type WriteResult = { rev: number } | { conflict: string; current?: KvEntry };

/** The outcome of a batch. */
export interface BatchResult {
  /** One result per op, in order. */
  results: WriteResult[];
  /** The changes committed, in revision order. */
  events: KvEvent[];
  /** The revision after the batch. */
  rev: number;
  /** The oldest revision still in the history. */
  compacted: number;
  /** Milliseconds the transaction took, commit and fsync included. */
  commitMs?: number;
}

interface Row {
  key: string;
  value: string;
  createRev: number;
  modRev: number;
}

/** An open database with its prepared statements. */
export interface Db {
  /** The connection. */
  db: DatabaseSync;
  /** Prepared statements. */
  st: Record<string, StatementSync>;
}

/** Converts a row to an entry. */
export function toEntry(row: Row): KvEntry {
  return {
    key: row.key,
    value: row.value,
    createRevision: Number(row.createRev),
    modRevision: Number(row.modRev),
  };
}

/**
 * Opens (creating) the database with WAL and synchronous=FULL.
 * @param path The file, or `:memory:`.
 * @returns The connection and statements.
 */
export function openDb(path: string): Db {
  const db = new DatabaseSync(path);
  db.exec(`
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
  return {
    db,
    st: {
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
    },
  };
}

/** Reads a meta counter (`revision` or `compacted`). */
export function readMeta(d: Db, name: "revision" | "compacted"): number {
  return Number((d.st.meta.get(name) as { value: number }).value);
}

/**
 * Applies a batch in one transaction and commits it (fsync). Conflicting
 * ops are reported and skipped; the others apply in order.
 * @param d The database.
 * @param ops The writes.
 * @param history Changes to keep for watches; older ones are compacted.
 * @returns The results, the events and the new revision.
 * @throws When the transaction fails; nothing of the batch is stored then.
 */
export function writeBatch(d: Db, ops: WriteOp[], history: number): BatchResult {
  const { db, st } = d;
  const results: WriteResult[] = [];
  const events: KvEvent[] = [];
  db.exec("BEGIN IMMEDIATE");
  try {
    const start = readMeta(d, "revision");
    let compacted = readMeta(d, "compacted");
    let rev = start;
    for (const op of ops) {
      const cur = st.get.get(op.key) as Row | undefined;
      if (op.kind === "create") {
        if (cur) {
          results.push({ conflict: `key ${op.key} exists`, current: toEntry(cur) });
          continue;
        }
        rev++;
        st.insert.run(op.key, op.value!, rev, rev);
        st.event.run(rev, op.key, 0, op.value!, null);
        events.push({ type: "put", key: op.key, value: op.value, revision: rev });
      } else {
        if (!cur || cur.modRev !== op.expect) {
          results.push({
            conflict: `key ${op.key}: expected revision ${op.expect}, found ${
              cur?.modRev ?? "none"
            }`,
            current: cur ? toEntry(cur) : undefined,
          });
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
      results.push({ rev });
    }
    if (rev !== start) {
      st.setMeta.run(rev, "revision");
      if (rev - compacted > history * 1.1) {
        compacted = rev - history;
        st.compact.run(compacted);
        st.setMeta.run(compacted, "compacted");
      }
    }
    db.exec("COMMIT");
    return { results, events, rev, compacted };
  } catch (err) {
    try {
      db.exec("ROLLBACK");
    } catch {
      // The transaction may already be gone.
    }
    throw err;
  }
}

/**
 * Forgets the history up to a revision.
 * @param d The database.
 * @param revision The last revision to forget.
 * @returns The oldest revision still available.
 */
export function compactDb(d: Db, revision: number): number {
  const upTo = Math.min(revision, readMeta(d, "revision"));
  if (upTo > readMeta(d, "compacted")) {
    d.db.exec("BEGIN IMMEDIATE");
    try {
      d.st.compact.run(upTo);
      d.st.setMeta.run(upTo, "compacted");
      d.db.exec("COMMIT");
    } catch (err) {
      d.db.exec("ROLLBACK");
      throw err;
    }
  }
  return readMeta(d, "compacted");
}
