/**
 * Writing an image (config and manifest) from its layers into the store.
 *
 * @module
 */
import type { ContainerConfig, History, ImageConfig } from "./oci/config.ts";
import type { Descriptor } from "./oci/descriptor.ts";
import type { Digest } from "./oci/digest.ts";
import type { ImageManifest } from "./oci/manifest.ts";
import { MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_OCI_MANIFEST } from "./oci/media_types.ts";
import { hostPlatform, type Platform } from "./oci/platform.ts";
import type { ImageStore } from "./store/image_store.ts";

/** A layer of an image: its blob and its uncompressed digest. */
export interface ImageLayer {
  /** The layer blob (already in the store). */
  descriptor: Descriptor;
  /** The digest of the uncompressed tar. */
  diffId: Digest;
}

/** Options for {@linkcode commitImage}. */
export interface CommitOptions {
  /**
   * What to run.
   * @default {}
   */
  config?: ContainerConfig;
  /**
   * The platform recorded in the config.
   * @default hostPlatform()
   */
  platform?: Platform;
  /**
   * Build history, one entry per step (including steps without a layer).
   * @default one entry per layer
   */
  history?: History[];
  /**
   * The creation time recorded (RFC 3339); fix it for reproducible images.
   * @default the current time
   */
  created?: string;
  /**
   * Annotations on the manifest.
   * @default undefined
   */
  annotations?: Record<string, string>;
  /**
   * Tag the result with this name.
   * @default undefined (untagged)
   */
  tag?: string;
}

/**
 * Writes an image's config and manifest to the store.
 *
 * @param store The image store (which must hold the layer blobs).
 * @param layers The layers, base first.
 * @param options Config, platform, history, creation time, tag.
 * @returns The manifest's descriptor.
 *
 * @example Commit an empty image
 * ```ts
 * import { commitImage, ImageStore } from "@tsk/image";
 * const store = await ImageStore.open({ root: await Deno.makeTempDir() });
 * const d = await commitImage(store, [], { config: { Cmd: ["true"] }, tag: "empty" });
 * console.log(d.mediaType); // application/vnd.oci.image.manifest.v1+json
 * ```
 */
export async function commitImage(
  store: ImageStore,
  layers: ImageLayer[],
  options: CommitOptions = {},
): Promise<Descriptor> {
  const platform = options.platform ?? hostPlatform();
  const created = options.created ?? new Date().toISOString();
  const config: ImageConfig = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: options.config ?? {},
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history: options.history ?? layers.map(() => ({ created, created_by: "tsk" })),
  };
  const configDesc = await store.putJson(config, MEDIA_TYPE_OCI_CONFIG);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    config: configDesc,
    layers: layers.map((l) => ({
      mediaType: l.descriptor.mediaType,
      digest: l.descriptor.digest,
      size: l.descriptor.size,
    })),
    ...(options.annotations ? { annotations: options.annotations } : {}),
  };
  const desc = await store.putJson(manifest, MEDIA_TYPE_OCI_MANIFEST);
  if (options.tag) await store.tag(options.tag, desc);
  return desc;
}
