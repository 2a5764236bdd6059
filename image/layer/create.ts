/**
 * Layers from directories: a whole tree, or an overlayfs upper directory
 * whose whiteouts (0/0 character devices) and opaque directories
 * (`trusted.overlay.opaque`) become `.wh.` entries.
 *
 * @module
 */
import { join } from "node:path";
import type { ContentStore } from "../store/content_store.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { type Digest, DigestVerifier } from "../oci/digest.ts";
import {
  type Compression,
  MEDIA_TYPE_OCI_LAYER,
  MEDIA_TYPE_OCI_LAYER_GZIP,
  MEDIA_TYPE_OCI_LAYER_ZSTD,
} from "../oci/media_types.ts";
import { compressStream } from "./compression.ts";
import { type TarHeaderInput, TarWriter } from "./tar.ts";
import { devMajor, devMinor, lgetxattr, llistxattr } from "./_libc.ts";

/** The prefix marking a deleted path in a layer. */
export const WHITEOUT_PREFIX = ".wh.";
/** The entry marking a directory whose lower contents are hidden. */
export const WHITEOUT_OPAQUE = ".wh..wh..opq";

/** Options for {@linkcode writeLayerTar} and {@linkcode createLayer}. */
export interface CreateLayerOptions {
  /**
   * Read the directory as an overlayfs upper dir: 0/0 character devices
   * become `.wh.NAME` and opaque directories get `.wh..wh..opq`.
   * @default false
   */
  overlay?: boolean;
  /**
   * Set every entry's mtime to this (seconds since the epoch), for
   * reproducible layers (as SOURCE_DATE_EPOCH does).
   * @default undefined (keep the files' mtimes)
   */
  mtime?: number;
  /**
   * Prefix every entry's name (e.g. `app/` to place a tree under /app).
   * @default ""
   */
  prefix?: string;
  /**
   * Skip a path (relative, `/`-separated) and, for a directory, all below it.
   * @default undefined
   */
  exclude?: (path: string, isDirectory: boolean) => boolean;
  /**
   * Override the permission bits of every entry (as COPY --chmod does).
   * @default undefined (keep the files' modes)
   */
  mode?: number;
  /**
   * Override the owner of every entry.
   * @default undefined (keep the files' owners)
   */
  owner?: { uid: number; gid: number };
  /**
   * The compression of the layer blob.
   * @default "gzip"
   */
  compression?: Compression;
}

const XATTR_KEEP = /^(security\.capability|user\.(?!overlay\.)|trusted\.(?!overlay\.))/;

function mediaTypeFor(c: Compression): string {
  return c === "gzip"
    ? MEDIA_TYPE_OCI_LAYER_GZIP
    : c === "zstd"
    ? MEDIA_TYPE_OCI_LAYER_ZSTD
    : MEDIA_TYPE_OCI_LAYER;
}

