/**
 * Small HTTP helpers shared by the routes.
 *
 * @module
 */
import { RegistryError } from "./errors.ts";

/** Builds the spec's error response for a RegistryError. */
export function errorResponse(err: RegistryError, method: string): Response {
  const headers = new Headers(err.headers);
  headers.set("Content-Type", "application/json");
  const body = method === "HEAD" ? null : JSON.stringify(err.toBody());
  return new Response(body, { status: err.status, headers });
}

/** Reads a non-negative integer query parameter `n`, capped at `max`. */
export function pageSize(value: string | undefined, max: number): number {
  if (value === undefined || value === "") return max;
  if (!/^\d+$/.test(value)) {
    throw new RegistryError("UNSUPPORTED", `n: expected a non-negative integer, got ${value}`, {
      status: 400,
    });
  }
  return Math.min(Number(value), max);
}

/** The `Link` header value for the next page. */
export function nextLink(path: string, n: number, last: string): string {
  return `<${path}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"`;
}

/** Reads a whole (small) body, refusing one longer than `max` bytes. */
export async function readLimited(
  body: ReadableStream<Uint8Array> | null,
  max: number,
  field: string,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let len = 0;
  for await (const chunk of body) {
    len += chunk.byteLength;
    if (len > max) {
      throw new RegistryError("SIZE_INVALID", `${field}: larger than the limit of ${max} bytes`, {
        status: 413,
      });
    }
    parts.push(chunk);
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/**
 * A stream of `length` bytes of `file` from its current position; closes the
 * file and calls `onDone` when it ends, fails or is cancelled. Reads 1 MiB
 * at a time and keeps up to 4 MiB read ahead, so the file read (on Deno's
 * blocking pool) overlaps the socket write.
 */
export function limitedStream(
  file: Deno.FsFile,
  length: number,
  onDone: () => void = () => {},
  onChunk: (n: number) => void = () => {},
): ReadableStream<Uint8Array> {
  let left = length;
  const close = () => {
    try {
      file.close();
    } catch { /* closed */ }
    onDone();
  };
  return new ReadableStream<Uint8Array>({
    type: "bytes",
    async pull(ctrl) {
      if (left <= 0) {
        close();
        ctrl.close();
        return;
      }
      const buf = new Uint8Array(Math.min(left, 1024 * 1024));
      let n: number | null;
      try {
        n = await file.read(buf);
      } catch (err) {
        close();
        throw err;
      }
      if (n === null || n === 0) {
        close();
        ctrl.error(new Error("blob: file ended early"));
        return;
      }
      left -= n;
      onChunk(n);
      ctrl.enqueue(buf.subarray(0, n));
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 4 * 1024 * 1024 });
}
