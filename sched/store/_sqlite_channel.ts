/**
 * The channel between the SQLite store and its writer worker: one growable
 * SharedArrayBuffer holding a request or its answer as JSON text, and four
 * control words the two threads wait on with `Atomics`. A round trip costs
 * the event loop about a fifth of a `postMessage` round trip (measured: 20
 * against 100 to 150 µs of main-thread CPU), which matters at a thousand
 * commits a second. One call at a time: the store serializes them.
 *
 * @module
 */

/** Control word: 1 while a request waits for the worker. */
export const REQUEST = 0;
/** Control word: the request's length in bytes. */
export const REQUEST_LENGTH = 1;
/** Control word: the answer's length in bytes. */
export const ANSWER_LENGTH = 2;
/** Control word: 1 once the answer is written. */
export const ANSWER = 3;

const HEADER = 64;
/** The largest message: a batch of writes is split well below it. */
const MAX_BYTES = 1 << 30;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Creates the shared buffer: 1 MiB to start, growing to 1 GiB.
 * @returns The buffer.
 */
export function newChannel(): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER + (1 << 20), { maxByteLength: HEADER + MAX_BYTES });
}

/**
 * The control words of a channel.
 * @param sab The channel.
 * @returns Four Int32 words.
 */
export function controlOf(sab: SharedArrayBuffer): Int32Array<SharedArrayBuffer> {
  return new Int32Array(sab, 0, 4);
}

/**
 * Writes a message's text into the channel, growing it when needed.
 * @param sab The channel.
 * @param text The JSON text.
 * @returns Its length in bytes.
 * @throws {RangeError} When the text is larger than the channel can grow.
 */
export function writeMessage(sab: SharedArrayBuffer, text: string): number {
  let view = new Uint8Array(sab, HEADER);
  if (text.length > view.length) growTo(sab, text.length * 3);
  view = new Uint8Array(sab, HEADER);
  let r = encoder.encodeInto(text, view);
  if (r.read < text.length) {
    growTo(sab, text.length * 3);
    view = new Uint8Array(sab, HEADER);
    r = encoder.encodeInto(text, view);
  }
  return r.written;
}

/**
 * Reads a message's text from the channel.
 * @param sab The channel.
 * @param length Its length in bytes.
 * @returns The text.
 */
export function readMessage(sab: SharedArrayBuffer, length: number): string {
  // TextDecoder refuses shared memory: copy first.
  return decoder.decode(new Uint8Array(sab, HEADER, length).slice());
}

function growTo(sab: SharedArrayBuffer, bytes: number): void {
  if (bytes > MAX_BYTES) {
    throw new RangeError(`message: ${bytes} bytes is over the channel's ${MAX_BYTES}`);
  }
  if (HEADER + bytes > sab.byteLength) sab.grow(HEADER + bytes);
}
