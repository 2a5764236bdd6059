/**
 * A content-addressable blob store laid out as an OCI image layout's
 * `blobs/<alg>/<hex>`: digests computed while streaming, atomic writes,
 * verification on read, and garbage collection.
 *
 * @module
 */
import { join } from "node:path";
import { DigestMismatchError, ImageError, NotFoundError } from "../errors.ts";
import { type Digest, DigestVerifier, parseDigest, verifyingStream } from "../oci/digest.ts";
import { exists, randomSuffix } from "./_fs.ts";
import { SyncingWriter } from "./syncing_writer.ts";

const WRITE_BUFFER = 1 << 20;
/** Bytes per chunk when a blob is read as a stream. */
const READ_CHUNK = 1 << 20;
/**
 * Bytes written between early background flushes (fdatasync while the rest
 * still streams in), so the disk works alongside the network and the final
 * fdatasync before the rename has little left to do.
 */
const EARLY_SYNC = 8 << 20;

/** A BYOB reader of `stream` when it is a byte stream (as fetch bodies and files are). */
function byobReader(stream: ReadableStream<Uint8Array>): ReadableStreamBYOBReader | undefined {
  try {
    return stream.getReader({ mode: "byob" });
  } catch {
    return undefined;
  }
}

/**
 * A file as a stream of 1 MiB chunks (`FsFile.readable` reads 64 KiB at a
 * time: sixteen times the reads, stream steps and hash calls, which a push
 * paid for in CPU). Each chunk is a new buffer: its reader (an upload in
 * flight) may hold it after the next read. The file closes at the end, on
 * error and on cancel.
 */
function fileStream(file: Deno.FsFile): ReadableStream<Uint8Array> {
  let open = true;
  const close = () => {
    if (open) file.close();
    open = false;
  };
  return new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      try {
        const buf = new Uint8Array(READ_CHUNK);
        const n = await file.read(buf);
        if (n === null) {
          close();
          ctrl.close();
        } else ctrl.enqueue(buf.subarray(0, n));
      } catch (err) {
        close();
        ctrl.error(err);
      }
    },
    cancel: close,
  }, { highWaterMark: 0 });
}

/** The result of writing a blob. */
export interface BlobInfo {
  /** The blob's digest. */
  digest: Digest;
  /** The blob's size in bytes. */
  size: number;
}

/** Options for {@linkcode ContentStore.put}. */
export interface PutOptions {
  /**
   * The digest the content must have; the write fails (and stores nothing)
   * when it does not.
   * @default undefined (learn the digest from the bytes)
   */
  expected?: string;
  /**
   * The size the content must have.
   * @default undefined (any)
   */
  size?: number;
  /**
   * Called with the running byte count as the content streams in.
   * @default undefined
   */
  onProgress?: (bytes: number) => void;
}

/** Content accepted by {@linkcode ContentStore.put}. */
export type BlobSource =
  | Uint8Array
  | string
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>;

