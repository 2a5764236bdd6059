import assert from "node:assert/strict";
import { applyProcessSecurity } from "./process_security.ts";
import { recordingSyscalls } from "./testing.ts";
import type { SecurityConfig } from "./_messages.ts";
import { encodeBase64 } from "./_base64.ts";
import { PR } from "./syscalls.ts";

function security(noNewPrivileges: boolean): SecurityConfig {
  return {
    caps: {
      bounding: String((1n << 5n) | (1n << 13n)),
      effective: String(1n << 5n),
      permitted: String(1n << 5n),
      inheritable: "0",
      ambient: "0",
    },
    seccomp: encodeBase64(new Uint8Array(8)),
    seccompFlags: 0,
    noNewPrivileges,
    user: { uid: 1000, gid: 1001, additionalGids: [7] },
    rlimits: [],
  };
}

Deno.test("applyProcessSecurity() drops the bounding set before changing user and installs seccomp last with no_new_privs", () => {
  const sys = recordingSyscalls();
  applyProcessSecurity(sys, security(true), 40);
  const names = sys.calls.map((c) => c.name);
  const drops = sys.calls.filter((c) => c.name === "prctl" && c.args[0] === PR.CAPBSET_DROP);
  // Caps 0..40 except 5 and 13 are dropped.
  assert.equal(drops.length, 39);
  assert.ok(!drops.some((c) => c.args[1] === 5n || c.args[1] === 13n));
  const i = (n: string) => names.indexOf(n);
  assert.ok(names.lastIndexOf("prctl") > i("capset"));
  assert.ok(i("setgroups") < i("setresgid") && i("setresgid") < i("setresuid"));
  assert.ok(i("setresuid") < i("capset"));
  assert.deepEqual(sys.calls.find((c) => c.name === "setgroups")!.args[0], [7]);
  assert.equal(names.at(-1), "seccompFilter");
  assert.equal(names.at(-2), "cloexecFrom");
  assert.ok(sys.calls.some((c) => c.name === "prctl" && c.args[0] === PR.SET_NO_NEW_PRIVS));
});

Deno.test("applyProcessSecurity() installs seccomp first without no_new_privs, while CAP_SYS_ADMIN is held", () => {
  const sys = recordingSyscalls();
  applyProcessSecurity(sys, security(false), 40);
  assert.equal(sys.calls[0].name, "seccompFilter");
  assert.ok(!sys.calls.some((c) => c.name === "prctl" && c.args[0] === PR.SET_NO_NEW_PRIVS));
});

Deno.test("applyProcessSecurity() stops at the first failing call", () => {
  const sys = recordingSyscalls({ fail: { setresuid: 1 } });
  assert.throws(() => applyProcessSecurity(sys, security(true), 40), /setresuid 1000: EPERM/);
  assert.ok(!sys.calls.some((c) => c.name === "capset" || c.name === "seccompFilter"));
});
