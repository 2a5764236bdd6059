/**
 * `/v2/<name>/referrers/<digest>`: the manifests whose `subject` is the
 * digest, as an image index, filtered by `artifactType`.
 *
 * @module
 */
import type { RegistryContext } from "../context.ts";
import { parseDigest } from "../_reference.ts";
import { MEDIA_TYPE_OCI_INDEX } from "@tsk/image";

/**
 * Lists the referrers of a digest.
 *
 * @param ctx The registry.
 * @param req The request.
 * @param name The repository.
 * @param digest The subject digest.
 * @returns An OCI image index of descriptors.
 */
export function listReferrers(
  ctx: RegistryContext,
  req: Request,
  name: string,
  digest: string,
): Response {
  parseDigest(digest);
  const filter = new URL(req.url).searchParams.get("artifactType");
  const headers: Record<string, string> = { "Content-Type": MEDIA_TYPE_OCI_INDEX };
  let rows = ctx.meta.referrers(name, digest);
  if (filter !== null) {
    rows = rows.filter((r) => r.artifactType === filter);
    headers["OCI-Filters-Applied"] = "artifactType";
  }
  const manifests = rows.map((r) => {
    const d: Record<string, unknown> = { mediaType: r.mediaType, digest: r.digest, size: r.size };
    if (r.artifactType) d.artifactType = r.artifactType;
    if (r.annotations) d.annotations = JSON.parse(r.annotations);
    return d;
  });
  return new Response(
    JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests }),
    { status: 200, headers },
  );
}