function xattrsOf(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of llistxattr(path).sort()) {
    if (!XATTR_KEEP.test(name)) continue;
    const v = lgetxattr(path, name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

function isOpaque(path: string): boolean {
  return lgetxattr(path, "trusted.overlay.opaque") === "y" ||
    lgetxattr(path, "user.overlay.opaque") === "y";
}

/**
 * Writes a directory tree's entries into an open tar writer: entries sorted
 * by name, hard links preserved, sockets skipped. Several trees (or other
 * entries) can go into one archive.
 *
 * @param w The tar writer.
 * @param dir The directory (its own entry is not written).
 * @param options Overlay mode, fixed mtime, prefix, excludes, owner.
 * @returns When every entry is written.
 *
 * @example Two trees in one archive
 * ```ts
 * import { addTree, TarWriter } from "@tsk/image";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a`, "x");
 * const w = new TarWriter();
 * const bytes = new Response(w.readable).arrayBuffer();
 * await addTree(w, dir, { prefix: "one/", mtime: 0 });
 * await addTree(w, dir, { prefix: "two/", mtime: 0 });
 * await w.close();
 * await bytes;
 * ```
 */
export async function addTree(
  w: TarWriter,
  dir: string,
  options: Omit<CreateLayerOptions, "compression"> = {},
): Promise<void> {
  const prefix = options.prefix ?? "";
  const seen = new Map<string, string>(); // dev:ino -> first name, for hard links
  const base = (h: TarHeaderInput, st: Deno.FileInfo): TarHeaderInput => ({
    mode: options.mode ?? ((st.mode ?? 0o644) & 0o7777),
    uid: options.owner?.uid ?? st.uid ?? 0,
    gid: options.owner?.gid ?? st.gid ?? 0,
    mtime: options.mtime ?? Math.floor((st.mtime?.getTime() ?? 0) / 1000),
    ...h,
  });
  const walk = async (abs: string, rel: string): Promise<void> => {
    const names: string[] = [];
    for await (const e of Deno.readDir(abs)) names.push(e.name);
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const p = join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await Deno.lstat(p);
      if (options.exclude?.(r, st.isDirectory)) continue;
      const tarName = prefix + r;
      const fmt = (st.mode ?? 0) & 0o170000;
      if (st.isDirectory) {
        await w.add(base({ name: `${tarName}/`, type: "directory", xattrs: xattrsOf(p) }, st));
        if (options.overlay && isOpaque(p)) {
          await w.add(
            base({ name: `${tarName}/${WHITEOUT_OPAQUE}`, type: "file", mode: 0o644 }, st),
          );
        }
        await walk(p, r);
      } else if (st.isSymlink) {
        await w.add(base({ name: tarName, type: "symlink", linkname: await Deno.readLink(p) }, st));
      } else if (fmt === 0o020000 || fmt === 0o060000) {
        const major = devMajor(st.rdev ?? 0), minor = devMinor(st.rdev ?? 0);
        if (options.overlay && fmt === 0o020000 && major === 0 && minor === 0) {
          const wh = tarName.replace(/[^/]+$/, (n) => WHITEOUT_PREFIX + n);
          await w.add(base({ name: wh, type: "file", mode: 0o644 }, st));
        } else {
          await w.add(base({
            name: tarName,
            type: fmt === 0o020000 ? "char" : "block",
            devmajor: major,
            devminor: minor,
          }, st));
        }
      } else if (fmt === 0o010000) {
        await w.add(base({ name: tarName, type: "fifo" }, st));
      } else if (st.isFile) {
        const key = `${st.dev}:${st.ino}`;
        const first = (st.nlink ?? 1) > 1 ? seen.get(key) : undefined;
        if (first !== undefined) {
          await w.add(base({ name: tarName, type: "hardlink", linkname: first }, st));
          continue;
        }
        if ((st.nlink ?? 1) > 1) seen.set(key, tarName);
        const f = await Deno.open(p, { read: true });
        try {
          await w.add(
            base({ name: tarName, type: "file", size: st.size, xattrs: xattrsOf(p) }, st),
            f.readable,
          );
        } catch (err) {
          try {
            f.close();
          } catch { /* closed by the stream */ }
          throw err;
        }
      }
      // Sockets are not archived (as GNU tar and Docker do).
    }
  };
  await walk(dir, "");
}

/**
 * Writes a directory tree as a tar stream (see {@linkcode addTree}).
 *
 * @param dir The directory (its own entry is not written).
 * @param options Overlay mode, fixed mtime, prefix, excludes, owner.
 * @returns The tar bytes.
 *
 * @example Tar a directory
 * ```ts
 * import { readTar, writeLayerTar } from "@tsk/image";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a`, "x");
 * for await (const e of readTar(writeLayerTar(dir, { mtime: 0 }))) console.log(e.name); // a
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function writeLayerTar(
  dir: string,
  options: Omit<CreateLayerOptions, "compression"> = {},
): ReadableStream<Uint8Array> {
  const w = new TarWriter();
  (async () => {
    await addTree(w, dir, options);
    await w.close();
  })().catch((err) => w.abort(err).catch(() => {}));
  return w.readable;
}

/** A layer written to a content store. */
export interface CreatedLayer {
  /** The (compressed) blob's descriptor. */
  descriptor: Descriptor;
  /** The digest of the uncompressed tar (the config's `diff_ids` entry). */
  diffId: Digest;
}

/**
 * Turns a tar stream into a layer blob in a store, computing the diff ID
 * (uncompressed digest) and the blob digest in one pass.
 *
 * @param tar The uncompressed tar.
 * @param store Where the blob goes.
 * @param compression The blob's compression.
 * @returns The descriptor and diff ID.
 */
export async function storeLayer(
  tar: ReadableStream<Uint8Array>,
  store: ContentStore,
  compression: Compression = "gzip",
): Promise<CreatedLayer> {
  const diff = new DigestVerifier();
  const hashed = tar.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        diff.update(chunk);
        c.enqueue(chunk);
      },
    }),
  );
  const { digest, size } = await store.put(compressStream(hashed, compression));
  return {
    descriptor: { mediaType: mediaTypeFor(compression), digest, size },
    diffId: diff.digest(),
  };
}

/**
 * Creates a layer blob from a directory (see {@linkcode writeLayerTar}).
 *
 * @param dir The directory.
 * @param store Where the blob goes.
 * @param options Overlay mode, fixed mtime, compression, ...
 * @returns The descriptor and diff ID.
 *
 * @example Make a layer
 * ```ts
 * import { ContentStore, createLayer } from "@tsk/image";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/hello`, "hi");
 * const store = new ContentStore(await Deno.makeTempDir());
 * const layer = await createLayer(dir, store, { mtime: 0 });
 * console.log(layer.descriptor.mediaType); // application/vnd.oci.image.layer.v1.tar+gzip
 * ```
 */
export async function createLayer(
  dir: string,
  store: ContentStore,
  options: CreateLayerOptions = {},
): Promise<CreatedLayer> {
  return await storeLayer(writeLayerTar(dir, options), store, options.compression ?? "gzip");
}
