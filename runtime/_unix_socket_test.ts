import assert from "node:assert/strict";
import {
  acceptUnix,
  connectUnix,
  listenUnix,
  peerFds,
  recvWithFds,
  sendWithFds,
  shutdownSocket,
} from "./_unix_socket.ts";
import { jsonLine, LineReader } from "./_supervisor_protocol.ts";
import { libc } from "./_libc.ts";

/** The number of this process's descriptor open on `file`, found through /proc. */
function fdOf(file: string): number {
  return [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name)).find((n) => {
    try {
      return Deno.readLinkSync(`/proc/self/fd/${n}`) === file;
    } catch {
      return false;
    }
  })!;
}

Deno.test("LineReader splits JSON lines that arrive in pieces", () => {
  const r = new LineReader();
  const bytes = new TextEncoder().encode('{"a":1}\n{"b":"é"}\n{"c"');
  assert.deepEqual(r.push(bytes.subarray(0, 5)), []);
  assert.deepEqual(r.push(bytes.subarray(5, 12)), [{ a: 1 }]);
  assert.deepEqual(r.push(bytes.subarray(12)), [{ b: "é" }]);
  assert.deepEqual(r.push(new TextEncoder().encode(":3}\n")), [{ c: 3 }]);
});

Deno.test("connectUnix returns null when nothing listens", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-sock-" });
  try {
    assert.equal(connectUnix(`${dir}/none.sock`), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sendWithFds passes a descriptor the receiver can write through", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-sock-" });
  const listener = listenUnix(`${dir}/s.sock`);
  const client = connectUnix(`${dir}/s.sock`);
  assert.ok(client !== null);
  const server = await acceptUnix(listener, 5000);
  assert.ok(server !== null);
  const file = `${dir}/out.txt`;
  const f = Deno.openSync(file, { write: true, create: true, append: true });
  Deno.writeTextFileSync(file, "before\n", { append: true });
  // The fd number of `f` as this process sees it, through /proc.
  const fd = fdOf(file);
  try {
    sendWithFds(client, jsonLine({ hello: 1 }), [fd]);
    const got = await recvWithFds(server);
    assert.deepEqual(new LineReader().push(got.data), [{ hello: 1 }]);
    assert.equal(got.fds.length, 1);
    assert.notEqual(got.fds[0], fd);
    const text = new TextEncoder().encode("through the passed fd\n");
    assert.equal(Number(libc().write(got.fds[0], text, BigInt(text.length))), text.length);
    libc().close(got.fds[0]);
    assert.equal(Deno.readTextFileSync(file), "before\nthrough the passed fd\n");
    // End of stream once the other side shuts down.
    shutdownSocket(server);
    assert.equal((await recvWithFds(client)).data.length, 0);
  } finally {
    f.close();
    for (const x of [client, server, listener]) libc().close(x);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("peerFds takes the connecting process's descriptors, and fails cleanly on a closed one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-sock-" });
  const listener = listenUnix(`${dir}/s.sock`);
  // The peer is a plain Deno unix socket: the client side needs no FFI.
  const conn = await Deno.connect({ transport: "unix", path: `${dir}/s.sock` });
  const server = await acceptUnix(listener, 5000);
  assert.ok(server !== null);
  const file = `${dir}/out.txt`;
  const f = Deno.openSync(file, { write: true, create: true, append: true });
  const fd = fdOf(file);
  try {
    const [got] = peerFds(server, [fd]);
    assert.notEqual(got, fd);
    assert.equal(Deno.readLinkSync(`/proc/self/fd/${got}`), file);
    const text = new TextEncoder().encode("through the taken fd\n");
    assert.equal(Number(libc().write(got, text, BigInt(text.length))), text.length);
    libc().close(got);
    assert.equal(Deno.readTextFileSync(file), "through the taken fd\n");
    const before = [...Deno.readDirSync("/proc/self/fd")].length;
    assert.throws(() => peerFds(server, [fd, 100_000]), /pidfd_getfd/);
    assert.equal([...Deno.readDirSync("/proc/self/fd")].length, before);
  } finally {
    f.close();
    conn.close();
    for (const x of [server, listener]) libc().close(x);
    await Deno.remove(dir, { recursive: true });
  }
});
