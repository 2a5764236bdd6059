/**
 * Local images: named references over a {@linkcode ContentStore}, kept as an
 * OCI image layout (`oci-layout`, `index.json`, `blobs/`) so the store
 * itself is readable by skopeo and umoci, plus garbage collection.
 *
 * @module
 */
import { join } from "node:path";
import { tskHome } from "@tsk/api/home";
import { ImageError, NotFoundError, ValidationError } from "../errors.ts";
import { ANNOTATION_REF_NAME, type Descriptor } from "../oci/descriptor.ts";
import { type Digest, isDigest, sha256Digest } from "../oci/digest.ts";
import { type ImageIndex, parseIndex, selectManifest } from "../oci/image_index.ts";
import type { ImageManifest } from "../oci/manifest.ts";
import { type ImageConfig, parseImageConfig } from "../oci/config.ts";
import { parseManifestDocument } from "../oci/document.ts";
import { isIndexMediaType, isManifestMediaType, MEDIA_TYPE_OCI_INDEX } from "../oci/media_types.ts";
import { hostPlatform, type Platform } from "../oci/platform.ts";
import { formatReference, parseReference } from "../oci/reference.ts";
import { ContentStore } from "./content_store.ts";
import { exists, pidAlive, randomSuffix, withLock, writeFileAtomic } from "./_fs.ts";

/** A named image in the store. */
export interface ImageRecord {
  /** The normalized name: `[registry/]repository:tag`. */
  name: string;
  /** The manifest or index the name points at. */
  descriptor: Descriptor;
}

/** A single-platform image resolved down to its manifest and config. */
export interface ResolvedImage {
  /** The manifest's descriptor. */
  descriptor: Descriptor;
  /** The manifest. */
  manifest: ImageManifest;
  /** The config. */
  config: ImageConfig;
}

/** Options for {@linkcode ImageStore.open}. */
export interface ImageStoreOptions {
  /**
   * The store's directory.
   * @default `${tskHome()}/image`
   */
  root?: string;
}

/** Options for {@linkcode ImageStore.gc}. */
export interface GcOptions {
  /**
   * Blobs written more recently than this are kept even when unreferenced,
   * so a pull or build that has written blobs but not yet tagged them is safe.
   * @default 600000 (ten minutes)
   */
  gracePeriodMs?: number;
  /**
   * Also drop the build cache (its layers then become collectable).
   * @default false
   */
  dropBuildCache?: boolean;
  /**
   * Digests to keep in addition to the tagged images (e.g. images of running containers).
   * @default []
   */
  extraRoots?: Descriptor[];
}

/** What a garbage collection removed. */
export interface GcResult {
  /** The digests of the removed blobs. */
  removed: Digest[];
  /** Bytes freed. */
  bytes: number;
}

/** One build cache entry: the result of one build step. */
export interface CacheEntry {
  /** The layer the step produced, if any. */
  layer?: Descriptor;
  /** The uncompressed digest of that layer. */
  diffId?: Digest;
  /** Free-form data the builder keeps with the step. */
  meta?: Record<string, unknown>;
}

/**
 * Normalizes an image name for the store: the tag defaults to `latest`.
 *
 * @param name `app`, `app:1`, `localhost:5000/team/app:1`, ...
 * @returns `[registry/]repository:tag`.
 * @throws {ValidationError} When the name is malformed.
 *
 * @example Default tag
 * ```ts
 * import { normalizeName } from "@tsk/image";
 * console.log(normalizeName("app")); // "app:latest"
 * ```
 */
export function normalizeName(name: string): string {
  const ref = parseReference(name, "name");
  if (ref.digest) {
    throw new ValidationError(
      "name",
      `expected a name without a digest, got ${JSON.stringify(name)}`,
    );
  }
  return formatReference({ ...ref, tag: ref.tag ?? "latest" });
}

