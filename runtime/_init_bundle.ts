/**
 * The init stage as one JavaScript file. Deno loads a module graph of about
 * twenty TypeScript files noticeably slower than one file (10-15 ms of wall
 * time per start-up here), and the init's start-up is on the path of every
 * container that does not come from a pool. So the first spawn bundles
 * `init.ts` with `deno bundle` into the runtime's private, root-only
 * directory, under a name derived from the Deno version and the size,
 * modification time and inode of every source file of this package; later
 * spawns reuse it. Nothing generated is kept in the source tree.
 *
 * When bundling is not possible (a remote module, no writable directory,
 * `deno bundle` failing, e.g. offline without its esbuild in Deno's cache) the
 * init runs from `init.ts` as before; a failure is remembered per key so it
 * is not retried on every spawn. `TSK_RUNTIME_NO_BUNDLE=1` turns bundling off.
 *
 * @module
 */
import * as posix from "./_path.ts";

const cache = new Map<string, string>();

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

/**
 * A key for the sources under `dir`: the Deno version and the size, mtime and
 * inode of every `.ts` file (tests excluded), hashed.
 *
 * @param dir The source directory.
 * @returns 16 hex digits.
 */
export function sourceKey(dir: string): string {
  const parts: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of Deno.readDirSync(d)) {
      const path = posix.join(d, e.name);
      if (e.isDirectory) walk(path, `${rel}${e.name}/`);
      else if (e.isFile && e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) {
        const st = Deno.statSync(path);
        parts.push(`${rel}${e.name}:${st.size}:${st.mtime?.getTime()}:${st.ino}`);
      }
    }
  };
  walk(dir, "");
  return hash(`${Deno.version.deno}\n${parts.sort().join("\n")}`);
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * The file to hand to `deno run` for the init stage: a cached bundle of
 * `init.ts` in `dir`, built now if missing, or `init.ts` itself.
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
    entry = bundle(source, dir);
    cache.set(k, entry);
  }
  return entry;
}

function bundle(source: string, dir: string): string {
  try {
    const out = posix.join(dir, `init-${sourceKey(posix.dirname(source))}.js`);
    if (exists(out)) return out;
    if (exists(`${out}.failed`)) return source;
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${out}.tmp-${Deno.pid}`;
    const r = new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--no-config", "--no-lock", "-o", tmp, source],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (!r.success || !exists(tmp)) {
      Deno.writeTextFileSync(`${out}.failed`, new TextDecoder().decode(r.stderr));
      try {
        Deno.removeSync(tmp);
      } catch { /* not written */ }
      return source;
    }
    Deno.chmodSync(tmp, 0o400);
    Deno.renameSync(tmp, out); // atomic: concurrent builders write the same content
    return out;
  } catch {
    return source;
  }
}
