import assert from "node:assert/strict";
import { signalName, signalNumber } from "./signals.ts";

Deno.test("signalNumber() accepts runc's spellings", () => {
  assert.equal(signalNumber("SIGKILL"), 9);
  assert.equal(signalNumber("term"), 15);
  assert.equal(signalNumber("10"), 10);
  assert.equal(signalNumber("RTMIN+2"), 36);
  assert.throws(() => signalNumber("SIGNOPE"), /signal: unknown signal SIGNOPE/);
  assert.equal(signalName(2), "SIGINT");
});
