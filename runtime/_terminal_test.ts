import assert from "node:assert/strict";
import { posix } from "node:path";
import { createContainer } from "./container.ts";
import { defaultSpec } from "./spec/default.ts";
import { busyboxRootfs, requireRoot } from "./testing.ts";
import { libc } from "./_libc.ts";
import { acceptUnix, listenUnix, recvWithFds } from "./_unix_socket.ts";

/** Everything the terminal's master gives until the slave side is gone. */
async function readAll(master: number): Promise<string> {
  const buf = new Uint8Array(4096);
  let out = "";
  for (;;) {
    // EIO once no process holds the slave any more.
    const n = Number(await libc().read_async(master, buf, BigInt(buf.length)));
    if (n <= 0) return out;
    out += new TextDecoder().decode(buf.subarray(0, n));
  }
}

/** Accepts one connection on `listener` and takes the master it carries. */
async function receiveMaster(listener: number): Promise<{ name: string; master: number }> {
  const conn = await acceptUnix(listener, 15_000);
  assert.ok(conn !== null, "nothing connected to the console socket");
  try {
    const got = await recvWithFds(conn);
    assert.equal(got.fds.length, 1);
    return { name: new TextDecoder().decode(got.data), master: got.fds[0] };
  } finally {
    libc().close(conn);
  }
}

Deno.test({
  name: "a terminal's master goes to the console socket; create and exec get their own",
  ignore: !requireRoot(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const base = await Deno.makeTempDir({ prefix: "tsk-terminal-test-" });
    const socket = posix.join(base, "console.sock");
    const listener = listenUnix(socket);
    const spec = defaultSpec({ args: ["sh", "-c", "tty; stty size; read line; echo got $line"] });
    spec.root.path = await busyboxRootfs(posix.join(base, "rootfs"));
    spec.process.terminal = true;
    spec.process.consoleSize = { height: 40, width: 100 };
    const root = posix.join(base, "state");
    const id = `tty-${crypto.randomUUID().slice(0, 8)}`;
    try {
      const creating = createContainer(id, { spec, root, consoleSocket: socket });
      const { name, master } = await receiveMaster(listener);
      const c = await creating;
      try {
        assert.equal(name, "/dev/pts/0");
        await c.start();
        // exec with a terminal of its own, in the same devpts, while the
        // entrypoint waits for a line on its terminal.
        const execing = c.exec({ ...spec.process, args: ["tty"] }, { consoleSocket: socket });
        const exec = await receiveMaster(listener);
        const p = await execing;
        assert.equal(exec.name, "/dev/pts/1");
        assert.equal(await readAll(exec.master), "/dev/pts/1\r\n");
        libc().close(exec.master);
        assert.equal((await p.wait()).exitCode, 0);

        const typed = new TextEncoder().encode("hello\n");
        libc().write(master, typed, BigInt(typed.length));
        const out = await readAll(master);
        libc().close(master);
        // The terminal echoes what was typed; \n goes out as \r\n.
        assert.equal(out, "/dev/pts/0\r\n40 100\r\nhello\r\ngot hello\r\n");
        assert.equal((await c.wait()).exitCode, 0);
      } finally {
        await c.delete({ force: true });
      }
      // Bad input names the field and leaves no state: a terminal without a
      // console socket, a console socket without a terminal, a socket
      // nothing listens on.
      await assert.rejects(
        () => createContainer(`${id}-x`, { spec, root }),
        /process\.terminal: a terminal needs a console socket/,
      );
      await assert.rejects(
        () =>
          createContainer(`${id}-y`, {
            spec: { ...spec, process: { ...spec.process, terminal: false } },
            root,
            consoleSocket: socket,
          }),
        /process\.terminal: a console socket was given but the process asks for no terminal/,
      );
      await assert.rejects(
        () =>
          createContainer(`${id}-z`, { spec, root, consoleSocket: posix.join(base, "none.sock") }),
        /consoleSocket: cannot connect to the console socket/,
      );
      assert.deepEqual([...Deno.readDirSync(root)].map((e) => e.name), []);
    } finally {
      libc().close(listener);
      await Deno.remove(base, { recursive: true });
    }
  },
});
