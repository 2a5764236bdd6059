/**
 * The SQLite writer worker: holds the write connection so that a commit's
 * fsync blocks this thread, not the API server's event loop.
 *
 * Messages in: `{ id, type: "open", path, history }`, `{ id, type: "batch", ops }`,
 * `{ id, type: "compact", revision }`, `{ id, type: "close" }`. Each is answered
 * with `{ id, ok: true, value }` or `{ id, ok: false, error }`.
 *
 * @module
 */
import { compactDb, type Db, openDb, writeBatch, type WriteOp } from "./_sqlite_db.ts";

let db: Db | undefined;
let history = 50000;

type Message =
  | { id: number; type: "open"; path: string; history: number }
  | { id: number; type: "batch"; ops: WriteOp[] }
  | { id: number; type: "compact"; revision: number }
  | { id: number; type: "close" };

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Message>) => void) | null;
  postMessage(m: unknown): void;
  close(): void;
};

scope.onmessage = (e) => {
  const m = e.data;
  try {
    let value: unknown = null;
    switch (m.type) {
      case "open":
        db = openDb(m.path);
        history = m.history;
        break;
      case "batch": {
        const t0 = performance.now();
        const result = writeBatch(db!, m.ops, history);
        result.commitMs = performance.now() - t0;
        // The caller has the new values: send back only what it lacks.
        for (const ev of result.events) delete ev.value;
        value = result;
        break;
      }
      case "compact":
        value = compactDb(db!, m.revision);
        break;
      case "close":
        db?.db.close();
        db = undefined;
        break;
    }
    scope.postMessage({ id: m.id, ok: true, value });
  } catch (err) {
    scope.postMessage({ id: m.id, ok: false, error: String(err) });
  }
};
