/**
 * Image manifests: OCI image manifest v1, and Docker image manifest v2
 * schema 2 on read.
 *
 * @module
 */
import { ValidationError } from "../errors.ts";
import { json, object, optString, optStringMap, schemaVersion } from "./_check.ts";
import { type Descriptor, validateDescriptor, validateDescriptors } from "./descriptor.ts";
import { MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_OCI_MANIFEST } from "./media_types.ts";

/** A single-platform image: one config and an ordered list of layers. */
export interface ImageManifest {
  /** Always 2. */
  schemaVersion: 2;
  /** The OCI or Docker manifest media type (Docker's is required, OCI's recommended). */
  mediaType?: string;
  /** The artifact type, for artifacts that are not images. */
  artifactType?: string;
  /** The image config blob. */
  config: Descriptor;
  /** The layers, base first. */
  layers: Descriptor[];
  /** A manifest this one refers to (referrers API). */
  subject?: Descriptor;
  /** Arbitrary metadata. */
  annotations?: Record<string, string>;
}

/**
 * Parses and checks an image manifest (OCI, or Docker schema 2).
 *
 * @param data The manifest's bytes, text or parsed JSON.
 * @returns The manifest.
 * @throws {ValidationError} Naming the bad field, e.g. `layers[1].digest: expected sha256:<64 hex>`.
 *
 * @example Parse a manifest
 * ```ts
 * import { parseManifest } from "@tsk/image";
 * const m = parseManifest({
 *   schemaVersion: 2,
 *   mediaType: "application/vnd.oci.image.manifest.v1+json",
 *   config: {
 *     mediaType: "application/vnd.oci.image.config.v1+json",
 *     digest: "sha256:" + "0".repeat(64),
 *     size: 2,
 *   },
 *   layers: [],
 * });
 * console.log(m.layers.length); // 0
 * ```
 */
export function parseManifest(data: Uint8Array | string | unknown): ImageManifest {
  const o = object(json(data, "manifest"), "manifest");
  schemaVersion(o.schemaVersion);
  const mediaType = optString(o.mediaType, "mediaType");
  if (
    mediaType !== undefined && mediaType !== MEDIA_TYPE_OCI_MANIFEST &&
    mediaType !== MEDIA_TYPE_DOCKER_MANIFEST
  ) {
    throw new ValidationError(
      "mediaType",
      `expected ${MEDIA_TYPE_OCI_MANIFEST} or ${MEDIA_TYPE_DOCKER_MANIFEST}, got ${
        JSON.stringify(mediaType)
      }`,
    );
  }
  if ("manifests" in o) {
    throw new ValidationError("manifests", "not allowed in an image manifest (is this an index?)");
  }
  validateDescriptor(o.config, "config");
  validateDescriptors(o.layers, "layers");
  if (o.subject !== undefined) validateDescriptor(o.subject, "subject");
  optString(o.artifactType, "artifactType");
  optStringMap(o.annotations, "annotations");
  return o as unknown as ImageManifest;
}
