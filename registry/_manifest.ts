/**
 * What the registry needs from a pushed manifest: validation (by
 * `@tsk/image`'s image-spec parsers) and the list of what it references.
 *
 * @module
 */
import {
  type Descriptor,
  isIndexMediaType,
  isManifestMediaType,
  MEDIA_TYPE_DOCKER_FOREIGN_LAYER,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_OCI_MANIFEST,
  parseIndex,
  parseManifest as parseImageManifest,
} from "@tsk/image";
import { RegistryError } from "./errors.ts";

const ACCEPTED = [
  MEDIA_TYPE_OCI_MANIFEST,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
];

/** Layers whose blobs may live elsewhere (`urls`), so need not be pushed. */
function isForeign(d: Descriptor): boolean {
  return (d.mediaType.startsWith("application/vnd.oci.image.layer.nondistributable.") ||
    d.mediaType === MEDIA_TYPE_DOCKER_FOREIGN_LAYER) && (d.urls?.length ?? 0) > 0;
}

/** What a pushed manifest references. */
export interface ParsedManifest {
  /** The media type it is stored and served with. */
  mediaType: string;
  /** Blobs that must be present in the repository (config and layers). */
  blobs: string[];
  /** Manifests that must be present in the repository (index children). */
  manifests: string[];
  /** The subject's digest, for the referrers API. */
  subject?: string;
  /** `artifactType`, or the config's media type for an image manifest. */
  artifactType?: string;
  /** The manifest's annotations. */
  annotations?: Record<string, string>;
}

function invalid(message: string, cause?: unknown): RegistryError {
  return new RegistryError("MANIFEST_INVALID", message, { cause });
}

/**
 * Parses and validates a manifest body pushed with the given Content-Type.
 * Throws MANIFEST_INVALID, naming the field, for anything malformed.
 */
export function parseManifest(body: Uint8Array, contentType: string | undefined): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch (err) {
    throw invalid(`manifest: expected a JSON document: ${(err as Error).message}`, err);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw invalid("manifest: expected a JSON object");
  }
  const declared = typeof doc.mediaType === "string" ? doc.mediaType : undefined;
  const header = contentType?.split(";")[0].trim() || undefined;
  if (declared && header && declared !== header) {
    throw invalid(`mediaType: ${declared} does not match Content-Type ${header}`);
  }
  // Neither says: infer from the shape, as the distribution registry does.
  const mediaType = header ?? declared ??
    (Array.isArray(doc.manifests) ? MEDIA_TYPE_OCI_INDEX : MEDIA_TYPE_OCI_MANIFEST);
  try {
    if (isManifestMediaType(mediaType)) {
      const m = parseImageManifest(doc);
      return {
        mediaType,
        blobs: [m.config.digest, ...m.layers.filter((l) => !isForeign(l)).map((l) => l.digest)],
        manifests: [],
        subject: m.subject?.digest,
        artifactType: m.artifactType ?? m.config.mediaType,
        annotations: m.annotations,
      };
    }
    if (isIndexMediaType(mediaType)) {
      const ix = parseIndex(doc);
      return {
        mediaType,
        blobs: [],
        manifests: ix.manifests.map((d) => d.digest),
        subject: ix.subject?.digest,
        artifactType: ix.artifactType,
        annotations: ix.annotations,
      };
    }
  } catch (err) {
    throw invalid((err as Error).message, err);
  }
  throw invalid(
    `Content-Type: unsupported manifest media type ${mediaType}: expected one of ${
      ACCEPTED.join(", ")
    }`,
  );
}
