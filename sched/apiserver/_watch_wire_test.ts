import assert from "node:assert/strict";
import { encodeLine, SocketWire, type WireSocket } from "./_watch_wire.ts";

// A recording socket: the wire's contract with node:net is write() and
// writableLength, which a real socket cannot be made to hold still for.
class FakeSocket implements WireSocket {
  writes: Uint8Array[] = [];
  writableLength = 0;
  destroyed = false;
  write(data: Uint8Array): boolean {
    this.writes.push(data.slice());
    return true;
  }
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const turn = () => new Promise((r) => setTimeout(r, 5));

Deno.test("encodeLine frames one line as one HTTP chunk", () => {
  const e = encodeLine('{"type":"ADDED"}');
  assert.deepEqual(text(e.line), '{"type":"ADDED"}\n');
  assert.deepEqual(text(e.chunk), '11\r\n{"type":"ADDED"}\n\r\n');
});

Deno.test("SocketWire writes the events of one turn as one write, in order", async () => {
  const socket = new FakeSocket();
  const wire = new SocketWire(socket, true, () => {});
  wire.send(encodeLine("a"));
  wire.send(encodeLine("b"));
  wire.send(encodeLine("c"));
  assert.deepEqual(socket.writes.length, 0);
  assert.deepEqual(wire.backlog(), 3);
  await turn();
  assert.deepEqual(socket.writes.map(text), ["2\r\na\n\r\n2\r\nb\n\r\n2\r\nc\n\r\n"]);
  wire.send(encodeLine("d"));
  await turn();
  assert.deepEqual(socket.writes.map(text).slice(1), ["2\r\nd\n\r\n"]);
});

Deno.test("SocketWire writes bare lines to an HTTP/1.0 body", async () => {
  const socket = new FakeSocket();
  const wire = new SocketWire(socket, false, () => {});
  wire.send(encodeLine("a"));
  wire.send(encodeLine("b"));
  await turn();
  assert.deepEqual(socket.writes.map(text), ["a\nb\n"]);
});

Deno.test("SocketWire counts events the socket has not taken as backlog", async () => {
  const socket = new FakeSocket();
  const wire = new SocketWire(socket, true, () => {});
  socket.writableLength = 100; // the kernel is not taking bytes
  wire.send(encodeLine("a"));
  wire.send(encodeLine("b"));
  await turn();
  wire.send(encodeLine("c"));
  assert.deepEqual(wire.backlog(), 3);
  socket.writableLength = 0; // drained
  assert.deepEqual(wire.backlog(), 1);
});

Deno.test("SocketWire.end flushes what is queued, then ends once; nothing after", async () => {
  const socket = new FakeSocket();
  let ends = 0;
  const wire = new SocketWire(socket, true, () => ends++);
  wire.send(encodeLine("a"));
  wire.end();
  wire.end();
  wire.send(encodeLine("b"));
  await turn();
  assert.deepEqual(ends, 1);
  assert.deepEqual(socket.writes.map(text), ["2\r\na\n\r\n"]);
});

Deno.test("SocketWire writes nothing to a destroyed socket", async () => {
  const socket = new FakeSocket();
  const wire = new SocketWire(socket, true, () => {});
  wire.send(encodeLine("a"));
  socket.destroyed = true;
  await turn();
  assert.deepEqual(socket.writes.length, 0);
});
