import assert from "node:assert/strict";
import { runcEventJson, runcStats } from "./_runc_events.ts";

Deno.test("runcStats() gives runc's units and places, leaving zeros out as runc does", () => {
  const data = runcStats({
    cpu: {
      usageUsec: 2500,
      userUsec: 1000,
      systemUsec: 1500,
      nrPeriods: 10,
      nrThrottled: 3,
      throttledUsec: 40,
    },
    memory: { usage: 4096, maxUsage: 8192, limit: null, oomEvents: 0, oomKillEvents: 0 },
    pids: { current: 2, limit: null },
    io: { readBytes: 512, writeBytes: 0, readOps: 1, writeOps: 0 },
  });
  assert.deepEqual(data.cpu, {
    usage: { total: 2_500_000, kernel: 1_500_000, user: 1_000_000 },
    throttling: { periods: 10, throttledPeriods: 3, throttledTime: 40_000 },
  });
  assert.deepEqual(data.memory.usage, {
    limit: 9223372036854771712,
    usage: 4096,
    max: 8192,
    failcnt: 0,
  });
  assert.deepEqual(JSON.parse(JSON.stringify(data.pids)), { current: 2 });
  assert.deepEqual(data.blkio.ioServiceBytesRecursive, [
    { op: "Read", value: 512 },
    { op: "Write", value: 0 },
    { op: "Total", value: 512 },
  ]);
  assert.equal(data.network_interfaces, null);
  // As runc prints it, not JavaScript's rounding of 2^63 - 4096.
  assert.match(runcEventJson({ type: "stats", id: "c1", data }), /"limit":9223372036854771712,/);
});
