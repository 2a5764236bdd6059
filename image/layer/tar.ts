/**
 * A streaming tar reader and writer: POSIX ustar with PAX extended headers
 * (long names, large sizes, xattrs), reading GNU long names as well.
 *
 * @module
 */
import { ImageError } from "../errors.ts";

/** The kind of a tar entry. */
export type TarEntryType =
  | "file"
  | "hardlink"
  | "symlink"
  | "char"
  | "block"
  | "directory"
  | "fifo";

/** The metadata of a tar entry. */
export interface TarHeader {
  /** The path inside the archive, without a leading `/`; directories may end in `/`. */
  name: string;
  /** The kind of entry. */
  type: TarEntryType;
  /** Permission bits, including setuid/setgid/sticky. */
  mode: number;
  /** Owner user id. */
  uid: number;
  /** Owner group id. */
  gid: number;
  /** Content size (files only; 0 for everything else). */
  size: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  /** Target of a symlink or hardlink. */
  linkname: string;
  /** Owner user name. */
  uname: string;
  /** Owner group name. */
  gname: string;
  /** Device major number. */
  devmajor: number;
  /** Device minor number. */
  devminor: number;
  /** Extended attributes (PAX `SCHILY.xattr.*`), values as binary strings. */
  xattrs: Record<string, string>;
}

/** A tar entry as read: header and a body that must be consumed before the next entry. */
export interface TarEntry extends TarHeader {
  /** The content, streamed; unread content is skipped when the next entry is requested. */
  body: AsyncIterable<Uint8Array>;
}

const TYPE_FLAGS: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "directory",
  "6": "fifo",
};
const FLAG_OF: Record<TarEntryType, string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  directory: "5",
  fifo: "6",
};

