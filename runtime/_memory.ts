/**
 * Releasing the Deno binary's read-only pages from this process's page
 * tables while it waits, so that the execve that follows has less to tear
 * down.
 *
 * A Deno process maps about 28 MB of its 96 MB binary by the time it has
 * started (its code and read-only data: V8's snapshot and builtins). The
 * kernel unmaps every one of those pages, one page-table entry at a time,
 * before an execve can load the new program: `MADV_DONTNEED` (madvise(2))
 * does that earlier. A pooled init does it while idle, before its warm-up,
 * which faults back in (from the page cache: the file is not read again)
 * much of what its set-up will run; it then holds 14-15 MB of file pages.
 * Its execve took 0.3-0.9 ms less (`deno task bench trace_runtime`), and the
 * benchmark's library path about 1 ms less (docs/benchmarks.md).
 *
 * The command does not do this while the supervisor serves it: its exit
 * took 0.4-0.7 ms less, but the work (about 5 ms of CPU, most of it loading
 * this module and binding `madvise`) ran beside the init's set-up, which
 * took 1.2-1.6 ms longer.
 *
 * Only pages that cannot have been written are released: on a private file
 * mapping, `MADV_DONTNEED` also discards the process's own modified copies,
 * so a writable mapping (or one the loader wrote to and then made read-only,
 * RELRO) would lose them. So the rule is the ELF file's, not the mapping's
 * current protection: a mapping qualifies only when it lies inside a
 * `PT_LOAD` segment without `PF_W` of an executable without text
 * relocations, and is not writable now. (A uprobe on the binary is such a
 * modified copy too: a process that released its pages no longer hits it.)
 *
 * @module
 */
import { libc } from "./_libc.ts";

const MADV_DONTNEED = 4;
const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PF_W = 2;
const DT_NULL = 0;
const DT_TEXTREL = 22;
const DT_FLAGS = 30;
const DF_TEXTREL = 4;
const PAGE = 4096;

/** A byte range of the executable file: `[start, end)`. */
export interface FileRange {
  /** First byte. */
  start: number;
  /** One past the last byte. */
  end: number;
}

/**
 * The file ranges of a 64-bit little-endian ELF executable that the loader
 * maps and never writes: its `PT_LOAD` segments without `PF_W`. Empty when
 * the file is not such an ELF file or has text relocations (the loader
 * writes to its code then).
 *
 * @param read Reads `length` bytes of the file at `offset` (fewer at its end).
 *
 * @example
 * ```ts
 * import { readOnlySegments } from "./_memory.ts";
 * const f = Deno.openSync(Deno.execPath());
 * const ranges = readOnlySegments((offset, length) => {
 *   const buf = new Uint8Array(length);
 *   f.seekSync(offset, Deno.SeekMode.Start);
 *   const n = f.readSync(buf) ?? 0;
 *   return buf.subarray(0, n);
 * });
 * f.close();
 * ```
 */
export function readOnlySegments(
  read: (offset: number, length: number) => Uint8Array,
): FileRange[] {
  const head = read(0, 64);
  if (
    head.length < 64 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c ||
    head[3] !== 0x46 || head[4] !== 2 /* ELFCLASS64 */ || head[5] !== 1 /* little-endian */
  ) return [];
  const h = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const phoff = Number(h.getBigUint64(0x20, true));
  const phentsize = h.getUint16(0x36, true);
  const phnum = h.getUint16(0x38, true);
  if (phentsize < 56 || phnum === 0) return [];
  const table = read(phoff, phentsize * phnum);
  if (table.length < phentsize * phnum) return [];
  const t = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const ranges: FileRange[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = i * phentsize;
    const type = t.getUint32(at, true);
    const flags = t.getUint32(at + 4, true);
    const offset = Number(t.getBigUint64(at + 8, true));
    const filesz = Number(t.getBigUint64(at + 32, true));
    if (type === PT_DYNAMIC && hasTextRelocations(read(offset, filesz))) return [];
    if (type === PT_LOAD && (flags & PF_W) === 0 && filesz > 0) {
      ranges.push({ start: offset, end: offset + filesz });
    }
  }
  return ranges;
}

