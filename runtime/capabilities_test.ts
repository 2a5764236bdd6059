import assert from "node:assert/strict";
import {
  boundingDrops,
  CAP_LAST_CAP,
  CAPABILITIES,
  CapabilityError,
  capabilityMask,
  capabilityNames,
  capabilityNumber,
  capsetData,
  capsetHeader,
  DEFAULT_CAPABILITIES,
  parseStatusCapabilities,
  resolveCapabilities,
} from "./capabilities.ts";

Deno.test("CAPABILITIES numbers every capability from 0 to CAP_LAST_CAP once", () => {
  const numbers = Object.values(CAPABILITIES).sort((a, b) => a - b);
  assert.deepEqual(numbers, Array.from({ length: CAP_LAST_CAP + 1 }, (_, i) => i));
  assert.equal(capabilityNumber("CAP_CHECKPOINT_RESTORE"), 40);
  assert.equal(capabilityNumber("CAP_SYS_ADMIN"), 21);
  assert.equal(capabilityNumber("toString"), undefined);
});

Deno.test("capabilityMask() sets one bit per name", () => {
  assert.equal(capabilityMask([], "x"), 0n);
  assert.equal(capabilityMask(["CAP_CHOWN", "CAP_KILL", "CAP_KILL"], "x"), 0x21n);
  assert.equal(capabilityMask(["CAP_BPF"], "x"), 1n << 39n);
});

Deno.test("capabilityMask() names the field of an unknown capability", () => {
  assert.throws(
    () =>
      capabilityMask(
        ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_FOO"],
        "process.capabilities.bounding",
      ),
    (e: unknown) =>
      e instanceof CapabilityError &&
      e.message === 'process.capabilities.bounding[3]: unknown capability "CAP_FOO"' &&
      e.field === "process.capabilities.bounding[3]",
  );
  assert.throws(() => capabilityMask("CAP_CHOWN", "p"), /^CapabilityError: p: expected an array/);
  assert.throws(() => capabilityMask([7], "p"), /p\[0\]: expected a capability name string/);
  assert.throws(() => capabilityMask(["cap_chown"], "p"), /unknown capability "cap_chown"/);
});

Deno.test("DEFAULT_CAPABILITIES is Docker's 14 capabilities", () => {
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
  const mask = capabilityMask(DEFAULT_CAPABILITIES, "default");
  assert.equal(mask, 0xa80425fbn); // the mask Docker containers show as CapEff
  assert.ok(!DEFAULT_CAPABILITIES.includes("CAP_SYS_ADMIN"));
});

Deno.test("capabilityNames() inverts capabilityMask()", () => {
  assert.deepEqual(capabilityNames(0x21n), ["CAP_CHOWN", "CAP_KILL"]);
  assert.deepEqual(
    capabilityNames(capabilityMask(DEFAULT_CAPABILITIES, "d")).sort(),
    [...DEFAULT_CAPABILITIES].sort(),
  );
  assert.deepEqual(capabilityNames(1n << 50n), ["CAP_50"]);
});

Deno.test("resolveCapabilities() builds all five masks and treats a missing set as empty", () => {
  const m = resolveCapabilities({
    bounding: ["CAP_KILL", "CAP_CHOWN"],
    effective: ["CAP_KILL"],
    permitted: ["CAP_KILL"],
    inheritable: ["CAP_KILL"],
    ambient: ["CAP_KILL"],
  }, "process.capabilities");
  assert.deepEqual(m, {
    bounding: 0x21n,
    effective: 0x20n,
    inheritable: 0x20n,
    permitted: 0x20n,
    ambient: 0x20n,
  });
  assert.deepEqual(resolveCapabilities({}, "p"), {
    bounding: 0n,
    effective: 0n,
    inheritable: 0n,
    permitted: 0n,
    ambient: 0n,
  });
});

