/**
 * OCI image-spec types and their validation: descriptors, manifests,
 * indexes, configs, platforms, media types, digests and references. Docker
 * image manifest v2 schema 2 and manifest lists are accepted on read.
 *
 * @example Validate a registry's answer
 * ```ts
 * import { parseManifestDocument } from "@tsk/image/oci";
 * const doc = parseManifestDocument('{"schemaVersion":2,"manifests":[]}');
 * console.log(doc.kind); // "index"
 * ```
 *
 * @module
 */
export * from "./digest.ts";
export * from "./media_types.ts";
export * from "./platform.ts";
export * from "./descriptor.ts";
export * from "./manifest.ts";
export * from "./image_index.ts";
export * from "./config.ts";
export * from "./document.ts";
export * from "./reference.ts";
export { DigestMismatchError, ImageError, NotFoundError, ValidationError } from "../errors.ts";
