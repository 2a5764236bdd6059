/**
 * The parts of the OCI image-spec and Docker manifest formats the registry
 * needs to validate a pushed manifest and to find what it references.
 *
 * @module
 */
import { RegistryError } from "./errors.ts";
import { parseDigest } from "./_reference.ts";

/** OCI and Docker manifest media types. */
export const MEDIA_TYPES = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
} as const;

const MANIFEST_TYPES = new Set<string>([MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]);
const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList]);

/** Layer media types whose blobs may live elsewhere (`urls`), so need not be pushed. */
function isForeign(mediaType: string): boolean {
  return mediaType.startsWith("application/vnd.oci.image.layer.nondistributable.") ||
    mediaType === "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
}

/** A descriptor as the registry reads it. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
}

/** What a pushed manifest references. */
export interface ParsedManifest {
  mediaType: string;
  /** Blobs that must be present in the repository (config and layers). */
  blobs: string[];
  /** Manifests that must be present in the repository (index children). */
  manifests: string[];
  /** The subject's digest, for the referrers API. */
  subject?: string;
  /** `artifactType`, or the config's media type for an image manifest. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

function invalid(message: string, cause?: unknown): RegistryError {
  return new RegistryError("MANIFEST_INVALID", message, { cause });
}

function descriptor(v: unknown, field: string): Descriptor {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw invalid(`${field}: expected a descriptor object`);
  }
  const d = v as Record<string, unknown>;
  if (typeof d.mediaType !== "string" || d.mediaType === "") {
    throw invalid(`${field}.mediaType: expected a non-empty string`);
  }
  if (typeof d.digest !== "string") throw invalid(`${field}.digest: expected a string`);
  try {
    parseDigest(d.digest, `${field}.digest`);
  } catch (err) {
    throw invalid((err as Error).message, err);
  }
  if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw invalid(`${field}.size: expected a non-negative integer`);
  }
  if (d.urls !== undefined && !Array.isArray(d.urls)) {
    throw invalid(`${field}.urls: expected an array of strings`);
  }
  return d as unknown as Descriptor;
}

/**
 * Parses and validates a manifest body pushed with the given Content-Type.
 * Throws MANIFEST_INVALID for anything malformed.
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
  let mediaType = header ?? declared;
  if (!mediaType) {
    // Neither says: infer as the distribution registry does.
    mediaType = Array.isArray(doc.manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest;
  }
  if (doc.schemaVersion !== 2) {
    throw invalid(`schemaVersion: expected 2, got ${JSON.stringify(doc.schemaVersion)}`);
  }
  const out: ParsedManifest = { mediaType, blobs: [], manifests: [] };
  if (doc.subject !== undefined) out.subject = descriptor(doc.subject, "subject").digest;
  if (doc.annotations !== undefined) {
    if (typeof doc.annotations !== "object" || doc.annotations === null) {
      throw invalid("annotations: expected an object of strings");
    }
    out.annotations = doc.annotations as Record<string, string>;
  }
  if (doc.artifactType !== undefined) {
    if (typeof doc.artifactType !== "string") throw invalid("artifactType: expected a string");
    out.artifactType = doc.artifactType;
  }
  if (MANIFEST_TYPES.has(mediaType)) {
    const config = descriptor(doc.config, "config");
    out.blobs.push(config.digest);
    if (!Array.isArray(doc.layers)) throw invalid("layers: expected an array of descriptors");
    doc.layers.forEach((l, i) => {
      const d = descriptor(l, `layers[${i}]`);
      if (!(isForeign(d.mediaType) && d.urls && d.urls.length > 0)) out.blobs.push(d.digest);
    });
    out.artifactType ??= config.mediaType;
  } else if (INDEX_TYPES.has(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw invalid("manifests: expected an array of descriptors");
    doc.manifests.forEach((m, i) => out.manifests.push(descriptor(m, `manifests[${i}]`).digest));
  } else {
    throw invalid(
      `Content-Type: unsupported manifest media type ${mediaType}: expected one of ${
        [...MANIFEST_TYPES, ...INDEX_TYPES].join(", ")
      }`,
    );
  }
  return out;
}
