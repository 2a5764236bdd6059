/**
 * The SQLite writer worker: holds the write connection so that a commit's
 * fsync blocks this thread, not the API server's event loop.
 *
 * It starts with one `postMessage`, `{ id, type: "open", path, history,
 * channel }`, answered with `{ id, ok, error? }`. After a successful open
 * it serves requests on the shared channel (see `_sqlite_channel.ts`),
 * blocking on it between requests: `{ type: "batch", ops }`,
 * `{ type: "compact", revision }`, `{ type: "close" }`, each answered with
 * `{ ok: true, value }` or `{ ok: false, error }`. After "close" it returns
 * to its event loop, to be terminated.
 *
 * @module
 */
import { compactDb, type Db, openDb, writeBatch, type WriteOp } from "./_sqlite_db.ts";
import {
  ANSWER,
  ANSWER_LENGTH,
  controlOf,
  readMessage,
  REQUEST,
  REQUEST_LENGTH,
  writeMessage,
} from "./_sqlite_channel.ts";

type Open = { id: number; type: "open"; path: string; history: number; channel: SharedArrayBuffer };
type Request =
  | { type: "batch"; ops: WriteOp[] }
  | { type: "compact"; revision: number }
  | { type: "close" };

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Open>) => void) | null;
  postMessage(m: unknown): void;
};

function handle(db: Db, history: number, m: Request): unknown {
  switch (m.type) {
    case "batch": {
      const t0 = performance.now();
      const result = writeBatch(db, m.ops, history);
      result.commitMs = performance.now() - t0;
      // The caller has the new values: send back only what it lacks.
      for (const ev of result.events) delete ev.value;
      return result;
    }
    case "compact":
      return compactDb(db, m.revision);
    case "close":
      db.db.close();
      return null;
  }
}

function serve(db: Db, history: number, channel: SharedArrayBuffer): void {
  const ctl = controlOf(channel);
  while (true) {
    while (Atomics.load(ctl, REQUEST) !== 1) Atomics.wait(ctl, REQUEST, 0);
    let m: Request | undefined;
    let text: string;
    try {
      m = JSON.parse(readMessage(channel, ctl[REQUEST_LENGTH])) as Request;
      text = JSON.stringify({ ok: true, value: handle(db, history, m) });
    } catch (err) {
      text = JSON.stringify({ ok: false, error: String(err) });
    }
    let length: number;
    try {
      length = writeMessage(channel, text);
    } catch (err) {
      length = writeMessage(channel, JSON.stringify({ ok: false, error: String(err) }));
    }
    ctl[ANSWER_LENGTH] = length;
    Atomics.store(ctl, REQUEST, 0);
    Atomics.store(ctl, ANSWER, 1);
    Atomics.notify(ctl, ANSWER);
    if (m?.type === "close") return;
  }
}

scope.onmessage = (e) => {
  const m = e.data;
  let db: Db;
  try {
    db = openDb(m.path);
  } catch (err) {
    scope.postMessage({ id: m.id, ok: false, error: String(err) });
    return;
  }
  scope.postMessage({ id: m.id, ok: true });
  scope.onmessage = null;
  // Let the answer go out before this thread blocks on the channel.
  setTimeout(() => serve(db, m.history, m.channel), 0);
};
