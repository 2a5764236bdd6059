/**
 * `@tsk/image`: OCI images for tsk. Image-spec types and validation, a
 * content-addressable store, OCI layouts, layers, snapshots, builds and a
 * registry client.
 *
 * @example Check a digest
 * ```ts
 * import { parseDigest } from "@tsk/image";
 * parseDigest("sha256:" + "0".repeat(64));
 * ```
 *
 * @module
 */
export * from "./oci/mod.ts";
