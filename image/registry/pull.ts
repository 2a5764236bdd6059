/**
 * Pulling an image from a registry into the store: the manifest (the one
 * for the wanted platform when the reference names an index), the config
 * and the layers in parallel, every byte verified.
 *
 * @module
 */
import { NotFoundError, ValidationError } from "../errors.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { parseManifestDocument } from "../oci/document.ts";
import { selectManifest } from "../oci/image_index.ts";
import { MEDIA_TYPE_OCI_MANIFEST } from "../oci/media_types.ts";
import { hostPlatform, type Platform } from "../oci/platform.ts";
import {
  formatReference,
  parseReference,
  type Reference,
  registryEndpoint,
} from "../oci/reference.ts";
import { parseImageConfig } from "../oci/config.ts";
import type { ImageStore } from "../store/image_store.ts";
import { RegistryClient, type RegistryClientOptions } from "./client.ts";
import type { TransferProgress } from "./progress.ts";
import { retrying } from "./_retry.ts";
import { transferring } from "./_progress.ts";

/** Image configs are small JSON; a registry announcing more is refused before fetching. */
const MAX_CONFIG = 8 << 20;

/** Options for {@linkcode pullImage}. */
export interface PullOptions extends RegistryClientOptions {
  /**
   * The platform to pick from an index.
   * @default hostPlatform()
   */
  platform?: Platform;
  /**
   * How many layers download at once.
   * @default 3
   */
  concurrency?: number;
  /**
   * The local name to tag the image with.
   * @default the reference as given (tag `latest` when it has none)
   */
  tag?: string;
  /**
   * Called as each blob progresses.
   * @default undefined
   */
  onProgress?: (p: TransferProgress) => void;
  /**
   * Attempts per manifest and blob when a transfer fails for a reason that
   * may pass (dropped connection, HTTP 5xx or 429).
   * @default 3
   */
  retries?: number;
  /**
   * A client to reuse (its host must be the reference's registry).
   * @default a new client for the reference's registry
   */
  client?: RegistryClient;
}

/** The outcome of a pull. */
export interface PullResult {
  /** The local name the image was tagged with. */
  name: string;
  /** The manifest pulled (the platform's, for an index). */
  descriptor: Descriptor;
  /** The digest the reference resolved to on the registry (the index's, for one). */
  remoteDigest: string;
  /** Bytes downloaded (blobs already stored are not fetched again). */
  bytes: number;
}

/**
 * Runs `fn` over items with at most `limit` running at once.
 *
 * @param items The work.
 * @param limit The parallelism.
 * @param fn The worker.
 */
export async function parallel<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed !== undefined) throw failed;
}

/**
 * Pulls an image into the store.
 *
 * @param store The image store.
 * @param reference `registry/repository[:tag|@digest]` (the registry part is required).
 * @param options Platform, parallelism, credentials, progress.
 * @returns The local name, the manifest descriptor and bytes transferred.
 * @throws {ValidationError} When the reference names no registry.
 * @throws {DigestMismatchError} When any byte received does not match its digest (nothing is tagged).
 *
 * @example Pull from a local registry
 * ```ts ignore
 * import { ImageStore, pullImage } from "@tsk/image";
 * const store = await ImageStore.open();
 * await pullImage(store, "127.0.0.1:5000/busybox:latest");
 * ```
 */
export async function pullImage(
  store: ImageStore,
  reference: string,
  options: PullOptions = {},
): Promise<PullResult> {
  const ref = parseReference(reference);
  const endpoint = registryEndpoint(ref);
  const lease = await store.lease();
  try {
    return await pull(store, ref, endpoint, options);
  } finally {
    await lease.release();
  }
}

async function pull(
  store: ImageStore,
  ref: Reference,
  endpoint: { host: string; repository: string },
  options: PullOptions,
): Promise<PullResult> {
  const reference = formatReference(ref);
  const repository = endpoint.repository;
  const client = options.client ?? new RegistryClient(endpoint.host, options);
  const platform = options.platform ?? hostPlatform();
  const top = await retrying(
    () => client.getManifest(repository, ref.digest ?? ref.tag ?? "latest"),
    options.retries ?? 3,
  );
  let doc = parseManifestDocument(top.bytes, top.mediaType);
  let bytes = top.bytes;
  let descriptor: Descriptor = {
    mediaType: top.mediaType ||
      (doc.kind === "manifest" ? doc.manifest.mediaType ?? MEDIA_TYPE_OCI_MANIFEST : ""),
    digest: top.digest,
    size: top.bytes.length,
  };
  if (doc.kind === "index") {
    const chosen = selectManifest(doc.index, platform);
    const m = await retrying(
      () => client.getManifest(repository, chosen.digest),
      options.retries ?? 3,
    );
    bytes = m.bytes;
    doc = parseManifestDocument(m.bytes, chosen.mediaType);
    descriptor = { mediaType: chosen.mediaType, digest: m.digest, size: m.bytes.length };
  }
  if (doc.kind !== "manifest") {
    throw new NotFoundError(`Nested index in ${reference} is not supported`);
  }
  const manifest = doc.manifest;
  let transferred = 0;
  const fetchOne = async (d: Descriptor) => {
    if (await store.content.has(d.digest)) {
      options.onProgress?.({ digest: d.digest, status: "exists", current: d.size, total: d.size });
      return;
    }
    options.onProgress?.({ digest: d.digest, status: "transferring", current: 0, total: d.size });
    // put() checks digest and size as the bytes stream in and stores nothing
    // on a mismatch, so the stream need not be hashed twice.
    // A dropped connection or a 5xx starts the blob again (put() keeps nothing
    // of a failed attempt).
    await retrying(async () => {
      const stream = await client.fetchBlob(repository, d, { verify: false });
      await store.content.put(stream, {
        expected: d.digest,
        size: d.size,
        onProgress: transferring(options.onProgress, d),
      });
    }, options.retries ?? 3);
    transferred += d.size;
    options.onProgress?.({ digest: d.digest, status: "done", current: d.size, total: d.size });
  };
  if (manifest.config.size > MAX_CONFIG) {
    throw new ValidationError(
      "config.size",
      `expected at most ${MAX_CONFIG} bytes for an image config, got ${manifest.config.size}`,
    );
  }
  for (const l of manifest.layers) {
    options.onProgress?.({ digest: l.digest, status: "waiting", current: 0, total: l.size });
  }
  // The small config downloads alongside the layers rather than before them
  // (a round trip saved); every download settles before an error surfaces,
  // so none is still writing when the lease is released.
  const [config, layers] = await Promise.allSettled([
    fetchOne(manifest.config).then(async () =>
      parseImageConfig(await store.content.get(manifest.config.digest))
    ),
    parallel(manifest.layers, options.concurrency ?? 3, fetchOne),
  ]);
  if (config.status === "rejected") throw config.reason;
  if (layers.status === "rejected") throw layers.reason;
  await store.content.put(bytes, { expected: descriptor.digest });
  const name = options.tag ??
    formatReference({
      registry: ref.registry,
      repository: ref.repository,
      tag: ref.tag ?? "latest",
    });
  const tagged = await store.tag(name, descriptor);
  return { name: tagged, descriptor, remoteDigest: top.digest, bytes: transferred };
}
