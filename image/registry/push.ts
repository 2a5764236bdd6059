/**
 * Pushing an image from the store to a registry: layers and config in
 * parallel (skipping what the registry has, mounting from another
 * repository when asked), then the manifest (and index) under the tag.
 *
 * @module
 */
import type { Descriptor } from "../oci/descriptor.ts";
import { parseManifestDocument } from "../oci/document.ts";
import { parseReference, registryEndpoint } from "../oci/reference.ts";
import type { ImageStore } from "../store/image_store.ts";
import { RegistryClient, type RegistryClientOptions } from "./client.ts";
import type { TransferProgress } from "./progress.ts";
import { parallel } from "./pull.ts";
import { retrying } from "./_retry.ts";
import { transferring } from "./_progress.ts";

/** Options for {@linkcode pushImage}. */
export interface PushOptions extends RegistryClientOptions {
  /**
   * How many blobs upload at once.
   * @default 3
   */
  concurrency?: number;
  /**
   * Upload in chunks of this many bytes instead of one request per blob.
   * @default undefined (monolithic)
   */
  chunkSize?: number;
  /**
   * Try to mount blobs from this repository on the same registry first.
   * @default undefined
   */
  mountFrom?: string;
  /**
   * Attempts per blob and manifest when a transfer fails for a reason that
   * may pass (dropped connection, HTTP 5xx or 429).
   * @default 3
   */
  retries?: number;
  /**
   * Called as each blob progresses.
   * @default undefined
   */
  onProgress?: (p: TransferProgress) => void;
  /**
   * A client to reuse.
   * @default a new client for the destination's registry
   */
  client?: RegistryClient;
}

/** The outcome of a push. */
export interface PushResult {
  /** The digest of the pushed manifest or index. */
  digest: string;
  /** Bytes uploaded (blobs the registry had or mounted are not counted). */
  bytes: number;
  /** Blobs by outcome. */
  blobs: { exists: number; mounted: number; uploaded: number };
}

/**
 * Pushes an image to a registry.
 *
 * @param store The image store.
 * @param image The local image (name or digest).
 * @param destination `registry/repository[:tag]`.
 * @param options Parallelism, chunking, mount source, credentials, progress.
 * @returns The pushed digest and transfer counts.
 *
 * @example Push to a local registry
 * ```ts ignore
 * import { ImageStore, pushImage } from "@tsk/image";
 * const store = await ImageStore.open();
 * await pushImage(store, "app:1.0", "127.0.0.1:5000/team/app:1.0");
 * ```
 */
export async function pushImage(
  store: ImageStore,
  image: string,
  destination: string,
  options: PushOptions = {},
): Promise<PushResult> {
  const ref = parseReference(destination, "destination");
  const { host, repository } = registryEndpoint(ref, "destination");
  const client = options.client ?? new RegistryClient(host, options);
  const root = await store.resolve(image);
  const result: PushResult = {
    digest: root.digest,
    bytes: 0,
    blobs: { exists: 0, mounted: 0, uploaded: 0 },
  };
  const pushBlob = async (d: Descriptor) => {
    options.onProgress?.({ digest: d.digest, status: "transferring", current: 0, total: d.size });
    // pushBlob() hashes what it sends and fails before committing a mismatch.
    const open = () => store.content.open(d.digest, { verify: false });
    // A failed upload starts over (the registry keeps nothing of it).
    const outcome = await retrying(() =>
      client.pushBlob(repository, d, open, {
        mountFrom: options.mountFrom,
        chunkSize: options.chunkSize,
        onProgress: transferring(options.onProgress, d),
      }), options.retries ?? 3);
    result.blobs[outcome]++;
    if (outcome === "uploaded") result.bytes += d.size;
    options.onProgress?.({
      digest: d.digest,
      status: outcome === "uploaded" ? "done" : outcome,
      current: d.size,
      total: d.size,
    });
  };
  const pushManifest = async (d: Descriptor, reference: string): Promise<void> => {
    const bytes = await store.content.get(d.digest);
    const doc = parseManifestDocument(bytes, d.mediaType);
    if (doc.kind === "index") {
      for (const m of doc.index.manifests) {
        if (await store.content.has(m.digest)) await pushManifest(m, m.digest);
      }
    } else {
      const blobs = [doc.manifest.config, ...doc.manifest.layers];
      await parallel(blobs, options.concurrency ?? 3, pushBlob);
    }
    await retrying(
      () => client.putManifest(repository, reference, bytes, d.mediaType),
      options.retries ?? 3,
    );
  };
  await pushManifest(root, ref.digest ?? ref.tag ?? "latest");
  return result;
}
