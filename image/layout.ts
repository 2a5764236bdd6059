/**
 * OCI image layouts (`oci-layout`, `index.json`, `blobs/`): export images
 * from the store to a layout directory and import images from one, as
 * skopeo (`oci:DIR:REF`) and umoci (`DIR:TAG`) read and write them.
 *
 * @module
 */
import { join } from "node:path";
import { ImageError, NotFoundError, ValidationError } from "./errors.ts";
import { ANNOTATION_REF_NAME, type Descriptor } from "./oci/descriptor.ts";
import { isDigest, parseDigest } from "./oci/digest.ts";
import { type ImageIndex, parseIndex } from "./oci/image_index.ts";
import { parseManifestDocument } from "./oci/document.ts";
import { isIndexMediaType, isManifestMediaType, MEDIA_TYPE_OCI_INDEX } from "./oci/media_types.ts";
import { parseReference } from "./oci/reference.ts";
import { ContentStore } from "./store/content_store.ts";
import { type ImageStore, normalizeName } from "./store/image_store.ts";
import { exists, withLock, writeFileAtomic } from "./store/_fs.ts";

/** Options for {@linkcode exportLayout}. */
export interface ExportOptions {
  /**
   * The `org.opencontainers.image.ref.name` to record (what skopeo's
   * `oci:DIR:REF` and umoci's `DIR:TAG` select).
   * @default the image's tag, e.g. `latest`
   */
  refName?: string;
}

/** Options for {@linkcode importLayout}. */
export interface ImportOptions {
  /**
   * Which entry of the layout's index.json to import, by ref name.
   * @default the only entry (an error when there are several)
   */
  refName?: string;
  /**
   * The name to give the image in the store.
   * @default the ref name when it is a valid image name
   */
  name?: string;
}

/** Calls `fn` for every descriptor reachable from `root` (itself included), parents first. */
async function walkBlobs(
  read: (d: Descriptor) => Promise<Uint8Array>,
  root: Descriptor,
  fn: (d: Descriptor, bytes?: Uint8Array) => Promise<void>,
): Promise<void> {
  if (isManifestMediaType(root.mediaType) || isIndexMediaType(root.mediaType)) {
    const bytes = await read(root);
    await fn(root, bytes);
    const doc = parseManifestDocument(bytes, root.mediaType);
    if (doc.kind === "index") {
      for (const m of doc.index.manifests) await walkBlobs(read, m, fn);
    } else {
      await walkBlobs(read, doc.manifest.config, fn);
      for (const l of doc.manifest.layers) await walkBlobs(read, l, fn);
    }
  } else {
    await fn(root);
  }
}

async function copyBlob(from: string, to: string): Promise<void> {
  if (await exists(to)) return;
  const tmp = `${to}.tmp-${crypto.randomUUID()}`;
  // A copy, not a hard link: a tool editing the layout in place must not reach the store.
  await Deno.copyFile(from, tmp);
  await Deno.rename(tmp, to);
}

/**
 * Writes an image from the store to an OCI layout directory, creating it or
 * adding to one that exists (an entry with the same ref name is replaced).
 *
 * @param store The image store.
 * @param image The image's name or digest in the store.
 * @param dir The layout directory.
 * @param options The ref name to record.
 * @returns The descriptor written to index.json.
 * @throws {NotFoundError} When the image or one of its blobs is missing.
 *
 * @example Export an image
 * ```ts ignore
 * import { exportLayout, ImageStore } from "@tsk/image";
 * const store = await ImageStore.open();
 * await exportLayout(store, "app:1.0", "/tmp/app-layout");
 * // skopeo inspect oci:/tmp/app-layout:1.0
 * ```
 */