Deno.test("resolveCapabilities() rejects bad shapes, unknown sets and stray ambient caps", () => {
  assert.throws(
    () => resolveCapabilities(null, "process.capabilities"),
    /process.capabilities: expected an object/,
  );
  assert.throws(
    () => resolveCapabilities({ effectiv: [] }, "process.capabilities"),
    /process.capabilities.effectiv: unknown capability set/,
  );
  assert.throws(
    () =>
      resolveCapabilities(
        { permitted: ["CAP_KILL"], ambient: ["CAP_KILL"] },
        "process.capabilities",
      ),
    /process.capabilities.ambient: CAP_KILL must also be in the permitted and inheritable sets/,
  );
  assert.throws(
    () => resolveCapabilities({ effective: ["CAP_KILL", "NOPE"] }, "process.capabilities"),
    /process.capabilities.effective\[1\]: unknown capability "NOPE"/,
  );
});

Deno.test("capsetHeader() and capsetData() lay out the version 3 structs", () => {
  const h = new DataView(capsetHeader(42).buffer);
  assert.equal(h.getUint32(0, true), 0x20080522);
  assert.equal(h.getInt32(4, true), 42);
  const eff = (1n << 39n) | 1n;
  const d = new DataView(
    capsetData({ effective: eff, permitted: eff | 2n, inheritable: 1n << 32n }).buffer,
  );
  assert.equal(d.byteLength, 24);
  assert.deepEqual(
    [0, 4, 8, 12, 16, 20].map((o) => d.getUint32(o, true)),
    [1, 3, 0, 1 << 7, 1 << 7, 1],
  );
});

Deno.test("boundingDrops() lists every capability not kept, up to the kernel's last", () => {
  const keep = capabilityMask(DEFAULT_CAPABILITIES, "d");
  const drops = boundingDrops(keep, 40);
  assert.equal(drops.length, 41 - 14);
  assert.ok(drops.includes(21) && !drops.includes(0));
  assert.deepEqual(boundingDrops(0n, 2), [0, 1, 2]);
});

Deno.test("parseStatusCapabilities() reads a set from /proc status text", () => {
  const text = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t000001ffffffffff\n";
  assert.equal(parseStatusCapabilities(text, "CapEff"), 0x1ffffffffffn);
  assert.equal(parseStatusCapabilities(text, "CapInh"), 0n);
  assert.throws(() => parseStatusCapabilities(text, "CapAmb"), /CapAmb: line not found/);
});

// Real kernel: a Deno subprocess hands our bytes to capset(2) on its main
// thread, drops the bounding set with prctl and reads back what the kernel
// reports for that thread.
Deno.test({
  name: "capsetData() bytes make the kernel set exactly the requested sets",
  ignore: Deno.uid() !== 0 && Deno.env.get("CI") !== "true",
  async fn() {
    const keep = capabilityMask(["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"], "t");
    const lastCap = Number((await Deno.readTextFile("/proc/sys/kernel/cap_last_cap")).trim());
    const script = `
      import { capsetData, capsetHeader } from ${
      JSON.stringify(import.meta.resolve("./capabilities.ts"))
    };
      const libc = Deno.dlopen("libc.so.6", {
        capset: { parameters: ["buffer", "buffer"], result: "i32" },
        prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
      });
      const keep = ${keep}n;
      for (const n of ${JSON.stringify(boundingDrops(keep, lastCap))}) {
        if (libc.symbols.prctl(24, BigInt(n), 0n, 0n, 0n) !== 0) throw new Error("PR_CAPBSET_DROP " + n);
      }
      const rc = libc.symbols.capset(capsetHeader(), capsetData({ effective: keep, permitted: keep, inheritable: 0n }));
      if (rc !== 0) throw new Error("capset failed");
      console.log(Deno.readTextFileSync("/proc/thread-self/status"));
    `;
    const dir = await Deno.makeTempDir({ prefix: "tsk-caps-" });
    try {
      const file = `${dir}/caps.ts`;
      await Deno.writeTextFile(file, script);
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-lock", file],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.ok(out.success, stderr);
      const status = new TextDecoder().decode(out.stdout);
      assert.equal(parseStatusCapabilities(status, "CapEff"), keep);
      assert.equal(parseStatusCapabilities(status, "CapPrm"), keep);
      assert.equal(parseStatusCapabilities(status, "CapInh"), 0n);
      assert.equal(parseStatusCapabilities(status, "CapBnd"), keep);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
