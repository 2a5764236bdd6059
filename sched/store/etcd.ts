/**
 * The etcd v3 key-value backend, through etcd's JSON gateway over `fetch`
 * (`/v3/kv/range`, `/v3/kv/txn` for compare-and-swap, `/v3/watch`
 * streaming). Revisions are etcd's own, so several API servers over one
 * etcd agree on every resourceVersion.
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

/** Options of {@linkcode EtcdKv}. */
export interface EtcdKvOptions {
  /**
   * Milliseconds a unary request may take.
   * @default 10000
   */
  timeoutMs?: number;
  /** A `fetch` to use. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** TLS to etcd (`https://` endpoints): the CA, and a client certificate and key (PEM). */
  tls?: { caPem?: string; certPem?: string; keyPem?: string };
}

interface RawKv {
  key: string;
  value?: string;
  "create_revision"?: string;
  "mod_revision"?: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function b64(text: string): string {
  const bytes = enc.encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

function unb64(text: string | undefined): string {
  if (!text) return "";
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return dec.decode(bytes);
}

/** The smallest key greater than every key with the prefix. */
function prefixEnd(prefix: string): string {
  const bytes = enc.encode(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] < 0xff) {
      const end = bytes.slice(0, i + 1);
      end[i]++;
      let bin = "";
      for (const b of end) bin += String.fromCharCode(b);
      return btoa(bin);
    }
  }
  return btoa("\0");
}

function toEntry(kv: RawKv): KvEntry {
  return {
    key: unb64(kv.key),
    value: unb64(kv.value),
    createRevision: Number(kv.create_revision ?? 0),
    modRevision: Number(kv.mod_revision ?? 0),
  };
}

/**
 * A key-value backend on etcd v3.
 *
 * @example Connect to a local etcd
 * ```ts ignore
 * import { EtcdKv, ObjectStore } from "@tsk/sched";
 * const store = new ObjectStore(new EtcdKv("http://127.0.0.1:2379"));
 * ```
 */
export class EtcdKv implements KvBackend {
  /** The backend's name, for logs and metrics. */
  readonly name = "etcd";
  /** The etcd client URLs. */
  readonly endpoints: string[];
  #timeout: number;
  #fetch: typeof fetch;
  #httpClient: Deno.HttpClient | undefined;
  #next = 0;
  #closed = new AbortController();

  /**
   * Creates a backend talking to one or more etcd client URLs.
   * @param endpoints Comma-separated URLs or a list, e.g. `http://127.0.0.1:2379`.
   * @param options Timeouts and fetch.
   */
  constructor(endpoints: string | string[], options: EtcdKvOptions = {}) {
    const list = (Array.isArray(endpoints) ? endpoints : endpoints.split(","))
      .map((e) => e.trim().replace(/\/+$/, ""))
      .filter((e) => e !== "");
    if (list.length === 0) {
      throw new KvUnavailableError("etcd-endpoints: expected at least one URL");
    }
    for (const e of list) {
      if (!/^https?:\/\//.test(e)) {
        throw new KvUnavailableError(
          `etcd-endpoints: expected a URL like http://127.0.0.1:2379, got ${e}`,
        );
      }
    }
    this.endpoints = list;
    this.#timeout = options.timeoutMs ?? 10000;
    const base = options.fetch ?? fetch;
    if (options.tls) {
      const client = Deno.createHttpClient({
        caCerts: options.tls.caPem ? [options.tls.caPem] : undefined,
        ...(options.tls.certPem && options.tls.keyPem
          ? { cert: options.tls.certPem, key: options.tls.keyPem }
          : {}),
      });
      this.#httpClient = client;
      this.#fetch = (input, init) => base(input, { ...init, client });
    } else {
      this.#fetch = base;
    }
  }

