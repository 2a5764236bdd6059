import assert from "node:assert/strict";
import { COMMANDS } from "./commands.ts";
import { applyCommand } from "./apply.ts";
import { getCommand } from "./get.ts";
import { describeCommand } from "./describe.ts";
import { deleteCommand } from "./delete.ts";
import { scaleCommand } from "./scale.ts";
import { patchCommand } from "./patch.ts";
import { imageCommand } from "./image.ts";

Deno.test("COMMANDS lists every command group with the group's own name and summary", () => {
  const loaded = [
    applyCommand,
    getCommand,
    describeCommand,
    deleteCommand,
    scaleCommand,
    patchCommand,
    imageCommand,
  ];
  assert.deepEqual(
    COMMANDS.map((c) => [c.name, c.summary]),
    loaded.map((c) => [c.name, c.summary]),
  );
});

Deno.test("a lazy command runs the loaded group with the same arguments", async () => {
  const image = COMMANDS.find((c) => c.name === "image")!;
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l), env: {} };
  assert.equal(await image.run(["--help"], io), 0);
  assert.match(lines.join("\n"), /pull/);
});