function hasTextRelocations(dynamic: Uint8Array): boolean {
  const d = new DataView(dynamic.buffer, dynamic.byteOffset, dynamic.byteLength);
  for (let at = 0; at + 16 <= dynamic.length; at += 16) {
    const tag = Number(d.getBigInt64(at, true));
    if (tag === DT_NULL) break;
    if (tag === DT_TEXTREL) return true;
    if (tag === DT_FLAGS && (Number(d.getBigUint64(at + 8, true)) & DF_TEXTREL) !== 0) return true;
  }
  return false;
}

/** An address range of this process: `[start, end)`. */
export interface AddressRange {
  /** First address. */
  start: bigint;
  /** One past the last address. */
  end: bigint;
}

/**
 * The mappings in `maps` (the text of `/proc/<pid>/maps`) that map the file
 * `path` (inode `ino`) without write permission and lie wholly inside one
 * of `segments`.
 *
 * @example
 * ```ts
 * import { releasableMappings } from "./_memory.ts";
 * const maps = "1000-3000 r-xp 00001000 fd:01 42 /usr/bin/deno\n";
 * releasableMappings(maps, { path: "/usr/bin/deno", ino: 42 }, [{ start: 0x1000, end: 0x3000 }]);
 * // [{ start: 0x1000n, end: 0x3000n }]
 * ```
 */
export function releasableMappings(
  maps: string,
  file: { path: string; ino: number },
  segments: readonly FileRange[],
): AddressRange[] {
  const out: AddressRange[] = [];
  for (const line of maps.split("\n")) {
    // start-end perms offset dev inode path (the path may hold spaces)
    const f = line.split(" ");
    if (f.length < 6 || f[1][1] === "w" || Number(f[4]) !== file.ino) continue;
    if (f.slice(5).join(" ").trimStart() !== file.path) continue;
    const dash = f[0].indexOf("-");
    const start = BigInt(`0x${f[0].slice(0, dash)}`);
    const end = BigInt(`0x${f[0].slice(dash + 1)}`);
    const offset = Number.parseInt(f[2], 16);
    const length = Number(end - start);
    // Page-aligned: a segment's first and last pages may hold bytes of its
    // neighbours, but this mapping never had them writable.
    const inside = segments.some((s) =>
      offset >= Math.floor(s.start / PAGE) * PAGE &&
      offset + length <= Math.ceil(s.end / PAGE) * PAGE
    );
    if (inside) out.push({ start, end });
  }
  return out;
}

/**
 * Releases this process's page-table entries for the read-only segments of
 * its own executable (see the module's documentation), and returns how many
 * bytes of address space it released them for. Returns 0, having changed
 * nothing, when anything it needs cannot be read.
 *
 * @example
 * ```ts ignore
 * import { releaseExecutablePages } from "./_memory.ts";
 * releaseExecutablePages(); // before blocking for a long time
 * ```
 */
export function releaseExecutablePages(): number {
  let ranges: AddressRange[];
  try {
    const path = Deno.readLinkSync("/proc/self/exe");
    const exe = Deno.openSync("/proc/self/exe");
    try {
      const ino = exe.statSync().ino;
      if (ino === null) return 0;
      const segments = readOnlySegments((offset, length) => {
        const buf = new Uint8Array(length);
        exe.seekSync(offset, Deno.SeekMode.Start);
        let n = 0;
        while (n < length) {
          const r = exe.readSync(buf.subarray(n));
          if (r === null || r === 0) break;
          n += r;
        }
        return buf.subarray(0, n);
      });
      ranges = releasableMappings(
        Deno.readTextFileSync("/proc/self/maps"),
        { path, ino },
        segments,
      );
    } finally {
      exe.close();
    }
  } catch {
    return 0;
  }
  let released = 0;
  for (const r of ranges) {
    if (libc().madvise(r.start, r.end - r.start, MADV_DONTNEED) === 0) {
      released += Number(r.end - r.start);
    }
  }
  return released;
}
