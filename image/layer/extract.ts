/**
 * Safe layer extraction. Entries that would escape the root are refused:
 * `..` components, hard links out of the root, and any write whose path
 * passes through a symlink (including one planted by an earlier entry).
 * Absolute names are contained (read as relative to the root). Device nodes
 * are created only when allowed (root by default) and skipped otherwise.
 *
 * @module
 */
import { join } from "node:path";
import { ImageError } from "../errors.ts";
import { DigestVerifier } from "../oci/digest.ts";
import type { Digest } from "../oci/digest.ts";
import type { Compression } from "../oci/media_types.ts";
import { decompressStream } from "./compression.ts";
import { WHITEOUT_OPAQUE, WHITEOUT_PREFIX } from "./create.ts";
import { readTar, type TarEntry } from "./tar.ts";
import { lchown, lsetxattr, lutimes, makedev, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from "./_libc.ts";

/** A tar entry was refused because extracting it would be unsafe. */
export class UnsafeEntryError extends ImageError {
  /** The entry's name as it appears in the archive. */
  readonly entry: string;

  /**
   * Creates the error.
   *
   * @param entry The entry's name.
   * @param reason Why it was refused.
   */
  constructor(entry: string, reason: string) {
    super(`Refusing tar entry ${JSON.stringify(entry)}: ${reason}`);
    this.name = "UnsafeEntryError";
    this.entry = entry;
  }
}

/** Options for {@linkcode extractLayer}. */
export interface ExtractOptions {
  /**
   * How whiteouts are applied. `overlay`: the directory is one overlayfs
   * lower layer, so `.wh.NAME` becomes a 0/0 character device and
   * `.wh..wh..opq` the `trusted.overlay.opaque` xattr. `apply`: the layer
   * is applied on top of what the directory holds, so whiteouts delete.
   * @default "apply"
   */
  whiteouts?: "overlay" | "apply";
  /**
   * Create character and block devices (skipped with a warning otherwise).
   * @default Deno.uid() === 0
   */
  allowDevices?: boolean;
  /**
   * Set owners from the archive.
   * @default Deno.uid() === 0
   */
  chown?: boolean;
  /**
   * The compression of the stream; sniffed when undefined.
   * @default undefined
   */
  compression?: Compression;
  /**
   * The diff ID (uncompressed digest) the tar must have; the extraction
   * fails at the end when it differs.
   * @default undefined
   */
  diffId?: string;
  /**
   * Called for each skipped entry, with the reason.
   * @default undefined
   */
  onWarning?: (message: string) => void;
}

/** What an extraction did. */
export interface ExtractResult {
  /** The digest of the uncompressed tar. */
  diffId: Digest;
  /** How many entries were extracted. */
  entries: number;
  /** Skipped entries, with the reason. */
  warnings: string[];
}

function clean(name: string, entry: string): string[] {
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new UnsafeEntryError(entry, "path escapes the root ('..')");
  if (name.includes("\0")) throw new UnsafeEntryError(entry, "path contains NUL");
  return parts;
}

class Extractor {
  readonly root: string;
  readonly opts: ExtractOptions;
  readonly dirs = new Set<string>([""]); // relative dirs known to be real directories
  readonly created = new Set<string>(); // paths this layer created (apply-mode opaque dirs)
  readonly dirTimes: [string, number][] = [];
  readonly warnings: string[] = [];
  readonly isRoot = Deno.uid() === 0;

  constructor(root: string, opts: ExtractOptions) {
    this.root = root;
    this.opts = opts;
  }

  warn(msg: string) {
    this.warnings.push(msg);
    this.opts.onWarning?.(msg);
  }

  /** Makes sure every parent of `parts` is a real directory, never a symlink. */
  async parents(parts: string[], entry: string, create: boolean): Promise<void> {
    let rel = "";
    for (let i = 0; i < parts.length - 1; i++) {
      rel = rel ? `${rel}/${parts[i]}` : parts[i];
      if (this.dirs.has(rel)) continue;
      const abs = join(this.root, rel);
      let st: Deno.FileInfo | null = null;
      try {
        st = await Deno.lstat(abs);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
      if (st === null) {
        if (!create) throw new UnsafeEntryError(entry, `parent ${rel} does not exist`);
        await Deno.mkdir(abs, { mode: 0o755 });
        this.created.add(rel);
      } else if (st.isSymlink) {
        throw new UnsafeEntryError(entry, `parent ${rel} is a symlink (writing through a symlink)`);
      } else if (!st.isDirectory) {
        throw new UnsafeEntryError(entry, `parent ${rel} is not a directory`);
      }
      this.dirs.add(rel);
    }
  }

  async removeExisting(abs: string, rel: string): Promise<Deno.FileInfo | null> {
    let st: Deno.FileInfo;
    try {
      st = await Deno.lstat(abs);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null;
      throw err;
    }
    await Deno.remove(abs, { recursive: st.isDirectory });
    for (const d of this.dirs) if (d === rel || d.startsWith(rel + "/")) this.dirs.delete(d);
    return st;
  }

  async entry(e: TarEntry): Promise<void> {
    const parts = clean(e.name, e.name);
    if (parts.length === 0) return; // the root itself: leave its metadata alone
    const rel = parts.join("/");
    const base = parts[parts.length - 1];
    const abs = join(this.root, rel);
    const overlay = this.opts.whiteouts === "overlay";
    await this.parents(parts, e.name, true);

    if (base === WHITEOUT_OPAQUE) {
      const dirRel = parts.slice(0, -1).join("/");
      const dirAbs = join(this.root, dirRel);
      if (overlay) lsetxattr(dirAbs, "trusted.overlay.opaque", "y");
      else {
        for await (const c of Deno.readDir(dirAbs)) {
          const childRel = dirRel ? `${dirRel}/${c.name}` : c.name;
          if (!this.created.has(childRel)) {
            await this.removeExisting(join(dirAbs, c.name), childRel);
          }
        }
      }
      return;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      const target = base.slice(WHITEOUT_PREFIX.length);
      if (target.startsWith(".wh.") || target === "" || target === "." || target === "..") {
        if (target === "" || target === "." || target === "..") {
          throw new UnsafeEntryError(e.name, "whiteout of an invalid name");
        }
        return; // aufs metadata (.wh..wh.plnk etc.)
      }
      const tRel = [...parts.slice(0, -1), target].join("/");
      const tAbs = join(this.root, tRel);
      await this.removeExisting(tAbs, tRel);
      if (overlay) {
        mknod(tAbs, S_IFCHR | 0o000, 0n);
        this.created.add(tRel);
      }
      return;
    }

    if (e.type === "directory") {
      let st: Deno.FileInfo | null = null;
      try {
        st = await Deno.lstat(abs);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
      if (st && !st.isDirectory) {
        await this.removeExisting(abs, rel);
        st = null;
      }
      if (!st) await Deno.mkdir(abs, { mode: 0o700 });
      this.dirs.add(rel);
      this.created.add(rel);
      await this.meta(abs, e, false);
      this.dirTimes.push([abs, e.mtime]);
      return;
    }

    await this.removeExisting(abs, rel);
    this.created.add(rel);
    switch (e.type) {
      case "file": {
        const f = await Deno.open(abs, { write: true, createNew: true, mode: 0o600 });
        try {
          for await (const chunk of e.body) {
            let off = 0;
            while (off < chunk.length) off += await f.write(chunk.subarray(off));
          }
        } finally {
          f.close();
        }
        await this.meta(abs, e, false);
        break;
      }
      case "symlink":
        if (e.linkname === "") throw new UnsafeEntryError(e.name, "symlink with an empty target");
        // The link may point anywhere: it is never followed while extracting.
        await Deno.symlink(e.linkname, abs);
        await this.meta(abs, e, true);
        break;
      case "hardlink": {
        const tParts = clean(e.linkname, e.name);
        if (tParts.length === 0) throw new UnsafeEntryError(e.name, "hard link to the root");
        await this.parents(tParts, e.name, false);
        const tAbs = join(this.root, ...tParts);
        let st: Deno.FileInfo;
        try {
          st = await Deno.lstat(tAbs);
        } catch {
          throw new UnsafeEntryError(e.name, `hard link target ${e.linkname} does not exist`);
        }
        if (st.isDirectory) throw new UnsafeEntryError(e.name, "hard link to a directory");
        await Deno.link(tAbs, abs); // link(2) does not follow a symlink target
        break;
      }
      case "char":
      case "block":
        if (!(this.opts.allowDevices ?? this.isRoot)) {
          this.warn(`Skipped device node ${e.name}: not allowed to create devices`);
          return;
        }
        mknod(
          abs,
          (e.type === "char" ? S_IFCHR : S_IFBLK) | (e.mode & 0o777),
          makedev(e.devmajor, e.devminor),
        );
        await this.meta(abs, e, false);
        break;
      case "fifo":
        mknod(abs, S_IFIFO | (e.mode & 0o777), 0n);
        await this.meta(abs, e, false);
        break;
    }
  }

  async meta(abs: string, e: TarEntry, symlink: boolean): Promise<void> {
    if (this.opts.chown ?? this.isRoot) lchown(abs, e.uid, e.gid);
    if (!symlink) await Deno.chmod(abs, e.mode & 0o7777); // after chown, which clears setuid
    for (const [k, v] of Object.entries(e.xattrs)) {
      if (/^trusted\.overlay\./.test(k)) continue; // never let a layer fake overlay metadata
      try {
        lsetxattr(abs, k, v);
      } catch (err) {
        this.warn(`Skipped xattr ${k} on ${e.name}: ${(err as Error).message}`);
      }
    }
    if (e.type !== "directory") {
      try {
        lutimes(abs, e.mtime);
      } catch { /* times are best effort */ }
    }
  }
}

/**
 * Extracts a layer into a directory, safely (see the module doc).
 *
 * @param layer The layer blob (compressed or not) as a stream.
 * @param dest The directory to extract into (created if missing).
 * @param options Whiteout mode, devices, ownership, expected diff ID.
 * @returns The diff ID, entry count and warnings.
 * @throws {UnsafeEntryError} For an entry that would escape the root.
 * @throws {DigestMismatchError} When `diffId` is given and differs.
 *
 * @example Extract a layer
 * ```ts
 * import { extractLayer, TarWriter } from "@tsk/image";
 * const w = new TarWriter();
 * const done = extractLayer(w.readable, await Deno.makeTempDir());
 * await w.add({ name: "etc/motd", type: "file" }, new TextEncoder().encode("hi"));
 * await w.close();
 * console.log((await done).entries); // 1
 * ```
 */
export async function extractLayer(
  layer: ReadableStream<Uint8Array>,
  dest: string,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  await Deno.mkdir(dest, { recursive: true });
  const x = new Extractor(dest, options);
  const verifier = new DigestVerifier(options.diffId);
  const tar = decompressStream(layer, options.compression).pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        verifier.update(chunk);
        c.enqueue(chunk);
      },
    }),
  );
  // readTar stops at the end-of-archive blocks; read on to the end so the
  // diff ID covers every byte, and keep readTar from cancelling the stream.
  const reader = tar.getReader();
  const source: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        const r = await reader.read();
        return r.done ? { done: true, value: undefined } : { done: false, value: r.value };
      },
      return: () => Promise.resolve({ done: true, value: undefined }),
    }),
  };
  let entries = 0;
  try {
    for await (const e of readTar(source)) {
      await x.entry(e);
      entries++;
    }
    while (!(await reader.read()).done);
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    throw err;
  }
  for (const [abs, mtime] of x.dirTimes.reverse()) {
    try {
      lutimes(abs, mtime);
    } catch { /* best effort */ }
  }
  return { diffId: verifier.verify(), entries, warnings: x.warnings };
}
