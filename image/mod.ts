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
export { RegistryError } from "./errors.ts";
export * from "./store/content_store.ts";
export * from "./store/image_store.ts";
export * from "./store/syncing_writer.ts";
export * from "./layer/tar.ts";
export * from "./layer/compression.ts";
export * from "./layer/create.ts";
export * from "./layer/extract.ts";
export * from "./layout.ts";
export * from "./snapshot.ts";
export * from "./commit.ts";
export * from "./registry/auth.ts";
export * from "./registry/client.ts";
export * from "./registry/progress.ts";
export * from "./registry/pull.ts";
export * from "./registry/push.ts";
export * from "./build/dockerfile.ts";
export * from "./build/dockerignore.ts";
export { type RunStep, type RunStepRequest, runWithRuntime } from "./build/run_step.ts";
export * from "./build/builder.ts";
export * from "./process.ts";
export * from "./registry/auth_file.ts";
