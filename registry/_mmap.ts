/**
 * Blob bodies served from `mmap(2)` windows of the blob file, so the bytes
 * go from the page cache to the socket without being read into (and zeroed
 * in) a fresh JavaScript buffer first. Used only for responses written by
 * `Deno.serve`, whose `completed` promise says when the body is done with.
 *
 * Memory safety rests on four rules:
 *
 * 1. Address space is taken in fixed windows ("slots") that are never
 *    unmapped. A free slot is an anonymous read-only mapping of zero pages.
 * 2. A window of the file is mapped into a slot with `MAP_FIXED`, read-only,
 *    and only as far as the file's length measured on the open descriptor;
 *    views never reach past the requested range, which lies inside it. Blob
 *    files are immutable once renamed into place (uploads are other files,
 *    GC unlinks, a re-upload renames a new inode over the name), so the
 *    mapped pages cannot vanish under us (no SIGBUS) unless something
 *    outside the registry truncates files in its data directory.
 * 3. A slot goes back to the pool only when the response has settled
 *    (`completed` resolved: every byte was delivered; or rejected: the
 *    connection is gone), never when the stream merely ends. Returning it
 *    first maps zero pages over it with `MAP_FIXED`, which drops the file.
 *    So a late read through a stale view (if Deno kept one) reads zeros or
 *    another blob's bytes, never unmapped memory, and nothing is sent from
 *    it because its response is finished. Windows the stream has left two
 *    windows behind get `MADV_DONTNEED`, which only drops their page-table
 *    entries: a later read faults the same file bytes back in, so this keeps
 *    the resident set to a few windows without risking what is sent.
 *
 * Reading through a mapping faults pages in on the thread that sends them,
 * which is the event loop's: so each window, and the next, is handed to
 * `posix_fadvise(WILLNEED)` first, which starts the disk reads in the
 * background (a no-op for pages already cached). Unlike `read(2)`, a disk
 * error under a mapping is a SIGBUS that ends the process.
 * 4. The views never reach JavaScript code other than the stream handed to
 *    `Deno.serve`: in-process callers (`app.fetch` without `completed`) get
 *    the copying stream, because they may keep a chunk past its slot's reuse.
 *
 * @module
 */

const PROT_READ = 0x1;
const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const SEEK_END = 2;
const MADV_DONTNEED = 4;
const POSIX_FADV_WILLNEED = 3;
const MAP_FAILED = 0xffffffffffffffffn;

