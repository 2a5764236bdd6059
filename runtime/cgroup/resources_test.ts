import assert from "node:assert/strict";
import { CgroupError } from "./errors.ts";
import {
  blkioWeightToIoWeight,
  cpuSharesToWeight,
  DEFAULT_DEVICE_RULES,
  memorySwapToV2,
  validateResources,
} from "./resources.ts";

Deno.test("validateResources() accepts a full supported object", () => {
  const r = {
    memory: { limit: 1 << 26, reservation: 1 << 25, swap: 1 << 27, swappiness: 10 },
    cpu: { shares: 512, quota: 50000, period: 100000, cpus: "0-1,3", mems: "0" },
    pids: { limit: 64 },
    blockIO: {
      weight: 100,
      weightDevice: [{ major: 8, minor: 0, weight: 200 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1 << 20 }],
    },
    devices: [...DEFAULT_DEVICE_RULES],
    unified: { "memory.high": "1G" },
  };
  assert.equal(validateResources(r, "linux.resources"), r);
  assert.deepEqual(validateResources({}, "linux.resources"), {});
});

Deno.test("validateResources() names the field of every problem", () => {
  const cases: [unknown, string][] = [
    [[], "linux.resources: expected an object"],
    [{ memroy: {} }, "linux.resources.memroy: unknown field; expected one of"],
    [
      { hugepageLimits: [{ pageSize: "2M", limit: 0 }] },
      'linux.resources.hugepageLimits[0].pageSize: expected a size like 2MB or 1GB, got "2M"',
    ],
    [
      { hugepageLimits: [{ pageSize: "2MB", limit: -1 }] },
      "linux.resources.hugepageLimits[0].limit: expected an integer from 0",
    ],
    [
      { memory: { kernel: 1 } },
      "linux.resources.memory.kernel: kernel memory limits are not supported",
    ],
    [
      { memory: { limit: "1G" } },
      'linux.resources.memory.limit: expected an integer from -1 to 9007199254740991, got "1G"',
    ],
    [{ memory: { limit: -5 } }, "linux.resources.memory.limit: expected an integer from -1"],
    [
      { memory: { limit: 100 } },
      "linux.resources.memory.limit: a limit of 100 bytes is below one page",
    ],
    [
      { memory: { swap: 1 << 20 } },
      "linux.resources.memory.swap: a swap limit needs a memory limit",
    ],
    [
      { memory: { limit: 1 << 21, swap: 1 << 20 } },
      "linux.resources.memory.swap: memory+swap limit 1048576 is below",
    ],
    [
      { memory: { swappiness: 101 } },
      "linux.resources.memory.swappiness: expected an integer from 0 to 100",
    ],
    [{ cpu: { quota: 500 } }, "linux.resources.cpu.quota: the kernel's smallest quota is 1000"],
    [{ cpu: { period: 10 } }, "linux.resources.cpu.period: expected 1000 to 1000000"],
    [{ cpu: { cpus: "0-" } }, 'linux.resources.cpu.cpus: expected a list like "0-3,6", got "0-"'],
    [
      { cpu: { realtimeRuntime: 5 } },
      "linux.resources.cpu.realtimeRuntime: real-time scheduling limits are not supported",
    ],
    [{ pids: {} }, "linux.resources.pids.limit: required"],
    [{ pids: { limit: 1.5 } }, "linux.resources.pids.limit: expected an integer"],
    [
      { blockIO: { weight: 5 } },
      "linux.resources.blockIO.weight: expected an integer from 10 to 1000",
    ],
    [
      { blockIO: { leafWeight: 5 } },
      "linux.resources.blockIO.leafWeight: leaf weights existed only",
    ],
    [
      { blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0 }] } },
      "linux.resources.blockIO.throttleReadBpsDevice[0].rate: required",
    ],
    [{ devices: {} }, "linux.resources.devices: expected an array"],
    [{ devices: [{ access: "r" }] }, "linux.resources.devices[0].allow: expected a boolean"],
    [
      { devices: [{ allow: true, type: "x" }] },
      'linux.resources.devices[0].type: expected "a", "b" or "c", got "x"',
    ],
    [
      { devices: [{ allow: true, access: "rwx" }] },
      'linux.resources.devices[0].access: expected letters from "rwm", got "rwx"',
    ],
    [
      { unified: { "../etc/passwd": "x" } },
      "linux.resources.unified.../etc/passwd: expected a cgroup file name",
    ],
    [
      { unified: { "memory.high": 5 } },
      "linux.resources.unified.memory.high: expected a string value",
    ],
    [
      { unified: { "cgroup.procs": "1" } },
      "linux.resources.unified.cgroup.procs: this file is managed by the runtime",
    ],
  ];
  for (const [value, message] of cases) {
    assert.throws(
      () => validateResources(value, "linux.resources"),
      (e: unknown) => e instanceof CgroupError && e.message.startsWith(message),
      message,
    );
  }
});

Deno.test("cpuSharesToWeight() and blkioWeightToIoWeight() follow runc's conversion", () => {
  assert.equal(cpuSharesToWeight(0), 0);
  assert.equal(cpuSharesToWeight(2), 1);
  assert.equal(cpuSharesToWeight(1024), 39);
  assert.equal(cpuSharesToWeight(262144), 10000);
  assert.equal(blkioWeightToIoWeight(0), 0);
  assert.equal(blkioWeightToIoWeight(10), 1);
  assert.equal(blkioWeightToIoWeight(1000), 10000);
});

Deno.test("memorySwapToV2() turns memory+swap into swap alone", () => {
  assert.equal(memorySwapToV2(undefined, 100), undefined);
  assert.equal(memorySwapToV2(0, 100), undefined);
  assert.equal(memorySwapToV2(-1, 100), "max");
  assert.equal(memorySwapToV2(300, 100), "200");
  assert.equal(memorySwapToV2(100, 100), "0");
  assert.throws(() => memorySwapToV2(300, -1), /linux.resources.memory.swap: a swap limit needs/);
  assert.throws(() => memorySwapToV2(50, 100), /is below the memory limit/);
});

Deno.test("validateResources() reads 0 as not set, as runc does with what Docker sends", () => {
  // `docker update --memory 100m` through containerd: every other limit is 0.
  const r = validateResources({
    memory: { limit: 104857600, reservation: 0, swap: 209715200, kernel: 0, kernelTCP: 0 },
    cpu: { shares: 0, quota: 0, period: 0, realtimeRuntime: 0, realtimePeriod: 0 },
    pids: { limit: 40 },
    blockIO: { weight: 0, leafWeight: 0 },
  }, "resources");
  assert.deepEqual(r.memory, { limit: 104857600, reservation: 0, swap: 209715200 });
  assert.deepEqual(r.cpu, { shares: 0, quota: 0, period: 0 });
  assert.deepEqual(r.blockIO, {});
  // Anything else than 0 is still named.
  assert.throws(
    () => validateResources({ memory: { kernel: 1 << 20 } }, "resources"),
    /resources\.memory\.kernel: kernel memory limits are not supported/,
  );
});
