/**
 * Image indexes: OCI image index v1, and Docker manifest lists on read.
 *
 * @module
 */
import { ValidationError } from "../errors.ts";
import { json, object, optString, optStringMap, schemaVersion } from "./_check.ts";
import { type Descriptor, validateDescriptor, validateDescriptors } from "./descriptor.ts";
import { MEDIA_TYPE_DOCKER_MANIFEST_LIST, MEDIA_TYPE_OCI_INDEX } from "./media_types.ts";
import { type Platform, platformMatches } from "./platform.ts";
import { isManifestMediaType } from "./media_types.ts";
import { NotFoundError } from "../errors.ts";
import { formatPlatform } from "./platform.ts";

/** A list of manifests, typically one per platform. */
export interface ImageIndex {
  /** Always 2. */
  schemaVersion: 2;
  /** The OCI index or Docker manifest list media type. */
  mediaType?: string;
  /** The artifact type, for artifacts that are not images. */
  artifactType?: string;
  /** The manifests (or nested indexes). */
  manifests: Descriptor[];
  /** An index this one refers to (referrers API). */
  subject?: Descriptor;
  /** Arbitrary metadata. */
  annotations?: Record<string, string>;
}

/**
 * Parses and checks an image index (OCI, or a Docker manifest list).
 *
 * @param data The index's bytes, text or parsed JSON.
 * @returns The index.
 * @throws {ValidationError} Naming the bad field, e.g. `manifests[2].digest: expected sha256:<64 hex>`.
 *
 * @example Parse an empty index
 * ```ts
 * import { parseIndex } from "@tsk/image";
 * const index = parseIndex('{"schemaVersion":2,"manifests":[]}');
 * console.log(index.manifests.length); // 0
 * ```
 */
export function parseIndex(data: Uint8Array | string | unknown): ImageIndex {
  const o = object(json(data, "index"), "index");
  schemaVersion(o.schemaVersion);
  const mediaType = optString(o.mediaType, "mediaType");
  if (
    mediaType !== undefined && mediaType !== MEDIA_TYPE_OCI_INDEX &&
    mediaType !== MEDIA_TYPE_DOCKER_MANIFEST_LIST
  ) {
    throw new ValidationError(
      "mediaType",
      `expected ${MEDIA_TYPE_OCI_INDEX} or ${MEDIA_TYPE_DOCKER_MANIFEST_LIST}, got ${
        JSON.stringify(mediaType)
      }`,
    );
  }
  if ("layers" in o || "config" in o) {
    throw new ValidationError("layers", "not allowed in an index (is this a manifest?)");
  }
  validateDescriptors(o.manifests, "manifests");
  if (o.subject !== undefined) validateDescriptor(o.subject, "subject");
  optString(o.artifactType, "artifactType");
  optStringMap(o.annotations, "annotations");
  return o as unknown as ImageIndex;
}

/**
 * Picks the image manifest for a platform from an index. Entries without a
 * platform are skipped (they are attestations or artifacts).
 *
 * @param index The index.
 * @param platform The platform wanted.
 * @returns The first matching manifest descriptor.
 * @throws {NotFoundError} Listing the platforms the index offers, when none matches.
 *
 * @example Pick linux/amd64
 * ```ts
 * import { selectManifest } from "@tsk/image";
 * const d = selectManifest({
 *   schemaVersion: 2,
 *   manifests: [{
 *     mediaType: "application/vnd.oci.image.manifest.v1+json",
 *     digest: "sha256:" + "1".repeat(64),
 *     size: 10,
 *     platform: { os: "linux", architecture: "amd64" },
 *   }],
 * }, { os: "linux", architecture: "amd64" });
 * ```
 */
export function selectManifest(index: ImageIndex, platform: Platform): Descriptor {
  const found = index.manifests.find((d) =>
    isManifestMediaType(d.mediaType) && platformMatches(platform, d.platform)
  );
  if (found) return found;
  const offered = index.manifests.filter((d) => d.platform).map((d) => formatPlatform(d.platform!));
  throw new NotFoundError(
    `No manifest for platform ${formatPlatform(platform)}: the index offers ${
      offered.length ? offered.join(", ") : "no platforms"
    }`,
  );
}
