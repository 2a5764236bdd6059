/**
 * The filesystem operations the cgroup managers use, behind one interface so
 * tests can run the managers against a fake tree in a temporary directory
 * (where rmdir must remove the regular files a real cgroupfs would not have).
 *
 * @module
 */
import { pathKind } from "../_libc.ts";

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
 * The real filesystem. Reads, lookups, mkdir and rmdir are synchronous
 * calls behind the promises: on cgroupfs they never wait for a disk, and
 * each async Deno file operation is a round trip through a pool thread
 * (0.1-0.3 ms here; a container's create and delete make dozens). Writes
 * stay asynchronous: moving a process into a cgroup or lowering a memory
 * limit can keep the kernel busy for milliseconds. On cgroupfs, rmdir of a
 * directory holding only control files succeeds, which `Deno.removeSync`
 * (non-recursive) does.
 *
 * @example Read a control file
 * ```ts
 * import { denoCgroupFs } from "./host.ts";
 * const exists = await denoCgroupFs.exists("/sys/fs/cgroup");
 * ```
 */
export const denoCgroupFs: CgroupFs = {
  readFile: (path) => attempt(() => Deno.readTextFileSync(path)),
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
  exists: (path) => Promise.resolve(pathKind(path) !== null),
  mkdir: (path) => attempt(() => Deno.mkdirSync(path, { recursive: true })),
  rmdir: (path) => attempt(() => Deno.removeSync(path)),
  subdirs: (path) =>
    attempt(() => [...Deno.readDirSync(path)].filter((e) => e.isDirectory).map((e) => e.name)),
};

/** A synchronous call as a promise: its result, or a rejection with what it threw. */
function attempt<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (e) {
    return Promise.reject(e);
  }
}
