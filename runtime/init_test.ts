import assert from "node:assert/strict";
import { runStage } from "./init.ts";
import {
  encodeMessage,
  INIT_CONFIG_FD,
  INIT_REPLY_FD,
  type InitConfigMessage,
} from "./_messages.ts";
import { defaultSpec } from "./spec/default.ts";
import { recordingSyscalls } from "./testing.ts";
import { CLONE } from "./syscalls.ts";

function initMessage(): InitConfigMessage {
  const spec = defaultSpec({ args: ["true"] });
  spec.root.path = "/nonexistent-tsk-rootfs";
  return {
    type: "init",
    spec,
    overlay: null,
    fifo: "/nonexistent-tsk-rootfs/exec.fifo",
    security: {
      caps: null,
      seccomp: null,
      seccompFlags: 0,
      noNewPrivileges: true,
      user: { uid: 0, gid: 0 },
      rlimits: [],
    },
    cgroupMounts: [],
    stdio: null,
  };
}

function reply(written: Record<number, Uint8Array[]>): { type: string; message?: string } {
  const all = written[INIT_REPLY_FD].flatMap((b) => [...b]);
  return JSON.parse(new TextDecoder().decode(new Uint8Array(all).subarray(4)));
}

Deno.test("runStage() reports a failing mount to the parent and never execs", () => {
  const sys = recordingSyscalls({
    reads: { [INIT_CONFIG_FD]: [encodeMessage(initMessage())] },
    fail: { mount: 1 },
  });
  runStage(sys);
  const r = reply(sys.written);
  assert.equal(r.type, "error");
  assert.equal(r.message, "mount none on /: EPERM (operation not permitted)");
  const names = sys.calls.map((c) => c.name);
  assert.equal(names[0], "prctl", "the init makes itself non-dumpable first");
  const unshare = sys.calls.find((c) => c.name === "unshare")!;
  assert.equal(
    unshare.args[0],
    CLONE.NEWNS | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWCGROUP,
  );
  for (const n of ["execve", "setresuid", "pivotRoot"]) assert.ok(!names.includes(n), n);
});

Deno.test("runStage() does nothing when the parent goes away before configuring it", () => {
  const sys = recordingSyscalls();
  runStage(sys);
  assert.deepEqual(sys.calls.map((c) => c.name), ["prctl", "recvWithFds"]);
  assert.deepEqual(sys.written, {});
});

Deno.test("runStage() in exec mode reports a failing setns", () => {
  const msg = {
    type: "exec",
    pid: 1,
    namespaces: [{ path: "/proc/1/ns/uts", flag: CLONE.NEWUTS }],
    process: defaultSpec({ args: ["true"] }).process,
    security: initMessage().security,
  };
  const sys = recordingSyscalls({
    reads: { [INIT_CONFIG_FD]: [encodeMessage(msg)] },
    fail: { setns: 22 },
  });
  runStage(sys);
  assert.match(reply(sys.written).message!, /^setns .*: EINVAL \(invalid argument\)$/);
});

Deno.test("runStage() with prepared namespaces returns to the host's of each kind the spec has none of", () => {
  const msg = initMessage();
  msg.spec.linux!.namespaces = msg.spec.linux!.namespaces!.filter((n) =>
    n.type !== "network" && n.type !== "ipc"
  );
  const sys = recordingSyscalls({
    reads: { [INIT_CONFIG_FD]: [encodeMessage(msg)] },
    fail: { mount: 1 },
  });
  runStage(sys, { prepareNamespaces: true });
  const ns = sys.calls.filter((c) => c.name === "unshare" || c.name === "setns");
  assert.deepEqual(ns.map((c) => [c.name, c.args.at(-1)]), [
    ["unshare", CLONE.NEWNET | CLONE.NEWUTS | CLONE.NEWIPC],
    ["setns", CLONE.NEWNET],
    ["setns", CLONE.NEWIPC],
    ["unshare", CLONE.NEWNS | CLONE.NEWCGROUP],
  ]);
});

Deno.test("runStage() takes the process's credentials before it reports ready: their failure is create's", async () => {
  const root = await Deno.makeTempDir();
  try {
    const msg = initMessage();
    msg.spec.root.path = root;
    msg.spec.mounts = [];
    msg.spec.linux!.maskedPaths = [];
    msg.spec.linux!.readonlyPaths = [];
    msg.security.caps = {
      bounding: "0",
      effective: "0",
      permitted: "0",
      inheritable: "0",
      ambient: "0",
    };
    // The start byte waits on whichever descriptor the FIFO gets (the double
    // hands them out from 100), so an init that only drops privileges after
    // start fails this test rather than blocking it.
    const start = Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [100 + i, [new Uint8Array([0])]]),
    );
    const sys = recordingSyscalls({
      reads: { [INIT_CONFIG_FD]: [encodeMessage(msg)], ...start },
      fail: { capset: 1 },
    });
    runStage(sys);
    const r = reply(sys.written);
    assert.equal(r.type, "error", "capset fails before ready, not after start");
    assert.match(r.message!, /^capset 0: EPERM/);
    assert.ok(!sys.calls.some((c) => c.name === "execve"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
