/**
 * Snapshots for overlayfs: each layer is unpacked once per diff ID into a
 * directory shared by every image and container that uses it; a container
 * gets its image's layer directories as overlay lower dirs plus its own
 * upper and work dirs. Unused snapshots are collected.
 *
 * @module
 */
import { join } from "node:path";
import { tskHome } from "@tsk/api/home";
import { ImageError, NotFoundError, ValidationError } from "./errors.ts";
import type { Descriptor } from "./oci/descriptor.ts";
import type { ImageLayer } from "./commit.ts";
import { parseDigest } from "./oci/digest.ts";
import { layerCompression } from "./oci/media_types.ts";
import { hostPlatform, type Platform } from "./oci/platform.ts";
import { extractLayer } from "./layer/extract.ts";
import type { ImageStore } from "./store/image_store.ts";
import { exists, randomSuffix, withLock, writeFileAtomic } from "./store/_fs.ts";

/** The directories a container's overlay root filesystem is mounted from. */
export interface OverlayRootfs {
  /**
   * The read-only layers in overlayfs `lowerdir=` order: the top-most
   * (newest) layer first, the base layer last.
   */
  lowerDirs: string[];
  /** The container's writable layer. */
  upperDir: string;
  /** overlayfs's work directory (same filesystem as `upperDir`). */
  workDir: string;
}

/** Options for {@linkcode Snapshotter.open}. */
export interface SnapshotterOptions {
  /**
   * Where snapshots live.
   * @default `${tskHome()}/image/snapshots`
   */
  root?: string;
  /**
   * Called with a line as each layer is unpacked.
   * @default undefined
   */
  onProgress?: (line: string) => void;
}

/** Options for {@linkcode Snapshotter.gc}. */
export interface SnapshotGcOptions {
  /**
   * Also remove layer snapshots of images that are still tagged (they are
   * re-created on next use).
   * @default false
   */
  all?: boolean;
}

interface ActiveMeta {
  id: string;
  image: string;
  diffIds: string[];
  created: string;
}

/**
 * Manages layer snapshots and per-container upper dirs.
 *
 * @example Prepare a container's root filesystem
 * ```ts ignore
 * import { ImageStore, Snapshotter } from "@tsk/image";
 * const store = await ImageStore.open();
 * const snaps = await Snapshotter.open(store);
 * const rootfs = await snaps.prepare("web-1", "app:1.0");
 * // mount -t overlay -o lowerdir=rootfs.lowerDirs.join(":"),upperdir=...,workdir=...
 * ```
 */
export class Snapshotter {
  /** The image store the layers come from. */
  readonly store: ImageStore;
  /** Where snapshots live. */
  readonly root: string;
  #onProgress?: (line: string) => void;
  #inflight = new Map<string, Promise<string>>();

  private constructor(store: ImageStore, root: string, onProgress?: (line: string) => void) {
    this.store = store;
    this.root = root;
    this.#onProgress = onProgress;
  }

  /**
   * Opens the snapshotter.
   *
   * @param store The image store.
   * @param options Where snapshots live, progress output.
   * @returns The snapshotter.
   */
  static async open(store: ImageStore, options: SnapshotterOptions = {}): Promise<Snapshotter> {
    const root = options.root ?? join(tskHome(), "image", "snapshots");
    await Deno.mkdir(join(root, "layers"), { recursive: true });
    await Deno.mkdir(join(root, "active"), { recursive: true });
    return new Snapshotter(store, root, options.onProgress);
  }

  /**
   * Returns the directory of a layer's snapshot (whether or not it exists).
   *
   * @param diffId The layer's uncompressed digest.
   * @returns `<root>/layers/<hex>/fs`.
   */
  layerDir(diffId: string): string {
    return join(this.root, "layers", parseDigest(diffId, "diffId").hex, "fs");
  }

