import assert from "node:assert/strict";
import { median, pairedRatio, seededRandom, shuffled } from "./_stats.ts";

Deno.test("median of odd and even counts", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), RangeError);
});

Deno.test("pairedRatio takes the ranks the binomial gives for 100 rounds", () => {
  // Ratios 0.51 .. 1.50 in steps of 0.01: the median is 1.005, and ranks
  // 40 and 61 bound it.
  const tsk = Array.from({ length: 100 }, () => 100);
  const peer = Array.from({ length: 100 }, (_, i) => 51 + i);
  const r = pairedRatio(tsk, peer);
  assert.equal(r.n, 100);
  assert.equal(Number(r.ratio.toFixed(3)), 1.005);
  assert.equal(Number(r.low.toFixed(2)), 0.9);
  assert.equal(Number(r.high.toFixed(2)), 1.11);
  assert.equal(r.verdict, "undecided");
});

Deno.test("pairedRatio pairs rounds, so a drift common to both sides cancels", () => {
  // The machine slows threefold over the run; tsk is 5% faster in every round.
  const tsk = Array.from({ length: 60 }, (_, i) => 40 * (1 + (2 * i) / 59));
  const peer = tsk.map((t) => t * 1.05);
  const r = pairedRatio(tsk, peer);
  assert.equal(Number(r.ratio.toFixed(3)), 1.05);
  assert.equal(r.verdict, "met");
  assert.equal(pairedRatio(peer, tsk).verdict, "missed");
});

Deno.test("pairedRatio refuses rounds that do not pair", () => {
  assert.throws(() => pairedRatio([1, 2], [1]), /2 rounds against 1/);
  assert.throws(() => pairedRatio([], []), /no rounds/);
});

Deno.test("shuffled is a seeded permutation", () => {
  const items = Array.from({ length: 7 }, (_, i) => i);
  const a = shuffled(items, seededRandom(7));
  assert.deepEqual(a, shuffled(items, seededRandom(7)));
  assert.deepEqual([...a].sort((x, y) => x - y), items);
  assert.deepEqual(items, [0, 1, 2, 3, 4, 5, 6]); // the input stays as it was
  // Over many rounds every item leads about equally often.
  const random = seededRandom(1);
  const leads = new Array(7).fill(0);
  for (let i = 0; i < 7000; i++) leads[shuffled(items, random)[0]]++;
  for (const n of leads) assert.ok(n > 850 && n < 1150, `led ${n} times of 7000`);
});
