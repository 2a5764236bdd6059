/**
 * `/v2/<name>/blobs/<digest>`: HEAD, GET (with Range) and DELETE.
 *
 * @module
 */
import type { RegistryContext } from "../context.ts";
import { RegistryError } from "../errors.ts";
import { parseDigest } from "../_reference.ts";
import { limitedStream } from "../_http.ts";
import { mappedStream } from "../_mmap.ts";

function sent(ctx: RegistryContext): (n: number) => void {
  return (n) => ctx.metrics.count("blob_bytes_sent", n);
}

function unknown(name: string, digest: string): RegistryError {
  return new RegistryError("BLOB_UNKNOWN", `digest: ${digest} is not in repository ${name}`, {
    detail: { digest },
  });
}

/**
 * Parses a single `bytes=a-b` range against `size`; null when absent. The
 * spec names no code for an unsatisfiable range: it answers 416 with
 * BLOB_UNKNOWN (the requested bytes are not there) and `Content-Range`.
 */
export function parseRange(header: string | null, size: number): [number, number] | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) {
    throw new RegistryError("BLOB_UNKNOWN", `Range: expected bytes=start-end, got ${header}`, {
      status: 416,
      headers: { "Content-Range": `bytes */${size}` },
    });
  }
  let start: number, end: number;
  if (m[1] === "") {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) {
    throw new RegistryError(
      "BLOB_UNKNOWN",
      `Range: ${header} is outside the blob's ${size} bytes`,
      {
        status: 416,
        headers: { "Content-Range": `bytes */${size}` },
      },
    );
  }
  return [start, end];
}

/**
 * Answers HEAD and GET of a blob.
 *
 * @param ctx The registry.
 * @param req The request.
 * @param name The repository.
 * @param digest The blob digest.
 * @param settled When `Deno.serve` writes the response: its `completed`
 *   promise. Then the body comes from mmap windows of the file (see
 *   `_mmap.ts`), kept until it settles; otherwise it is read into buffers.
 * @returns The response.
 */
export async function getBlob(
  ctx: RegistryContext,
  req: Request,
  name: string,
  digest: string,
  settled?: Promise<unknown>,
): Promise<Response> {
  parseDigest(digest);
  const size = ctx.meta.repoBlobSize(name, digest);
  if (size === undefined) {
    // Manifests are content too: serve them here as the distribution registry does.
    const body = ctx.meta.manifest(name, digest) && ctx.meta.manifestBody(digest);
    if (!body) throw unknown(name, digest);
    return new Response(req.method === "HEAD" ? null : body, {
      status: 200,
      headers: {
        "Content-Type": "application/octet-stream",
        "Content-Length": String(body.byteLength),
        "Docker-Content-Digest": digest,
      },
    });
  }
  const headers = new Headers({
    "Content-Type": "application/octet-stream",
    "Docker-Content-Digest": digest,
    "Accept-Ranges": "bytes",
    "ETag": `"${digest}"`,
    "Cache-Control": "max-age=31536000",
  });
  const range = parseRange(req.headers.get("Range"), size);
  if (req.method === "HEAD") {
    // Clients HEAD a blob to skip uploading it, then push a manifest that
    // references it: restart its grace period so GC keeps it until then.
    ctx.meta.linkBlob(name, digest, ctx.now());
    headers.set("Content-Length", String(size));
    return new Response(null, { status: 200, headers });
  }
  const [start, end] = range ?? [0, size - 1];
  if (range) headers.set("Content-Range", `bytes ${start}-${end}/${size}`);
  headers.set("Content-Length", String(end - start + 1));
  const status = range ? 206 : 200;
  if (settled && end >= start) {
    const mapped = mappedStream(
      ctx.store.blobPath(digest),
      start,
      end - start + 1,
      settled,
      sent(ctx),
    );
    if (mapped) {
      const done = ctx.activity.begin();
      settled.then(done, done);
      return new Response(mapped, { status, headers });
    }
  }
  let file: Deno.FsFile;
  try {
    file = await ctx.store.open(digest);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw unknown(name, digest);
    throw err;
  }
  if (start > 0) await file.seek(start, Deno.SeekMode.Start);
  const body = limitedStream(file, end - start + 1, ctx.activity.begin(), sent(ctx));
  return new Response(body, { status, headers });
}

/**
 * Answers DELETE of a blob: unlinks it from the repository; the garbage
 * collector removes the file once no repository holds it.
 *
 * @param ctx The registry.
 * @param name The repository.
 * @param digest The blob digest.
 * @returns 202 Accepted.
 */
export function deleteBlob(ctx: RegistryContext, name: string, digest: string): Response {
  if (!ctx.settings.deleteEnabled) {
    throw new RegistryError("UNSUPPORTED", "DELETE: deletion is disabled on this registry");
  }
  parseDigest(digest);
  if (!ctx.meta.unlinkBlob(name, digest)) throw unknown(name, digest);
  ctx.log.info("blob deleted", { repo: name, digest });
  return new Response(null, { status: 202, headers: { "Docker-Content-Digest": digest } });
}