  /**
   * Returns a short path to a layer's snapshot: `<root>/l/<12 hex>`, a
   * symlink to its directory. overlayfs takes all lower dirs in one mount
   * option of at most a page, so short paths let images have ~3 times more
   * layers (as Docker's overlay2 `l/` links do).
   */
  async #shortDir(hex: string): Promise<string> {
    const link = join(this.root, "l", hex.slice(0, 12));
    const target = `../layers/${hex}/fs`;
    for (let attempt = 0; attempt < 2; attempt++) {
      const current = await Deno.readLink(link).catch(() => null);
      if (current === target) return link;
      if (current !== null) return join(this.root, "layers", hex, "fs"); // prefix taken: long path
      await Deno.mkdir(join(this.root, "l"), { recursive: true });
      await Deno.symlink(target, link).catch((err) => {
        if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      });
    }
    return join(this.root, "layers", hex, "fs");
  }

  /**
   * Unpacks a layer into its snapshot unless that was done before. Two
   * concurrent callers (in this process or another) unpack it once.
   *
   * @param layer The layer blob's descriptor.
   * @param diffId Its uncompressed digest (checked while unpacking).
   * @returns The snapshot directory.
   */
  async unpack(layer: Descriptor, diffId: string): Promise<string> {
    const dir = this.layerDir(diffId);
    const key = parseDigest(diffId, "diffId").hex;
    const pending = this.#inflight.get(key);
    if (pending) return await pending;
    const work = (async () => {
      if (await exists(dir)) return dir;
      return await withLock(join(this.root, "layers", `${key}.lock`), async () => {
        if (await exists(dir)) return dir;
        const tmp = join(this.root, "layers", `.tmp-${key}-${randomSuffix()}`);
        try {
          const t0 = performance.now();
          const result = await extractLayer(
            await this.store.content.open(layer.digest),
            join(tmp, "fs"),
            {
              whiteouts: "overlay",
              compression: layerCompression(layer.mediaType),
              diffId,
            },
          );
          await writeFileAtomic(
            join(tmp, "meta.json"),
            JSON.stringify({ diffId, blob: layer.digest, entries: result.entries }),
          );
          await Deno.rename(tmp, join(this.root, "layers", key));
          this.#onProgress?.(
            `unpacked ${layer.digest.slice(7, 19)} (${result.entries} entries) in ${
              Math.round(performance.now() - t0)
            } ms`,
          );
          return dir;
        } catch (err) {
          await Deno.remove(tmp, { recursive: true }).catch(() => {});
          throw err;
        }
      });
    })();
    this.#inflight.set(key, work);
    try {
      return await work;
    } finally {
      this.#inflight.delete(key);
    }
  }

  /**
   * Unpacks every layer of an image (shared snapshots) and returns the
   * lower dirs in overlayfs order, top-most first, as short links
   * (`<root>/l/<id>`) to the snapshot directories.
   *
   * @param image An image name or digest in the store.
   * @param platform For a multi-platform image, which one.
   * @returns The lower dirs and the layers' diff IDs (base first).
   */
  async layers(
    image: string,
    platform: Platform = hostPlatform(),
  ): Promise<{ lowerDirs: string[]; diffIds: string[] }> {
    const { manifest, config } = await this.store.image(image, platform);
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== manifest.layers.length) {
      throw new ValidationError(
        "rootfs.diff_ids",
        `expected ${manifest.layers.length} entries (one per layer), got ${diffIds.length}`,
      );
    }
    const lowerDirs = await this.lowerDirs(
      manifest.layers.map((descriptor, i) => ({ descriptor, diffId: diffIds[i] })),
    );
    return { lowerDirs, diffIds };
  }

  /**
   * Unpacks layers (once each, shared) and returns them as overlay lower
   * dirs: short links, top-most layer first.
   *
   * @param layers The layers, base first.
   * @returns The lower dirs, top-most first.
   */
  async lowerDirs(layers: ImageLayer[]): Promise<string[]> {
    await Promise.all(layers.map((l) => this.unpack(l.descriptor, l.diffId)));
    const dirs = await Promise.all(
      layers.map((l) => this.#shortDir(parseDigest(l.diffId, "diffId").hex)),
    );
    return dirs.reverse();
  }

  /**
   * Prepares a container's root filesystem: the image's layers as lower
   * dirs, and a fresh upper and work dir for the container.
   *
   * @param id The container's id (letters, digits, `.`, `_`, `-`).
   * @param image An image name or digest in the store.
   * @returns The overlay directories.
   * @throws {ValidationError} When the id is malformed or already prepared.
   */
  async prepare(id: string, image: string): Promise<OverlayRootfs> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(id)) {
      throw new ValidationError(
        "id",
        `expected [A-Za-z0-9][A-Za-z0-9_.-]{0,127}, got ${JSON.stringify(id)}`,
      );
    }
    const { lowerDirs, diffIds } = image === "scratch"
      ? { lowerDirs: [], diffIds: [] }
      : await this.layers(image);
    const dir = join(this.root, "active", id);
    try {
      await Deno.mkdir(dir);
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) {
        throw new ValidationError("id", `snapshot ${id} already exists`, { cause: err });
      }
      throw err;
    }
    await Deno.mkdir(join(dir, "upper"), { mode: 0o755 });
    await Deno.mkdir(join(dir, "work"), { mode: 0o700 });
    const meta: ActiveMeta = { id, image, diffIds, created: new Date().toISOString() };
    await writeFileAtomic(join(dir, "meta.json"), JSON.stringify(meta));
    return { lowerDirs, upperDir: join(dir, "upper"), workDir: join(dir, "work") };
  }

  /**
   * Removes a container's upper and work dirs (the layer snapshots stay).
   *
   * @param id The container's id.
   * @throws {NotFoundError} When there is no such snapshot.
   */
  async remove(id: string): Promise<void> {
    const dir = join(this.root, "active", id);
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(id) || !(await exists(dir))) {
      throw new NotFoundError(`No snapshot ${id}`);
    }
    await Deno.remove(dir, { recursive: true });
  }

  /**
   * Lists prepared container snapshots.
   *
   * @returns Their ids.
   */
  async list(): Promise<string[]> {
    const out: string[] = [];
    for await (const e of Deno.readDir(join(this.root, "active"))) {
      if (e.isDirectory) out.push(e.name);
    }
    return out.sort();
  }

  /**
   * Removes layer snapshots that no container snapshot uses (and, unless
   * `all`, that no tagged image uses), and leftovers of interrupted unpacks.
   *
   * @param options Whether to keep the layers of tagged images.
   * @returns The removed layers' diff IDs.
   */
  async gc(options: SnapshotGcOptions = {}): Promise<string[]> {
    const keep = new Set<string>();
    for (const id of await this.list()) {
      try {
        const meta = JSON.parse(
          await Deno.readTextFile(join(this.root, "active", id, "meta.json")),
        ) as ActiveMeta;
        for (const d of meta.diffIds) keep.add(parseDigest(d).hex);
      } catch (err) {
        throw new ImageError(`Cannot read snapshot ${id}: refusing to collect`, { cause: err });
      }
    }
    if (!options.all) {
      for (const rec of await this.store.list()) {
        try {
          const { config } = await this.store.image(rec.descriptor);
          for (const d of config.rootfs.diff_ids) keep.add(parseDigest(d).hex);
        } catch { /* other platforms, missing blobs: nothing to keep */ }
      }
    }
    const removed: string[] = [];
    for await (const e of Deno.readDir(join(this.root, "layers"))) {
      const p = join(this.root, "layers", e.name);
      if (e.name.startsWith(".tmp-")) {
        const st = await Deno.stat(p).catch(() => null);
        if (st?.mtime && Date.now() - st.mtime.getTime() > 3600_000) {
          await Deno.remove(p, { recursive: true }).catch(() => {});
        }
        continue;
      }
      if (!/^[a-f0-9]{64}$/.test(e.name) || keep.has(e.name)) continue;
      await withLock(join(this.root, "layers", `${e.name}.lock`), async () => {
        const link = join(this.root, "l", e.name.slice(0, 12));
        if ((await Deno.readLink(link).catch(() => null)) === `../layers/${e.name}/fs`) {
          await Deno.remove(link);
        }
        await Deno.remove(p, { recursive: true });
      });
      removed.push(`sha256:${e.name}`);
    }
    return removed;
  }
}
