/**
 * Content descriptors: the (media type, digest, size) triple that points at
 * a blob.
 *
 * @module
 */
import { ValidationError } from "../errors.ts";
import { array, nonEmpty, object, optStringMap, optStrings, size } from "./_check.ts";
import { type Digest, parseDigest } from "./digest.ts";
import { type Platform, validatePlatform } from "./platform.ts";

/** Points at a blob by its media type, digest and size. */
export interface Descriptor {
  /** The media type of the referenced content. */
  mediaType: string;
  /** The digest of the referenced content. */
  digest: Digest;
  /** The exact size of the referenced content in bytes. */
  size: number;
  /** Other locations the content may be fetched from. */
  urls?: string[];
  /** Arbitrary metadata. */
  annotations?: Record<string, string>;
  /** Inline content (base64), which must match `digest`. */
  data?: string;
  /** The type of an artifact, when the descriptor points at one. */
  artifactType?: string;
  /** The platform of a manifest, in an index. */
  platform?: Platform;
}

/** The annotation naming a tag in an OCI layout's index.json. */
export const ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name";
/** The annotation recording when an image was created (RFC 3339). */
export const ANNOTATION_CREATED = "org.opencontainers.image.created";

/**
 * Checks a descriptor from a JSON document.
 *
 * @param value The value from the document.
 * @param field Its path, named in errors (e.g. `manifests[2]`).
 * @returns The descriptor.
 * @throws {ValidationError} Naming the bad field, e.g. `manifests[2].digest: expected sha256:<64 hex>`.
 *
 * @example Check a layer descriptor
 * ```ts
 * import { validateDescriptor } from "@tsk/image";
 * validateDescriptor({
 *   mediaType: "application/vnd.oci.image.layer.v1.tar",
 *   digest: "sha256:" + "0".repeat(64),
 *   size: 0,
 * }, "layers[0]");
 * ```
 */
export function validateDescriptor(value: unknown, field: string): Descriptor {
  const o = object(value, field);
  const mediaType = nonEmpty(o.mediaType, `${field}.mediaType`);
  if (!/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/.test(mediaType)) {
    throw new ValidationError(
      `${field}.mediaType`,
      `expected type/subtype, got ${JSON.stringify(mediaType)}`,
    );
  }
  parseDigest(o.digest, `${field}.digest`);
  size(o.size, `${field}.size`);
  optStrings(o.urls, `${field}.urls`);
  optStringMap(o.annotations, `${field}.annotations`);
  if (o.platform !== undefined) validatePlatform(o.platform, `${field}.platform`);
  if (o.data !== undefined && typeof o.data !== "string") {
    throw new ValidationError(`${field}.data`, "expected a base64 string");
  }
  return o as unknown as Descriptor;
}

/**
 * Checks an array of descriptors.
 *
 * @param value The array from the document.
 * @param field Its path (e.g. `layers`), named in errors with the index.
 * @returns The descriptors.
 * @throws {ValidationError} Naming the bad entry.
 *
 * @example Check an index's manifests
 * ```ts
 * import { validateDescriptors } from "@tsk/image";
 * validateDescriptors([], "manifests");
 * ```
 */
export function validateDescriptors(value: unknown, field: string): Descriptor[] {
  return array(value, field).map((d, i) => validateDescriptor(d, `${field}[${i}]`));
}
