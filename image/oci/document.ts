/**
 * Telling manifests from indexes when a blob or a registry response could be
 * either.
 *
 * @module
 */
import { ValidationError } from "../errors.ts";
import { json, object } from "./_check.ts";
import { type ImageIndex, parseIndex } from "./image_index.ts";
import { type ImageManifest, parseManifest } from "./manifest.ts";
import { isIndexMediaType, isManifestMediaType } from "./media_types.ts";

/** A parsed manifest or index, tagged by kind. */
export type ManifestDocument =
  | { kind: "manifest"; manifest: ImageManifest }
  | { kind: "index"; index: ImageIndex };

/**
 * Parses a manifest or an index. The kind comes from the document's own
 * `mediaType`, then the `hint` (a descriptor's or a Content-Type header's),
 * then its shape (`manifests` vs `layers`).
 *
 * @param data The bytes, text or parsed JSON.
 * @param hint A media type from outside the document, if known.
 * @returns The document, tagged with its kind.
 * @throws {ValidationError} When it is neither, naming the bad field.
 *
 * @example Parse whatever a registry returned
 * ```ts
 * import { parseManifestDocument } from "@tsk/image";
 * const doc = parseManifestDocument('{"schemaVersion":2,"manifests":[]}');
 * console.log(doc.kind); // "index"
 * ```
 */
export function parseManifestDocument(
  data: Uint8Array | string | unknown,
  hint?: string,
): ManifestDocument {
  const o = object(json(data, "manifest"), "manifest");
  const mt = typeof o.mediaType === "string" ? o.mediaType : hint?.split(";")[0].trim();
  if (isIndexMediaType(mt) || (!isManifestMediaType(mt) && Array.isArray(o.manifests))) {
    return { kind: "index", index: parseIndex(o) };
  }
  if (isManifestMediaType(mt) || "layers" in o || "config" in o) {
    return { kind: "manifest", manifest: parseManifest(o) };
  }
  throw new ValidationError(
    "mediaType",
    `expected an image manifest or index, got ${JSON.stringify(mt ?? null)}`,
  );
}
