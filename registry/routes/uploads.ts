/**
 * `/v2/<name>/blobs/uploads/`: monolithic, POST-then-PUT and chunked
 * uploads, upload status, cancel, and cross-repository mount. An upload's
 * bytes become a blob only by an atomic rename after their digest checks out.
 *
 * @module
 */
import type { RegistryContext } from "../context.ts";
import { withLock } from "../context.ts";
import { RegistryError } from "../errors.ts";
import { parseDigest } from "../_reference.ts";

const ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function uploadHeaders(name: string, id: string, offset: number): Headers {
  return new Headers({
    "Location": `/v2/${name}/blobs/uploads/${id}`,
    "Range": `0-${offset > 0 ? offset - 1 : 0}`,
    "Docker-Upload-UUID": id,
    "Content-Length": "0",
  });
}

function unknownUpload(id: string): RegistryError {
  return new RegistryError("BLOB_UPLOAD_UNKNOWN", `upload: no upload session ${id} in progress`);
}

function session(ctx: RegistryContext, name: string, id: string) {
  const row = ID_RE.test(id) ? ctx.meta.upload(id) : undefined;
  if (!row || row.repo !== name) throw unknownUpload(id);
  return row;
}

function created(name: string, digest: string): Response {
  return new Response(null, {
    status: 201,
    headers: {
      "Location": `/v2/${name}/blobs/${digest}`,
      "Docker-Content-Digest": digest,
      "Content-Length": "0",
    },
  });
}

async function startSession(ctx: RegistryContext, name: string): Promise<string> {
  const id = crypto.randomUUID();
  await ctx.store.createUpload(id);
  ctx.meta.addUpload(id, name, ctx.now());
  return id;
}

/** Appends the request body; records the bytes written even if the client goes away. */
async function appendBody(
  ctx: RegistryContext,
  id: string,
  body: ReadableStream<Uint8Array> | null,
  offset: number,
): Promise<number> {
  try {
    const n = await ctx.store.append(id, body, offset);
    ctx.meta.setUploadOffset(id, n, ctx.now());
    ctx.metrics.count("blob_bytes_received", n - offset);
    return n;
  } catch (err) {
    const written = (err as { written?: number }).written;
    if (typeof written === "number" && ctx.meta.upload(id)) {
      ctx.meta.setUploadOffset(id, written, ctx.now());
      ctx.metrics.count("blob_bytes_received", written - offset);
    }
    if (err instanceof RegistryError) throw err;
    throw new RegistryError("BLOB_UPLOAD_INVALID", `body: the upload stream broke: ${err}`, {
      cause: err,
    });
  }
}

/** Verifies the upload against `digest` and moves it into place. */
async function finish(
  ctx: RegistryContext,
  name: string,
  id: string,
  digest: string,
  offset: number,
  expectedLength: number | undefined,
): Promise<Response> {
  const { algorithm } = parseDigest(digest);
  const actual = await ctx.store.uploadDigest(id, algorithm, offset);
  if (expectedLength !== undefined && expectedLength !== offset) {
    ctx.store.removeUploadSync(id);
    ctx.meta.deleteUpload(id);
    throw new RegistryError(
      "SIZE_INVALID",
      `Content-Length: expected ${expectedLength} bytes, received ${offset}`,
    );
  }
  if (actual !== digest) {
    ctx.store.removeUploadSync(id);
    ctx.meta.deleteUpload(id);
    ctx.log.warn("blob refused", { repo: name, digest, actual });
    throw new RegistryError(
      "DIGEST_INVALID",
      `digest: the uploaded content hashes to ${actual}, not ${digest}`,
      { detail: { digest, actual } },
    );
  }
  await ctx.store.syncUpload(id);
  // Rename and record in one synchronous step (see gc.ts).
  ctx.store.commitSync(id, digest);
  ctx.meta.tx(() => {
    ctx.meta.addBlob(name, digest, offset, ctx.now());
    ctx.meta.deleteUpload(id);
  });
  ctx.log.info("blob stored", { repo: name, digest, size: offset });
  return created(name, digest);
}

/**
 * Reads a chunk's `Content-Range` (`start-end`); it must continue the
 * upload at `offset`, else 416 with the current range. Null when absent.
 */
function chunkRange(
  req: Request,
  name: string,
  id: string,
  offset: number,
): [number, number] | null {
  const range = req.headers.get("Content-Range");
  if (range === null) return null;
  const m = /^(?:bytes )?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(range.trim());
  const headers = Object.fromEntries(uploadHeaders(name, id, offset));
  if (!m) {
    throw new RegistryError(
      "BLOB_UPLOAD_INVALID",
      `Content-Range: expected start-end, got ${range}`,
      {
        status: 416,
        headers,
      },
    );
  }
  const start = Number(m[1]), end = Number(m[2]);
  const len = contentLength(req);
  if (start !== offset || end < start || (len !== undefined && len !== end - start + 1)) {
    throw new RegistryError(
      "BLOB_UPLOAD_INVALID",
      `Content-Range: chunk ${start}-${end} does not continue the upload at offset ${offset}`,
      { status: 416, headers },
    );
  }
  return [start, end];
}

