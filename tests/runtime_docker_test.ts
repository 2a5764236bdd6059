/**
 * Docker drives tsk-runtime: a private dockerd (its own data root, exec
 * root, socket and cgroup parent under this test's directory; no iptables)
 * with tsk-runtime added as a runtime beside runc. dockerd goes through
 * containerd and containerd-shim-runc-v2, which call the runtime's create,
 * start, state, kill, delete, exec, pause, resume, update and ps as they
 * call runc's, and every container gets Docker's libnetwork prestart hook.
 * The same `docker run` under runc and tsk-runtime gives the same output.
 * Most tests run dockerd without a bridge (`--network none`); the bridge
 * test runs it in a network namespace of its own, where its docker0 and the
 * containers' veths live. The image is busybox imported from a tar: no
 * registry is reached.
 *
 * @module
 */
import assert from "node:assert/strict";
import { posix } from "node:path";
import { busyboxRootfs, requireRoot } from "@tsk/runtime/testing";
import { containerTest, hasProgram, RUNTIME_MAIN, uid } from "./_runtime_helpers.ts";

// Installed by tools/run_tests.ts (tools/deps.ts); in CI a missing docker
// fails rather than skips.
const ignore = !requireRoot() || (Deno.env.get("CI") !== "true" && !hasProgram("dockerd"));

interface Docker {
  base: string;
  image: string;
  run(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }>;
}

const dec = new TextDecoder();

/** Unmounts (lazily) whatever is still mounted under `dir`, deepest first. */
function unmountUnder(dir: string): void {
  const points = Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .map((l) => l.split(" ")[4]?.replace(/\\040/g, " "))
    .filter((p): p is string => p !== undefined && p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of points) {
    new Deno.Command("umount", { args: ["-l", p], stdout: "null", stderr: "null" }).outputSync();
  }
}

/** Removes the cgroup `parent` (and what is left under it) from every hierarchy. */
function removeCgroupParent(parent: string): void {
  for (const h of Deno.readDirSync("/sys/fs/cgroup")) {
    const dir = posix.join("/sys/fs/cgroup", h.name, parent);
    try {
      for (const e of Deno.readDirSync(dir)) if (e.isDirectory) Deno.removeSync(`${dir}/${e.name}`);
      Deno.removeSync(dir);
    } catch { /* not there */ }
  }
}

/**
 * Runs `fn` against a private dockerd. With `bridge`, dockerd runs in a
 * network namespace of its own (made by unshare(1), gone when dockerd
 * exits): its default bridge, docker0, and every container's veth live
 * there, so no packet reaches the host's network; without, dockerd has no
 * bridge and containers run with `--network none`.
 */