/**
 * The local image store. Names live in `index.json` as manifests annotated
 * with `org.opencontainers.image.ref.name`; every change to it is made
 * under a lock and written atomically.
 *
 * @example Tag a manifest and resolve it
 * ```ts
 * import { ImageStore } from "@tsk/image";
 * const root = await Deno.makeTempDir();
 * const store = await ImageStore.open({ root });
 * const names = await store.list();
 * console.log(names.length); // 0
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export class ImageStore {
  /** The store's directory (an OCI image layout). */
  readonly root: string;
  /** The blobs. */
  readonly content: ContentStore;

  private constructor(root: string) {
    this.root = root;
    this.content = new ContentStore(root);
  }

  /**
   * Opens the store, creating its layout files when missing.
   *
   * @param options Where the store lives.
   * @returns The store.
   */
  static async open(options: ImageStoreOptions = {}): Promise<ImageStore> {
    const root = options.root ?? join(tskHome(), "image");
    await Deno.mkdir(join(root, "blobs", "sha256"), { recursive: true });
    if (!(await exists(join(root, "oci-layout")))) {
      await writeFileAtomic(join(root, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
    }
    if (!(await exists(join(root, "index.json")))) {
      await writeFileAtomic(
        join(root, "index.json"),
        JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [] }),
      );
    }
    return new ImageStore(root);
  }

  /**
   * Stores a JSON document (manifest, index, config) as a blob.
   *
   * @param doc The document; serialized once, and that serialization is what is hashed.
   * @param mediaType Its media type, for the returned descriptor.
   * @returns Its descriptor.
   */
  async putJson(doc: unknown, mediaType: string): Promise<Descriptor> {
    const bytes = new TextEncoder().encode(JSON.stringify(doc));
    const { digest, size } = await this.content.put(bytes);
    return { mediaType, digest, size };
  }

  /**
   * Reads the store's index (every named image).
   *
   * @returns The index.
   */
  async index(): Promise<ImageIndex> {
    return parseIndex(await Deno.readFile(join(this.root, "index.json")));
  }

  async #updateIndex(fn: (manifests: Descriptor[]) => Descriptor[]): Promise<void> {
    await withLock(join(this.root, "index.lock"), async () => {
      const index = await this.index();
      index.manifests = fn(index.manifests);
      await writeFileAtomic(join(this.root, "index.json"), JSON.stringify(index));
    });
  }

  /**
   * Lists the named images.
   *
   * @returns Name and descriptor of each, sorted by name.
   */
  async list(): Promise<ImageRecord[]> {
    const index = await this.index();
    return index.manifests
      .filter((d) => d.annotations?.[ANNOTATION_REF_NAME])
      .map((d) => ({ name: d.annotations![ANNOTATION_REF_NAME], descriptor: d }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Points a name at a manifest or index (which must be stored), replacing
   * what it pointed at before.
   *
   * @param name The image name; the tag defaults to `latest`.
   * @param descriptor The manifest or index.
   * @returns The normalized name.
   * @throws {NotFoundError} When the manifest blob is not stored.
   */
  async tag(name: string, descriptor: Descriptor): Promise<string> {
    const normalized = normalizeName(name);
    if (!(await this.content.has(descriptor.digest))) {
      throw new NotFoundError(
        `Cannot tag ${normalized}: manifest ${descriptor.digest} is not stored`,
      );
    }
    const entry: Descriptor = {
      mediaType: descriptor.mediaType,
      digest: descriptor.digest,
      size: descriptor.size,
      ...(descriptor.platform ? { platform: descriptor.platform } : {}),
      annotations: { [ANNOTATION_REF_NAME]: normalized },
    };
    await this.#updateIndex((ms) => [
      ...ms.filter((d) => d.annotations?.[ANNOTATION_REF_NAME] !== normalized),
      entry,
    ]);
    return normalized;
  }

  /**
   * Removes a name. The blobs stay until {@linkcode ImageStore.gc}.
   *
   * @param name The image name.
   * @returns The descriptor it pointed at.
   * @throws {NotFoundError} When no image has that name.
   */
  async untag(name: string): Promise<Descriptor> {
    const normalized = normalizeName(name);
    let found: Descriptor | undefined;
    await this.#updateIndex((ms) =>
      ms.filter((d) => {
        if (d.annotations?.[ANNOTATION_REF_NAME] !== normalized) return true;
        found = d;
        return false;
      })
    );
    if (!found) throw new NotFoundError(`No such image: ${normalized}`);
    return found;
  }

  /**
   * Finds an image by name, by full digest, or by a unique digest prefix
   * (at least 6 hex digits, as `tsk image ls` shows 12).
   *
   * @param ref The name or digest.
   * @returns The manifest or index descriptor.
   * @throws {NotFoundError} When nothing (or more than one image) matches.
   */
  async resolve(ref: string): Promise<Descriptor> {
    const records = await this.list();
    if (isDigest(ref)) {
      const d = records.find((r) => r.descriptor.digest === ref)?.descriptor;
      if (d) return stripRef(d);
      if (await this.content.has(ref)) {
        const bytes = await this.content.get(ref);
        const doc = parseManifestDocument(bytes);
        return {
          mediaType: doc.kind === "index"
            ? doc.index.mediaType ?? MEDIA_TYPE_OCI_INDEX
            : doc.manifest.mediaType ?? "application/vnd.oci.image.manifest.v1+json",
          digest: ref,
          size: bytes.length,
        };
      }
      throw new NotFoundError(`No such image: ${ref}`);
    }
    const hex = ref.replace(/^sha256:/, "");
    if (/^[a-f0-9]{6,63}$/.test(hex)) {
      const hits = new Map(
        records.filter((r) => r.descriptor.digest.startsWith(`sha256:${hex}`)).map((
          r,
        ) => [r.descriptor.digest, r.descriptor]),
      );
      if (hits.size === 1) return stripRef([...hits.values()][0]);
      if (hits.size > 1) {
        throw new NotFoundError(`Ambiguous image id ${ref}: matches ${hits.size} images`);
      }
    }
    let normalized: string;
    try {
      normalized = normalizeName(ref);
    } catch (err) {
      throw new NotFoundError(`No such image: ${ref}`, { cause: err });
    }
    const rec = records.find((r) => r.name === normalized);
    if (!rec) throw new NotFoundError(`No such image: ${normalized}`);
    return stripRef(rec.descriptor);
  }

  /**
   * Resolves an image to its manifest and config for one platform.
   *
   * @param ref A name, digest, or a descriptor.
   * @param platform For an index: which platform to pick.
   * @returns The manifest's descriptor, the manifest and the config.
   */
  async image(
    ref: string | Descriptor,
    platform: Platform = hostPlatform(),
  ): Promise<ResolvedImage> {
    let descriptor = typeof ref === "string" ? await this.resolve(ref) : ref;
    for (let depth = 0; depth < 4; depth++) {
      const doc = parseManifestDocument(
        await this.content.get(descriptor.digest),
        descriptor.mediaType,
      );
      if (doc.kind === "manifest") {
        const config = parseImageConfig(await this.content.get(doc.manifest.config.digest));
        return { descriptor, manifest: doc.manifest, config };
      }
      descriptor = selectManifest(doc.index, platform);
    }
    throw new ImageError(
      `Cannot resolve ${typeof ref === "string" ? ref : ref.digest}: indexes nest too deep`,
    );
  }

  /**
   * Takes a lease: while it is held (by a live process), garbage collection
   * keeps every blob written since it was taken, so a pull, build or import
   * can write blobs before it tags them. A lease of a killed process lapses.
   *
   * @returns A handle whose `release()` ends the lease.
   */
  async lease(): Promise<{ release(): Promise<void> }> {
    const dir = join(this.root, "leases");
    await Deno.mkdir(dir, { recursive: true });
    const path = join(dir, `${Deno.pid}-${randomSuffix()}`);
    await writeFileAtomic(path, JSON.stringify({ pid: Deno.pid, started: Date.now() }));
    return {
      release: async () => {
        await Deno.remove(path).catch(() => {});
      },
    };
  }

  /** The start time of the oldest live lease, removing lapsed ones. */
  async #oldestLease(): Promise<number | undefined> {
    let oldest: number | undefined;
    try {
      for await (const e of Deno.readDir(join(this.root, "leases"))) {
        const path = join(this.root, "leases", e.name);
        const lease = await Deno.readTextFile(path).then(JSON.parse).catch(() => null) as
          | { pid: number; started: number }
          | null;
        if (!lease || !(await pidAlive(lease.pid))) {
          await Deno.remove(path).catch(() => {});
          continue;
        }
        oldest = Math.min(oldest ?? lease.started, lease.started);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return oldest;
  }

  /**
   * Reads the build cache entry stored under a key.
   *
   * @param key The cache key (a digest of the step's inputs).
   * @returns The entry, or undefined on a miss (or when its layer blob is gone).
   */
  async cacheGet(key: Digest): Promise<CacheEntry | undefined> {
    try {
      const entry = JSON.parse(await Deno.readTextFile(this.#cachePath(key))) as CacheEntry;
      if (entry.layer && !(await this.content.has(entry.layer.digest))) return undefined;
      return entry;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  /**
   * Records a build cache entry.
   *
   * @param key The cache key.
   * @param entry What the step produced.
   */
  async cachePut(key: Digest, entry: CacheEntry): Promise<void> {
    await writeFileAtomic(this.#cachePath(key), JSON.stringify(entry));
  }

  #cachePath(key: Digest): string {
    return join(this.root, "cache", sha256Digest(key).slice(7));
  }

  /**
   * Collects garbage: every blob not reachable from a named image, the
   * build cache or `extraRoots` is removed, except blobs written during a
   * live {@linkcode ImageStore.lease} or within `gracePeriodMs`.
   *
   * @param options What else to keep or drop.
   * @returns The removed digests and the bytes freed.
   */
  async gc(options: GcOptions = {}): Promise<GcResult> {
    const grace = options.gracePeriodMs ?? 600_000;
    return await withLock(join(this.root, "index.lock"), async () => {
      const leaseStart = await this.#oldestLease();
      const live = new Set<string>();
      const roots: Descriptor[] = [
        ...(await this.index()).manifests,
        ...(options.extraRoots ?? []),
      ];
      const cacheDir = join(this.root, "cache");
      if (options.dropBuildCache) {
        await Deno.remove(cacheDir, { recursive: true }).catch(() => {});
      } else {
        try {
          for await (const e of Deno.readDir(cacheDir)) {
            const entry = await Deno.readTextFile(join(cacheDir, e.name)).then(JSON.parse).catch(
              () => null,
            ) as CacheEntry | null;
            if (entry?.layer) roots.push(entry.layer);
          }
        } catch (err) {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        }
      }
      const walk = async (d: Descriptor) => {
        if (live.has(d.digest)) return;
        live.add(d.digest);
        if (!isManifestMediaType(d.mediaType) && !isIndexMediaType(d.mediaType)) return;
        let doc;
        try {
          doc = parseManifestDocument(await this.content.get(d.digest), d.mediaType);
        } catch {
          return; // missing or corrupt: nothing more reachable through it
        }
        if (doc.kind === "index") { for (const m of doc.index.manifests) await walk(m); }
        else {
          await walk(doc.manifest.config);
          for (const l of doc.manifest.layers) await walk(l);
        }
      };
      for (const r of roots) await walk(r);
      const removed: Digest[] = [];
      let bytes = 0;
      for (const digest of await this.content.list()) {
        if (live.has(digest)) continue;
        const st = await Deno.stat(this.content.path(digest)).catch(() => null);
        if (!st) continue;
        const written = st.mtime?.getTime() ?? Date.now();
        if (grace > 0 && Date.now() - written < grace) continue;
        // Written during a live lease (one second of slack for clock granularity).
        if (leaseStart !== undefined && written >= leaseStart - 1000) continue;
        await this.content.delete(digest);
        removed.push(digest);
        bytes += st.size;
      }
      await this.content.cleanIngest(Math.max(grace, 60_000));
      return { removed, bytes };
    });
  }
}

function stripRef(d: Descriptor): Descriptor {
  const { annotations: _a, ...rest } = d;
  return rest;
}
