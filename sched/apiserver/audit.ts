/**
 * The audit log: one JSON line per mutating request (who, what, where, the
 * outcome), appended to a file the operator can ship elsewhere.
 *
 * @module
 */

/** One audited request. */
export interface AuditEntry {
  /** RFC 3339 time of the response. */
  ts: string;
  /** A per-request id. */
  requestId: string;
  /** The user, or `system:anonymous`. */
  user: string;
  /** The user's groups. */
  groups: string[];
  /** The verb. */
  verb: string;
  /** The resource (with `/subresource`). */
  resource: string;
  /** The namespace, if any. */
  namespace?: string;
  /** The object's name, if any. */
  name?: string;
  /** The HTTP status of the response. */
  code: number;
  /** The client's address. */
  sourceIP?: string;
  /** Milliseconds the request took. */
  latencyMs: number;
}

/** Where audit entries go. */
export interface AuditSink {
  /** Records an entry. */
  write(entry: AuditEntry): void;
  /** Flushes and closes. */
  close(): void;
}

/** Options of {@linkcode fileAuditSink}. */
export interface FileAuditSinkOptions {
  /**
   * Size at which the file is rotated to `<path>.1` (replacing the previous
   * one) and a new file begun.
   * @default 104857600 (100 MiB)
   */
  maxBytes?: number;
}

/**
 * An audit sink appending JSON lines to a file. Each line is written with
 * one `write` call on a file opened for appending.
 *
 * @param path The file.
 * @param options Rotation size.
 * @returns The sink.
 *
 * @example Audit to a file
 * ```ts
 * import { fileAuditSink } from "@tsk/sched";
 * const path = await Deno.makeTempFile();
 * const audit = fileAuditSink(path);
 * audit.write({
 *   ts: new Date().toISOString(), requestId: "1", user: "admin", groups: [],
 *   verb: "create", resource: "pods", code: 201, latencyMs: 1,
 * });
 * audit.close();
 * ```
 */
export function fileAuditSink(path: string, options: FileAuditSinkOptions = {}): AuditSink {
  const maxBytes = options.maxBytes ?? 100 * 1024 * 1024;
  const open = () => Deno.openSync(path, { append: true, create: true, mode: 0o600 });
  let file = open();
  let size = file.statSync().size;
  const enc = new TextEncoder();
  let closed = false;
  return {
    write(entry) {
      if (closed) return;
      const bytes = enc.encode(JSON.stringify(entry) + "\n");
      if (size > 0 && size + bytes.length > maxBytes) {
        file.close();
        Deno.renameSync(path, `${path}.1`);
        file = open();
        size = 0;
      }
      let off = 0;
      while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
      size += bytes.length;
    },
    close() {
      if (closed) return;
      closed = true;
      file.close();
    },
  };
}

/**
 * An audit sink keeping entries in memory, for tests.
 *
 * @returns The sink and its entries.
 *
 * @example Collect entries
 * ```ts
 * import { memoryAuditSink } from "@tsk/sched";
 * const audit = memoryAuditSink();
 * console.log(audit.entries.length); // 0
 * ```
 */
export function memoryAuditSink(): AuditSink & { entries: AuditEntry[] } {
  const entries: AuditEntry[] = [];
  return { entries, write: (e) => entries.push(e), close() {} };
}
