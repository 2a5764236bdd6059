/**
 * `/v2/<name>/manifests/<reference>`: PUT, GET, HEAD and DELETE by tag or
 * digest, for OCI and Docker manifests and indexes.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { RegistryContext } from "../context.ts";
import { RegistryError } from "../errors.ts";
import { checkName, isTag, looksLikeDigest, parseDigest } from "../_reference.ts";
import { parseManifest } from "../_manifest.ts";
import { readLimited } from "../_http.ts";

function unknown(name: string, ref: string): RegistryError {
  return new RegistryError(
    "MANIFEST_UNKNOWN",
    `reference: no manifest ${ref} in repository ${name}`,
    { detail: { name, reference: ref } },
  );
}

/** Resolves a tag or digest to a digest in `name`, or throws MANIFEST_UNKNOWN. */
function resolve(ctx: RegistryContext, name: string, ref: string): string {
  if (looksLikeDigest(ref)) {
    parseDigest(ref, "reference");
    if (!ctx.meta.manifest(name, ref)) throw unknown(name, ref);
    return ref;
  }
  if (!isTag(ref)) {
    throw new RegistryError(
      "MANIFEST_INVALID",
      `reference: ${JSON.stringify(ref)} is neither a tag nor a digest`,
      {
        status: 400,
      },
    );
  }
  const d = ctx.meta.tagDigest(name, ref);
  if (d === undefined) throw unknown(name, ref);
  return d;
}

/**
 * Answers GET and HEAD of a manifest.
 *
 * @param ctx The registry.
 * @param req The request.
 * @param name The repository.
 * @param ref A tag or digest.
 * @returns The manifest with its media type and digest.
 */
export function getManifest(
  ctx: RegistryContext,
  req: Request,
  name: string,
  ref: string,
): Response {
  const digest = resolve(ctx, name, ref);
  const row = ctx.meta.manifest(name, digest);
  const body = row && ctx.meta.manifestBody(digest);
  if (!row || !body) throw unknown(name, ref);
  const headers = {
    "Content-Type": row.mediaType,
    "Docker-Content-Digest": digest,
    "Content-Length": String(body.byteLength),
    "ETag": `"${digest}"`,
  };
  if (req.headers.get("If-None-Match")?.split(",").some((t) => t.trim() === `"${digest}"`)) {
    return new Response(null, {
      status: 304,
      headers: { "ETag": `"${digest}"`, "Docker-Content-Digest": digest },
    });
  }
  if (req.method === "HEAD") return new Response(null, { status: 200, headers });
  return new Response(body, { status: 200, headers });
}

/**
 * Answers PUT of a manifest: validates it, checks that everything it
 * references is in the repository, stores it and points the tag at it.
 *
 * @param ctx The registry.
 * @param req The request.
 * @param name The repository.
 * @param ref A tag or the manifest's digest.
 * @returns 201 with its location and digest.
 */
export async function putManifest(
  ctx: RegistryContext,
  req: Request,
  name: string,
  ref: string,
): Promise<Response> {
  checkName(name);
  const byDigest = looksLikeDigest(ref);
  if (byDigest) parseDigest(ref, "reference");
  else if (!isTag(ref)) {
    throw new RegistryError(
      "MANIFEST_INVALID",
      `reference: ${JSON.stringify(ref)} is not a valid tag`,
      {
        status: 400,
      },
    );
  }
  const body = await readLimited(req.body, ctx.settings.maxManifestSize, "manifest");
  const algorithm = byDigest ? parseDigest(ref).algorithm : "sha256";
  const digest = `${algorithm}:${createHash(algorithm).update(body).digest("hex")}`;
  if (byDigest && digest !== ref) {
    throw new RegistryError(
      "DIGEST_INVALID",
      `reference: the manifest hashes to ${digest}, not ${ref}`,
      {
        detail: { digest: ref, actual: digest },
      },
    );
  }
  const parsed = parseManifest(body, req.headers.get("Content-Type") ?? undefined);
  const tags = byDigest ? [] : [ref];
  for (const t of new URL(req.url).searchParams.getAll("tag")) {
    if (!isTag(t)) {
      throw new RegistryError("MANIFEST_INVALID", `tag: ${JSON.stringify(t)} is not a valid tag`);
    }
    tags.push(t);
  }
  // Check and store in one synchronous step, so the garbage collector cannot
  // remove a referenced blob in between.
  for (const b of parsed.blobs) {
    if (ctx.meta.repoBlobSize(name, b) === undefined) {
      throw new RegistryError(
        "MANIFEST_BLOB_UNKNOWN",
        `manifest: blob ${b} is not in repository ${name}`,
        {
          detail: { digest: b },
        },
      );
    }
  }
  for (const m of parsed.manifests) {
    if (!ctx.meta.manifest(name, m)) {
      throw new RegistryError(
        "MANIFEST_BLOB_UNKNOWN",
        `manifests: manifest ${m} is not in repository ${name}`,
        {
          detail: { digest: m },
        },
      );
    }
  }
  ctx.meta.putManifest(
    {
      repo: name,
      digest,
      mediaType: parsed.mediaType,
      size: body.byteLength,
      artifactType: parsed.artifactType ?? null,
      subject: parsed.subject ?? null,
      annotations: parsed.annotations ? JSON.stringify(parsed.annotations) : null,
      created: ctx.now(),
    },
    body,
    { blobs: parsed.blobs, manifests: parsed.manifests },
    tags,
  );
  ctx.log.info("manifest stored", { repo: name, digest, tags });
  const headers: Record<string, string> = {
    "Location": `/v2/${name}/manifests/${digest}`,
    "Docker-Content-Digest": digest,
    "Content-Length": "0",
  };
  if (parsed.subject) headers["OCI-Subject"] = parsed.subject;
  return new Response(null, { status: 201, headers });
}

/**
 * Answers DELETE of a manifest by digest (removing its tags too) or of a
 * tag alone.
 *
 * @param ctx The registry.
 * @param name The repository.
 * @param ref A tag or digest.
 * @returns 202 Accepted.
 */
export function deleteManifest(ctx: RegistryContext, name: string, ref: string): Response {
  if (!ctx.settings.deleteEnabled) {
    throw new RegistryError("UNSUPPORTED", "DELETE: deletion is disabled on this registry");
  }
  if (looksLikeDigest(ref)) {
    parseDigest(ref, "reference");
    if (!ctx.meta.deleteManifest(name, ref)) throw unknown(name, ref);
  } else {
    if (!isTag(ref) || !ctx.meta.deleteTag(name, ref)) throw unknown(name, ref);
  }
  ctx.log.info("manifest deleted", { repo: name, reference: ref });
  return new Response(null, { status: 202 });
}
