// Real-kernel tests: a Deno subprocess (testdata/apply_seccomp.ts) installs
// the compiled filter with prctl(PR_SET_SECCOMP) on its main thread, as the
// runtime's init stage does, and the kernel enforces it.
import assert from "node:assert/strict";
import { compileSeccomp } from "./compile.ts";
import { DEFAULT_SECCOMP_PROFILE } from "./default_profile.ts";
import type { LinuxSeccomp } from "./profile.ts";
import { SYSCALLS_X86_64 } from "./syscalls_x86_64.ts";

const ignore = (Deno.uid() !== 0 || Deno.build.arch !== "x86_64") && Deno.env.get("CI") !== "true";
const script = new URL("./testdata/apply_seccomp.ts", import.meta.url).pathname;

async function underFilter(
  profile: LinuxSeccomp,
  args: string[],
): Promise<{ status: Deno.CommandStatus; stdout: string; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "tsk-seccomp-" });
  try {
    const file = `${dir}/filter.bin`;
    await Deno.writeFile(file, compileSeccomp(profile));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-lock", script, file, ...args],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).output();
    const dec = new TextDecoder();
    return {
      status: { success: out.success, code: out.code, signal: out.signal },
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const EPERM = 1;
const ENOENT = 2;
const EINVAL = 22;

Deno.test({
  name:
    "default profile on the real kernel: mount, unshare and reboot fail with EPERM; getpid and write work",
  ignore,
  async fn() {
    const r = await underFilter(DEFAULT_SECCOMP_PROFILE, ["probe"]);
    assert.ok(r.status.success, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      mount: EPERM,
      unshare: EPERM,
      reboot: EPERM,
      getpid: 0,
      write: 0,
    });
    assert.match(r.stderr, /write works/);
  },
});

Deno.test({
  name: "control on the real kernel: with an allow-all filter the same calls reach the kernel",
  ignore,
  async fn() {
    const r = await underFilter({ defaultAction: "SCMP_ACT_ALLOW" }, ["probe"]);
    assert.ok(r.status.success, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      mount: ENOENT,
      unshare: 0,
      reboot: EINVAL,
      getpid: 0,
      write: 0,
    });
  },
});

Deno.test({
  name: "default profile on the real kernel: busybox runs, mount and unshare are refused",
  ignore: ignore || !(await Deno.stat("/bin/busybox").then(() => true, () => false)),
  async fn() {
    const r = await underFilter(DEFAULT_SECCOMP_PROFILE, [
      "exec",
      "/bin/busybox",
      "sh",
      "-c",
      "mount -t tmpfs none /mnt; echo mount=$?; unshare -u true; echo unshare=$?; " +
      "ls / >/dev/null && echo ls=ok; x=$(echo sub); echo $x; grep Seccomp: /proc/self/status",
    ]);
    assert.ok(r.status.success, r.stderr);
    assert.match(r.stdout, /^mount=[1-9]/m);
    assert.match(r.stdout, /^unshare=[1-9]/m);
    assert.match(r.stdout, /^ls=ok$/m);
    assert.match(r.stdout, /^sub$/m);
    assert.match(r.stdout, /^Seccomp:\s+2$/m);
    assert.match(r.stderr, /Operation not permitted/);
  },
});

Deno.test({
  name: "SCMP_ACT_KILL_PROCESS and SCMP_ACT_TRAP really end the process with SIGSYS",
  ignore,
  async fn() {
    for (const action of ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"] as const) {
      const r = await underFilter({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["getppid"], action }],
      }, ["call", String(SYSCALLS_X86_64.getppid)]);
      assert.equal(r.status.success, false, action);
      assert.equal(r.status.signal, "SIGSYS", `${action}: ${r.stderr}`);
      assert.equal(r.stdout, "");
    }
  },
});

Deno.test({
  name: "SCMP_ACT_ERRNO returns the profile's errno from the real kernel",
  ignore,
  async fn() {
    const r = await underFilter({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["getppid"], action: "SCMP_ACT_ERRNO", errnoRet: 42 }],
    }, ["call", String(SYSCALLS_X86_64.getppid)]);
    assert.ok(r.status.success, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { rc: -1, errno: 42 });
  },
});

Deno.test({
  name: "a filter for another ABI kills the process at its next system call",
  ignore,
  async fn() {
    const r = await underFilter({
      defaultAction: "SCMP_ACT_ALLOW",
      architectures: ["SCMP_ARCH_X86"],
    }, [
      "call",
      String(SYSCALLS_X86_64.getppid),
    ]);
    assert.equal(r.status.signal, "SIGSYS", r.stderr);
  },
});
