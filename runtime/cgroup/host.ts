/**
 * The filesystem operations the cgroup managers use, behind one interface so
 * tests can run the managers against a fake tree in a temporary directory
 * (where rmdir must remove the regular files a real cgroupfs would not have).
 *
 * @module
 */

/** Filesystem operations on a cgroup tree. Paths are absolute. */
export interface CgroupFs {
  /** Reads a control file; rejects with Deno.errors.NotFound when absent. */
  readFile(path: string): Promise<string>;
  /** Writes a control file that must already exist (cgroupfs cannot create files). */
  writeFile(path: string, data: string): Promise<void>;
  /** Whether a file or directory exists. */
  exists(path: string): Promise<boolean>;
  /** Creates a directory and its missing parents. */
  mkdir(path: string): Promise<void>;
  /** Removes an empty cgroup directory; rejects with NotFound when absent. */
  rmdir(path: string): Promise<void>;
  /** Names of the subdirectories (child cgroups) of a directory. */
  subdirs(path: string): Promise<string[]>;
}

/**
 * The real filesystem. On cgroupfs, rmdir of a directory holding only
 * control files succeeds, which `Deno.remove` (non-recursive) does.
 *
 * @example Read a control file
 * ```ts
 * import { denoCgroupFs } from "./host.ts";
 * const exists = await denoCgroupFs.exists("/sys/fs/cgroup");
 * ```
 */
export const denoCgroupFs: CgroupFs = {
  readFile: (path) => Deno.readTextFile(path),
  // Deno.open and one write rather than Deno.writeTextFile, whose first call
  // loads Deno's web streams (3-5 ms of every container start); a control
  // file takes one value in one write(2).
  async writeFile(path, data) {
    const bytes = new TextEncoder().encode(data);
    const f = await Deno.open(path, { write: true, truncate: true });
    try {
      let off = 0;
      while (off < bytes.length) off += await f.write(bytes.subarray(off));
    } finally {
      f.close();
    }
  },
  async exists(path) {
    try {
      await Deno.lstat(path);
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  },
  mkdir: (path) => Deno.mkdir(path, { recursive: true }),
  rmdir: (path) => Deno.remove(path),
  async subdirs(path) {
    const out: string[] = [];
    for await (const e of Deno.readDir(path)) if (e.isDirectory) out.push(e.name);
    return out;
  },
};
