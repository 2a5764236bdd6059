/**
 * Blob files addressed by digest, and upload files that become blobs by an
 * atomic rename once their bytes are verified. Bodies are streamed, hashing
 * as they go, so a blob of any size is never held in memory.
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { join } from "node:path";
import { SyncingWriter } from "@tsk/image";
import { RegistryError } from "./errors.ts";
import { parseDigest } from "./_reference.ts";

/** Bytes per write of an upload. */
const BUFFER = 1 << 20;
/** Bytes written between background flushes of an upload. */
const EARLY_SYNC = 8 << 20;
/** Bytes per read of a request body. */
const STAGING = 256 << 10;

/**
 * Reads a body into a buffer at an offset: `bytes` is the part of the
 * buffer filled. A byte stream is read with BYOB reads into a staging
 * buffer that is reused (no buffer allocated per chunk); a failed BYOB read
 * detaches the buffer it was given, so that buffer never holds bytes not
 * yet copied out, which an upload broken mid-way must keep. Other streams'
 * chunks are copied.
 */
function bodyReader(body: ReadableStream<Uint8Array>): {
  read: (buf: Uint8Array, at: number) => Promise<{ bytes?: Uint8Array; done: boolean }>;
  cancel: (reason: unknown) => void;
} {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    // not a byte stream
  }
  if (byob) {
    const r = byob;
    let staging = new Uint8Array(STAGING);
    return {
      read: async (buf, at) => {
        const room = Math.min(staging.byteLength, buf.byteLength - at);
        const { done, value } = await r.read(staging.subarray(0, room));
        if (!value) return { done };
        staging = new Uint8Array(value.buffer as ArrayBuffer);
        buf.set(value, at);
        return { bytes: buf.subarray(at, at + value.byteLength), done };
      },
      cancel: (reason) => void r.cancel(reason).catch(() => {}),
    };
  }
  const r = body.getReader();
  let rest: Uint8Array | undefined;
  return {
    read: async (buf, at) => {
      if (!rest?.byteLength) {
        const { done, value } = await r.read();
        if (done) return { done };
        rest = value;
      }
      const n = Math.min(buf.byteLength - at, rest.byteLength);
      buf.set(rest.subarray(0, n), at);
      rest = rest.subarray(n);
      return { bytes: buf.subarray(at, at + n), done: false };
    },
    cancel: (reason) => void r.cancel(reason).catch(() => {}),
  };
}

/** An upload's running hash, kept in memory between chunks. */
interface HashState {
  algorithm: string;
  hash: Hash;
  offset: number;
}

/** Options for {@linkcode BlobStore}. */
export interface BlobStoreOptions {
  /**
   * Refuse a single upload longer than this many bytes.
   * @default Infinity
   */
  maxBlobSize?: number;
}

/**
 * The file store under `<data>/blobs` and `<data>/uploads`.
 *
 * @example Make a store
 * ```ts
 * import { BlobStore } from "./storage.ts";
 * const store = new BlobStore(await Deno.makeTempDir());
 * await store.init();
 * ```
 */
export class BlobStore {
  /** The data directory. */
  readonly root: string;
  #hashes = new Map<string, HashState>();
  #maxBlobSize: number;

  /**
   * Makes a store rooted at `root`.
   *
   * @param root The data directory.
   * @param options Limits.
   */
  constructor(root: string, options: BlobStoreOptions = {}) {
    this.root = root;
    this.#maxBlobSize = options.maxBlobSize ?? Infinity;
  }

  /** Creates the directories. */
  async init(): Promise<void> {
    await Deno.mkdir(join(this.root, "blobs"), { recursive: true });
    await Deno.mkdir(join(this.root, "uploads"), { recursive: true });
  }

