import assert from "node:assert/strict";
import { progressRenderer } from "./progress.ts";

const A = "sha256:" + "a".repeat(64), B = "sha256:" + "b".repeat(64);

Deno.test("progressRenderer() prints a line per change of state off a terminal", () => {
  const out: string[] = [];
  const p = progressRenderer((s) => out.push(s), false);
  p({ digest: A, status: "waiting", current: 0, total: 2048 });
  p({ digest: A, status: "transferring", current: 0, total: 2048 });
  p({ digest: A, status: "transferring", current: 1024, total: 2048 });
  p({ digest: B, status: "exists", current: 10, total: 10 });
  p({ digest: A, status: "done", current: 2048, total: 2048 });
  assert.deepEqual(out, [
    "aaaaaaaaaaaa: Waiting\n",
    "aaaaaaaaaaaa: [                              ] 0 B/2.0 KiB\n",
    "bbbbbbbbbbbb: Already exists\n",
    "aaaaaaaaaaaa: Done (2.0 KiB)\n",
  ]);
});

Deno.test("progressRenderer() redraws one bar per blob in place on a terminal", () => {
  const out: string[] = [];
  const p = progressRenderer((s) => out.push(s), true);
  p({ digest: A, status: "transferring", current: 0, total: 100 });
  p({ digest: B, status: "transferring", current: 0, total: 100 });
  p({ digest: A, status: "done", current: 100, total: 100 });
  assert.equal(out.length, 3);
  assert.ok(!out[0].includes("\x1b[1A"));
  assert.ok(out[2].startsWith("\x1b[2A"), JSON.stringify(out[2]));
  assert.ok(
    out[2].includes("aaaaaaaaaaaa: Done (100 B)\n\x1b[2Kbbbbbbbbbbbb: ["),
    JSON.stringify(out[2]),
  );
});
