/**
 * The registry's metadata in SQLite (`node:sqlite`): repositories, which
 * blobs each repository may serve, manifests, tags, upload sessions.
 * Every method is synchronous, so each runs atomically with respect to the
 * other requests of this process; the garbage collector relies on that.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";

/** A manifest row. */
export interface ManifestRow {
  /** The repository. */
  repo: string;
  /** The manifest's digest. */
  digest: string;
  /** Its media type (from Content-Type or the body). */
  mediaType: string;
  /** Its size in bytes. */
  size: number;
  /** `artifactType`, or the config's media type; null for indexes without one. */
  artifactType: string | null;
  /** The subject's digest, for the referrers API. */
  subject: string | null;
  /** The annotations as JSON. */
  annotations: string | null;
  /** When it was pushed, in ms since the epoch. */
  created: number;
}

/** An upload session row. */
export interface UploadRow {
  /** The session id (a UUID). */
  id: string;
  /** The repository. */
  repo: string;
  /** The bytes received so far. */
  offset: number;
  /** When it started, in ms since the epoch. */
  created: number;
  /** When it last received bytes, in ms since the epoch. */
  updated: number;
}

const SCHEMA = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = OFF;
CREATE TABLE IF NOT EXISTS repos (name TEXT PRIMARY KEY, created INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs (
  digest TEXT PRIMARY KEY, size INTEGER NOT NULL, created INTEGER NOT NULL, used INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS repo_blobs (
  repo TEXT NOT NULL, digest TEXT NOT NULL, linked INTEGER NOT NULL, PRIMARY KEY (repo, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS repo_blobs_digest ON repo_blobs (digest);
CREATE TABLE IF NOT EXISTS manifest_content (digest TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS manifests (
  repo TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL,
  artifact_type TEXT, subject TEXT, annotations TEXT, created INTEGER NOT NULL,
  PRIMARY KEY (repo, digest)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifests_subject ON manifests (repo, subject);
CREATE TABLE IF NOT EXISTS manifest_refs (
  repo TEXT NOT NULL, parent TEXT NOT NULL, child TEXT NOT NULL, kind TEXT NOT NULL,
  PRIMARY KEY (repo, parent, child)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifest_refs_child ON manifest_refs (child);
CREATE TABLE IF NOT EXISTS tags (
  repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL, updated INTEGER NOT NULL,
  PRIMARY KEY (repo, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_digest ON tags (repo, digest);
CREATE TABLE IF NOT EXISTS uploads (
  id TEXT PRIMARY KEY, repo TEXT NOT NULL, "offset" INTEGER NOT NULL,
  created INTEGER NOT NULL, updated INTEGER NOT NULL
) WITHOUT ROWID;
`;

/**
 * The database is held by another process.
 *
 * @example Catch it
 * ```ts
 * import { Metadata, MetadataLockedError } from "./metadata.ts";
 * try {
 *   new Metadata(":memory:").close();
 * } catch (err: unknown) {
 *   if (err instanceof MetadataLockedError) console.error((err as Error).message);
 * }
 * ```
 */
export class MetadataLockedError extends Error {
  /**
   * Makes an error.
   *
   * @param message What is locked and what to do.
   * @param options The cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MetadataLockedError";
  }
}

/** What a garbage-collection pass removed from the metadata. */
export interface SweepPlan {
  /** Manifests deleted. */
  manifests: { repo: string; digest: string }[];
  /** Repository links to blobs removed. */
  links: { repo: string; digest: string }[];
  /** Blobs removed from the metadata; the caller removes their files. */
  blobs: string[];
  /** Manifest bodies no repository holds any more. */
  contents: string[];
}

/** Options for {@linkcode Metadata.planSweep}. */
export interface SweepOptions {
  /** Blobs and links newer than this (ms since epoch) are kept. */
  graceBefore: number;
  /** Untagged manifests newer than this are kept; `null` keeps all untagged manifests. */
  untaggedBefore: number | null;
}

/**
 * The metadata store.
 *
 * @example Open an in-memory store
 * ```ts
 * import { Metadata } from "./metadata.ts";
 * const meta = new Metadata(":memory:");
 * console.log(meta.listRepos(10, "")); // []
 * meta.close();
 * ```
 */
export class Metadata {
  #db: DatabaseSync;
  #stmts = new Map<string, StatementSync>();

  /**
   * Opens (and creates) the database.
   *
   * @param path A file path, or `:memory:`.
   */
  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    // One process owns a data directory: GC's safety rests on it. Exclusive
    // locking holds the database lock from the first write until close.
    this.#db.exec("PRAGMA locking_mode = EXCLUSIVE; PRAGMA busy_timeout = 200;");
    try {
      this.#db.exec(SCHEMA);
      this.#db.exec("BEGIN IMMEDIATE; COMMIT;");
    } catch (err) {
      this.#db.close();
      if (/locked|busy/i.test(String(err))) {
        throw new MetadataLockedError(
          `data: ${path} is in use by another registry process: stop it or pass another --data`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  #q(sql: string): StatementSync {
    let s = this.#stmts.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s;
  }

  /**
   * Runs `fn` in one transaction.
   *
   * @param fn The work.
   * @returns What `fn` returns.
   */
  tx<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const r = fn();
      this.#db.exec("COMMIT");
      return r;
    } catch (err) {
      this.#db.exec("ROLLBACK");
      throw err;
    }
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }

  // Repositories

  /**
   * Whether the repository has any content.
   *
   * @param repo The repository name.
   * @returns True when it exists.
   */
  repoExists(repo: string): boolean {
    return this.#q("SELECT 1 FROM repos WHERE name = ?").get(repo) !== undefined;
  }

  #touchRepo(repo: string, now: number): void {
    this.#q("INSERT OR IGNORE INTO repos (name, created) VALUES (?, ?)").run(repo, now);
  }

  /**
   * Lists repository names in order after `last`.
   *
   * @param n The most to return.
   * @param last Return names after this one.
   * @returns Sorted names.
   */
  listRepos(n: number, last: string): string[] {
    return this.#q("SELECT name FROM repos WHERE name > ? ORDER BY name LIMIT ?")
      .all(last, n).map((r) => r.name as string);
  }

  // Blobs

  /**
   * The size of a stored blob, or undefined.
   *
   * @param digest The blob digest.
   * @returns Its size.
   */
  blobSize(digest: string): number | undefined {
    const r = this.#q("SELECT size FROM blobs WHERE digest = ?").get(digest);
    return r ? Number(r.size) : undefined;
  }

  /**
   * The size of a blob if the repository may serve it.
   *
   * @param repo The repository.
   * @param digest The blob digest.
   * @returns Its size, or undefined.
   */
  repoBlobSize(repo: string, digest: string): number | undefined {
    const r = this.#q(
      "SELECT b.size AS size FROM repo_blobs l JOIN blobs b ON b.digest = l.digest WHERE l.repo = ? AND l.digest = ?",
    ).get(repo, digest);
    return r ? Number(r.size) : undefined;
  }

  /**
   * Records a stored blob and links it into a repository.
   *
   * @param repo The repository.
   * @param digest The digest.
   * @param size Its size in bytes.
   * @param now The time.
   */
  addBlob(repo: string, digest: string, size: number, now: number): void {
    this.#q(
      "INSERT INTO blobs (digest, size, created, used) VALUES (?, ?, ?, ?) ON CONFLICT (digest) DO UPDATE SET used = excluded.used",
    ).run(digest, size, now, now);
    this.linkBlob(repo, digest, now);
  }

  /**
   * Links an existing blob into a repository (cross-repository mount).
   *
   * @param repo The repository.
   * @param digest The digest.
   * @param now The time.
   */
  linkBlob(repo: string, digest: string, now: number): void {
    this.#touchRepo(repo, now);
    this.#q(
      "INSERT INTO repo_blobs (repo, digest, linked) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET linked = excluded.linked",
    ).run(repo, digest, now);
    this.#q("UPDATE blobs SET used = ? WHERE digest = ?").run(now, digest);
  }

  /**
   * Unlinks a blob from a repository.
   *
   * @param repo The repository.
   * @param digest The digest.
   * @returns Whether a link was removed.
   */
  unlinkBlob(repo: string, digest: string): boolean {
    return Number(
      this.#q("DELETE FROM repo_blobs WHERE repo = ? AND digest = ?").run(repo, digest).changes,
    ) > 0;
  }

  // Manifests

  /**
   * Finds a manifest by digest in a repository.
   *
   * @param repo The repository.
   * @param digest The digest.
   * @returns The row, or undefined.
   */
  manifest(repo: string, digest: string): ManifestRow | undefined {
    const r = this.#q("SELECT * FROM manifests WHERE repo = ? AND digest = ?").get(repo, digest);
    return r ? rowToManifest(r) : undefined;
  }

  /**
   * The digest a tag points at.
   *
   * @param repo The repository.
   * @param tag The tag.
   * @returns The digest, or undefined.
   */
  tagDigest(repo: string, tag: string): string | undefined {
    const r = this.#q("SELECT digest FROM tags WHERE repo = ? AND tag = ?").get(repo, tag);
    return r ? String(r.digest) : undefined;
  }

  /**
   * A manifest's bytes.
   *
   * @param digest The digest.
   * @returns The body, or undefined.
   */
  manifestBody(digest: string): Uint8Array<ArrayBuffer> | undefined {
    const r = this.#q("SELECT body FROM manifest_content WHERE digest = ?").get(digest);
    return r ? (r.body as Uint8Array<ArrayBuffer>) : undefined;
  }

  /**
   * Stores a manifest with its references, and optionally tags it.
   *
   * @param row The manifest.
   * @param body Its bytes.
   * @param refs What it references.
   * @param tags Tags to point at it.
   */
  putManifest(
    row: ManifestRow,
    body: Uint8Array,
    refs: { blobs: string[]; manifests: string[] },
    tags: string[],
  ): void {
    this.tx(() => {
      this.#touchRepo(row.repo, row.created);
      this.#q("INSERT OR IGNORE INTO manifest_content (digest, body) VALUES (?, ?)").run(
        row.digest,
        body,
      );
      this.#q(
        `INSERT INTO manifests (repo, digest, media_type, size, artifact_type, subject, annotations, created)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET created = excluded.created`,
      ).run(
        row.repo,
        row.digest,
        row.mediaType,
        row.size,
        row.artifactType,
        row.subject,
        row.annotations,
        row.created,
      );
      const ref = this.#q(
        "INSERT OR IGNORE INTO manifest_refs (repo, parent, child, kind) VALUES (?, ?, ?, ?)",
      );
      for (const b of refs.blobs) ref.run(row.repo, row.digest, b, "blob");
      for (const m of refs.manifests) ref.run(row.repo, row.digest, m, "manifest");
      for (const t of tags) {
        this.#q(
          "INSERT INTO tags (repo, tag, digest, updated) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET digest = excluded.digest, updated = excluded.updated",
        ).run(row.repo, t, row.digest, row.created);
      }
    });
  }

  /**
   * Deletes a manifest and every tag pointing at it.
   *
   * @param repo The repository.
   * @param digest The digest.
   * @returns Whether it existed.
   */
  deleteManifest(repo: string, digest: string): boolean {
    return this.tx(() => {
      const n = Number(
        this.#q("DELETE FROM manifests WHERE repo = ? AND digest = ?").run(repo, digest).changes,
      );
      this.#q("DELETE FROM tags WHERE repo = ? AND digest = ?").run(repo, digest);
      this.#q("DELETE FROM manifest_refs WHERE repo = ? AND parent = ?").run(repo, digest);
      return n > 0;
    });
  }

  /**
   * Deletes a tag.
   *
   * @param repo The repository.
   * @param tag The tag.
   * @returns Whether it existed.
   */
  deleteTag(repo: string, tag: string): boolean {
    return Number(
      this.#q("DELETE FROM tags WHERE repo = ? AND tag = ?").run(repo, tag).changes,
    ) > 0;
  }

  /**
   * Lists tags in order after `last`.
   *
   * @param repo The repository.
   * @param n The most to return.
   * @param last Return tags after this one.
   * @returns Sorted tags.
   */
  listTags(repo: string, n: number, last: string): string[] {
    return this.#q("SELECT tag FROM tags WHERE repo = ? AND tag > ? ORDER BY tag LIMIT ?")
      .all(repo, last, n).map((r) => r.tag as string);
  }

  /**
   * Manifests in a repository whose subject is `digest`.
   *
   * @param repo The repository.
   * @param digest The subject digest.
   * @returns The referrers.
   */
  referrers(repo: string, digest: string): ManifestRow[] {
    return this.#q("SELECT * FROM manifests WHERE repo = ? AND subject = ? ORDER BY digest")
      .all(repo, digest).map(rowToManifest);
  }

  // Uploads

  /**
   * Starts an upload session.
   *
   * @param id The session id.
   * @param repo The repository.
   * @param now The time.
   */
  addUpload(id: string, repo: string, now: number): void {
    this.#q(
      'INSERT INTO uploads (id, repo, "offset", created, updated) VALUES (?, ?, 0, ?, ?)',
    ).run(id, repo, now, now);
  }

  /**
   * Finds an upload session.
   *
   * @param id The session id.
   * @returns The row, or undefined.
   */
  upload(id: string): UploadRow | undefined {
    const r = this.#q("SELECT * FROM uploads WHERE id = ?").get(id);
    return r
      ? {
        id: String(r.id),
        repo: String(r.repo),
        offset: Number(r.offset),
        created: Number(r.created),
        updated: Number(r.updated),
      }
      : undefined;
  }

  /**
   * Records how many bytes an upload holds.
   *
   * @param id The session id.
   * @param offset The bytes received.
   * @param now The time.
   */
  setUploadOffset(id: string, offset: number, now: number): void {
    this.#q('UPDATE uploads SET "offset" = ?, updated = ? WHERE id = ?').run(offset, now, id);
  }

  /**
   * Removes an upload session.
   *
   * @param id The session id.
   */
  deleteUpload(id: string): void {
    this.#q("DELETE FROM uploads WHERE id = ?").run(id);
  }

  /**
   * Removes the sessions not touched since `before` and returns their ids.
   *
   * @param before A time in ms since the epoch.
   * @returns The expired ids.
   */
  expireUploads(before: number): string[] {
    return this.tx(() => {
      const ids = this.#q("SELECT id FROM uploads WHERE updated < ?").all(before)
        .map((r) => String(r.id));
      this.#q("DELETE FROM uploads WHERE updated < ?").run(before);
      return ids;
    });
  }

  /**
   * Every upload session id.
   *
   * @returns The ids.
   */
  uploadIds(): string[] {
    return this.#q("SELECT id FROM uploads").all().map((r) => String(r.id));
  }

  // Garbage collection

  /**
   * Marks what is reachable and removes the rest from the metadata in one
   * transaction. Roots: tags, untagged manifests newer than the retention,
   * links and blobs newer than the grace period. Children of live indexes and
   * referrers of live manifests are live.
   *
   * @param options The grace period and untagged retention.
   * @returns What was removed; the caller deletes the blob files.
   */
  sweep(options: SweepOptions): SweepPlan {
    return this.tx(() => {
      const all = this.#q("SELECT repo, digest, subject, created FROM manifests").all();
      const live = new Set<string>();
      const key = (repo: string, d: string) => `${repo}\u0000${d}`;
      const queue: string[] = [];
      const mark = (k: string) => {
        if (!live.has(k)) {
          live.add(k);
          queue.push(k);
        }
      };
      for (const r of this.#q("SELECT repo, digest FROM tags").all()) {
        mark(key(String(r.repo), String(r.digest)));
      }
      for (const r of all) {
        if (options.untaggedBefore === null || Number(r.created) >= options.untaggedBefore) {
          mark(key(String(r.repo), String(r.digest)));
        }
      }
      const children = new Map<string, string[]>();
      for (
        const r of this.#q("SELECT repo, parent, child FROM manifest_refs WHERE kind = 'manifest'")
          .all()
      ) {
        const k = key(String(r.repo), String(r.parent));
        const list = children.get(k) ?? [];
        list.push(key(String(r.repo), String(r.child)));
        children.set(k, list);
      }
      const referrersOf = new Map<string, string[]>();
      for (const r of all) {
        if (r.subject === null) continue;
        const k = key(String(r.repo), String(r.subject));
        const list = referrersOf.get(k) ?? [];
        list.push(key(String(r.repo), String(r.digest)));
        referrersOf.set(k, list);
      }
      while (queue.length > 0) {
        const k = queue.pop()!;
        for (const c of children.get(k) ?? []) mark(c);
        for (const c of referrersOf.get(k) ?? []) mark(c);
      }
      const plan: SweepPlan = { manifests: [], links: [], blobs: [], contents: [] };
      const delManifest = this.#q("DELETE FROM manifests WHERE repo = ? AND digest = ?");
      const delRefs = this.#q("DELETE FROM manifest_refs WHERE repo = ? AND parent = ?");
      for (const r of all) {
        const repo = String(r.repo), digest = String(r.digest);
        if (live.has(key(repo, digest))) continue;
        delManifest.run(repo, digest);
        delRefs.run(repo, digest);
        plan.manifests.push({ repo, digest });
      }
      for (
        const r of this.#q(
          "SELECT digest FROM manifest_content WHERE digest NOT IN (SELECT digest FROM manifests)",
        ).all()
      ) plan.contents.push(String(r.digest));
      for (const d of plan.contents) {
        this.#q("DELETE FROM manifest_content WHERE digest = ?").run(d);
      }
      for (
        const r of this.#q(
          `SELECT repo, digest FROM repo_blobs l WHERE linked < ? AND NOT EXISTS
           (SELECT 1 FROM manifest_refs m WHERE m.repo = l.repo AND m.child = l.digest)`,
        ).all(options.graceBefore)
      ) {
        plan.links.push({ repo: String(r.repo), digest: String(r.digest) });
      }
      for (const l of plan.links) this.unlinkBlob(l.repo, l.digest);
      for (
        const r of this.#q(
          `SELECT digest FROM blobs b WHERE used < ?
           AND NOT EXISTS (SELECT 1 FROM repo_blobs l WHERE l.digest = b.digest)
           AND NOT EXISTS (SELECT 1 FROM manifest_refs m WHERE m.child = b.digest)`,
        ).all(options.graceBefore)
      ) plan.blobs.push(String(r.digest));
      for (const d of plan.blobs) this.#q("DELETE FROM blobs WHERE digest = ?").run(d);
      return plan;
    });
  }
}

function rowToManifest(r: Record<string, unknown>): ManifestRow {
  return {
    repo: String(r.repo),
    digest: String(r.digest),
    mediaType: String(r.media_type),
    size: Number(r.size),
    artifactType: r.artifact_type === null ? null : String(r.artifact_type),
    subject: r.subject === null ? null : String(r.subject),
    annotations: r.annotations === null ? null : String(r.annotations),
    created: Number(r.created),
  };
}