  /**
   * The path of a blob's file.
   *
   * @param digest The digest.
   * @returns The path.
   */
  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.root, "blobs", algorithm, hex.slice(0, 2), hex);
  }

  /**
   * The path of an upload's file.
   *
   * @param id The upload id.
   * @returns The path.
   */
  uploadPath(id: string): string {
    return join(this.root, "uploads", id);
  }

  /**
   * Creates an empty upload file.
   *
   * @param id The upload id.
   */
  async createUpload(id: string): Promise<void> {
    await Deno.writeFile(this.uploadPath(id), new Uint8Array(0));
  }

  /**
   * Appends a stream to an upload, hashing it. The bytes written are counted
   * even when the stream breaks, so the session's offset stays true.
   *
   * @param id The upload id.
   * @param body The bytes.
   * @param offset Where the file ends now (the session's offset).
   * @returns The new offset.
   */
  async append(
    id: string,
    body: ReadableStream<Uint8Array> | null,
    offset: number,
  ): Promise<number> {
    let state = this.#hashes.get(id);
    if (state && state.offset !== offset) {
      this.#hashes.delete(id);
      state = undefined;
    }
    if (!state && offset === 0) {
      state = { algorithm: "sha256", hash: createHash("sha256"), offset: 0 };
      this.#hashes.set(id, state);
    }
    const file = await Deno.open(this.uploadPath(id), { write: true });
    // Request bodies arrive in ~64 KiB chunks; a write (a hand-off to a
    // blocking thread) and a hash call per chunk cost more CPU than the
    // bytes. So the body is gathered into 1 MiB buffers, each hashed and
    // written whole while the other fills.
    const bufs = [new Uint8Array(BUFFER), new Uint8Array(BUFFER)];
    let cur = 0;
    let filled = 0;
    // Flushes to disk in the background while the body streams in, so the
    // fdatasync before the blob is committed (syncUpload) has little left.
    const out = new SyncingWriter(file, { earlySyncBytes: EARLY_SYNC });
    const flush = async (hash: boolean) => {
      if (filled === 0) return;
      const full = bufs[cur].subarray(0, filled);
      if (hash) state?.hash.update(full);
      await out.write(full); // once the other buffer is free again
      cur ^= 1;
      filled = 0;
    };
    /** Where the file ends once the writes so far complete. */
    const written = () => offset + out.written;
    const reader = body ? bodyReader(body) : undefined;
    let accepted = offset; // written, being written or buffered
    try {
      // Drop anything a broken earlier request left past the recorded offset.
      await file.truncate(offset);
      await file.seek(offset, Deno.SeekMode.Start);
      while (reader) {
        const { bytes, done } = await reader.read(bufs[cur], filled);
        if (bytes) {
          if (accepted + bytes.byteLength > this.#maxBlobSize) {
            throw new RegistryError(
              "SIZE_INVALID",
              `body: the upload exceeds the limit of ${this.#maxBlobSize} bytes`,
              { status: 413 },
            );
          }
          filled += bytes.byteLength;
          accepted += bytes.byteLength;
        }
        if (done) break;
        if (filled === BUFFER) await flush(true);
      }
      await flush(true);
      await out.drain();
      if (state) state.offset = written();
    } catch (err) {
      // Keep what arrived before the break, so the session's offset stays
      // true; drop the running hash (the final digest is then computed from
      // the file itself).
      this.#hashes.delete(id);
      state = undefined;
      reader?.cancel(err);
      await out.settle();
      await flush(false).then(() => out.flushed()).catch(() => {});
      await out.settle();
      await file.truncate(written()).catch(() => {});
      throw Object.assign(err as Error, { written: written() });
    } finally {
      file.close();
    }
    return written();
  }

  /**
   * Flushes an upload's bytes to disk (fdatasync), before it becomes a blob:
   * a blob the registry has acknowledged survives a crash, as distribution's
   * do (it fsyncs on commit too).
   *
   * @param id The upload id.
   */
  async syncUpload(id: string): Promise<void> {
    const file = await Deno.open(this.uploadPath(id), { write: true });
    try {
      await file.syncData();
    } finally {
      file.close();
    }
  }

  /**
   * Computes the digest of an upload's bytes with `algorithm`, from the
   * running hash when it is current, else by reading the file.
   *
   * @param id The upload id.
   * @param algorithm The digest algorithm.
   * @param offset The session's offset.
   * @returns The digest.
   */
  async uploadDigest(id: string, algorithm: string, offset: number): Promise<string> {
    const state = this.#hashes.get(id);
    if (state && state.algorithm === algorithm && state.offset === offset) {
      return `${algorithm}:${state.hash.copy().digest("hex")}`;
    }
    const hash = createHash(algorithm);
    const file = await Deno.open(this.uploadPath(id));
    try {
      let left = offset;
      for await (const chunk of file.readable) {
        const part = chunk.byteLength > left ? chunk.subarray(0, left) : chunk;
        hash.update(part);
        left -= part.byteLength;
        if (left === 0) break;
      }
    } catch {
      // readable closes the file when done; ignore the double close
    }
    return `${algorithm}:${hash.digest("hex")}`;
  }

  /**
   * Moves a verified upload into place as a blob. Synchronous so the caller
   * can record the blob in the same tick; if the blob exists the upload is
   * just removed.
   *
   * @param id The upload id.
   * @param digest The verified digest.
   */
  commitSync(id: string, digest: string): void {
    const dest = this.blobPath(digest);
    this.#hashes.delete(id);
    try {
      Deno.mkdirSync(join(dest, ".."), { recursive: true });
      Deno.renameSync(this.uploadPath(id), dest);
    } catch (err) {
      this.removeUploadSync(id);
      throw err;
    }
  }

  /**
   * Removes an upload's file and hash.
   *
   * @param id The upload id.
   */
  removeUploadSync(id: string): void {
    this.#hashes.delete(id);
    try {
      Deno.removeSync(this.uploadPath(id));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }

  /**
   * Removes a blob's file.
   *
   * @param digest The digest.
   */
  removeBlobSync(digest: string): void {
    try {
      Deno.removeSync(this.blobPath(digest));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }

  /**
   * Upload files on disk (including ones whose session is gone).
   *
   * @returns The ids.
   */
  async uploadFiles(): Promise<string[]> {
    const out: string[] = [];
    for await (const e of Deno.readDir(join(this.root, "uploads"))) out.push(e.name);
    return out;
  }

  /**
   * Every blob file on disk, with its modification time.
   *
   * @returns Digest and mtime (ms) of each file.
   */
  async *blobFiles(): AsyncGenerator<{ digest: string; mtime: number }> {
    const root = join(this.root, "blobs");
    for await (const alg of Deno.readDir(root)) {
      if (!alg.isDirectory) continue;
      for await (const pre of Deno.readDir(join(root, alg.name))) {
        if (!pre.isDirectory) continue;
        for await (const f of Deno.readDir(join(root, alg.name, pre.name))) {
          try {
            const st = await Deno.stat(join(root, alg.name, pre.name, f.name));
            yield { digest: `${alg.name}:${f.name}`, mtime: st.mtime?.getTime() ?? 0 };
          } catch {
            // removed meanwhile
          }
        }
      }
    }
  }

  /**
   * Opens a blob for reading.
   *
   * @param digest The digest.
   * @returns The open file.
   */
  async open(digest: string): Promise<Deno.FsFile> {
    return await Deno.open(this.blobPath(digest));
  }
}

/**
 * The digest algorithm of a digest string, for hashing an upload.
 *
 * @param digest The digest.
 * @returns The algorithm.
 */
export function digestAlgorithm(digest: string): string {
  return parseDigest(digest).algorithm;
}
