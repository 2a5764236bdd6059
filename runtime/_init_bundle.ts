/**
 * The init stage as one JavaScript file. Deno loads a module graph of about
 * twenty TypeScript files noticeably slower than one file (8-15 ms of wall
 * time per start-up here), and the init's start-up is on the path of every
 * container that does not come from a pool. So the first spawn bundles
 * `init.ts` with `deno bundle` into the runtime's private, root-only
 * directory and writes a manifest beside it: the Deno version and the size,
 * modification time and inode of every file of the init's module graph.
 * Later spawns stat those files (about a millisecond) and reuse the bundle
 * while all match; any change rebuilds it. Nothing generated is kept in the
 * source tree.
 *
 * When bundling is not possible (a remote module, no writable directory,
 * `deno bundle` failing, e.g. offline without its esbuild in Deno's cache) the
 * init runs from `init.ts` as before; the failure is recorded in the manifest
 * so it is not retried until a source changes. `TSK_RUNTIME_NO_BUNDLE=1`
 * turns bundling off.
 *
 * @module
 */
import * as posix from "./_path.ts";

const cache = new Map<string, string>();

/** What a manifest records: the bundle (or `null` after a failure) and its sources. */
interface Manifest {
  deno: string;
  bundle: string | null;
  /** When bundling failed (ms since the epoch); retried after {@linkcode RETRY_MS}. */
  failedAt?: number;
  files: [path: string, signature: string][];
}

/** A failed build (e.g. offline, esbuild not cached) is retried after this long. */
const RETRY_MS = 10 * 60_000;

/** FNV-1a over `text`, twice with different offsets: 64 bits as hex. */
function hash(text: string): string {
  let a = 0x811c9dc5, b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  return (a >>> 0).toString(16).padStart(8, "0") + (b >>> 0).toString(16).padStart(8, "0");
}

/** Size, mtime and inode of a file, or `null` when it is gone. */
function signature(path: string): string | null {
  try {
    const st = Deno.statSync(path);
    return `${st.size}:${st.mtime?.getTime()}:${st.ino}`;
  } catch {
    return null;
  }
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function readManifest(path: string): Manifest | null {
  try {
    const m = JSON.parse(Deno.readTextFileSync(path)) as Manifest;
    if (m.deno !== Deno.version.deno || !Array.isArray(m.files) || m.files.length === 0) {
      return null;
    }
    if (m.bundle === null && Date.now() - (m.failedAt ?? 0) > RETRY_MS) return null;
    for (const [file, sig] of m.files) if (signature(file) !== sig) return null;
    return m;
  } catch {
    return null;
  }
}

/**
 * Whether `dir` is safe to run code from: a directory of ours that nobody
 * else can write to (anyone who could replace the bundle would run code as
 * the container's init).
 */
function privateDir(dir: string): boolean {
  try {
    const st = Deno.lstatSync(dir);
    return st.isDirectory && st.uid === Deno.uid() && (st.mode! & 0o022) === 0;
  } catch {
    return false;
  }
}

/** Writes `data` to `path` through a temporary file and a rename (atomic for readers). */
function writeAtomic(path: string, data: string): void {
  const tmp = `${path}.tmp-${Deno.pid}`;
  Deno.writeTextFileSync(tmp, data, { mode: 0o600 });
  Deno.renameSync(tmp, path);
}

/** The local files of `source`'s module graph, from `deno info`. */
function graphFiles(source: string): string[] | null {
  const r = new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--no-config", "--no-lock", source],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  if (!r.success) return null;
  const info = JSON.parse(new TextDecoder().decode(r.stdout)) as {
    modules: { specifier: string; local?: string }[];
  };
  const files = info.modules
    .filter((m) => m.specifier.startsWith("file:") && m.local)
    .map((m) => m.local!);
  return files.includes(source) ? files.sort() : null;
}

/**
 * Builds (or finds) the bundle of `source` in `dir`, without the in-process
 * cache of {@linkcode initEntry}.
 *
 * @param source The entry module's path.
 * @param dir The private directory.
 * @returns The bundle's path, or `source` when there is none.
 */
export function bundleEntry(source: string, dir: string): string {
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!privateDir(dir)) return source;
    const manifestPath = posix.join(dir, `init-${hash(source)}.json`);
    const found = readManifest(manifestPath);
    if (found && (found.bundle === null || exists(found.bundle))) return found.bundle ?? source;
    const files = graphFiles(source);
    if (files === null) return source;
    // Signatures are taken before bundling: a file edited meanwhile shows a
    // new signature next time, and the bundle is rebuilt.
    const entries = files.map((f) => [f, signature(f)] as [string, string | null]);
    if (entries.some(([, s]) => s === null)) return source;
    const sigs = entries as [string, string][];
    const out = posix.join(
      dir,
      `init-${hash(`${Deno.version.deno}\n${sigs.map((e) => e.join(" ")).join("\n")}`)}.js`,
    );
    const manifest: Manifest = { deno: Deno.version.deno, bundle: out, files: sigs };
    if (!exists(out)) {
      const tmp = `${out}.tmp-${Deno.pid}`;
      const r = new Deno.Command(Deno.execPath(), {
        args: ["bundle", "--quiet", "--no-config", "--no-lock", "-o", tmp, source],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).outputSync();
      if (!r.success || !exists(tmp)) {
        try {
          Deno.removeSync(tmp);
        } catch { /* not written */ }
        writeAtomic(
          manifestPath,
          JSON.stringify({ ...manifest, bundle: null, failedAt: Date.now() }),
        );
        return source;
      }
      Deno.chmodSync(tmp, 0o400);
      Deno.renameSync(tmp, out); // atomic: concurrent builders write the same content
    }
    writeAtomic(manifestPath, JSON.stringify(manifest));
    return out;
  } catch {
    return source;
  }
}

/**
 * The file to hand to `deno run` for the init stage: a cached bundle of
 * `init.ts` in `dir`, built now if missing or stale, or `init.ts` itself.
 * The answer is kept for the life of the process.
 *
 * @param initUrl The init module.
 * @param dir The runtime's private directory (mode 0700, root's).
 * @returns A path (or, for a remote module, its URL).
 */
export function initEntry(initUrl: URL, dir: string): string {
  if (initUrl.protocol !== "file:") return initUrl.href;
  const source = initUrl.pathname;
  if (Deno.env.get("TSK_RUNTIME_NO_BUNDLE") === "1") return source;
  const k = `${source}\0${dir}`;
  let entry = cache.get(k);
  if (entry === undefined) {
    entry = bundleEntry(source, dir);
    cache.set(k, entry);
  }
  return entry;
}
