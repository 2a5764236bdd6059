import assert from "node:assert/strict";
import { closeStage, sendConfig, waitForInitReady } from "./parent.ts";
import { encodeMessage } from "./_messages.ts";
import { recordingSyscalls } from "./testing.ts";
import { ConfigError, RuntimeError } from "./errors.ts";
import { linuxSyscalls } from "./syscalls.ts";

Deno.test("waitForInitReady() turns the init's field error into a ConfigError and closes the pipe", async () => {
  const reply = {
    type: "error",
    field: "process.cwd",
    message: "process.cwd: cannot enter /nope in the container",
  };
  const sys = recordingSyscalls({ reads: { 11: [encodeMessage(reply)] } });
  const init = { pid: 42, configFd: 10, replyFd: 11 };
  await assert.rejects(
    waitForInitReady(sys, init),
    (e: Error) =>
      e instanceof ConfigError && e.message === "process.cwd: cannot enter /nope in the container",
  );
  assert.ok(sys.calls.some((c) => c.name === "close" && c.args[0] === 11));
  assert.equal(init.replyFd, -1);
});

Deno.test("waitForInitReady() reports an init that died before it was ready", async () => {
  const sys = recordingSyscalls();
  await assert.rejects(
    waitForInitReady(sys, { pid: 42, configFd: -1, replyFd: 11 }),
    (e: Error) => e instanceof RuntimeError && /exited before it was ready/.test(e.message),
  );
});

Deno.test("sendConfig() writes one framed message and closes the configuration pipe", async () => {
  const sys = recordingSyscalls();
  const init = { pid: 42, configFd: 10, replyFd: 11 };
  await sendConfig(sys, init, {
    type: "exec",
    pid: 1,
    namespaces: [],
    process: {} as never,
    security: {} as never,
  });
  const bytes = sys.written[10].flatMap((b) => [...b]);
  const len = new DataView(new Uint8Array(bytes).buffer).getUint32(0, true);
  assert.equal(len, bytes.length - 4);
  assert.equal(init.configFd, -1);
  closeStage(sys, init); // idempotent: nothing left to close
  assert.equal(sys.calls.filter((c) => c.name === "close").length, 2);
});

Deno.test("waitForInitReady() kills an init that never answers and says so", async () => {
  const sys = linuxSyscalls();
  const [r, w] = sys.pipe();
  // A stand-in init holding the reply pipe's write end as its fd 4.
  const pid = sys.spawn({
    path: "/bin/sleep",
    argv: ["sleep", "30"],
    env: [],
    fds: [null, null, null, null, w],
    pidNamespace: { kind: "inherit" },
    setsid: true,
  });
  sys.close(w);
  await assert.rejects(
    waitForInitReady(sys, { pid, configFd: -1, replyFd: r }, 200),
    /the init was not ready within 200 ms and was killed/,
  );
  assert.equal((await sys.waitpidAsync(pid)).signal, 9);
});
