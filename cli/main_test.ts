import assert from "node:assert/strict";
import { main } from "./main.ts";
import type { CommandIo } from "./command.ts";

function capture(): CommandIo & { lines: string[]; errs: string[] } {
  const lines: string[] = [];
  const errs: string[] = [];
  return { lines, errs, out: (l) => lines.push(l), err: (l) => errs.push(l), env: {} };
}

Deno.test("main() rejects an unknown command with exit 2 and names it", async () => {
  const io = capture();
  assert.equal(await main(["nope"], io), 2);
  assert.match(io.errs.join("\n"), /unknown command "nope"/);
});

Deno.test("main() prints help on --help and exits 0", async () => {
  const io = capture();
  assert.equal(await main(["--help"], io), 0);
  assert.match(io.lines.join("\n"), /^Usage: tsk <command>/);
});
