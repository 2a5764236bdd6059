import assert from "node:assert/strict";
import { defaultSpec } from "./spec/default.ts";
import {
  listIds,
  procStat,
  readState,
  statePaths,
  statusOf,
  type StoredState,
  validateId,
  writeState,
} from "./state.ts";
import { ConfigError, ContainerNotFoundError, RuntimeError } from "./errors.ts";

function stored(id: string, pid: number, startTime: string): StoredState {
  return {
    id,
    pid,
    initStartTime: startTime,
    bundle: "/b",
    created: new Date().toISOString(),
    cgroupPath: `/tsk-runtime/${id}`,
    overlay: null,
    spec: defaultSpec(),
  };
}

Deno.test("statusOf() follows the init: created with the FIFO, running without, stopped on pid reuse", async () => {
  const root = await Deno.makeTempDir();
  try {
    const me = procStat(Deno.pid)!;
    const s = stored("c1", Deno.pid, me.startTime);
    await Deno.mkdir(statePaths(root, "c1").dir);
    writeState(root, s);
    await Deno.writeTextFile(statePaths(root, "c1").fifo, "");
    assert.equal(statusOf(root, s), "created");
    await Deno.remove(statePaths(root, "c1").fifo);
    assert.equal(statusOf(root, s), "running");
    assert.equal(statusOf(root, { ...s, paused: true }), "paused");
    // Same pid, another start time: the init is gone and the pid was reused.
    assert.equal(statusOf(root, { ...s, initStartTime: "1" }), "stopped");
    assert.equal(statusOf(root, { ...s, pid: 0 }), "stopped");
    assert.deepEqual(readState(root, "c1"), s);
    assert.deepEqual(listIds(root), ["c1"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("readState() tells a missing container from a corrupt state file, and keeps the file", async () => {
  const root = await Deno.makeTempDir();
  try {
    assert.throws(() => readState(root, "nope"), ContainerNotFoundError);
    await Deno.mkdir(statePaths(root, "bad").dir);
    await Deno.writeTextFile(statePaths(root, "bad").file, "{ half");
    assert.throws(
      () => readState(root, "bad"),
      (e: Error) => e instanceof RuntimeError && /is corrupt/.test(e.message),
    );
    assert.equal(await Deno.readTextFile(statePaths(root, "bad").file), "{ half");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("validateId() refuses ids that could leave the state directory", () => {
  for (const bad of ["", "../x", "a/b", ".hidden", "x".repeat(129), "a b"]) {
    assert.throws(() => validateId(bad), ConfigError, bad);
  }
  validateId("web-1.2_x+y");
});
