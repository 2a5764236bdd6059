import assert from "node:assert/strict";
import { parseFlags } from "./_flags.ts";

Deno.test("parseFlags() reads long, short, inline and repeated flags", () => {
  const r = parseFlags(["-b", "dir", "--pid-file=p", "--force", "-eA=1", "-e", "B=2", "id"], {
    bundle: { type: "string", short: "b" },
    "pid-file": { type: "string" },
    force: { type: "boolean" },
    env: { type: "string", short: "e", multiple: true },
  });
  assert.deepEqual(r.values, { bundle: "dir", "pid-file": "p", force: true, env: ["A=1", "B=2"] });
  assert.deepEqual(r.positionals, ["id"]);
});

Deno.test("parseFlags() keeps the command of exec intact and rejects unknown flags", () => {
  const r = parseFlags(["id", "ls", "-l"], { detach: { type: "boolean" } }, true);
  assert.deepEqual(r.positionals, ["id", "ls", "-l"]);
  assert.throws(() => parseFlags(["--nope"], {}), /unknown option --nope/);
  assert.throws(() => parseFlags(["--bundle"], { bundle: { type: "string" } }), /needs a value/);
});
