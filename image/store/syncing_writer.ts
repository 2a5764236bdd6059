/**
 * Pipelined file writes with background flushes to disk, shared by the
 * content store's ingest and the registry's uploads.
 *
 * @module
 */

/** Options for {@linkcode SyncingWriter}. */
export interface SyncingWriterOptions {
  /**
   * Bytes written between background fdatasyncs. Each starts when this many
   * bytes have been written since the last one began, at most one at a time,
   * so that the final {@linkcode SyncingWriter.sync} has little left to do.
   * @default {8388608} (8 MiB)
   */
  earlySyncBytes?: number;
}

/**
 * Writes whole buffers to an open file, one in flight while the caller fills
 * the next (so the disk and the source overlap), and starts an fdatasync in
 * the background every few MiB. A failed background flush is reported by
 * {@linkcode SyncingWriter.drain}; only {@linkcode SyncingWriter.sync} makes
 * the bytes durable.
 *
 * The caller must not touch a buffer it passed to `write` until the next
 * `write` (or `drain`) has returned: that is when the kernel has it.
 *
 * @example Write two buffers, then make them durable
 * ```ts
 * import { SyncingWriter } from "@tsk/image";
 * const path = await Deno.makeTempFile();
 * const file = await Deno.open(path, { write: true });
 * const out = new SyncingWriter(file);
 * await out.write(new TextEncoder().encode("hello "));
 * await out.write(new TextEncoder().encode("world"));
 * await out.sync();
 * file.close();
 * console.log(out.written, await Deno.readTextFile(path)); // 11 "hello world"
 * await Deno.remove(path);
 * ```
 */
export class SyncingWriter {
  readonly #file: Deno.FsFile;
  readonly #earlySync: number;
  #inflight: Promise<void> = Promise.resolve();
  #unsynced = 0;
  #syncing: Promise<void> | undefined;
  #syncFailed: unknown;
  #written = 0;

  /**
   * Wraps an open file; writes go where its offset is.
   *
   * @param file A file open for writing.
   * @param options How often to flush in the background.
   */
  constructor(file: Deno.FsFile, options: SyncingWriterOptions = {}) {
    this.#file = file;
    this.#earlySync = options.earlySyncBytes ?? 8 << 20;
  }

  /** Bytes whose write has completed. */
  get written(): number {
    return this.#written;
  }

  /**
   * Waits for the previous write, then starts writing `bytes` and returns
   * without waiting for it.
   *
   * @param bytes The bytes; the caller keeps them untouched until the next call.
   * @throws The previous write's error.
   */
  async write(bytes: Uint8Array): Promise<void> {
    await this.#inflight;
    this.#inflight = this.#writeAll(bytes);
  }

  /**
   * Waits for the write in flight (not for a background flush).
   *
   * @throws The write's error.
   */
  async flushed(): Promise<void> {
    await this.#inflight;
  }

  /**
   * Waits for the write in flight and any background flush.
   *
   * @throws The write's error, or a background flush's.
   */
  async drain(): Promise<void> {
    await this.#inflight;
    await this.#syncing;
    if (this.#syncFailed !== undefined) throw this.#syncFailed;
  }

  /**
   * Like {@linkcode SyncingWriter.drain}, but never throws: for clean-up
   * after an error, so that no write or flush outlives the file.
   */
  async settle(): Promise<void> {
    await this.#inflight.catch(() => {});
    await this.#syncing;
  }

  /** Drains, then fdatasyncs: every byte written is on disk when it returns. */
  async sync(): Promise<void> {
    await this.drain();
    await this.#file.syncData();
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let n = 0;
    while (n < bytes.byteLength) n += await this.#file.write(bytes.subarray(n));
    this.#written += bytes.byteLength;
    this.#unsynced += bytes.byteLength;
    if (this.#unsynced >= this.#earlySync && this.#syncing === undefined) {
      // At most one in flight; writes go on meanwhile.
      this.#unsynced = 0;
      this.#syncing = this.#file.syncData().catch((err) => {
        this.#syncFailed ??= err;
      }).finally(() => {
        this.#syncing = undefined;
      });
    }
  }
}
