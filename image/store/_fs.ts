// Small filesystem helpers shared by the store, layout and snapshot code.
import { dirname } from "node:path";

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

export function randomSuffix(): string {
  return crypto.getRandomValues(new Uint32Array(2)).reduce((s, n) => s + n.toString(36), "");
}

/** Writes a file atomically: a temp file beside it, fsync, rename. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${randomSuffix()}`;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
  try {
    let off = 0;
    while (off < bytes.length) off += await f.write(bytes.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
  try {
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

export async function pidAlive(pid: number): Promise<boolean> {
  return await exists(`/proc/${pid}`);
}

/**
 * Runs `fn` holding an exclusive lock file. A lock whose holder process is
 * gone is taken over, so a killed process never wedges the store.
 */
export async function withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  await Deno.mkdir(dirname(path), { recursive: true });
  for (let attempt = 0;; attempt++) {
    try {
      const f = await Deno.open(path, { write: true, createNew: true });
      await f.write(new TextEncoder().encode(String(Deno.pid)));
      f.close();
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
      const holder = Number(await Deno.readTextFile(path).catch(() => ""));
      if (holder > 0 && holder !== Deno.pid && !(await pidAlive(holder))) {
        await Deno.remove(path).catch(() => {});
        continue;
      }
      if (!(holder > 0)) {
        // Killed between creating the lock and writing its pid: stale after a while.
        const st = await Deno.stat(path).catch(() => null);
        if (st?.mtime && Date.now() - st.mtime.getTime() > 5000) {
          await Deno.remove(path).catch(() => {});
          continue;
        }
      }
      if (attempt > 6000) throw new Error(`Cannot take lock ${path}: held by process ${holder}`);
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
    }
  }
  try {
    return await fn();
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}
