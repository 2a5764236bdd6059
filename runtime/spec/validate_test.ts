// deno-lint-ignore-file no-explicit-any -- tests poke arbitrary JSON into specs
import assert from "node:assert/strict";
import { validateConfig } from "./validate.ts";
import { defaultSpec } from "./default.ts";
import { ConfigError } from "../errors.ts";

function withChange(edit: (s: Record<string, any>) => void): unknown {
  const s = structuredClone(defaultSpec({ args: ["true"] })) as unknown as Record<string, any>;
  edit(s);
  return s;
}

function rejects(edit: (s: Record<string, any>) => void, message: string): void {
  assert.throws(
    () => validateConfig(withChange(edit)),
    (e: Error) => e instanceof ConfigError && e.message === message,
  );
}

Deno.test("validateConfig() accepts the default spec", () => {
  validateConfig(defaultSpec());
  validateConfig(defaultSpec({ seccomp: true }));
});

Deno.test("validateConfig() names unsupported fields instead of ignoring them", () => {
  rejects(
    (s) => (s.linux.intelRdt = { closID: "x" }),
    "linux.intelRdt: not supported by tsk-runtime",
  );
  rejects(
    (s) => s.linux.namespaces.push({ type: "user" }),
    "linux.namespaces[6].type: user namespaces are not supported by tsk-runtime",
  );
  rejects(
    (s) => (s.process.consoleSize = { height: 24, width: 70000 }),
    "process.consoleSize.width: expected an integer from 0 to 65535, got 70000",
  );
  rejects((s) => (s.process.bogus = 1), "process.bogus: unknown field");
  rejects(
    (s) => (s.linux.resources.rdma = { x: {} }),
    "linux.resources.rdma: rdma limits are not supported by tsk",
  );
});

Deno.test("validateConfig() names malformed fields", () => {
  rejects((s) => (s.process.args = []), "process.args: expected a non-empty array of strings");
  rejects((s) => (s.process.cwd = "tmp"), "process.cwd: expected an absolute path, got tmp");
  rejects(
    (s) => (s.process.env = ["NOEQUALS"]),
    "process.env[0]: expected KEY=value, got NOEQUALS",
  );
  rejects((s) => (s.process.user.uid = -1), "process.user.uid: expected at least 0, got -1");
  rejects(
    (s) => (s.process.rlimits = [{ type: "RLIMIT_NOFILE", hard: 1, soft: 2 }]),
    "process.rlimits[0].soft: greater than hard (2 > 1)",
  );
  rejects(
    (s) => (s.mounts[0].destination = "proc"),
    "mounts[0].destination: expected an absolute path, got proc",
  );
  rejects(
    (s) => s.mounts.push({ destination: "/d", type: "bind", source: "/d", options: ["idmap"] }),
    "mounts[7].options: idmap: not supported for a bind mount",
  );
  rejects(
    (s) => s.mounts.push({ destination: "/d", type: "bind", source: "/d", options: ["tmpcopyup"] }),
    "mounts[7].options: tmpcopyup: only for a tmpfs mount",
  );
  // podman's own volume options reach the runtime; runc ignores them, so does tsk.
  validateConfig(withChange((s) =>
    s.mounts.push({
      destination: "/c",
      type: "bind",
      source: "/d",
      options: ["nocopy", "rw", "rprivate", "nosuid", "nodev", "rbind"],
    })
  ));
  rejects(
    (s) => (s.hooks = { createRuntime: [{ path: "hook" }] }),
    "hooks.createRuntime[0].path: expected an absolute path, got hook",
  );
  rejects(
    (s) => (s.hooks = { poststop: [{ path: "/bin/true", timeout: 0 }] }),
    "hooks.poststop[0].timeout: expected at least 1, got 0",
  );
  rejects((s) => (s.hooks = { onExit: [] }), "hooks.onExit: unknown field");
  rejects(
    (
      s,
    ) => (s.linux.devices = [{ type: "c", path: "/dev/x", major: 1, minor: 1, fileMode: 0o60600 }]),
    "linux.devices[0].fileMode: file type bits 0o60000 do not match type c",
  );
  rejects((s) => (s.ociVersion = "2.0.0"), "ociVersion: expected a 1.x.y version, got 2.0.0");
  rejects(
    (s) => (s.linux.sysctl = { "kernel.panic": "1" }),
    "linux.sysctl.kernel.panic: not namespaced: refusing to change the host's value",
  );
  rejects(
    (s) => (s.linux.resources.memory = { limit: "1G" }),
    'linux.resources.memory.limit: expected an integer from -1 to 9007199254740991, got "1G"',
  );
  rejects(
    (s) => (s.process.capabilities.bounding = ["CAP_NOPE"]),
    'process.capabilities.bounding[0]: unknown capability "CAP_NOPE"',
  );
  rejects(
    (
      s,
    ) => (s.linux.namespaces = s.linux.namespaces.filter((n: { type: string }) =>
      n.type !== "uts"
    )),
    'hostname: needs a private UTS namespace: add {"type": "uts"} to linux.namespaces',
  );
});
