/**
 * Layer compression: gzip both ways, zstd both ways (node:zlib), and
 * detection by magic bytes.
 *
 * @module
 */
import * as zlib from "node:zlib";
import { Duplex } from "node:stream";
import type { Compression } from "../oci/media_types.ts";

/**
 * Tells the compression of a blob from its first bytes.
 *
 * @param head At least the first 4 bytes.
 * @returns `gzip`, `zstd` or `none`.
 *
 * @example Detect gzip
 * ```ts
 * import { detectCompression } from "@tsk/image";
 * console.log(detectCompression(new Uint8Array([0x1f, 0x8b, 8, 0]))); // "gzip"
 * ```
 */
export function detectCompression(head: Uint8Array): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return "zstd";
  return "none";
}

function zstdStream(node: Duplex): TransformStream<Uint8Array, Uint8Array> {
  return Duplex.toWeb(node) as unknown as TransformStream<Uint8Array, Uint8Array>;
}

/**
 * Decompresses a stream. Without `compression` it is sniffed from the first bytes.
 *
 * @param stream The compressed bytes.
 * @param compression How it is compressed, if known.
 * @returns The decompressed bytes.
 *
 * @example Round-trip gzip
 * ```ts
 * import { compressStream, decompressStream } from "@tsk/image";
 * const src = new Blob(["hello"]).stream();
 * const out = decompressStream(compressStream(src, "gzip"));
 * console.log(await new Response(out).text()); // "hello"
 * ```
 */
export function decompressStream(
  stream: ReadableStream<Uint8Array>,
  compression?: Compression,
): ReadableStream<Uint8Array> {
  if (compression === "none") return stream;
  if (compression === "gzip") {
    return stream.pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
  }
  if (compression === "zstd") return stream.pipeThrough(zstdStream(zlib.createZstdDecompress()));
  // Sniff: hold the first chunks until 4 bytes are known, then replay them.
  const reader = stream.getReader();
  const out = new TransformStream<Uint8Array, Uint8Array>();
  (async () => {
    const head: Uint8Array[] = [];
    let headLen = 0;
    while (headLen < 4) {
      const r = await reader.read();
      if (r.done) break;
      head.push(r.value);
      headLen += r.value.length;
    }
    const first = head[0] ?? new Uint8Array();
    const peek = head.length > 1
      ? new Uint8Array(head.flatMap((c) => [...c.subarray(0, 4)]))
      : first;
    const replay = new ReadableStream<Uint8Array>({
      start(c) {
        for (const chunk of head) c.enqueue(chunk);
      },
      async pull(c) {
        const r = await reader.read();
        if (r.done) c.close();
        else c.enqueue(r.value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    await decompressStream(replay, detectCompression(peek)).pipeTo(out.writable);
  })().catch((err) => out.writable.abort(err).catch(() => {}));
  return out.readable;
}

/**
 * Compresses a stream.
 *
 * @param stream The raw bytes.
 * @param compression `gzip`, `zstd` or `none`.
 * @returns The compressed bytes (deterministic for the same input).
 *
 * @example Compress with gzip
 * ```ts
 * import { compressStream } from "@tsk/image";
 * const gz = compressStream(new Blob(["x"]).stream(), "gzip");
 * console.log((await new Response(gz).arrayBuffer()).byteLength > 0); // true
 * ```
 */
export function compressStream(
  stream: ReadableStream<Uint8Array>,
  compression: Compression,
): ReadableStream<Uint8Array> {
  if (compression === "none") return stream;
  if (compression === "gzip") {
    return stream.pipeThrough(
      new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
  }
  return stream.pipeThrough(zstdStream(zlib.createZstdCompress()));
}