function contentLength(req: Request): number | undefined {
  const v = req.headers.get("Content-Length");
  return v !== null && /^\d+$/.test(v) ? Number(v) : undefined;
}

/**
 * POST: starts an upload, uploads a whole blob with `?digest=`, or mounts a
 * blob from another repository with `?mount=&from=`.
 *
 * @param ctx The registry.
 * @param req The request.
 * @param name The repository.
 * @returns 201 when the blob is in place, 202 with a session otherwise.
 */
export async function postUpload(
  ctx: RegistryContext,
  req: Request,
  name: string,
): Promise<Response> {
  const url = new URL(req.url);
  const mount = url.searchParams.get("mount");
  const from = url.searchParams.get("from");
  if (mount !== null) {
    parseDigest(mount, "mount");
    if (from !== null && from !== name) {
      const size = ctx.meta.repoBlobSize(from, mount);
      if (size !== undefined) {
        ctx.meta.linkBlob(name, mount, ctx.now());
        ctx.log.info("blob mounted", { repo: name, from, digest: mount });
        return created(name, mount);
      }
    } else if (ctx.meta.repoBlobSize(name, mount) !== undefined) {
      return created(name, mount);
    }
  }
  const digest = url.searchParams.get("digest");
  const id = await startSession(ctx, name);
  if (digest === null) {
    return new Response(null, { status: 202, headers: uploadHeaders(name, id, 0) });
  }
  parseDigest(digest);
  return await withLock(ctx.uploadLocks, id, async () => {
    try {
      const offset = await appendBody(ctx, id, req.body, 0);
      return await finish(ctx, name, id, digest, offset, contentLength(req));
    } catch (err) {
      // The client cannot resume a session it never saw: drop it now.
      ctx.meta.deleteUpload(id);
      ctx.store.removeUploadSync(id);
      throw err;
    }
  });
}

/**
 * PATCH: appends a chunk. With `Content-Range` the chunk must start where
 * the upload ends, else 416.
 *
 * @param ctx The registry.
 * @param req The request.
 * @param name The repository.
 * @param id The session id.
 * @returns 202 with the new range.
 */
export async function patchUpload(
  ctx: RegistryContext,
  req: Request,
  name: string,
  id: string,
): Promise<Response> {
  session(ctx, name, id);
  return await withLock(ctx.uploadLocks, id, async () => {
    const row = session(ctx, name, id);
    const range = chunkRange(req, name, id, row.offset);
    const offset = await appendBody(ctx, id, req.body, row.offset);
    if (range !== null) {
      const end = range[1];
      if (offset !== end + 1) {
        throw new RegistryError(
          "BLOB_UPLOAD_INVALID",
          `Content-Range: announced ${range.join("-")} but the body ended at offset ${offset}`,
          { status: 416, headers: Object.fromEntries(uploadHeaders(name, id, offset)) },
        );
      }
    }
    return new Response(null, { status: 202, headers: uploadHeaders(name, id, offset) });
  });
}

/**
 * PUT `?digest=`: completes an upload, with an optional last chunk.
 *
 * @param ctx The registry.
 * @param req The request.
 * @param name The repository.
 * @param id The session id.
 * @returns 201 with the blob's location.
 */
export async function putUpload(
  ctx: RegistryContext,
  req: Request,
  name: string,
  id: string,
): Promise<Response> {
  session(ctx, name, id);
  const digest = new URL(req.url).searchParams.get("digest");
  if (digest === null) {
    throw new RegistryError(
      "DIGEST_INVALID",
      "digest: the query parameter is required to complete an upload",
    );
  }
  parseDigest(digest);
  return await withLock(ctx.uploadLocks, id, async () => {
    const row = session(ctx, name, id);
    chunkRange(req, name, id, row.offset);
    const offset = await appendBody(ctx, id, req.body, row.offset);
    return await finish(ctx, name, id, digest, offset, undefined);
  });
}

/**
 * GET: the status of an upload.
 *
 * @param ctx The registry.
 * @param name The repository.
 * @param id The session id.
 * @returns 204 with `Range`.
 */
export function uploadStatus(ctx: RegistryContext, name: string, id: string): Response {
  const row = session(ctx, name, id);
  return new Response(null, { status: 204, headers: uploadHeaders(name, id, row.offset) });
}

/**
 * DELETE: cancels an upload and removes its bytes.
 *
 * @param ctx The registry.
 * @param name The repository.
 * @param id The session id.
 * @returns 204.
 */
export async function cancelUpload(
  ctx: RegistryContext,
  name: string,
  id: string,
): Promise<Response> {
  session(ctx, name, id);
  return await withLock(ctx.uploadLocks, id, () => {
    session(ctx, name, id);
    ctx.meta.deleteUpload(id);
    ctx.store.removeUploadSync(id);
    return Promise.resolve(new Response(null, { status: 204 }));
  });
}
