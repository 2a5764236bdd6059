import assert from "node:assert/strict";
import { cpuMillis, formatQuantity, isQuantity, memoryBytes, parseQuantity } from "./quantity.ts";

Deno.test("parseQuantity() reads milli, plain, fraction, binary, decimal and exponent forms", () => {
  assert.equal(parseQuantity("500m"), 500n);
  assert.equal(parseQuantity("2"), 2000n);
  assert.equal(parseQuantity("1.5"), 1500n);
  assert.equal(parseQuantity(".5"), 500n);
  assert.equal(parseQuantity("1Ki"), 1024000n);
  assert.equal(parseQuantity("1Gi"), 1073741824000n);
  assert.equal(parseQuantity("1G"), 1000000000000n);
  assert.equal(parseQuantity("1e3"), 1000000n);
  assert.equal(parseQuantity("1E-3"), 1n);
  assert.equal(parseQuantity(3), 3000n);
  assert.equal(parseQuantity("1Ei"), 1152921504606846976000n);
});

Deno.test("parseQuantity() rounds a fraction of a milli-unit up", () => {
  assert.equal(parseQuantity("1n"), 1n);
  assert.equal(parseQuantity("1500u"), 2n);
});

Deno.test("parseQuantity() rejects malformed quantities with the expected form", () => {
  for (const bad of ["", "abc", "1GB", "1.2.3", "--1", "1 Gi", "Mi"]) {
    assert.throws(() => parseQuantity(bad), /expected a quantity like 500m/, bad);
    assert.equal(isQuantity(bad), false);
  }
});

Deno.test("cpuMillis() and memoryBytes() give numbers for the scheduler", () => {
  assert.equal(cpuMillis("250m"), 250);
  assert.equal(memoryBytes("512Mi"), 536870912);
  assert.equal(memoryBytes("1.5k"), 1500);
  assert.equal(memoryBytes("100m"), 1);
});

Deno.test("formatQuantity() writes the shortest exact form", () => {
  assert.equal(formatQuantity(500n), "500m");
  assert.equal(formatQuantity(2000n), "2");
  assert.equal(formatQuantity(3000000n), "3k");
  assert.equal(formatQuantity(1073741824000n, { binary: true }), "1Gi");
  assert.equal(formatQuantity(0n), "0");
});