  async #call<T>(path: string, body: unknown): Promise<T> {
    let lastErr: unknown;
    for (let i = 0; i < this.endpoints.length; i++) {
      const base = this.endpoints[(this.#next + i) % this.endpoints.length];
      try {
        const res = await this.#fetch(`${base}${path}`, {
          method: "POST",
          body: JSON.stringify(body),
          headers: { "content-type": "application/json" },
          signal: AbortSignal.any([AbortSignal.timeout(this.#timeout), this.#closed.signal]),
        });
        const text = await res.text();
        if (!res.ok) {
          lastErr = new KvUnavailableError(
            `etcd ${path}: HTTP ${res.status}: ${text.slice(0, 300)}`,
          );
          if (res.status >= 500) continue;
          throw lastErr;
        }
        this.#next = (this.#next + i) % this.endpoints.length;
        return JSON.parse(text) as T;
      } catch (err) {
        if (err instanceof KvUnavailableError && !String(err.message).includes("HTTP 5")) throw err;
        lastErr = err;
      }
    }
    if (lastErr instanceof KvUnavailableError) throw lastErr;
    throw new KvUnavailableError(`etcd ${path}: ${String(lastErr)}`, { cause: lastErr });
  }

  /** Reads one key. @param key The key. @returns The entry or undefined. */
  async get(key: string): Promise<KvEntry | undefined> {
    const r = await this.#call<{ kvs?: RawKv[] }>("/v3/kv/range", { key: b64(key) });
    return r.kvs?.[0] ? toEntry(r.kvs[0]) : undefined;
  }

  /**
   * Reads keys under a prefix in order, at a revision when given.
   * @param prefix The prefix.
   * @param options Start key, limit, revision.
   * @returns The page.
   * @throws {KvCompactedError} When the revision was compacted.
   */
  async range(prefix: string, options: KvRangeOptions = {}): Promise<KvRange> {
    const start = options.startKey && options.startKey > prefix ? options.startKey : prefix;
    const body: Record<string, unknown> = { key: b64(start), "range_end": prefixEnd(prefix) };
    if (options.limit) body.limit = options.limit;
    if (options.revision) body.revision = options.revision;
    try {
      const r = await this.#call<{ header: { revision: string }; kvs?: RawKv[]; more?: boolean }>(
        "/v3/kv/range",
        body,
      );
      return {
        entries: (r.kvs ?? []).map(toEntry),
        revision: Number(r.header.revision),
        more: r.more === true,
      };
    } catch (err) {
      if (err instanceof KvUnavailableError && /compacted/.test(err.message)) {
        throw new KvCompactedError(`revision ${options.revision} was compacted`, 0);
      }
      throw err;
    }
  }

  async #txn(
    key: string,
    compare: Record<string, unknown>,
    success: Record<string, unknown>,
  ): Promise<number> {
    const r = await this.#call<{
      header: { revision: string };
      succeeded?: boolean;
      responses?: { response_range?: { kvs?: RawKv[] } }[];
    }>("/v3/kv/txn", {
      compare: [{ key: b64(key), result: "EQUAL", ...compare }],
      success: [success],
      failure: [{ request_range: { key: b64(key) } }],
    });
    if (!r.succeeded) {
      const kv = r.responses?.[0]?.response_range?.kvs?.[0];
      const cur = kv ? toEntry(kv) : undefined;
      throw new KvConflictError(
        `key ${key}: compare failed (found revision ${cur?.modRevision ?? "none"})`,
        cur,
      );
    }
    return Number(r.header.revision);
  }

  /** Creates a key. @param key The key. @param value The value. @returns The revision. */
  create(key: string, value: string): Promise<number> {
    return this.#txn(key, { target: "CREATE", create_revision: "0" }, {
      request_put: { key: b64(key), value: b64(value) },
    });
  }

  /**
   * Updates a key at a revision.
   * @param key The key.
   * @param change The value and the modRevision the key must have.
   * @returns The revision.
   */
  update(key: string, change: KvChange): Promise<number> {
    return this.#txn(key, { target: "MOD", mod_revision: String(change.expect) }, {
      request_put: { key: b64(key), value: b64(change.value) },
    });
  }

  /** Deletes a key at a revision. @param key The key. @param expect The modRevision. @returns The revision. */
  delete(key: string, expect: number): Promise<number> {
    return this.#txn(key, { target: "MOD", mod_revision: String(expect) }, {
      request_delete_range: { key: b64(key) },
    });
  }

  /**
   * Streams changes after a revision through `/v3/watch`.
   * @param prefix The key prefix.
   * @param options `after`: deliver revisions above it; `signal`: ends the stream.
   * @returns The events in revision order.
   * @throws {KvCompactedError} When `after` was compacted.
   */
  async *watch(prefix: string, options: KvWatchOptions): AsyncIterable<KvEvent> {
    const { after, signal } = options;
    const both = AbortSignal.any([signal, this.#closed.signal]);
    let res: Response;
    let base = this.endpoints[this.#next];
    try {
      for (let i = 0;; i++) {
        base = this.endpoints[(this.#next + i) % this.endpoints.length];
        try {
          res = await this.#fetch(`${base}/v3/watch`, {
            method: "POST",
            body: JSON.stringify({
              create_request: {
                key: b64(prefix),
                range_end: prefixEnd(prefix),
                start_revision: String(after + 1),
                prev_kv: true,
              },
            }),
            headers: { "content-type": "application/json" },
            signal: both,
          });
          break;
        } catch (err) {
          if (both.aborted || i + 1 >= this.endpoints.length) throw err;
        }
      }
    } catch (err) {
      if (both.aborted) return;
      throw new KvUnavailableError(`etcd /v3/watch: ${String(err)}`, { cause: err });
    }
    if (!res.ok || !res.body) {
      throw new KvUnavailableError(`etcd /v3/watch at ${base}: HTTP ${res.status}`);
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    try {
      while (true) {
        let chunk: ReadableStreamReadResult<string>;
        try {
          chunk = await reader.read();
        } catch (err) {
          if (both.aborted) return;
          throw new KvUnavailableError(`etcd /v3/watch: stream failed: ${String(err)}`, {
            cause: err,
          });
        }
        if (chunk.done) {
          if (both.aborted) return;
          throw new KvUnavailableError("etcd /v3/watch: stream ended");
        }
        buf += chunk.value;
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line === "") continue;
          const msg = JSON.parse(line) as {
            result?: {
              compact_revision?: string;
              canceled?: boolean;
              cancel_reason?: string;
              events?: { type?: string; kv: RawKv; prev_kv?: RawKv }[];
            };
            error?: { message?: string };
          };
          if (msg.error) throw new KvUnavailableError(`etcd /v3/watch: ${msg.error.message}`);
          const r = msg.result;
          if (!r) continue;
          if (r.compact_revision && Number(r.compact_revision) > 0) {
            throw new KvCompactedError(
              `revision ${after} was compacted; the oldest available is ${r.compact_revision}`,
              Number(r.compact_revision),
            );
          }
          if (r.canceled) {
            throw new KvUnavailableError(`etcd /v3/watch: canceled: ${r.cancel_reason ?? ""}`);
          }
          for (const ev of r.events ?? []) {
            const e = toEntry(ev.kv);
            const isDelete = ev.type === "DELETE";
            yield {
              type: isDelete ? "delete" : "put",
              key: e.key,
              value: isDelete ? undefined : e.value,
              prevValue: ev.prev_kv ? unb64(ev.prev_kv.value) : undefined,
              revision: e.modRevision,
            };
          }
        }
      }
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  /** The latest revision. @returns The revision. */
  async revision(): Promise<number> {
    const r = await this.#call<{ header: { revision: string } }>("/v3/kv/range", {
      key: b64("/registry/"),
      limit: 1,
      keys_only: true,
    });
    return Number(r.header.revision);
  }

  /**
   * Compacts etcd's history up to a revision.
   * @param revision The revision.
   */
  async compact(revision: number): Promise<void> {
    try {
      await this.#call("/v3/kv/compaction", { revision: String(revision), physical: true });
    } catch (err) {
      // Compacting again to the same revision is not an error.
      if (!(err instanceof KvUnavailableError && /compacted/.test(err.message))) throw err;
    }
  }

  /** Ends watches and pending requests. */
  close(): Promise<void> {
    this.#closed.abort();
    this.#httpClient?.close();
    return Promise.resolve();
  }
}
