/**
 * The few POSIX path helpers the init stage needs. The init avoids
 * `node:path`: loading Deno's Node compatibility layer costs tens of
 * milliseconds of every container start.
 *
 * @module
 */

/** Normalises an absolute or relative POSIX path (`.`/`..`/duplicate slashes). */
export function normalize(path: string): string {
  const abs = path.startsWith("/");
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!abs) out.push("..");
    } else out.push(part);
  }
  const joined = out.join("/");
  return abs ? `/${joined}` : joined || ".";
}

/** Joins path segments and normalises the result. */
export function join(...parts: string[]): string {
  return normalize(parts.filter((p) => p !== "").join("/"));
}

/** The directory part of a path. */
export function dirname(path: string): string {
  const n = normalize(path);
  const i = n.lastIndexOf("/");
  if (i < 0) return ".";
  if (i === 0) return "/";
  return n.slice(0, i);
}