export async function exportLayout(
  store: ImageStore,
  image: string,
  dir: string,
  options: ExportOptions = {},
): Promise<Descriptor> {
  const root = await store.resolve(image);
  let refName = options.refName;
  if (refName === undefined) {
    // The tag of a name; an image given by digest is recorded as `latest`.
    refName = isDigest(image) || /^[a-f0-9]{6,64}$/.test(image)
      ? "latest"
      : parseReference(image).tag ?? "latest";
  }
  if (
    !/^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/
      .test(refName)
  ) {
    throw new ValidationError(
      "refName",
      `expected an OCI ref name such as 1.0, got ${JSON.stringify(refName)}`,
    );
  }
  await Deno.mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  const target = new ContentStore(dir);
  await walkBlobs((d) => store.content.get(d.digest), root, async (d) => {
    const src = store.content.path(d.digest);
    if (!(await exists(src))) {
      throw new NotFoundError(`Cannot export ${image}: blob ${d.digest} is missing`);
    }
    const dst = target.path(d.digest);
    await Deno.mkdir(join(dst, ".."), { recursive: true });
    await copyBlob(src, dst);
  });
  const entry: Descriptor = {
    mediaType: root.mediaType,
    digest: root.digest,
    size: root.size,
    annotations: { [ANNOTATION_REF_NAME]: refName },
  };
  await withLock(join(dir, "index.json.lock"), async () => {
    if (!(await exists(join(dir, "oci-layout")))) {
      await writeFileAtomic(join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
    }
    let index: ImageIndex = { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [] };
    if (await exists(join(dir, "index.json"))) {
      index = parseIndex(await Deno.readFile(join(dir, "index.json")));
    }
    index.manifests = [
      ...index.manifests.filter((d) => d.annotations?.[ANNOTATION_REF_NAME] !== refName),
      entry,
    ];
    await writeFileAtomic(join(dir, "index.json"), JSON.stringify(index));
  });
  return entry;
}

/**
 * Reads an OCI layout's index.json.
 *
 * @param dir The layout directory.
 * @returns The index.
 * @throws {ImageError} When `oci-layout` is missing or names another version.
 *
 * @example List a layout's ref names
 * ```ts ignore
 * import { readLayoutIndex } from "@tsk/image";
 * const index = await readLayoutIndex("/tmp/app-layout");
 * ```
 */
export async function readLayoutIndex(dir: string): Promise<ImageIndex> {
  let layout: { imageLayoutVersion?: unknown };
  try {
    layout = JSON.parse(await Deno.readTextFile(join(dir, "oci-layout")));
  } catch (err) {
    throw new ImageError(`Not an OCI image layout: ${dir}: cannot read oci-layout`, { cause: err });
  }
  if (layout.imageLayoutVersion !== "1.0.0") {
    throw new ValidationError(
      "oci-layout.imageLayoutVersion",
      `expected "1.0.0", got ${JSON.stringify(layout.imageLayoutVersion)}`,
    );
  }
  return parseIndex(await Deno.readFile(join(dir, "index.json")));
}

/**
 * Imports an image from an OCI layout directory into the store, verifying
 * every blob's digest and size as it is copied.
 *
 * @param store The image store.
 * @param dir The layout directory.
 * @param options Which entry, and the name to give it.
 * @returns The stored name and the descriptor.
 * @throws {NotFoundError} When the ref name is not in the layout.
 * @throws {DigestMismatchError} When a blob does not match its digest (nothing is tagged).
 *
 * @example Import what skopeo wrote
 * ```ts ignore
 * import { ImageStore, importLayout } from "@tsk/image";
 * const store = await ImageStore.open();
 * await importLayout(store, "/tmp/from-skopeo", { refName: "latest", name: "busybox" });
 * ```
 */
export async function importLayout(
  store: ImageStore,
  dir: string,
  options: ImportOptions = {},
): Promise<{ name: string; descriptor: Descriptor }> {
  const index = await readLayoutIndex(dir);
  const candidates = options.refName === undefined
    ? index.manifests
    : index.manifests.filter((d) => d.annotations?.[ANNOTATION_REF_NAME] === options.refName);
  if (candidates.length === 0) {
    const names = index.manifests.map((d) => d.annotations?.[ANNOTATION_REF_NAME]).filter(Boolean);
    throw new NotFoundError(
      `No image ${options.refName ?? ""} in layout ${dir}: it has ${
        names.length ? names.join(", ") : "no named images"
      }`,
    );
  }
  if (candidates.length > 1) {
    throw new ValidationError(
      "refName",
      `the layout has ${candidates.length} images; name one of ${
        candidates.map((d) => d.annotations?.[ANNOTATION_REF_NAME] ?? d.digest).join(", ")
      }`,
    );
  }
  const root = candidates[0];
  const refName = root.annotations?.[ANNOTATION_REF_NAME];
  const name = options.name ?? refName;
  if (!name) throw new ValidationError("name", "the layout entry has no ref name; give a name");
  const normalized = normalizeName(name);
  const source = new ContentStore(dir);
  const lease = await store.lease();
  try {
    const read = async (d: Descriptor) => {
      parseDigest(d.digest, "digest");
      const bytes = await source.get(d.digest);
      await store.content.put(bytes, { expected: d.digest, size: d.size });
      return bytes;
    };
    await walkBlobs(read, root, async (d, bytes) => {
      if (bytes) return; // already copied by read()
      const file = await Deno.open(source.path(d.digest), { read: true }).catch((err) => {
        throw new NotFoundError(`Layout ${dir} lacks blob ${d.digest}`, { cause: err });
      });
      await store.content.put(file.readable, { expected: d.digest, size: d.size });
    });
    const { annotations: _a, ...descriptor } = root;
    await store.tag(normalized, descriptor);
    return { name: normalized, descriptor };
  } finally {
    await lease.release();
  }
}