/**
 * Blobs on disk under `<root>/blobs/sha256/<hex>`. Each write goes to a
 * temporary file under `<root>/ingest`, is hashed as it streams, and is
 * renamed into place only when its digest is known (and matches the
 * expected one): a reader never sees a partial blob, and two writers of the
 * same content both succeed with one copy stored.
 *
 * @example Store and read back a blob
 * ```ts
 * import { ContentStore } from "@tsk/image";
 * const dir = await Deno.makeTempDir();
 * const store = new ContentStore(dir);
 * const { digest } = await store.put("hello");
 * console.log(new TextDecoder().decode(await store.get(digest))); // "hello"
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class ContentStore {
  /** The directory holding `blobs/` and `ingest/`. */
  readonly root: string;

  /**
   * Opens (lazily creates) a store.
   *
   * @param root The directory holding `blobs/` and `ingest/`.
   */
  constructor(root: string) {
    this.root = root;
  }

  /**
   * Returns where a blob lives on disk (whether or not it exists).
   *
   * @param digest The blob's digest.
   * @returns `<root>/blobs/<alg>/<hex>`.
   * @throws {ValidationError} When the digest is malformed (so no path escapes the store).
   */
  path(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.root, "blobs", algorithm, hex);
  }

  /**
   * Returns whether a blob is stored.
   *
   * @param digest The blob's digest.
   * @returns True when present.
   */
  async has(digest: string): Promise<boolean> {
    return await exists(this.path(digest));
  }

  /**
   * Returns the size of a stored blob.
   *
   * @param digest The blob's digest.
   * @returns Its size in bytes.
   * @throws {NotFoundError} When it is not stored.
   */
  async size(digest: string): Promise<number> {
    try {
      return (await Deno.stat(this.path(digest))).size;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new NotFoundError(`Blob not found: ${digest}`, { cause: err });
      }
      throw err;
    }
  }

  /**
   * Stores content, hashing it as it streams.
   *
   * @param source Bytes, a string (UTF-8), or a stream of bytes.
   * @param options The expected digest and size, progress callback.
   * @returns The digest and size.
   * @throws {DigestMismatchError} When the content does not match `expected` or `size`; nothing is stored.
   */
  async put(source: BlobSource, options: PutOptions = {}): Promise<BlobInfo> {
    if (options.expected !== undefined) {
      parseDigest(options.expected, "expected");
      if (await this.has(options.expected)) {
        // Already stored (and verified when it was): drain nothing, trust the address.
        if (source instanceof ReadableStream) await source.cancel().catch(() => {});
        return { digest: options.expected, size: await this.size(options.expected) };
      }
    }
    const ingest = join(this.root, "ingest");
    await Deno.mkdir(ingest, { recursive: true });
    const tmp = join(ingest, `blob-${randomSuffix()}`);
    const verifier = new DigestVerifier(options.expected);
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    let closed = false;
    // Network and decompression streams deliver small chunks; one write(2)
    // per chunk costs several times the disk bandwidth, so gather ~1 MiB, and
    // write one buffer while the next fills (two buffers) so the disk and the
    // source overlap.
    const bufs = [new Uint8Array(WRITE_BUFFER), new Uint8Array(WRITE_BUFFER)];
    let cur = 0;
    let buffered = 0;
    const out = new SyncingWriter(file, { earlySyncBytes: EARLY_SYNC });
    // Bytes read into bufs[cur] but not yet hashed (BYOB reads hash a whole
    // buffer at once, fewer calls than one per network chunk).
    let unhashed = 0;
    const flush = async () => {
      if (buffered === 0) return;
      const full = bufs[cur].subarray(0, buffered);
      if (unhashed) verifier.update(full.subarray(buffered - unhashed));
      unhashed = 0;
      await out.write(full); // once the other buffer is free again
      cur ^= 1;
      buffered = 0;
    };
    const tooLong = (n: number) => {
      if (options.size !== undefined && n > options.size) {
        throw new DigestMismatchError(
          options.expected ?? "(any)",
          `more than ${options.size} bytes`,
        );
      }
    };
    let byob: ReadableStreamBYOBReader | undefined;
    try {
      const write = async (chunk: Uint8Array) => {
        verifier.update(chunk);
        tooLong(verifier.size);
        if (chunk.length >= WRITE_BUFFER) {
          await flush();
          await out.write(chunk);
          await out.flushed();
        } else {
          if (buffered + chunk.length > WRITE_BUFFER) await flush();
          bufs[cur].set(chunk, buffered);
          buffered += chunk.length;
        }
        options.onProgress?.(verifier.size);
      };
      if (typeof source === "string") await write(new TextEncoder().encode(source));
      else if (source instanceof Uint8Array) await write(source);
      else {
        byob = source instanceof ReadableStream ? byobReader(source) : undefined;
        if (byob) {
          // Read straight into the write buffers: no buffer per network chunk
          // (allocated, zeroed, collected) and no copy.
          let total = 0;
          while (true) {
            const { done, value } = await byob.read(new Uint8Array(bufs[cur].buffer, buffered));
            // The read moved the buffer: keep the moved one.
            if (value) bufs[cur] = new Uint8Array(value.buffer, 0, WRITE_BUFFER);
            else if (bufs[cur].buffer.detached) bufs[cur] = new Uint8Array(WRITE_BUFFER);
            const n = value?.byteLength ?? 0;
            buffered += n;
            unhashed += n;
            total += n;
            tooLong(total);
            if (n) options.onProgress?.(total);
            if (done) break;
            if (buffered === WRITE_BUFFER) await flush();
          }
        } else {
          for await (const chunk of source) await write(chunk);
        }
      }
      await flush();
      await out.flushed();
      if (options.size !== undefined && verifier.size !== options.size) {
        throw new DigestMismatchError(
          options.expected ?? "(any)",
          `${verifier.size} bytes instead of ${options.size}`,
        );
      }
      const digest = verifier.verify();
      // A failed background flush surfaces here, before the rename; the
      // fdatasync in sync() is what makes the blob durable.
      await out.sync();
      file.close();
      closed = true;
      const dest = this.path(digest);
      await Deno.mkdir(join(dest, ".."), { recursive: true });
      // rename(2) replaces atomically: a concurrent writer of the same digest
      // wrote the same bytes, so whichever lands last is equally right.
      await Deno.rename(tmp, dest);
      return { digest, size: verifier.size };
    } catch (err) {
      await byob?.cancel(err).catch(() => {});
      await out.settle();
      if (!closed) file.close();
      await Deno.remove(tmp).catch(() => {});
      throw err;
    }
  }

  /**
   * Reads a whole blob and verifies it against its digest.
   *
   * @param digest The blob's digest.
   * @returns Its bytes.
   * @throws {NotFoundError} When it is not stored.
   * @throws {DigestMismatchError} When the file on disk was altered.
   */
  async get(digest: string): Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(this.path(digest));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new NotFoundError(`Blob not found: ${digest}`, { cause: err });
      }
      throw err;
    }
    const v = new DigestVerifier(digest);
    v.update(bytes);
    try {
      v.verify();
    } catch (err) {
      throw new ImageError(`Blob ${digest} is corrupt on disk: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return bytes;
  }

  /**
   * Reads a blob as JSON (verified).
   *
   * @param digest The blob's digest.
   * @returns The parsed JSON.
   */
  async getJson(digest: string): Promise<unknown> {
    return JSON.parse(new TextDecoder().decode(await this.get(digest)));
  }

  /**
   * Opens a blob as a stream that fails at its end if the bytes on disk do
   * not match the digest.
   *
   * @param digest The blob's digest.
   * @param options `verify: false` when the reader hashes the bytes itself
   * (a registry upload does), to hash them once. Default: verify.
   * @returns A (verifying) byte stream.
   * @throws {NotFoundError} When it is not stored.
   */
  async open(
    digest: string,
    options: { verify?: boolean } = {},
  ): Promise<ReadableStream<Uint8Array>> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.path(digest), { read: true });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new NotFoundError(`Blob not found: ${digest}`, { cause: err });
      }
      throw err;
    }
    const stream = fileStream(file);
    if (options.verify === false) return stream;
    return stream.pipeThrough(verifyingStream(digest).stream);
  }

  /**
   * Removes a blob (no error when it is absent).
   *
   * @param digest The blob's digest.
   */
  async delete(digest: string): Promise<void> {
    await Deno.remove(this.path(digest)).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
  }

  /**
   * Lists every stored blob's digest.
   *
   * @returns The digests.
   */
  async list(): Promise<Digest[]> {
    const out: Digest[] = [];
    for (const alg of ["sha256", "sha512"]) {
      try {
        for await (const e of Deno.readDir(join(this.root, "blobs", alg))) {
          if (e.isFile && /^[a-f0-9]+$/.test(e.name)) out.push(`${alg}:${e.name}`);
        }
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    return out;
  }

  /**
   * Removes temporary files left by writes that were killed midway. Only
   * files older than `olderThanMs` go, so writes in progress are untouched.
   *
   * @param olderThanMs Minimum age of a temporary file to remove.
   * @returns How many were removed.
   */
  async cleanIngest(olderThanMs = 60 * 60 * 1000): Promise<number> {
    let n = 0;
    try {
      for await (const e of Deno.readDir(join(this.root, "ingest"))) {
        const p = join(this.root, "ingest", e.name);
        const st = await Deno.stat(p).catch(() => null);
        if (st?.mtime && Date.now() - st.mtime.getTime() > olderThanMs) {
          await Deno.remove(p, { recursive: true }).catch(() => {});
          n++;
        }
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return n;
  }
}
