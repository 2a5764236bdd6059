import assert from "node:assert/strict";
import { tskHome } from "./home.ts";

Deno.test("tskHome() prefers TSK_HOME and strips a trailing slash", () => {
  assert.equal(tskHome({ env: { TSK_HOME: "/tmp/x/" }, uid: 0 }), "/tmp/x");
});

Deno.test("tskHome() defaults to /var/lib/tsk for root", () => {
  assert.equal(tskHome({ env: { HOME: "/root" }, uid: 0 }), "/var/lib/tsk");
});

Deno.test("tskHome() defaults to ~/.local/share/tsk for other users", () => {
  assert.equal(tskHome({ env: { HOME: "/home/a" }, uid: 1000 }), "/home/a/.local/share/tsk");
});

Deno.test("tskHome() rejects a relative TSK_HOME, naming the variable", () => {
  assert.throws(() => tskHome({ env: { TSK_HOME: "rel" }, uid: 0 }), /^Error: TSK_HOME: expected/);
});
