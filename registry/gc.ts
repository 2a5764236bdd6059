/**
 * Online garbage collection: mark and sweep while the registry serves.
 *
 * Safety while pushes run rests on two things. First, every step that
 * decides liveness or creates a reference is synchronous: the sweep (in one
 * SQLite transaction, followed by the file removals in the same tick), the
 * commit of an upload (rename, then record), and the check-and-store of a
 * manifest. No request can interleave with them in this single-threaded
 * process. Second, a blob or link newer than the grace period is a root, so
 * a blob pushed moments before the manifest that references it survives.
 *
 * @module
 */
import type { RegistryContext } from "./context.ts";

/** Options for {@linkcode collectGarbage}. */
export interface GcOptions {
  /**
   * Keep blobs and repository links younger than this, in ms. It must
   * exceed the longest push (first blob to manifest).
   * @default 3_600_000 (one hour)
   */
  graceMs?: number;
  /**
   * Delete untagged manifests older than this, in ms; `null` keeps them.
   * @default null
   */
  untaggedRetentionMs?: number | null;
  /**
   * Expire upload sessions idle for longer than this, in ms.
   * @default 86_400_000 (one day)
   */
  uploadTtlMs?: number;
}

/** What one garbage-collection pass removed. */
export interface GcResult {
  /** Manifests deleted (untagged past retention, and unreachable from them). */
  manifests: number;
  /** Repository-to-blob links removed. */
  links: number;
  /** Blob files removed. */
  blobs: number;
  /** Upload sessions and files expired. */
  uploads: number;
}

/**
 * Runs one pass: expires idle uploads and their files, then marks from
 * tags and sweeps unreferenced manifests, links and blob files.
 *
 * @param ctx The registry.
 * @param options Grace period, untagged retention, upload TTL.
 * @returns The counts removed.
 */
export async function collectGarbage(
  ctx: RegistryContext,
  options: GcOptions = {},
): Promise<GcResult> {
  const now = ctx.now();
  const uploadTtl = options.uploadTtlMs ?? 86_400_000;
  let uploads = 0;
  for (const id of ctx.meta.uploadIds()) {
    const row = ctx.meta.upload(id);
    if (!row || row.updated >= now - uploadTtl || ctx.uploadLocks.has(id)) continue;
    ctx.meta.deleteUpload(id);
    ctx.store.removeUploadSync(id);
    uploads++;
  }
  // Files whose session is gone (e.g. after a crash between steps).
  const known = new Set(ctx.meta.uploadIds());
  for (const id of await ctx.store.uploadFiles()) {
    if (known.has(id) || ctx.uploadLocks.has(id)) continue;
    try {
      const st = await Deno.stat(ctx.store.uploadPath(id));
      if ((st.mtime?.getTime() ?? 0) < now - uploadTtl && !ctx.meta.upload(id)) {
        ctx.store.removeUploadSync(id);
        uploads++;
      }
    } catch {
      // removed meanwhile
    }
  }
  const grace = options.graceMs ?? 3_600_000;
  const retention = options.untaggedRetentionMs ?? null;
  // From here to the end of the loop nothing awaits: see the module doc.
  const plan = ctx.meta.sweep({
    graceBefore: ctx.now() - grace,
    // An untagged manifest may be an index's child whose index is still
    // being pushed: it gets at least the grace period too.
    untaggedBefore: retention === null ? null : ctx.now() - Math.max(retention, grace),
  });
  for (const d of plan.blobs) ctx.store.removeBlobSync(d);
  // Files the metadata does not know (a crash between rename and record).
  // The check and the removal share one tick, as an upload's commit does.
  let strays = 0;
  for await (const f of ctx.store.blobFiles()) {
    if (f.mtime < ctx.now() - grace && ctx.meta.blobSize(f.digest) === undefined) {
      try {
        ctx.store.removeBlobSync(f.digest);
        strays++;
      } catch (err) {
        ctx.log.warn("gc: cannot remove a stray blob file", {
          digest: f.digest,
          error: String(err),
        });
      }
    }
  }
  const result = {
    manifests: plan.manifests.length,
    links: plan.links.length,
    blobs: plan.blobs.length + strays,
    uploads,
  };
  ctx.log.info("gc", { ...result });
  return result;
}