function test(
  name: string,
  fn: (d: Docker) => Promise<void>,
  options: { bridge?: boolean } = {},
): void {
  containerTest(name, async () => {
    const base = await Deno.makeTempDir({ prefix: "tsk-docker-test-" });
    const sock = posix.join(base, "docker.sock");
    const cgroupParent = `/tsk-docker-test-${uid("p")}`;
    const wrapper = posix.join(base, "tsk-runtime");
    const log = posix.join(base, "dockerd.log");
    let daemon: Deno.ChildProcess;
    try {
      await Deno.writeTextFile(
        wrapper,
        `#!/bin/sh\nexec ${Deno.execPath()} run -A --no-config --no-lock ${RUNTIME_MAIN} "$@"\n`,
        { mode: 0o755 },
      );
      // Its log goes to a file in this test's directory (read it when a test fails).
      daemon = new Deno.Command(options.bridge ? "unshare" : "sh", {
        args: [
          ...(options.bridge ? ["--net", "sh"] : []),
          "-c",
          options.bridge
            ? `ip link set lo up && exec dockerd "$@" >${log} 2>&1`
            : `exec dockerd "$@" >${log} 2>&1`,
          "sh",
          "--data-root",
          posix.join(base, "data"),
          "--exec-root",
          posix.join(base, "exec"),
          "--pidfile",
          posix.join(base, "docker.pid"),
          "-H",
          `unix://${sock}`,
          ...(options.bridge ? [] : ["--bridge=none"]),
          // No NAT to set up: nothing leaves the host (or, with a bridge, the
          // namespace).
          "--iptables=false",
          "--ip6tables=false",
          "--storage-driver=vfs",
          "--exec-opt",
          "native.cgroupdriver=cgroupfs",
          "--cgroup-parent",
          cgroupParent,
          "--add-runtime",
          `tsk=${wrapper}`,
        ],
        stdin: "null",
      }).spawn();
    } catch (e) {
      // Nothing runs yet: the directory is all there is to remove.
      await Deno.remove(base, { recursive: true }).catch(() => {});
      throw e;
    }
    const run = async (args: string[], stdin?: string) => {
      const child = new Deno.Command("docker", {
        args,
        env: { DOCKER_HOST: `unix://${sock}` },
        stdin: stdin === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      if (stdin !== undefined) {
        const w = child.stdin.getWriter();
        await w.write(new TextEncoder().encode(stdin));
        await w.close();
      }
      const out = await child.output();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    };
    try {
      let up = false;
      for (let i = 0; i < 200 && !up; i++) {
        up = (await run(["version", "--format", "{{.Server.Version}}"])).code === 0;
        if (!up) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(up, "dockerd did not come up in 20 s");
      const rootfs = await busyboxRootfs(posix.join(base, "rootfs"));
      const tar = posix.join(base, "rootfs.tar");
      const t = await new Deno.Command("tar", { args: ["-C", rootfs, "-cf", tar, "."] }).output();
      assert.ok(t.success, dec.decode(t.stderr));
      const image = `tsk-test-busybox:${uid("t")}`;
      const imported = await run(["import", tar, image]);
      assert.equal(imported.code, 0, imported.stderr);
      await fn({ base, image, run });
    } finally {
      await run([
        "rm",
        "--force",
        ...(await run(["ps", "-aq"])).stdout.split(/\s+/).filter(Boolean),
      ])
        .catch(() => {});
      try {
        daemon.kill("SIGTERM");
      } catch { /* gone */ }
      const stopped = await Promise.race([
        daemon.status.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 20_000)),
      ]);
      if (!stopped) {
        daemon.kill("SIGKILL");
        await daemon.status;
      }
      unmountUnder(base);
      removeCgroupParent(cgroupParent);
      await Deno.remove(base, { recursive: true }).catch(() => {});
    }
  }, { ignore });
}

test("docker: docker run through containerd's shim with tsk-runtime sees what it sees with runc", async (d) => {
  const vol = posix.join(d.base, "vol");
  await Deno.mkdir(vol);
  await Deno.writeTextFile(posix.join(vol, "in"), "from host\n");
  const cases: [string[], string][] = [
    [[], "hostname | wc -c; id; ls /proc/self/fd | tr '\\n' ' '; grep -c . /proc/self/mountinfo"],
    [
      ["--read-only", "--tmpfs", "/tmp"],
      "touch /x 2>&1 | sed 's/.*: //'; touch /tmp/y && stat -c %a /tmp",
    ],
    [
      ["--memory", "64m", "--pids-limit", "30", "--cpus", "0.5"],
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max " +
      "/sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/memory.max " +
      "/sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max",
    ],
    [
      ["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE", "--security-opt", "no-new-privileges"],
      "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status",
    ],
    [["-u", "1000:1000", "-w", "/tmp", "-e", "A=b"], "id; pwd; echo $A $HOME"],
    [["--init"], "cat /proc/1/cmdline | tr '\\0' ' '"],
    [
      ["--device", "/dev/fuse", "--sysctl", "kernel.msgmax=9000"],
      "ls -l /dev/fuse | cut -c1-10; cat /proc/sys/kernel/msgmax",
    ],
    [["-v", `${vol}:/data:ro`], "cat /data/in; touch /data/x 2>&1 | sed 's/.*: //'"],
  ];
  for (const [flags, script] of cases) {
    const args = (runtime: string) => [
      "run",
      "--rm",
      "--runtime",
      runtime,
      "--network",
      "none",
      ...flags,
      d.image,
      "sh",
      "-c",
      script,
    ];
    const ours = await d.run(args("tsk"));
    assert.equal(ours.code, 0, `${flags}: ${ours.stderr}`);
    const runc = await d.run(args("runc"));
    assert.equal(runc.code, 0, `${flags}: ${runc.stderr}`);
    assert.equal(ours.stdout, runc.stdout, flags.join(" "));
  }
  // Exit codes come through.
  const three = await d.run([
    "run",
    "--rm",
    "--runtime",
    "tsk",
    "--network",
    "none",
    d.image,
    "sh",
    "-c",
    "exit 3",
  ]);
  assert.equal(three.code, 3, three.stderr);
});

test("docker: a detached container takes exec, pause, update, kill, stop, start and rm through the shim", async (d) => {
  const name = uid("dk");
  let r = await d.run([
    "run",
    "-d",
    "--name",
    name,
    "--runtime",
    "tsk",
    "--network",
    "none",
    "-m",
    "64m",
    d.image,
    "sh",
    "-c",
    "trap 'echo usr1' USR1; trap 'echo term; exit 7' TERM; echo up; while true; do sleep 0.1; done",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const inspect = async (f: string) =>
    (await d.run(["inspect", "--format", f, name])).stdout.trim();
  r = await d.run([
    "exec",
    "-u",
    "1000",
    "-w",
    "/tmp",
    "-e",
    "Z=1",
    name,
    "sh",
    "-c",
    "id -u; pwd; echo $Z",
  ]);
  assert.equal(r.stdout, "1000\n/tmp\n1\n", r.stderr);
  r = await d.run(["exec", "-i", name, "cat"], "through stdin\n");
  assert.equal(r.stdout, "through stdin\n", r.stderr);
  r = await d.run(["exec", name, "sh", "-c", "exit 5"]);
  assert.equal(r.code, 5);
  assert.equal((await d.run(["pause", name])).code, 0);
  assert.equal(await inspect("{{.State.Status}}"), "paused");
  assert.equal((await d.run(["unpause", name])).code, 0);
  assert.equal(await inspect("{{.State.Status}}"), "running");
  r = await d.run(["update", "--memory-swap", "128m", "--pids-limit", "40", name]);
  assert.equal(r.code, 0, r.stderr);
  r = await d.run([
    "exec",
    name,
    "sh",
    "-c",
    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null || " +
    "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max",
  ]);
  assert.equal(r.stdout, `${64 << 20}\n40\n`, r.stderr);
  r = await d.run(["top", name]);
  assert.match(r.stdout, /sleep 0\.1|sh -c/);
  assert.equal((await d.run(["kill", "--signal", "USR1", name])).code, 0);
  await new Promise((res) => setTimeout(res, 500));
  assert.equal((await d.run(["stop", "--time", "10", name])).code, 0);
  assert.equal(await inspect("{{.State.Status}} {{.State.ExitCode}}"), "exited 7");
  r = await d.run(["logs", name]);
  assert.equal(r.stdout, "up\nusr1\nterm\n", r.stderr);
  assert.equal((await d.run(["start", name])).code, 0);
  assert.equal(await inspect("{{.State.Status}}"), "running");
  assert.equal((await d.run(["rm", "--force", name])).code, 0);
  assert.equal((await d.run(["ps", "-aq"])).stdout.trim(), "");
});

test(
  "docker: on Docker's bridge network a tsk-runtime container gets its veth, reaches the gateway and a runc container",
  async (d) => {
    // Docker's libnetwork prestart hook moves the container's end of a veth
    // into the network namespace of the pid it is given in the state: the
    // runtime must run it with the container's pid before the process starts.
    // A detached web server under `runtime`, serving `page`; its address.
    const serve = async (runtime: string, page: string): Promise<string> => {
      const name = uid(runtime);
      const r = await d.run([
        "run",
        "-d",
        "--name",
        name,
        "--runtime",
        runtime,
        d.image,
        "sh",
        "-c",
        `echo ${page} > /index.html; exec httpd -f -p 8080 -h /`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const ip = (await d.run(["inspect", "--format", "{{.NetworkSettings.IPAddress}}", name]))
        .stdout.trim();
      assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/, `the ${runtime} container has an address`);
      return ip;
    };
    const ip = await serve("runc", "from-runc");
    // What each runtime's container sees of its network, its gateway
    // answering a ping, and the runc container's page fetched over the
    // bridge (with nc: busybox-static's wget crashes here, under runc too).
    // Tried for up to 5 s: the server may still be starting.
    const fetch = (host: string) =>
      `for i in $(seq 25); do page=$(printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | ` +
      `nc -w 5 ${host} 8080 | tail -n 1); [ -n "$page" ] && break; sleep 0.2; done; echo "$page"`;
    const script = "ip -o -4 addr show eth0 | awk '{print $2, ($4 != \"\")}'; " +
      "ip route | awk '/^default/ {print $1, $2}'; ip -o link | grep -c ': '; " +
      "ping -c 1 -W 2 $(ip route | awk '/^default/ {print $3}') >/dev/null && echo gateway; " +
      fetch(ip);
    const seen: Record<string, string> = {};
    for (const runtime of ["tsk", "runc"]) {
      const r = await d.run(["run", "--rm", "--runtime", runtime, d.image, "sh", "-c", script]);
      assert.equal(r.code, 0, `${runtime}: ${r.stderr}`);
      seen[runtime] = r.stdout;
    }
    // eth0 with an address, a default route, the links (lo, eth0 and any
    // tunnel devices this kernel adds to every namespace), the page.
    assert.match(seen.tsk, /^eth0 1\ndefault via\n\d+\ngateway\nfrom-runc\n$/);
    assert.equal(seen.tsk, seen.runc);
    // And the other way: the runc container reaches a tsk-runtime one.
    const ourIp = await serve("tsk", "from-tsk");
    const back = await d.run([
      "run",
      "--rm",
      "--runtime",
      "runc",
      d.image,
      "sh",
      "-c",
      fetch(ourIp),
    ]);
    assert.equal(back.stdout, "from-tsk\n", back.stderr);
  },
  { bridge: true },
);
