import assert from "node:assert/strict";
import * as tsk from "./mod.ts";

Deno.test("the root module exposes every package under its own namespace", () => {
  for (const name of ["api", "runtime", "image", "registry", "sched", "mesh", "cli"] as const) {
    assert.equal(typeof tsk[name], "object", name);
    assert.ok(Object.keys(tsk[name]).length > 0, `${name} exports something`);
  }
  assert.equal(typeof tsk.api.tskHome, "function");
});
