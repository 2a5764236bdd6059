import assert from "node:assert/strict";
import { type HookState, runHooks, runHooksSync } from "./hooks.ts";
import { linuxSyscalls } from "./syscalls.ts";

const state: HookState = {
  ociVersion: "1.2.0",
  id: "c1",
  status: "creating",
  pid: 42,
  bundle: "/b",
  annotations: { a: "b" },
};

Deno.test("runHooks() and runHooksSync() give each hook its argv, env and the state on stdin", async () => {
  const out = await Deno.makeTempFile();
  try {
    const script = `echo "$0 $X $(cat)" >> ${out}`;
    const hooks = {
      createRuntime: [{ path: "/bin/sh", args: ["argv-zero", "-c", script], env: ["X=1"] }],
      createContainer: [{ path: "/bin/sh", args: ["sync-zero", "-c", script], env: ["X=2"] }],
    };
    await runHooks(linuxSyscalls(), "createRuntime", hooks, state);
    runHooksSync(linuxSyscalls(), "createContainer", hooks, state);
    const json = JSON.stringify(state);
    assert.equal(await Deno.readTextFile(out), `argv-zero 1 ${json}\nsync-zero 2 ${json}\n`);
  } finally {
    await Deno.remove(out);
  }
});

Deno.test("runHooks() and runHooksSync() name the hook that fails or times out, with its output", async () => {
  const hooks = {
    poststart: [
      { path: "/bin/true" },
      { path: "/bin/sh", args: ["sh", "-c", "echo broken >&2; exit 3"] },
    ],
    startContainer: [{ path: "/bin/sleep", args: ["sleep", "30"], timeout: 1 }],
  };
  await assert.rejects(
    () => runHooks(linuxSyscalls(), "poststart", hooks, state),
    /^RuntimeError: hooks\.poststart\[1\]: \/bin\/sh exited with status 3: broken$/,
  );
  assert.throws(
    () => runHooksSync(linuxSyscalls(), "startContainer", hooks, state),
    /^RuntimeError: hooks\.startContainer\[0\]: \/bin\/sleep did not finish within 1 s and was killed$/,
  );
  await assert.rejects(
    () => runHooks(linuxSyscalls(), "startContainer", hooks, state),
    /did not finish within 1 s/,
  );
  await assert.rejects(
    () => runHooks(linuxSyscalls(), "prestart", { prestart: [{ path: "/nonexistent" }] }, state),
    /^RuntimeError: hooks\.prestart\[0\]: (cannot run \/nonexistent|\/nonexistent exited with status 127)/,
  );
});