/** Bytes of address space per slot (a multiple of the page size). */
export const WINDOW = 16 * 1024 * 1024;
/** Bytes per chunk handed to the HTTP server. */
const CHUNK = 4 * 1024 * 1024;
/** The most slots (address space: 64 GiB) held at once; beyond, copy. */
const MAX_SLOTS = 4096;

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  mmap: {
    parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"],
    result: "pointer",
  },
  madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  posix_fadvise: { parameters: ["i32", "i64", "i64", "i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libc: Libc | null | undefined;

function load(): Libc | null {
  if (libc !== undefined) return libc;
  try {
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    // No FFI permission or no glibc: blobs are copied through buffers.
    libc = null;
  }
  return libc;
}

function failed(p: Deno.PointerValue): boolean {
  return p === null || BigInt(Deno.UnsafePointer.value(p)) === MAP_FAILED;
}

/**
 * A window of address space and one ArrayBuffer over all of it, made once:
 * chunks are views into it, so V8 does not count a new external buffer (and
 * collect garbage for it) per chunk.
 */
interface Slot {
  ptr: Deno.PointerObject;
  buffer: ArrayBuffer;
}

/** Free slots, each an anonymous read-only zero mapping of WINDOW bytes. */
const free: Slot[] = [];
let slots = 0;
let reserved = 0;

function takeSlot(lib: Libc): Slot | null {
  const s = free.pop();
  if (s) return s;
  const p = lib.mmap(null, BigInt(WINDOW), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n);
  if (failed(p)) return null;
  slots++;
  const ptr = p as Deno.PointerObject;
  return { ptr, buffer: Deno.UnsafePointerView.getArrayBuffer(ptr, WINDOW) };
}

/** A view of `n` bytes of `slot` at `offset`. */
function view(slot: Slot, offset: number, n: number): Uint8Array {
  // Should anything ever detach the buffer, make a new one over the slot.
  if (slot.buffer.detached) slot.buffer = Deno.UnsafePointerView.getArrayBuffer(slot.ptr, WINDOW);
  return new Uint8Array(slot.buffer, offset, n);
}

function returnSlot(lib: Libc, slot: Slot): void {
  const p = lib.mmap(
    slot.ptr,
    BigInt(WINDOW),
    PROT_READ,
    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
    -1,
    0n,
  );
  // If even that fails, keep the file mapped and the slot out of the pool:
  // a leak of address space, never a dangling mapping.
  if (!failed(p)) free.push(slot);
}

/** Slot usage, for tests: slots made, free in the pool, reserved by streams. */
export function slotStats(): { slots: number; free: number; reserved: number } {
  return { slots, free: free.length, reserved };
}

/**
 * A stream of bytes `start` to `start + length` of the file at `path`, from
 * mmap windows, or null when mapping is unavailable (no FFI, the file is
 * missing or shorter than the range, the slot budget is spent): the caller
 * then copies through buffers.
 *
 * @param path The blob file.
 * @param start The first byte.
 * @param length How many bytes (more than zero).
 * @param settled Settles once the server is done with the response.
 * @param onChunk Called with the size of each chunk handed out.
 * @returns The stream, or null.
 */
export function mappedStream(
  path: string,
  start: number,
  length: number,
  settled: Promise<unknown>,
  onChunk: (n: number) => void,
): ReadableStream<Uint8Array> | null {
  const lib = load();
  if (!lib || length <= 0) return null;
  const first = Math.floor(start / WINDOW);
  const need = Math.floor((start + length - 1) / WINDOW) - first + 1;
  if (reserved + need > MAX_SLOTS) return null;
  const fd = lib.open(new TextEncoder().encode(`${path}\0`), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return null;
  const size = Number(lib.lseek(fd, 0n, SEEK_END));
  if (size < start + length) {
    lib.close(fd);
    return null;
  }
  reserved += need;
  let fdOpen = true;
  const closeFd = () => {
    if (fdOpen) lib.close(fd);
    fdOpen = false;
  };
  const held: Slot[] = [];
  let done = false;
  const release = () => {
    if (done) return;
    done = true;
    closeFd();
    for (const s of held.splice(0)) returnSlot(lib, s);
    reserved -= need;
  };
  settled.then(release, release);

  let pos = start;
  const end = start + length;
  let window = -1;
  let base: Slot | null = null;
  return new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (done) {
        ctrl.error(new Error("blob: the response has already ended"));
        return;
      }
      if (pos >= end) {
        closeFd();
        ctrl.close();
        return;
      }
      const w = Math.floor(pos / WINDOW);
      if (w !== window) {
        const slot = takeSlot(lib);
        if (!slot) {
          closeFd();
          ctrl.error(new Error("blob: mmap: no address space for a window"));
          return;
        }
        held.push(slot);
        // Drop the page-table entries of the window two behind (see the top).
        if (held.length > 2) lib.madvise(held[held.length - 3].ptr, BigInt(WINDOW), MADV_DONTNEED);
        const offset = w * WINDOW;
        const len = Math.min(WINDOW, size - offset);
        // Start reading this window and the next from disk, if not cached.
        lib.posix_fadvise(fd, BigInt(offset), BigInt(2 * WINDOW), POSIX_FADV_WILLNEED);
        const p = lib.mmap(
          slot.ptr,
          BigInt(len),
          PROT_READ,
          MAP_SHARED | MAP_FIXED,
          fd,
          BigInt(offset),
        );
        if (failed(p)) {
          closeFd();
          ctrl.error(new Error("blob: mmap of the blob file failed"));
          return;
        }
        window = w;
        base = slot;
        if (Math.floor((end - 1) / WINDOW) === w) closeFd();
      }
      const within = pos - window * WINDOW;
      const n = Math.min(CHUNK, end - pos, WINDOW - within);
      ctrl.enqueue(view(base!, within, n));
      pos += n;
      onChunk(n);
    },
    cancel() {
      closeFd();
    },
  }, { highWaterMark: 0 });
}
