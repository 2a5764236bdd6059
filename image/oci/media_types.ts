/**
 * Media types of the OCI image spec and of Docker's image manifest v2
 * schema 2 (which registries and tools still serve, and which we accept on
 * read).
 *
 * @module
 */

/** OCI image manifest. */
export const MEDIA_TYPE_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
/** OCI image index (a list of manifests, e.g. one per platform). */
export const MEDIA_TYPE_OCI_INDEX = "application/vnd.oci.image.index.v1+json";
/** OCI image config. */
export const MEDIA_TYPE_OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
/** OCI layer, uncompressed tar. */
export const MEDIA_TYPE_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
/** OCI layer, gzip-compressed tar. */
export const MEDIA_TYPE_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
/** OCI layer, zstd-compressed tar. */
export const MEDIA_TYPE_OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
/** The OCI empty descriptor's media type (`{}`). */
export const MEDIA_TYPE_OCI_EMPTY = "application/vnd.oci.empty.v1+json";
/** Docker image manifest v2 schema 2. */
export const MEDIA_TYPE_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
/** Docker manifest list (the schema 2 twin of an OCI index). */
export const MEDIA_TYPE_DOCKER_MANIFEST_LIST =
  "application/vnd.docker.distribution.manifest.list.v2+json";
/** Docker image config. */
export const MEDIA_TYPE_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
/** Docker layer, gzip-compressed tar. */
export const MEDIA_TYPE_DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/** Docker layer that must be fetched from elsewhere (Windows base layers). */
export const MEDIA_TYPE_DOCKER_FOREIGN_LAYER =
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/** How a layer's tar is compressed. */
export type Compression = "none" | "gzip" | "zstd";

/**
 * Returns whether a media type names a single-image manifest (OCI or Docker).
 *
 * @param mediaType The media type.
 * @returns True for the OCI manifest and Docker schema 2 manifest types.
 *
 * @example Recognise a Docker manifest
 * ```ts
 * import { isManifestMediaType, MEDIA_TYPE_DOCKER_MANIFEST } from "@tsk/image";
 * console.log(isManifestMediaType(MEDIA_TYPE_DOCKER_MANIFEST)); // true
 * ```
 */
export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType === MEDIA_TYPE_OCI_MANIFEST || mediaType === MEDIA_TYPE_DOCKER_MANIFEST;
}

/**
 * Returns whether a media type names an index (OCI index or Docker manifest list).
 *
 * @param mediaType The media type.
 * @returns True for the OCI index and Docker manifest list types.
 *
 * @example Recognise an index
 * ```ts
 * import { isIndexMediaType, MEDIA_TYPE_OCI_INDEX } from "@tsk/image";
 * console.log(isIndexMediaType(MEDIA_TYPE_OCI_INDEX)); // true
 * ```
 */
export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MEDIA_TYPE_OCI_INDEX || mediaType === MEDIA_TYPE_DOCKER_MANIFEST_LIST;
}

/**
 * Returns how a layer media type is compressed, or undefined when it is not a
 * layer type we can read.
 *
 * @param mediaType The layer's media type.
 * @returns `none`, `gzip`, `zstd`, or undefined.
 *
 * @example Compression of a Docker layer
 * ```ts
 * import { layerCompression, MEDIA_TYPE_DOCKER_LAYER_GZIP } from "@tsk/image";
 * console.log(layerCompression(MEDIA_TYPE_DOCKER_LAYER_GZIP)); // "gzip"
 * ```
 */
export function layerCompression(mediaType: string): Compression | undefined {
  switch (mediaType) {
    case MEDIA_TYPE_OCI_LAYER:
    case "application/vnd.oci.image.layer.nondistributable.v1.tar":
      return "none";
    case MEDIA_TYPE_OCI_LAYER_GZIP:
    case MEDIA_TYPE_DOCKER_LAYER_GZIP:
    case MEDIA_TYPE_DOCKER_FOREIGN_LAYER:
    case "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip":
      return "gzip";
    case MEDIA_TYPE_OCI_LAYER_ZSTD:
    case "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd":
      return "zstd";
    default:
      return undefined;
  }
}

/** The `Accept` header value asking a registry for any manifest or index we read. */
export const MANIFEST_ACCEPT: string = [
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_DOCKER_MANIFEST,
].join(", ");
