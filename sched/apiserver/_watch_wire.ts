/**
 * The watch path between the API app and the HTTPS server, without a
 * stream per watcher: the app hands a watch response's events to the
 * server as bytes already framed for HTTP/1.1 chunked transfer, encoded
 * once per event and shared by every watcher that gets it; the server
 * writes them to each socket, all watchers' pending events once per
 * event-loop turn, one write per watcher.
 *
 * A response created by the app keeps its ordinary `ReadableStream` body
 * for any other caller (`app.request`, another server): whichever of the
 * two starts first carries the watch.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { setImmediate } from "node:timers";

/** One watch event's bytes: the JSON line, and the same as one HTTP chunk. */
export interface EncodedEvent {
  /** The JSON line with its newline. */
  readonly line: Uint8Array;
  /** `<hex length>\r\n<line>\r\n`: the line as one chunk of a chunked body. */
  readonly chunk: Uint8Array;
}

const enc = new TextEncoder();

/**
 * Encodes a JSON text line once into both forms, in one buffer.
 * @param json The event's JSON text, without the newline.
 * @returns The line and the chunk (views of one buffer).
 */
export function encodeLine(json: string): EncodedEvent {
  const body = enc.encode(json + "\n");
  const head = enc.encode(`${body.length.toString(16)}\r\n`);
  // A Buffer, so that a socket's write takes it as it is (a plain
  // Uint8Array is wrapped in a new Buffer on every write).
  const chunk = Buffer.alloc(head.length + body.length + 2);
  chunk.set(head, 0);
  chunk.set(body, head.length);
  chunk[chunk.length - 2] = 13;
  chunk[chunk.length - 1] = 10;
  return { line: chunk.subarray(head.length, head.length + body.length), chunk };
}

/** Where the server delivers a watch's events. */
export interface WatchWire {
  /** Queues an event; it goes out with the next flush. */
  send(event: EncodedEvent): void;
  /** Ends the response after what was queued. */
  end(): void;
  /** Events queued or written but not yet taken by the kernel. */
  backlog(): number;
}

/**
 * Starts a watch response's events on a wire and returns the function that
 * ends the watch (the server calls it when the connection closes), or
 * returns undefined when the response's body already started the watch.
 */
export type WatchAttach = (wire: WatchWire) => (() => void) | undefined;

const attachable = new WeakMap<Response, WatchAttach>();

/**
 * Marks a response as a watch that a server may carry itself.
 * @param response The app's watch response.
 * @param attach Starts the watch on a wire.
 */
export function setWatchAttach(response: Response, attach: WatchAttach): void {
  attachable.set(response, attach);
}

/**
 * The attach function of a watch response, if it has one.
 * @param response A response from the app.
 * @returns The attach function, or undefined.
 */
export function watchAttachOf(response: Response): WatchAttach | undefined {
  return attachable.get(response);
}

/** The writable side of a connection, as `node:net` sockets have it. */
export interface WireSocket {
  write(data: Uint8Array): boolean;
  readonly writableLength: number;
  readonly destroyed: boolean;
}

const dirty = new Set<SocketWire>();
let scheduled = false;

function flushAll(): void {
  scheduled = false;
  const wires = [...dirty];
  dirty.clear();
  for (const w of wires) w.flush();
}

/**
 * A wire to one socket: queued events are written once per event-loop
 * turn (all sockets together), several at once as one buffer.
 */
export class SocketWire implements WatchWire {
  #socket: WireSocket;
  #chunked: boolean;
  // What the next flush writes: one event (the usual case, no array), or several.
  #next: Uint8Array | undefined;
  #more: Uint8Array[] | undefined;
  #unsent = 0;
  #onEnd: () => void;
  #ended = false;

  /**
   * @param socket The connection, after the response's headers went out.
   * @param chunked Whether the body is chunked (HTTP/1.1) or raw (HTTP/1.0).
   * @param onEnd Ends the response once the queue is written.
   */
  constructor(socket: WireSocket, chunked: boolean, onEnd: () => void) {
    this.#socket = socket;
    this.#chunked = chunked;
    this.#onEnd = onEnd;
  }

  send(event: EncodedEvent): void {
    if (this.#ended) return;
    const bytes = this.#chunked ? event.chunk : event.line;
    if (this.#next === undefined) {
      this.#next = bytes;
      dirty.add(this);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flushAll);
      }
    } else {
      (this.#more ??= [this.#next]).push(bytes);
    }
  }

  flush(): void {
    const next = this.#next;
    if (next === undefined) return;
    const more = this.#more;
    const count = more ? more.length : 1;
    this.#next = this.#more = undefined;
    if (this.#socket.destroyed) return;
    // Events count as unsent while the socket's buffer has not emptied since they went in.
    if (this.#socket.writableLength === 0) this.#unsent = 0;
    this.#unsent += count;
    this.#socket.write(more ? Buffer.concat(more) : next);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    dirty.delete(this);
    this.flush();
    this.#onEnd();
  }

  backlog(): number {
    const buffered = this.#socket.writableLength === 0 ? 0 : this.#unsent;
    const pending = this.#next === undefined ? 0 : this.#more ? this.#more.length : 1;
    return buffered + pending;
  }
}