/** A tar archive is malformed. */
export class TarError extends ImageError {
  /**
   * Creates a tar error.
   *
   * @param message What is wrong, naming the entry.
   * @param options The cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TarError";
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const latin1 = new TextDecoder("latin1");

// ---------------------------------------------------------------- reading

class ByteReader {
  #it: AsyncIterator<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  #off = 0;
  constructor(source: AsyncIterable<Uint8Array>) {
    this.#it = source[Symbol.asyncIterator]();
  }
  async #fill(): Promise<boolean> {
    while (this.#off >= this.#buf.length) {
      const r = await this.#it.next();
      if (r.done) return false;
      this.#buf = r.value;
      this.#off = 0;
    }
    return true;
  }
  /** Reads exactly n bytes, or null at a clean end of input (0 bytes read). */
  async exact(n: number): Promise<Uint8Array | null> {
    if (!(await this.#fill())) return null;
    if (this.#buf.length - this.#off >= n) {
      const out = this.#buf.subarray(this.#off, this.#off + n);
      this.#off += n;
      return out;
    }
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      if (!(await this.#fill())) throw new TarError("Cannot read tar: unexpected end of archive");
      const take = Math.min(n - got, this.#buf.length - this.#off);
      out.set(this.#buf.subarray(this.#off, this.#off + take), got);
      this.#off += take;
      got += take;
    }
    return out;
  }
  /** Yields up to n bytes in chunks as they come. */
  async *chunks(n: number): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (!(await this.#fill())) throw new TarError("Cannot read tar: unexpected end of archive");
      const take = Math.min(left, this.#buf.length - this.#off);
      const out = this.#buf.subarray(this.#off, this.#off + take);
      this.#off += take;
      left -= take;
      yield out;
    }
  }
  async cancel(): Promise<void> {
    await this.#it.return?.();
  }
}

function cstr(b: Uint8Array, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return dec.decode(z < 0 ? s : s.subarray(0, z));
}

function num(b: Uint8Array, off: number, len: number, field: string, name: string): number {
  const s = b.subarray(off, off + len);
  if (s[0] & 0x80) {
    // GNU base-256: big-endian, high bit set. Negative values are refused.
    if (s[0] & 0x40) throw new TarError(`Tar entry ${JSON.stringify(name)}: ${field} is negative`);
    let v = s[0] & 0x3f;
    for (let i = 1; i < s.length; i++) v = v * 256 + s[i];
    if (!Number.isSafeInteger(v)) {
      throw new TarError(`Tar entry ${JSON.stringify(name)}: ${field} is too large`);
    }
    return v;
  }
  const text = latin1.decode(s).replace(/[\0 ]+$/, "").replace(/^[\0 ]+/, "");
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) {
    throw new TarError(
      `Tar entry ${JSON.stringify(name)}: ${field} is not octal: ${JSON.stringify(text)}`,
    );
  }
  return parseInt(text, 8);
}

function parsePax(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    if (sp < 0) throw new TarError("Cannot read tar: malformed PAX record");
    const len = parseInt(latin1.decode(data.subarray(off, sp)), 10);
    if (!Number.isSafeInteger(len) || len <= 0 || off + len > data.length) {
      throw new TarError("Cannot read tar: malformed PAX record length");
    }
    const rec = data.subarray(sp + 1, off + len - 1); // drop trailing \n
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new TarError("Cannot read tar: PAX record without '='");
    const key = dec.decode(rec.subarray(0, eq));
    // xattr values are binary; keep them byte-for-byte as latin1.
    out[key] = key.startsWith("SCHILY.xattr.")
      ? latin1.decode(rec.subarray(eq + 1))
      : dec.decode(rec.subarray(eq + 1));
    off += len;
  }
  return out;
}

/**
 * Reads a tar archive entry by entry as it streams. Each entry's body must be
 * read (or abandoned) before asking for the next; unread bytes are skipped.
 *
 * @param source The archive's bytes (already decompressed).
 * @returns The entries in archive order.
 * @throws {TarError} On a malformed archive (bad checksum, truncation, bad numbers).
 *
 * @example List the names in an archive
 * ```ts
 * import { readTar, TarWriter } from "@tsk/image";
 * const w = new TarWriter();
 * const done = new Response(w.readable).arrayBuffer();
 * await w.add({ name: "hello.txt", type: "file" }, new TextEncoder().encode("hi"));
 * await w.close();
 * const bytes = new Uint8Array(await done);
 * for await (const e of readTar([bytes])) console.log(e.name); // hello.txt
 * ```
 */
export async function* readTar(
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<TarEntry> {
  const iterable: AsyncIterable<Uint8Array> = Symbol.asyncIterator in source
    ? source as AsyncIterable<Uint8Array>
    : (async function* () {
      yield* source as Iterable<Uint8Array>;
    })();
  const r = new ByteReader(iterable);
  let pax: Record<string, string> = {};
  let globalPax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  try {
    while (true) {
      const h = await r.exact(512);
      if (h === null) return; // end without the two zero blocks: accept, as GNU tar does
      if (h.every((b) => b === 0)) return;
      const rawName = cstr(h, 0, 100);
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
      const want = num(h, 148, 8, "checksum", rawName);
      if (sum !== want) {
        throw new TarError(
          `Cannot read tar: bad header checksum at entry ${JSON.stringify(rawName)}`,
        );
      }
      const flag = String.fromCharCode(h[156]);
      const size = num(h, 124, 12, "size", rawName);
      const padded = Math.ceil(size / 512) * 512;
      if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
        if (size > 16 << 20) {
          throw new TarError(`Cannot read tar: ${flag} header of ${size} bytes is too large`);
        }
        const data = (await r.exact(padded)) ?? new Uint8Array();
        const body = data.subarray(0, size);
        if (flag === "x") pax = { ...pax, ...parsePax(body) };
        else if (flag === "g") globalPax = { ...globalPax, ...parsePax(body) };
        else if (flag === "L") longName = cstr(body, 0, body.length);
        else longLink = cstr(body, 0, body.length);
        continue;
      }
      const type = TYPE_FLAGS[flag];
      const magic = latin1.decode(h.subarray(257, 263));
      const prefix = magic.startsWith("ustar") ? cstr(h, 345, 155) : "";
      const all = { ...globalPax, ...pax };
      let name = all.path ?? longName ?? (prefix ? `${prefix}/${rawName}` : rawName);
      const linkname = all.linkpath ?? longLink ?? cstr(h, 157, 100);
      const xattrs: Record<string, string> = {};
      for (const [k, v] of Object.entries(all)) {
        if (k.startsWith("SCHILY.xattr.")) xattrs[k.slice(13)] = v;
      }
      pax = {};
      longName = longLink = undefined;
      if (!type) {
        // Unknown entry types (sparse, volume labels...) are skipped whole.
        for await (const _ of r.chunks(padded));
        continue;
      }
      const realSize = all.size !== undefined ? Number(all.size) : size;
      if (!Number.isSafeInteger(realSize) || realSize < 0) {
        throw new TarError(`Tar entry ${JSON.stringify(name)}: bad size ${all.size}`);
      }
      if (type === "directory" && !name.endsWith("/")) name += "/";
      const bodySize = type === "file"
        ? realSize
        : (type === "hardlink" || type === "symlink" ? 0 : realSize);
      const bodyPadded = Math.ceil(bodySize / 512) * 512;
      let consumed = 0;
      const body = (async function* () {
        for await (const chunk of r.chunks(bodySize)) {
          consumed += chunk.length;
          yield chunk;
        }
      })();
      yield {
        name,
        type,
        mode: num(h, 100, 8, "mode", name) & 0o7777,
        uid: all.uid !== undefined ? Number(all.uid) : num(h, 108, 8, "uid", name),
        gid: all.gid !== undefined ? Number(all.gid) : num(h, 116, 8, "gid", name),
        size: type === "file" ? realSize : 0,
        mtime: all.mtime !== undefined
          ? Math.floor(Number(all.mtime))
          : num(h, 136, 12, "mtime", name),
        linkname,
        uname: all.uname ?? cstr(h, 265, 32),
        gname: all.gname ?? cstr(h, 297, 32),
        devmajor: magic.startsWith("ustar") ? num(h, 329, 8, "devmajor", name) : 0,
        devminor: magic.startsWith("ustar") ? num(h, 337, 8, "devminor", name) : 0,
        xattrs,
        body,
      };
      // Skip what the consumer did not read, then the padding.
      for await (const chunk of r.chunks(bodySize - consumed)) consumed += chunk.length;
      if (bodyPadded > bodySize) await r.exact(bodyPadded - bodySize);
      // Bodies recorded for link types (non-standard) are skipped.
      if (bodySize === 0 && size > 0) { for await (const _ of r.chunks(padded)); }
    }
  } finally {
    await r.cancel();
  }
}

// ---------------------------------------------------------------- writing

/** The header fields {@linkcode TarWriter.add} takes; all but `name` and `type` default. */
export type TarHeaderInput = Partial<TarHeader> & Pick<TarHeader, "name" | "type">;

function octal(b: Uint8Array, off: number, len: number, value: number): boolean {
  const s = value.toString(8);
  if (s.length > len - 1) return false;
  b.set(enc.encode(s.padStart(len - 1, "0")), off);
  b[off + len - 1] = 0;
  return true;
}

function put(b: Uint8Array, off: number, len: number, s: string): boolean {
  const bytes = enc.encode(s);
  if (bytes.length > len) return false;
  b.set(bytes, off);
  return true;
}

function paxRecord(key: string, value: Uint8Array): Uint8Array {
  // "<len> <key>=<value>\n", where <len> counts its own digits too.
  const kv = enc.encode(` ${key}=`);
  const rest = kv.length + value.length + 1;
  let len = rest + String(rest).length;
  if (String(len).length + rest !== len) len = rest + String(len).length;
  const digits = enc.encode(String(len));
  const out = new Uint8Array(len);
  out.set(digits, 0);
  out.set(kv, digits.length);
  out.set(value, digits.length + kv.length);
  out[len - 1] = 0x0a;
  return out;
}

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

function header(h: TarHeader, flag: string, paxOut?: Uint8Array[]): Uint8Array {
  const b = new Uint8Array(512);
  const needPax = (key: string, value: string | Uint8Array) =>
    paxOut?.push(paxRecord(key, typeof value === "string" ? enc.encode(value) : value));
  if (!put(b, 0, 100, h.name)) {
    needPax("path", h.name);
    put(b, 0, 100, h.name.slice(0, 99).replace(/[^\x20-\x7e]/g, "_"));
  }
  octal(b, 100, 8, h.mode & 0o7777);
  if (!octal(b, 108, 8, h.uid)) needPax("uid", String(h.uid));
  if (!octal(b, 116, 8, h.gid)) needPax("gid", String(h.gid));
  if (!octal(b, 124, 12, h.size)) {
    needPax("size", String(h.size));
    octal(b, 124, 12, 0);
  }
  if (!octal(b, 136, 12, Math.max(0, Math.floor(h.mtime)))) needPax("mtime", String(h.mtime));
  b[156] = flag.charCodeAt(0);
  if (!put(b, 157, 100, h.linkname)) needPax("linkpath", h.linkname);
  b.set(enc.encode("ustar\x0000"), 257);
  if (!put(b, 265, 32, h.uname)) needPax("uname", h.uname);
  if (!put(b, 297, 32, h.gname)) needPax("gname", h.gname);
  octal(b, 329, 8, h.devmajor);
  octal(b, 337, 8, h.devminor);
  for (const [k, v] of Object.entries(h.xattrs).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) {
    needPax(`SCHILY.xattr.${k}`, latin1Bytes(v));
  }
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i];
  octal(b, 148, 7, sum);
  b[155] = 0x20;
  return b;
}

/**
 * Writes a tar archive to a stream, entry by entry, with PAX headers where
 * ustar's fields are too small. Output is deterministic for the same input.
 *
 * @example Write an archive with one file
 * ```ts
 * import { TarWriter } from "@tsk/image";
 * const w = new TarWriter();
 * const bytes = new Response(w.readable).arrayBuffer();
 * await w.add({ name: "etc/hostname", type: "file", mode: 0o644 }, new TextEncoder().encode("box\n"));
 * await w.close();
 * console.log((await bytes).byteLength); // 2048
 * ```
 */
export class TarWriter {
  /** The archive's bytes. */
  readonly readable: ReadableStream<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;

  /** Creates a writer; read {@linkcode TarWriter.readable} concurrently with adding entries. */
  constructor() {
    const ts = new TransformStream<Uint8Array, Uint8Array>(undefined, { highWaterMark: 16 });
    this.readable = ts.readable;
    this.#writer = ts.writable.getWriter();
  }

  async #write(chunk: Uint8Array): Promise<void> {
    await this.#writer.ready;
    await this.#writer.write(chunk);
  }

  /**
   * Adds an entry.
   *
   * @param input The header; `size` defaults to the body's length when the body is bytes.
   * @param body The content of a file entry.
   * @throws {TarError} When a streamed body's length differs from `size`.
   */
  async add(input: TarHeaderInput, body?: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
    const isFile = input.type === "file";
    const size = isFile ? (input.size ?? (body instanceof Uint8Array ? body.length : 0)) : 0;
    const h: TarHeader = {
      mode: input.type === "directory" ? 0o755 : 0o644,
      uid: 0,
      gid: 0,
      mtime: 0,
      linkname: "",
      uname: "",
      gname: "",
      devmajor: 0,
      devminor: 0,
      xattrs: {},
      ...input,
      size,
    };
    const paxRecords: Uint8Array[] = [];
    const main = header(h, FLAG_OF[h.type], paxRecords);
    if (paxRecords.length > 0) {
      const total = paxRecords.reduce((n, r) => n + r.length, 0);
      const data = new Uint8Array(Math.ceil(total / 512) * 512);
      let off = 0;
      for (const r of paxRecords) {
        data.set(r, off);
        off += r.length;
      }
      const paxName = `PaxHeaders/${h.name.slice(0, 80)}`.replace(/[^\x20-\x7e]/g, "_");
      const ph = header({
        ...h,
        name: paxName,
        size: total,
        linkname: "",
        xattrs: {},
        uname: "",
        gname: "",
        uid: 0,
        gid: 0,
      }, "x");
      await this.#write(ph);
      await this.#write(data);
    }
    await this.#write(main);
    if (!isFile || size === 0) {
      if (body && !(body instanceof Uint8Array)) {
        for await (const c of body) {
          if (c.length) {
            throw new TarError(`Tar entry ${JSON.stringify(h.name)}: body longer than size 0`);
          }
        }
      }
      return;
    }
    let written = 0;
    if (body instanceof Uint8Array) {
      await this.#write(body);
      written = body.length;
    } else if (body) {
      for await (const c of body) {
        written += c.length;
        if (written > size) {
          throw new TarError(`Tar entry ${JSON.stringify(h.name)}: body longer than size ${size}`);
        }
        await this.#write(c);
      }
    }
    if (written !== size) {
      throw new TarError(
        `Tar entry ${JSON.stringify(h.name)}: body has ${written} bytes, size says ${size}`,
      );
    }
    const pad = (512 - (size % 512)) % 512;
    if (pad) await this.#write(new Uint8Array(pad));
  }

  /** Writes the two zero blocks that end an archive and closes the stream. */
  async close(): Promise<void> {
    await this.#write(new Uint8Array(1024));
    await this.#writer.close();
  }

  /**
   * Aborts the archive (the reader sees an error).
   *
   * @param reason Why.
   */
  async abort(reason: unknown): Promise<void> {
    await this.#writer.abort(reason);
  }
}
