// Helpers shared by the v1 and v2 cgroup managers.
import { CgroupError } from "./errors.ts";
import type { CgroupFs } from "./host.ts";

/** Parses `key value` lines (cpu.stat, memory.events, memory.stat) into numbers. */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** Reads a control file, or `undefined` when it does not exist. */
export async function readOptional(fs: CgroupFs, path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new CgroupError(`Cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Parses a number from a control file; `max` and absurd v1 "unlimited" values give null. */
export function parseLimit(text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim();
  if (t === "max" || t === "") return null;
  const n = BigInt(t);
  if (n >= 1n << 62n) return null;
  return Number(n);
}

/** Parses a list of pids from cgroup.procs. */
export function parsePids(text: string | undefined): number[] {
  if (!text) return [];
  return text.split("\n").filter((l) => l.trim() !== "").map(Number);
}

/** Validates a cgroup path relative to the hierarchy root and normalizes it to `/a/b`. */
export function normalizeCgroupPath(path: string): string {
  if (typeof path !== "string" || path.trim() === "") {
    throw new CgroupError("expected a non-empty cgroup path", { field: "linux.cgroupsPath" });
  }
  const parts = path.split("/").filter((p) => p !== "");
  if (parts.length === 0 || parts.some((p) => p === "." || p === "..")) {
    throw new CgroupError(
      `expected a path like /tsk/<id> without . or .. components, got ${JSON.stringify(path)}`,
      { field: "linux.cgroupsPath" },
    );
  }
  return "/" + parts.join("/");
}

/** Polls `check` every few milliseconds until it returns true or `timeoutMs` passes. */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  while (true) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 50);
  }
}

/** Sends a signal to each pid, ignoring processes that have already gone. */
export function signalPids(pids: number[], signal: Deno.Signal): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, signal);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new CgroupError(`Cannot signal process ${pid}: ${(e as Error).message}`, {
          cause: e,
        });
      }
    }
  }
}

/**
 * Tries one rmdir of each directory (a missing one counts as removed).
 *
 * @param fs The cgroup filesystem.
 * @param dirs The cgroup directories.
 * @returns Whether every one is gone; `false` when any was busy (processes
 *   or child cgroups), the others being removed meanwhile.
 */
export async function removeEach(fs: CgroupFs, dirs: string[]): Promise<boolean> {
  const gone = await Promise.all(dirs.map((d) =>
    fs.rmdir(d).then(
      () => true,
      (e) => e instanceof Deno.errors.NotFound,
    )
  ));
  return gone.every(Boolean);
}

/**
 * Removes a cgroup directory and its child cgroups, deepest first, retrying
 * while the kernel still reports it busy. A missing directory is not an error.
 */
export async function removeTree(fs: CgroupFs, dir: string, timeoutMs: number): Promise<void> {
  let last: unknown;
  const remove = async () => {
    try {
      await fs.rmdir(dir);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return true;
      last = e;
      if (e instanceof Deno.errors.Busy || (e as { code?: string }).code === "EBUSY") return false;
      throw new CgroupError(`Cannot remove cgroup ${dir}: ${(e as Error).message}`, { cause: e });
    }
  };
  // A leaf (the usual container cgroup) goes in one rmdir; a cgroup with
  // children is busy until they are removed, deepest first.
  if (await remove()) return;
  let children: string[];
  try {
    children = await fs.subdirs(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw new CgroupError(`Cannot list ${dir}: ${(e as Error).message}`, { cause: e });
  }
  for (const c of children) await removeTree(fs, `${dir}/${c}`, timeoutMs);
  const ok = await waitFor(remove, timeoutMs);
  if (!ok) {
    throw new CgroupError(`Cannot remove cgroup ${dir}: still busy after ${timeoutMs} ms`, {
      cause: last,
    });
  }
}

/** Writes a control file, turning a filesystem error into a CgroupError naming the field. */
export async function writeControl(
  fs: CgroupFs,
  file: string,
  value: string,
  field: string,
): Promise<void> {
  try {
    await fs.writeFile(file, value);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? `${file} does not exist (is the controller enabled for this cgroup?)`
      : `cannot write ${JSON.stringify(value)} to ${file}: ${(e as Error).message}`;
    throw new CgroupError(why, { field, cause: e });
  }
}

/** Lists the pids in a cgroup directory and every child cgroup under it. */
export async function collectPids(fs: CgroupFs, dir: string): Promise<number[]> {
  const own = await readOptional(fs, `${dir}/cgroup.procs`);
  if (own === undefined) return [];
  const out = parsePids(own);
  let children: string[] = [];
  try {
    children = await fs.subdirs(dir);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  for (const c of children) out.push(...await collectPids(fs, `${dir}/${c}`));
  return out;
}

/** Sums v1 blkio lines (`8:0 Read 4096`) by operation. */
export function sumBlkio(text: string | undefined): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const line of (text ?? "").split("\n")) {
    const [dev, op, value] = line.trim().split(/\s+/);
    if (!dev || !/^\d+:\d+$/.test(dev) || value === undefined) continue;
    if (op === "Read") read += Number(value);
    else if (op === "Write") write += Number(value);
  }
  return { read, write };
}

/** Sums v2 io.stat lines (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...`) by key. */
export function sumIoStat(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? "").split("\n")) {
    for (const kv of line.trim().split(/\s+/).slice(1)) {
      const [k, v] = kv.split("=");
      if (v !== undefined && /^\d+$/.test(v)) out.set(k, (out.get(k) ?? 0) + Number(v));
    }
  }
  return out;
}
