/**
 * A tool written for runc drives tsk-runtime: podman, through conmon, with
 * `--runtime` pointing at a two-line wrapper of `tsk-runtime`. conmon runs
 * `create` and reaps the container's init as a child subreaper, `start`,
 * `exec --detach`, `kill` and `delete --force`, as it does runc's. The same
 * commands under runc give the same output. Podman keeps its images and
 * containers in a temporary `--root` (vfs driver: no mounts to leave
 * behind), so nothing of the host's podman state is touched.
 *
 * @module
 */
import assert from "node:assert/strict";
import { posix } from "node:path";
import { busyboxRootfs, requireRoot } from "@tsk/runtime/testing";
import {
  containerTest,
  hasProgram,
  RUNTIME_MAIN,
  stopSupervisor,
  uid,
} from "./_runtime_helpers.ts";

// Installed by tools/run_tests.ts (tools/deps.ts); in CI a missing podman
// fails rather than skips.
const ignore = !requireRoot() || (Deno.env.get("CI") !== "true" && !hasProgram("podman"));

interface Podman {
  base: string;
  wrapper: string;
  image: string;
  run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

function test(name: string, fn: (p: Podman) => Promise<void>): void {
  containerTest(name, async () => {
    const base = await Deno.makeTempDir({ prefix: "tsk-podman-test-" });
    const global = [
      "--root",
      posix.join(base, "storage"),
      "--runroot",
      posix.join(base, "run"),
      "--storage-driver",
      "vfs",
      "--cgroup-manager",
      "cgroupfs",
      "--events-backend",
      "file",
      "--tmpdir",
      posix.join(base, "tmp"),
    ];
    const run = async (args: string[]) => {
      const out = await new Deno.Command("podman", {
        args: [...global, ...args],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    };
    // What podman's --runtime needs: an executable. The wrapper keeps
    // tsk-runtime's state in this test's directory.
    const wrapper = posix.join(base, "tsk-runtime");
    await Deno.writeTextFile(
      wrapper,
      `#!/bin/sh\nexec ${Deno.execPath()} run -A --no-config --no-lock ${RUNTIME_MAIN} --root ${
        posix.join(base, "state")
      } "$@"\n`,
      { mode: 0o755 },
    );
    try {
      const rootfs = await busyboxRootfs(posix.join(base, "rootfs"));
      const tar = posix.join(base, "rootfs.tar");
      const t = await new Deno.Command("tar", { args: ["-C", rootfs, "-cf", tar, "."] })
        .output();
      assert.ok(t.success, new TextDecoder().decode(t.stderr));
      const image = `localhost/tsk-test-busybox:${uid("t")}`;
      const imported = await run(["import", "--quiet", tar, image]);
      assert.equal(imported.code, 0, imported.stderr);
      await fn({ base, wrapper, image, run });
    } finally {
      await run(["rm", "--all", "--force", "--time", "0"]).catch(() => {});
      await run(["rmi", "--all", "--force"]).catch(() => {});
      // The test's supervisor, if a command started one.
      await stopSupervisor(posix.join(base, "state"));
      await Deno.remove(base, { recursive: true }).catch(() => {});
    }
  }, { ignore });
}

/** podman's default limits exceed this host's hard ones; runc refuses them too. */
const LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

/**
 * `podman run --rm --network none [flags] IMAGE sh -c SCRIPT` under
 * tsk-runtime, then under runc; both results.
 */
async function underBoth(p: Podman, flags: string[], script: string) {
  const args = (runtime: string) => [
    "--runtime",
    runtime,
    "run",
    "--rm",
    "--network",
    "none",
    ...LIMITS,
    ...flags,
    p.image,
    "sh",
    "-c",
    script,
  ];
  return { ours: await p.run(args(p.wrapper)), runc: await p.run(args("/usr/bin/runc")) };
}

/** `podman run --detach --name NAME ... IMAGE COMMAND` with tsk-runtime; asserts it started. */
async function runDetached(p: Podman, name: string, command: string[]) {
  const r = await p.run([
    "--runtime",
    p.wrapper,
    "run",
    "--detach",
    "--name",
    name,
    "--network",
    "none",
    ...LIMITS,
    p.image,
    ...command,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r;
}

test("podman: run through conmon with tsk-runtime, as with runc", async (p) => {
  const script = [
    "hostname",
    "id",
    "echo pid=$$ container=$container",
    "cat /proc/1/cmdline | tr '\\0' ' '; echo",
    "grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status",
    "ls /dev",
    "ls /proc/self/fd",
    "ulimit -n",
    "touch /x && echo writable",
    "exit 3",
  ].join("; ");
  const { ours, runc } = await underBoth(p, ["--hostname", "pod"], script);
  assert.equal(ours.code, 3, ours.stderr);
  assert.match(ours.stdout, /^pod\nuid=0\(root\) gid=0\(root\)/);
  assert.match(ours.stdout, /^pid=1 container=podman$/m);
  assert.equal(runc.code, 3, runc.stderr);
  assert.equal(ours.stdout, runc.stdout);
});

test("podman: --tmpfs starts with the image's files (tmpcopyup) and :ro volumes stay read-only, as with runc", async (p) => {
  const vol = posix.join(p.base, "vol");
  await Deno.mkdir(vol);
  await Deno.writeTextFile(posix.join(vol, "in"), "from host\n");
  const script = [
    "ls /etc",
    "grep ' /etc ' /proc/mounts",
    "touch /etc/new && echo tmpfs-writable",
    "cat /data/in",
    "touch /data/x 2>/dev/null || echo volume-read-only",
  ].join("; ");
  const { ours, runc } = await underBoth(
    p,
    ["--tmpfs", "/etc", "--volume", `${vol}:/data:ro`],
    script,
  );
  assert.equal(ours.code, 0, ours.stderr);
  assert.match(ours.stdout, /^group\nhostname\nhosts\nmtab\npasswd\n/);
  assert.match(ours.stdout, /tmpfs-writable\nfrom host\nvolume-read-only\n$/);
  assert.equal(runc.code, 0, runc.stderr);
  assert.equal(ours.stdout, runc.stdout);
  assert.deepEqual([...Deno.readDirSync(vol)].map((e) => e.name), ["in"]);
});

test("podman: --device, --privileged and a tmpfs's mode, as with runc", async (p) => {
  const cases: [string[], string][] = [
    [
      ["--device", "/dev/fuse"],
      "ls -l /dev/fuse | cut -c1-10; sort /sys/fs/cgroup/devices/devices.list 2>/dev/null",
    ],
    [["--privileged"], "grep -E '^(CapEff|Seccomp):' /proc/self/status; ls /dev | wc -l"],
    [["--tmpfs", "/scratch:rw,size=1m,mode=1777"], "stat -c %a /scratch"],
    [["--tmpfs", "/etc:rw,size=1m,mode=1777"], "stat -c '%a %u' /etc; ls /etc"],
  ];
  for (const [flags, script] of cases) {
    const { ours, runc } = await underBoth(p, flags, script);
    assert.equal(ours.code, 0, `${flags}: ${ours.stderr}`);
    assert.equal(runc.code, 0, runc.stderr);
    assert.equal(ours.stdout, runc.stdout, flags.join(" "));
  }
});

test("podman: a detached container takes exec, stop and rm through conmon", async (p) => {
  const name = uid("pod");
  const rt = ["--runtime", p.wrapper];
  let r = await runDetached(p, name, ["sh", "-c", "trap 'exit 7' TERM; sleep 60 & wait"]);
  r = await p.run([...rt, "exec", name, "sh", "-c", "echo in $(hostname); exit 5"]);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stdout, /^in [0-9a-f]{12}\n$/);
  r = await p.run([...rt, "inspect", "--format", "{{.State.Status}}", name]);
  assert.equal(r.stdout.trim(), "running");
  // conmon, the init's reaper, sees the exit status.
  r = await p.run([...rt, "stop", "--time", "10", name]);
  assert.equal(r.code, 0, r.stderr);
  r = await p.run([...rt, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name]);
  assert.equal(r.stdout.trim(), "exited 7");
  r = await p.run([...rt, "rm", name]);
  assert.equal(r.code, 0, r.stderr);
  // Nothing of the container is left in tsk-runtime's state.
  const left = [...Deno.readDirSync(posix.join(p.base, "state"))]
    .map((e) => e.name).filter((n) => !n.startsWith("."));
  assert.deepEqual(left, []);
});

test("podman: -t gives the container and an exec a terminal, as with runc", async (p) => {
  const run = (runtime: string) =>
    p.run([
      "--runtime",
      runtime,
      "run",
      "--rm",
      "-t",
      "--network",
      "none",
      ...LIMITS,
      p.image,
      "sh",
      "-c",
      "tty; echo $TERM; test -t 0 && echo stdin is a terminal; exit 2",
    ]);
  const ours = await run(p.wrapper);
  assert.equal(ours.code, 2, ours.stderr);
  assert.equal(ours.stdout, "/dev/pts/0\r\nxterm\r\nstdin is a terminal\r\n");
  const runc = await run("/usr/bin/runc");
  assert.equal(ours.stdout, runc.stdout);
  // exec -t: a terminal of its own (conmon passes --tty --console-socket).
  const name = uid("tty");
  const rt = ["--runtime", p.wrapper];
  let r = await runDetached(p, name, ["sleep", "60"]);
  r = await p.run([...rt, "exec", "-t", name, "sh", "-c", "tty; exit 4"]);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stdout, /^\/dev\/pts\/\d+\r\n$/);
  r = await p.run([...rt, "rm", "--force", "--time", "0", name]);
  assert.equal(r.code, 0, r.stderr);
});
