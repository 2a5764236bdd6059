/**
 * End-to-end tests of `@tsk/runtime`'s library API against the real kernel:
 * every container here is real (namespaces, cgroups, pivot_root, seccomp).
 *
 * @module
 */
import assert from "node:assert/strict";
import { posix } from "node:path";
import {
  ConfigError,
  ContainerNotFoundError,
  createContainer,
  DEFAULT_SECCOMP_PROFILE,
  InitPool,
  linuxSyscalls,
  listContainers,
  loadContainer,
  runContainer,
  type Spec,
} from "@tsk/runtime";
import { busyboxRootfs, recordingSyscalls, requireRoot } from "@tsk/runtime/testing";
import {
  capture,
  cgroupDirsNamed,
  containerTest,
  fixture,
  shSpec,
  uid,
} from "./_runtime_helpers.ts";

const ignore = !requireRoot();
const fx = ignore ? undefined! : await fixture();

function test(name: string, fn: () => Promise<void>): void {
  containerTest(name, fn, { ignore });
}

test("runtime: the entrypoint is PID 1 and host processes are invisible", async () => {
  const r = await capture(
    fx,
    shSpec(fx, "echo $$; ls /proc | grep -c '^[0-9]'; cat /proc/1/cmdline | tr '\\0' ' '"),
  );
  const [pid, count, cmdline] = r.stdout.trim().split("\n");
  assert.equal(pid, "1");
  // sh, ls and grep at most: nothing of the host.
  assert.ok(Number(count) <= 3, `expected at most 3 processes, saw ${count}`);
  assert.equal(
    cmdline.trim(),
    "sh -c echo $$; ls /proc | grep -c '^[0-9]'; cat /proc/1/cmdline | tr '\\0' ' '",
  );
  assert.equal(r.status.exitCode, 0);
});

test("runtime: the container has the spec's hostname", async () => {
  const r = await capture(fx, shSpec(fx, "hostname", (s) => (s.hostname = "box-42")));
  assert.equal(r.stdout.trim(), "box-42");
});

test("runtime: host mounts are invisible inside", async () => {
  const marker = await Deno.makeTempDir({ prefix: "tsk-host-mount-" });
  const { MS, linuxSyscalls } = await import("@tsk/runtime");
  const sys = linuxSyscalls();
  sys.mount("tmpfs", marker, "tmpfs", MS.NOSUID, "size=1m");
  try {
    const r = await capture(fx, shSpec(fx, "cat /proc/self/mountinfo"));
    assert.ok(!r.stdout.includes(marker), "a host mount leaked into the container");
    const points = r.stdout.trim().split("\n").map((l) => l.split(" ")[4]);
    assert.ok(
      points.every((p) => !p.startsWith("/tmp/") && !p.startsWith("/work")),
      points.join(" "),
    );
    assert.ok(points.includes("/") && points.includes("/proc") && points.includes("/dev"));
  } finally {
    sys.umount(marker, 2);
    await Deno.remove(marker);
  }
});

test("runtime: overlay writes land in the upper dir and lower dirs stay untouched", async () => {
  const base = await Deno.makeTempDir({ prefix: "tsk-overlay-" });
  try {
    const lower2 = posix.join(base, "lower2"), upper = posix.join(base, "upper");
    const work = posix.join(base, "work"), mnt = posix.join(base, "merged");
    // The mount point (merged) is created by the runtime.
    for (const d of [lower2, upper, work]) await Deno.mkdir(d);
    await Deno.writeTextFile(posix.join(lower2, "layer.txt"), "from layer 2\n");
    const before = await snapshot(fx.rootfs);
    const r = await capture(
      fx,
      shSpec(
        fx,
        "cat /layer.txt; echo written > /new.txt; echo changed > /layer.txt; rm /bin/vi; echo ok",
        (s) => {
          s.root = { path: mnt, readonly: false };
        },
      ),
      { rootfs: { lowerDirs: [lower2, fx.rootfs], upperDir: upper, workDir: work } },
    );
    assert.equal(r.stdout, "from layer 2\nok\n", r.stderr);
    assert.equal(await Deno.readTextFile(posix.join(upper, "new.txt")), "written\n");
    assert.equal(await Deno.readTextFile(posix.join(upper, "layer.txt")), "changed\n");
    assert.equal(await Deno.readTextFile(posix.join(lower2, "layer.txt")), "from layer 2\n");
    // The whiteout for /bin/vi is a 0/0 character device in the upper dir.
    const wh = await Deno.lstat(posix.join(upper, "bin/vi"));
    assert.ok(wh.isCharDevice);
    assert.deepEqual(await snapshot(fx.rootfs), before);
    assert.deepEqual(
      [...Deno.readDirSync(mnt)],
      [],
      "the overlay must not stay mounted on the host",
    );
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = posix.join(d, e.name);
      const st = await Deno.lstat(p);
      out.push(`${p}:${st.size}:${st.mtime?.getTime()}`);
      if (e.isDirectory) await walk(p);
    }
  };
  await walk(dir);
  return out.sort();
}

test("runtime: a memory limit gets the process OOM-killed and reported", async () => {
  const r = await capture(
    fx,
    shSpec(fx, "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done", (s) => {
      s.linux!.resources = { memory: { limit: 32 << 20, swap: 32 << 20 } };
    }),
  );
  assert.equal(r.status.oomKilled, true, JSON.stringify(r.status));
  assert.equal(r.status.signal, 9);
  assert.equal(r.status.exitCode, null);
});

test("runtime: pids.max stops a fork bomb", async () => {
  let seen = 0;
  const r = await capture(
    fx,
    shSpec(fx, "for i in $(seq 1 40); do sleep 2 & done; wait; echo done", (s) => {
      s.linux!.resources = { pids: { limit: 10 } };
    }),
    {
      during: async (c) => {
        for (let i = 0; i < 10; i++) {
          const st = await c.stats();
          seen = Math.max(seen, st.pids.current);
          assert.equal(st.pids.limit, 10);
          await new Promise((r) => setTimeout(r, 50));
        }
      },
    },
  );
  assert.ok(seen <= 10, `saw ${seen} tasks with pids.max 10`);
  assert.match(r.stderr, /fork|Resource temporarily unavailable/i);
});

test("runtime: a CPU quota shows throttling in the cgroup stats", async () => {
  let throttled = 0;
  await capture(
    fx,
    shSpec(fx, "timeout 1 sh -c 'while :; do :; done'; true", (s) => {
      s.linux!.resources = { cpu: { quota: 10000, period: 100000 } };
    }),
    {
      during: async (c) => {
        await new Promise((r) => setTimeout(r, 800));
        throttled = (await c.stats()).cpu.nrThrottled;
      },
    },
  );
  assert.ok(throttled > 0, `expected throttled periods, got ${throttled}`);
});

test("runtime: the capability mask inside matches the spec (root)", async () => {
  const caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_TIME"];
  const r = await capture(
    fx,
    shSpec(fx, "grep Cap /proc/self/status; grep NoNewPrivs /proc/self/status", (s) => {
      s.process.capabilities = {
        bounding: caps,
        effective: caps.slice(0, 3),
        permitted: caps,
        inheritable: ["CAP_KILL"],
      };
    }),
  );
  const line = (k: string) => BigInt(`0x${r.stdout.match(new RegExp(`${k}:\\s*([0-9a-f]+)`))![1]}`);
  // CAP_CHOWN 0, CAP_KILL 5, CAP_NET_RAW 13, CAP_SYS_TIME 25.
  const all = (1n << 0n) | (1n << 5n) | (1n << 13n) | (1n << 25n);
  assert.equal(line("CapBnd"), all);
  // For uid 0 execve makes permitted = effective = bounding | inheritable
  // (the kernel's legacy root rule; runc containers see the same).
  assert.equal(line("CapPrm"), all);
  assert.equal(line("CapEff"), all);
  assert.equal(line("CapInh"), 1n << 5n);
  assert.equal(line("CapAmb"), 0n);
  assert.match(r.stdout, /NoNewPrivs:\s*1/);
});

test("runtime: the capability mask inside matches the spec (non-root, ambient)", async () => {
  const r = await capture(
    fx,
    shSpec(fx, "grep Cap /proc/self/status", (s) => {
      s.process.user = { uid: 1000, gid: 1000 };
      s.process.capabilities = {
        bounding: ["CAP_NET_RAW", "CAP_KILL"],
        effective: ["CAP_NET_RAW"],
        permitted: ["CAP_NET_RAW"],
        inheritable: ["CAP_NET_RAW"],
        ambient: ["CAP_NET_RAW"],
      };
    }),
  );
  const line = (k: string) => BigInt(`0x${r.stdout.match(new RegExp(`${k}:\\s*([0-9a-f]+)`))![1]}`);
  assert.equal(line("CapBnd"), (1n << 13n) | (1n << 5n));
  for (const k of ["CapPrm", "CapEff", "CapInh", "CapAmb"]) assert.equal(line(k), 1n << 13n, k);
});

test("runtime: the default seccomp profile blocks mount, unshare and reboot with EPERM", async () => {
  const all = ["CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN"];
  const caps = { bounding: all, effective: all, permitted: all };
  const script = "grep Seccomp: /proc/self/status; mount -t tmpfs none /tmp && echo mounted; " +
    "unshare -m true && echo unshared; echo hello | tr a-z A-Z; reboot -f; echo alive";
  const withFilter = await capture(
    fx,
    shSpec(fx, script, (s) => {
      s.process.capabilities = caps;
      s.linux!.seccomp = DEFAULT_SECCOMP_PROFILE;
    }),
  );
  assert.equal(withFilter.stdout, "Seccomp:\t2\nHELLO\nalive\n", withFilter.stderr);
  assert.equal(
    withFilter.stderr.match(/Operation not permitted|permission denied/gi)?.length,
    3,
    withFilter.stderr,
  );
  // The same container without the filter can mount and unshare: the
  // capabilities alone did not block them.
  const without = await capture(
    fx,
    shSpec(
      fx,
      "mount -t tmpfs none /tmp && echo mounted; unshare -m true && echo unshared",
      (s) => {
        s.process.capabilities = caps;
      },
    ),
  );
  assert.equal(without.stdout, "mounted\nunshared\n", without.stderr);
});

test("runtime: spec devices, sysctl, rlimits, oomScoreAdj, env and cwd reach the process", async () => {
  const r = await capture(
    fx,
    shSpec(
      fx,
      "ls -l /dev/mynull | cut -c1-10; echo hi > /dev/mynull && echo wrote; cat /proc/sys/net/ipv4/ip_forward; " +
        "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj; echo $GREETING; pwd; " +
        "test -c /dev/sub/zero && echo sub; readlink /dev/stdout; readlink /dev/ptmx; " +
        "test -c /dev/null && test -c /dev/urandom && test -c /dev/tty && echo defaults",
      (s) => {
        s.linux!.devices = [{
          type: "c",
          path: "/dev/mynull",
          major: 1,
          minor: 3,
          fileMode: 0o600,
        }, { type: "c", path: "/dev/sub/zero", major: 1, minor: 5 }];
        s.linux!.sysctl = { "net.ipv4.ip_forward": "1" };
        s.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: 77, hard: 88 }];
        s.process.oomScoreAdj = 500;
        s.process.env!.push("GREETING=hello");
        s.process.cwd = "/etc";
      },
    ),
  );
  assert.equal(
    r.stdout,
    "crw-------\nwrote\n1\n77\n88\n500\nhello\n/etc\nsub\n/proc/self/fd/1\npts/ptmx\ndefaults\n",
    r.stderr,
  );
});

test("runtime: bind mounts honour their options and tmpfs mounts their data", async () => {
  const host = await Deno.makeTempDir({ prefix: "tsk-bind-" });
  try {
    await Deno.writeTextFile(`${host}/in.txt`, "from host\n");
    await Deno.writeTextFile(`${host}/single`, "one file\n");
    const r = await capture(
      fx,
      shSpec(
        fx,
        "cat /data/in.txt; echo x > /data/new || echo ro-refused; cat /rw/single; echo changed > /rw/single; " +
          "grep ' /scratch ' /proc/self/mountinfo | grep -o 'size=[0-9]*k'",
        (s) => {
          s.mounts!.push(
            {
              destination: "/data",
              type: "bind",
              source: host,
              options: ["rbind", "ro", "nosuid"],
            },
            {
              destination: "/rw/single",
              type: "bind",
              source: `${host}/single`,
              options: ["bind"],
            },
            { destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["size=512k"] },
          );
        },
      ),
    );
    assert.equal(r.stdout, "from host\nro-refused\none file\nsize=512k\n", r.stderr);
    assert.equal(await Deno.readTextFile(`${host}/single`), "changed\n");
    assert.throws(() => Deno.statSync(`${host}/new`));
  } finally {
    await Deno.remove(host, { recursive: true });
  }
});

test("runtime: rro makes a bind and the mounts under it read-only, ro only the bind (as runc)", async () => {
  const host = await Deno.makeTempDir({ prefix: "tsk-rro-" });
  const sys = linuxSyscalls();
  await Deno.mkdir(`${host}/sub`);
  sys.mount("tmpfs", `${host}/sub`, "tmpfs", 0, "size=64k");
  try {
    const r = await capture(
      fx,
      shSpec(
        fx,
        "for d in /rro /ro; do for f in $d/top $d/sub/f; do " +
          "if echo x 2>/dev/null > $f; then echo $f rw; else echo $f ro; fi; done; done",
        (s) => {
          s.mounts!.push(
            { destination: "/rro", type: "bind", source: host, options: ["rbind", "rro"] },
            { destination: "/ro", type: "bind", source: host, options: ["rbind", "ro"] },
          );
        },
      ),
    );
    assert.equal(r.stdout, "/rro/top ro\n/rro/sub/f ro\n/ro/top ro\n/ro/sub/f rw\n", r.stderr);
  } finally {
    sys.umount(`${host}/sub`, 2 /* MNT_DETACH */);
    await Deno.remove(host, { recursive: true });
  }
});

test("runtime: a tmpfs with tmpcopyup starts with a copy of the image's directory", async () => {
  // The tmpfs's root takes the covered directory's mode (as runc); what it
  // holds keeps modes, owners and times.
  const list =
    "stat -c '%n %a' /etc; stat -c '%n %a %u:%g %F %Y' /etc/* | sort; md5sum /etc/passwd /etc/group";
  const image = await capture(fx, shSpec(fx, list));
  assert.equal(image.status.exitCode, 0, image.stderr);
  const r = await capture(
    fx,
    shSpec(
      fx,
      `${list}; grep -c '^tmpfs /etc ' /proc/mounts; echo x > /etc/new && echo rw`,
      (s) => {
        s.mounts!.push({
          destination: "/etc",
          type: "tmpfs",
          source: "tmpfs",
          options: ["nosuid", "nodev", "tmpcopyup", "size=1m"],
        });
      },
    ),
  );
  assert.equal(r.stdout, `${image.stdout}1\nrw\n`, r.stderr);
  // The image's directory is untouched.
  assert.throws(() => Deno.statSync(`${fx.rootfs}/etc/new`));
});

test("runtime: a read-only tmpfs is filled first: tmpcopyup keeps set-user-ID bits and link owners, as runc", async () => {
  const image = await Deno.makeTempDir({ prefix: "tsk-copyup-" });
  try {
    const rootfs = await busyboxRootfs(posix.join(image, "rootfs"));
    await Deno.mkdir(`${rootfs}/opt/sub`, { recursive: true });
    await Deno.copyFile(`${rootfs}/bin/busybox`, `${rootfs}/opt/suid`);
    await Deno.chmod(`${rootfs}/opt/suid`, 0o4755);
    await Deno.symlink("suid", `${rootfs}/opt/link`);
    new Deno.Command("chown", { args: ["-h", "1000:1000", `${rootfs}/opt/link`] }).outputSync();
    await Deno.chmod(`${rootfs}/opt`, 0o750);
    const script = "stat -c '%n %a %u' /opt /opt/suid /opt/sub; stat -c '%n %u' /opt/link; " +
      "touch /opt/x 2>/dev/null || echo read-only; grep -o ' /opt tmpfs ro' /proc/mounts";
    const r = await capture(
      fx,
      shSpec(fx, script, (s) => {
        s.root.path = rootfs;
        s.mounts!.push({
          destination: "/opt",
          type: "tmpfs",
          source: "tmpfs",
          options: ["tmpcopyup", "ro", "nosuid"],
        });
      }),
    );
    assert.equal(
      r.stdout,
      "/opt 750 0\n/opt/suid 4755 0\n/opt/sub 755 0\n/opt/link 1000\nread-only\n /opt tmpfs ro\n",
      r.stderr,
    );
  } finally {
    await Deno.remove(image, { recursive: true });
  }
});

test("runtime: every rootfsPropagation works and none leaks mounts to the host", async () => {
  for (const p of ["rprivate", "rslave", "rshared", "private", "runbindable"]) {
    // Only mounts under this test's directories: other jobs mount on the host too.
    const ours = () =>
      Deno.readTextFileSync("/proc/self/mountinfo").split("\n").filter((l) => l.includes(fx.base));
    const before = ours();
    const r = await capture(
      fx,
      shSpec(fx, "grep -c . /proc/self/mountinfo >/dev/null && echo ok", (s) => {
        s.linux!.rootfsPropagation = p;
      }),
    );
    assert.equal(r.stdout, "ok\n", `${p}: ${r.stderr}`);
    assert.deepEqual(ours(), before, p);
  }
});

test("runtime: a non-root user gets its uid, gid and groups", async () => {
  const r = await capture(
    fx,
    shSpec(fx, "id -u; id -g; id -G", (s) => {
      s.process.user = { uid: 1234, gid: 2345, additionalGids: [3000, 3001] };
    }),
  );
  assert.deepEqual(r.stdout.trim().split("\n"), ["1234", "2345", "2345 3000 3001"]);
});

test("runtime: only fds 0-2 are open in the container's init", async () => {
  // The entrypoint is exec'd by sh: /proc/1/fd is the init's own table.
  const r = await capture(fx, shSpec(fx, "exec ls /proc/self/fd"));
  // ls opens one directory fd (3) to list /proc/self/fd itself.
  assert.deepEqual(r.stdout.trim().split("\n"), ["0", "1", "2", "3"]);
  const c = await createContainer(uid("fds"), {
    root: fx.root,
    bundle: fx.base,
    spec: shSpec(fx, "", (s) => (s.process.args = ["sleep", "5"])),
    stdio: { stdout: "null", stderr: "null" },
  });
  try {
    await c.start();
    await new Promise((r) => setTimeout(r, 100));
    const fds = [...Deno.readDirSync(`/proc/${c.pid}/fd`)].map((e) => e.name).sort();
    assert.deepEqual(fds, ["0", "1", "2"]);
  } finally {
    await c.delete({ force: true });
  }
});

test("runtime: update leaves a 0 limit as it is (Docker's shape) and checks the limits as they will stand", async () => {
  const c = await createContainer(uid("upd"), {
    root: fx.root,
    bundle: fx.base,
    spec: shSpec(fx, "", (s) => {
      s.process.args = ["sleep", "10"];
      s.linux!.resources = { ...s.linux!.resources, memory: { limit: 64 << 20 } };
    }),
    stdio: { stdout: "null", stderr: "null" },
  });
  try {
    await c.start();
    // docker update --memory-swap 128m --pids-limit 30, as containerd passes it on.
    // (kernel: a field tsk does not type; Docker sends it all the same.)
    await c.update(JSON.parse(JSON.stringify({
      memory: { limit: 0, reservation: 0, swap: 128 << 20, kernel: 0 },
      cpu: { shares: 0, quota: 0, period: 0 },
      pids: { limit: 30 },
      blockIO: { weight: 0 },
    })));
    const st = await c.stats();
    assert.equal(st.memory.limit, 64 << 20);
    assert.equal(st.pids.limit, 30);
    const stored = (await loadContainer(c.id, { root: fx.root })).spec.linux!.resources!;
    assert.deepEqual(stored.memory, { limit: 64 << 20, swap: 128 << 20 });
    // A swap limit below the memory limit it stands with is named.
    await assert.rejects(
      () => c.update({ memory: { swap: 32 << 20 } }),
      (e) => e instanceof ConfigError && e.field === "resources.memory.swap",
    );
    assert.equal((await c.stats()).memory.limit, 64 << 20);
    // moby sends pids 0 for "not asked" (-1 lifts the limit).
    await c.update({ pids: { limit: 0 } });
    assert.equal((await c.stats()).pids.limit, 30);
  } finally {
    await c.delete({ force: true });
  }
});

test("runtime: hugepage limits go to the hugetlb controller, or are refused naming the field where there is none", async () => {
  const spec = shSpec(fx, "cat /proc/self/cgroup >/dev/null", (s) => {
    s.linux!.resources = { ...s.linux!.resources, hugepageLimits: [{ pageSize: "2MB", limit: 0 }] };
  });
  const v1 = (() => {
    try {
      return Deno.statSync("/sys/fs/cgroup/hugetlb/cgroup.procs").isFile;
    } catch {
      return false;
    }
  })();
  const v2 = (() => {
    try {
      return Deno.readTextFileSync("/sys/fs/cgroup/cgroup.controllers").split(/\s+/).includes(
        "hugetlb",
      );
    } catch {
      return false;
    }
  })();
  if (!v1 && !v2) {
    // This host (hybrid: no v1 hugetlb hierarchy) cannot enforce them.
    await assert.rejects(
      () => capture(fx, spec),
      /linux\.resources\.hugepageLimits: the hugetlb controller is not mounted/,
    );
    return;
  }
  const c = await createContainer(uid("huge"), {
    root: fx.root,
    bundle: fx.base,
    spec: shSpec(fx, "", (s) => {
      s.process.args = ["sleep", "5"];
      s.linux!.resources = spec.linux!.resources;
    }),
    stdio: { stdout: "null", stderr: "null" },
  });
  try {
    // The default cgroupsPath: /tsk-runtime/<id>.
    const file = v1
      ? `/sys/fs/cgroup/hugetlb/tsk-runtime/${c.id}/hugetlb.2MB.limit_in_bytes`
      : `/sys/fs/cgroup/tsk-runtime/${c.id}/hugetlb.2MB.max`;
    assert.equal(Deno.readTextFileSync(file).trim(), "0");
  } finally {
    await c.delete({ force: true });
  }
});

test("runtime: a cwd outside the root filesystem is refused", async () => {
  await assert.rejects(
    createContainer(uid("cwd"), {
      root: fx.root,
      bundle: fx.base,
      spec: shSpec(fx, "pwd", (s) => (s.process.cwd = "/../../../etc")),
    }),
    (e: Error) => e instanceof ConfigError && e.message.startsWith("process.cwd:"),
  );
  await assert.rejects(
    createContainer(uid("cwd"), {
      root: fx.root,
      bundle: fx.base,
      spec: shSpec(fx, "pwd", (s) => (s.process.cwd = "relative/dir")),
    }),
    /process\.cwd: expected an absolute path/,
  );
  // A symlink pointing out of the rootfs resolves inside it after pivot_root.
  const r = await capture(
    fx,
    shSpec(fx, "pwd; ls", (s) => (s.process.cwd = "/proc/self/root/etc")),
  );
  assert.match(r.stdout, /passwd/);
  assert.deepEqual(await listContainers({ root: fx.root }), []);
});

test("runtime: a read-only root is read-only", async () => {
  const r = await capture(
    fx,
    shSpec(fx, "touch /x || echo refused; touch /tmp/x || echo tmp-refused"),
  );
  assert.match(r.stderr, /Read-only file system/);
  assert.equal(r.stdout, "refused\ntmp-refused\n");
});

test("runtime: masked paths are unreadable and read-only paths are read-only", async () => {
  const r = await capture(
    fx,
    shSpec(
      fx,
      "wc -c < /etc/passwd; wc -c < /proc/timer_list; ls /sys/firmware | wc -l; " +
        "echo 1 > /proc/sys/kernel/domainname || echo ro; echo x > /sys/firmware/x || echo ro2",
      (s) => {
        // Paths that do not exist (one below a file) are skipped, as by runc.
        s.linux!.maskedPaths!.push("/etc/passwd", "/bin/sh/below-a-file", "/nonexistent");
        s.linux!.readonlyPaths!.push("/nonexistent-ro", "/bin/sh/below-a-file");
      },
    ),
  );
  assert.deepEqual(r.stdout.trim().split("\n"), ["0", "0", "0", "ro", "ro2"], r.stderr);
  assert.ok(Deno.statSync(posix.join(fx.rootfs, "etc/passwd")).size > 0);
});

test("runtime: exec joins a running container's namespaces and cgroup", async () => {
  const c = await createContainer(uid("exec"), {
    root: fx.root,
    bundle: fx.base,
    spec: shSpec(fx, "sleep 10", (s) => (s.hostname = "exec-host")),
    stdio: { stdout: "null" },
  });
  try {
    await c.start();
    const p = await c.exec(
      { ...c.spec.process, args: ["sh", "-c", "hostname; echo $$; cat /proc/1/cmdline; exit 7"] },
      { stdio: { stdout: "pipe" } },
    );
    const out = await new Response(p.stdout).text();
    const st = await p.wait();
    assert.equal(st.exitCode, 7);
    const [host, pid, cmd] = out.split("\n");
    assert.equal(host, "exec-host");
    assert.ok(Number(pid) > 1);
    // busybox sh execs its last command itself.
    assert.equal(cmd.replaceAll("\0", " ").trim(), "sleep 10");
    assert.ok((await c.pids()).includes(c.pid));
  } finally {
    await c.delete({ force: true });
  }
});

test("runtime: exit codes and signals are reported; state follows the lifecycle", async () => {
  assert.equal((await capture(fx, shSpec(fx, "exit 3"))).status.exitCode, 3);
  const c = await createContainer(uid("life"), {
    root: fx.root,
    bundle: fx.base,
    spec: shSpec(fx, "sleep 30"),
  });
  try {
    assert.equal(c.state().status, "created");
    const loaded = await loadContainer(c.id, { root: fx.root });
    assert.equal(loaded.state().pid, c.pid);
    await c.start();
    assert.equal(c.state().status, "running");
    await c.pause();
    assert.equal(c.state().status, "paused");
    assert.equal((await loadContainer(c.id, { root: fx.root })).state().status, "paused");
    const state = Deno.readTextFileSync(`/proc/${c.pid}/status`).match(/State:\s+(\S)/)![1];
    assert.ok(state === "D" || state === "S", `a frozen task sleeps, got ${state}`);
    await c.resume();
    assert.equal(c.state().status, "running");
    await assert.rejects(c.delete(), /cannot delete: the container is running/);
    c.kill("SIGKILL");
    const st = await c.wait();
    assert.deepEqual(st, { exitCode: null, signal: 9, oomKilled: false });
    assert.equal(c.state().status, "stopped");
  } finally {
    await c.delete({ force: true });
  }
  await assert.rejects(loadContainer(c.id, { root: fx.root }), ContainerNotFoundError);
});

/** Fails (instead of hanging) when `p` does not settle within `ms`. */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** argv[0] of `pid` once its cmdline is readable (non-empty). */
async function entrypointArgv0(pid: number): Promise<string> {
  for (;;) {
    const argv0 = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0")[0];
    if (argv0 !== "") return argv0;
    await new Promise((r) => setTimeout(r, 1));
  }
}

test("runtime: pause right after start() never leaves the container frozen", async () => {
  // start() returns once the entrypoint has replaced the init; a freeze
  // before that held the init's dying threads and the group stayed FREEZING.
  for (let i = 0; i < 20; i++) {
    const c = await createContainer(uid("pause"), {
      root: fx.root,
      bundle: fx.base,
      spec: shSpec(fx, "sleep 30"),
    });
    try {
      await within(10_000, `round ${i}: start`, c.start());
      // The entrypoint (sh, which then execs sleep), no longer the Deno init.
      // start() returns once the execve is past its point of no return; the
      // new program's arguments are laid out a moment later, and until then
      // /proc/PID/cmdline reads empty, so wait for it to be filled in.
      const argv0 = await within(10_000, `round ${i}: cmdline`, entrypointArgv0(c.pid!));
      assert.ok(argv0 === "sh" || argv0 === "sleep", `init still runs ${argv0}`);
      await within(10_000, `round ${i}: pause`, c.pause());
      await within(10_000, `round ${i}: resume`, c.resume());
      c.kill("SIGKILL");
      const st = await within(10_000, `round ${i}: wait after SIGKILL`, c.wait());
      assert.equal(st.signal, 9);
    } finally {
      await within(20_000, `round ${i}: delete`, c.delete({ force: true }));
    }
  }
});

test("runtime: a freeze while the init is in execve settles or thaws again", async () => {
  // Bypasses start() on purpose: writes the start byte itself and pauses at
  // once, inside the window start() now waits out. The freezer must retry
  // (thaw, freeze again) rather than stay FREEZING with the init unkillable.
  for (let i = 0; i < 5; i++) {
    const c = await createContainer(uid("freeze"), {
      root: fx.root,
      bundle: fx.base,
      spec: shSpec(fx, "sleep 30"),
    });
    try {
      const fifo = posix.join(fx.root, c.id, "exec.fifo");
      const f = Deno.openSync(fifo, { write: true });
      f.writeSync(new Uint8Array([0]));
      f.close();
      Deno.removeSync(fifo);
      await within(10_000, `round ${i}: pause`, c.pause());
      await within(10_000, `round ${i}: resume`, c.resume());
      c.kill("SIGKILL");
      await within(10_000, `round ${i}: wait after SIGKILL`, c.wait());
    } finally {
      await within(20_000, `round ${i}: delete`, c.delete({ force: true }));
    }
  }
});

test("runtime: a malformed config names the field and leaves no state", async () => {
  const bundle = await Deno.makeTempDir({ prefix: "tsk-bad-bundle-" });
  try {
    const spec = shSpec(fx, "true") as unknown as Record<string, unknown>;
    (spec.process as Record<string, unknown>).args = [];
    await Deno.writeTextFile(posix.join(bundle, "config.json"), JSON.stringify(spec));
    await assert.rejects(
      createContainer(uid("bad"), { root: fx.root, bundle }),
      /^ConfigError: process\.args: expected a non-empty array of strings$/m,
    );
    await Deno.writeTextFile(posix.join(bundle, "config.json"), "{ not json");
    await assert.rejects(
      createContainer(uid("bad"), { root: fx.root, bundle }),
      /config\.json: not valid JSON/,
    );
    assert.deepEqual(await listContainers({ root: fx.root }), []);
    assert.deepEqual(cgroupDirsNamed("tsk-runtime").filter((d) => d.includes("bad-")), []);
  } finally {
    await Deno.remove(bundle, { recursive: true });
  }
});

test("runtime: a failing system call during create leaves no state, cgroup or fifo", async () => {
  for (const fail of ["spawn", "mkfifo", "pipe"]) {
    const sys = recordingSyscalls({ fail: { [fail]: 12 } });
    const id = uid(`fail-${fail}`);
    await assert.rejects(
      createContainer(id, { root: fx.root, bundle: fx.base, spec: shSpec(fx, "true"), sys }),
      new RegExp(`^SyscallError: ${fail === "spawn" ? "spawn" : fail}`),
    );
    assert.ok(sys.calls.some((c) => c.name === fail));
    assert.deepEqual(await listContainers({ root: fx.root }), []);
    assert.deepEqual(cgroupDirsNamed("tsk-runtime").filter((d) => d.endsWith(id)), []);
  }
  // An id that exists is refused without touching the existing container.
  const c = await createContainer(uid("dup"), {
    root: fx.root,
    bundle: fx.base,
    spec: shSpec(fx, "true"),
  });
  try {
    await assert.rejects(
      createContainer(c.id, { root: fx.root, bundle: fx.base, spec: shSpec(fx, "true") }),
      /already exists/,
    );
    assert.equal(c.state().status, "created");
  } finally {
    await c.delete();
  }
});

test("runtime: createContainer({ start: true }) returns a running container whose entrypoint has run", async () => {
  const marker = posix.join(fx.base, `started-${crypto.randomUUID().slice(0, 8)}`);
  const spec = shSpec(fx, "", (s) => {
    s.mounts!.push({ destination: "/out", type: "bind", source: fx.base, options: ["rbind"] });
    s.process.args = ["sh", "-c", `touch /out/${posix.basename(marker)}; read x; exit 0`];
  });
  const c = await createContainer(uid("start"), {
    root: fx.root,
    bundle: fx.base,
    spec,
    stdio: { stdin: "pipe", stdout: "null", stderr: "null" },
    start: true,
  });
  try {
    // Returned after the execve: the container runs and no start is pending.
    assert.equal(c.state().status, "running");
    await assert.rejects(() => c.start(), /cannot start: status is running/);
    const deadline = Date.now() + 10_000;
    while (!(await Deno.stat(marker).then(() => true, () => false))) {
      if (Date.now() > deadline) throw new Error("the entrypoint did not run");
      await new Promise((r) => setTimeout(r, 20));
    }
    await c.stdin!.close();
    assert.equal((await c.wait()).exitCode, 0);
  } finally {
    await c.delete({ force: true });
    await Deno.remove(marker).catch(() => {});
  }
});

test("runtime: containers from a pool of pre-started inits behave the same", async () => {
  const pool = new InitPool({ size: 2 });
  try {
    for (let i = 0; i < 3; i++) {
      const r = await capture(fx, shSpec(fx, "echo $$ $(hostname); ls /proc/self/fd; exit 4"), {
        pool,
      });
      assert.equal(r.stdout, "1 tsk\n0\n1\n2\n3\n");
      assert.equal(r.status.exitCode, 4);
      await pool.ready();
    }
    // Pooled inits create network, UTS and IPC namespaces ahead of time; a
    // spec without one of them must still end up in the host's.
    const kinds = { network: "net", uts: "uts", ipc: "ipc" } as const;
    for (const [type, file] of Object.entries(kinds)) {
      const hostNs = Deno.readLinkSync(`/proc/self/ns/${file}`);
      const host = await capture(
        fx,
        shSpec(fx, `readlink /proc/self/ns/${file}`, (s) => {
          s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== type);
          if (type === "uts") delete s.hostname;
        }),
        { pool },
      );
      assert.equal(host.stdout.trim(), hostNs, `${type}: ${host.stderr}`);
      const own = await capture(fx, shSpec(fx, `readlink /proc/self/ns/${file}`), { pool });
      assert.notEqual(own.stdout.trim(), hostNs, type);
      await pool.ready();
    }
    // The device rules the adopted pool cgroup carries are enforced: a
    // node for /dev/mem can be made but not read; /dev/null works.
    const dev = await capture(
      fx,
      shSpec(
        fx,
        "mknod /dev/m c 1 1 && echo made; head -c 1 /dev/m || echo denied; echo ok > /dev/null && echo null",
        (s) => {
          const caps = ["CAP_MKNOD", "CAP_DAC_OVERRIDE"];
          s.process.capabilities = { bounding: caps, effective: caps, permitted: caps };
        },
      ),
      { pool },
    );
    assert.equal(dev.stdout, "made\ndenied\nnull\n", dev.stderr);
    assert.match(dev.stderr, /Operation not permitted/);
  } finally {
    await pool.close();
  }
  const children = Deno.readTextFileSync(`/proc/${Deno.pid}/task/${Deno.pid}/children`).trim();
  assert.equal(children, "", "closing the pool reaps its idle inits");
});

test("runtime: a pooled init builds its rootfs while its cgroup is adopted, and runs under its limits", async () => {
  const pool = new InitPool({ size: 1 });
  // The container reads its own limits through its cgroup mount (v1 or v2).
  // With its cgroup namespace (the default spec's), made once its cgroup is
  // settled: every hierarchy's path is its root, adopted or moved.
  const script = "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; " +
    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; " +
    "grep -v ':/$' /proc/self/cgroup | grep -v '^0::' || echo all-roots";
  const limited = (edit?: (s: Spec) => void) =>
    shSpec(fx, script, (s) => {
      s.linux!.resources = { memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 42 } };
      edit?.(s);
    });
  const stale = `stale-${uid("cg")}`;
  const pidsRoot = Deno.statSync("/sys/fs/cgroup/pids").isDirectory
    ? "/sys/fs/cgroup/pids"
    : "/sys/fs/cgroup";
  try {
    // Adopted: the configuration went ahead of the cgroup's rename.
    for (let i = 0; i < 2; i++) {
      await pool.ready();
      const r = await capture(fx, limited(), { pool });
      assert.equal(r.stdout, "42\n67108864\nall-roots\n", r.stderr);
    }
    // A cgroup of the container's name already there (left by a crash):
    // adoption cannot work, so the pooled init waits to be moved first.
    Deno.mkdirSync(posix.join(pidsRoot, "tsk-runtime", stale), { recursive: true });
    await pool.ready();
    const r = await capture(
      fx,
      limited((s) => (s.linux!.cgroupsPath = `/tsk-runtime/${stale}`)),
      { pool },
    );
    assert.equal(r.stdout, "42\n67108864\nall-roots\n", r.stderr);
    assert.deepEqual(cgroupDirsNamed("tsk-runtime").filter((d) => d.endsWith(stale)), []);
  } finally {
    await pool.close();
    try {
      Deno.removeSync(posix.join(pidsRoot, "tsk-runtime", stale));
    } catch { /* deleted with the container */ }
  }
});

test("runtime: a pooled init moved to another cgroup makes its cgroup namespace there", async () => {
  // Configured before its cgroup is settled, an init whose pool cgroup
  // cannot be adopted (one of the container's name is there) is moved: its
  // cgroup namespace must be rooted at the container's cgroup, not the pool's.
  const pool = new InitPool({ size: 1 });
  const pidsRoot = Deno.statSync("/sys/fs/cgroup/pids").isDirectory
    ? "/sys/fs/cgroup/pids"
    : "/sys/fs/cgroup";
  const made: string[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const stale = `moved-${uid("cg")}`;
      made.push(posix.join(pidsRoot, "tsk-runtime", stale));
      Deno.mkdirSync(made[made.length - 1], { recursive: true });
      await pool.ready();
      const r = await capture(
        fx,
        shSpec(
          fx,
          "cat /proc/self/cgroup",
          (s) => (s.linux!.cgroupsPath = `/tsk-runtime/${stale}`),
        ),
        { pool },
      );
      assert.equal(r.status.exitCode, 0, r.stderr);
      const notRoot = r.stdout.trim().split("\n").filter((l) => !l.startsWith("0::"))
        .filter((l) => !l.endsWith(":/"));
      assert.deepEqual(notRoot, [], r.stdout);
    }
  } finally {
    await pool.close();
    for (const d of made) {
      try {
        Deno.removeSync(d);
      } catch { /* deleted with its container */ }
    }
  }
});

test("runtime: a pooled init configured early that fails reports its own error, and leaves nothing", async () => {
  const pool = new InitPool({ size: 1 });
  try {
    for (let i = 0; i < 3; i++) {
      await pool.ready();
      const id = uid("early-fail");
      // The init fails at once (before it reads its cgroup mounts): joining
      // a namespace that does not exist. Whether the supervisor's cgroups
      // message then meets a closed socket is a race this cannot force; the
      // error must be the init's either way.
      const spec = shSpec(fx, "true", (s) => {
        s.linux!.namespaces = s.linux!.namespaces!.map((n) =>
          n.type === "uts" ? { type: "uts", path: "/proc/self/ns/no-such-namespace" } : n
        );
      });
      const err = await createContainer(id, { root: fx.root, bundle: fx.base, spec, pool }).then(
        () => null,
        (e) => e as Error,
      );
      assert.ok(err !== null, "the create fails");
      assert.match(err.message, /no-such-namespace/);
      assert.doesNotMatch(err.message, /EPIPE/);
      assert.deepEqual((await listContainers({ root: fx.root })).map((c) => c.id), []);
      assert.deepEqual(cgroupDirsNamed("tsk-runtime").filter((d) => d.endsWith(id)), []);
    }
  } finally {
    await pool.close();
  }
});

test("runtime: namespaces can be joined by path", async () => {
  const a = await createContainer(uid("ns-a"), {
    root: fx.root,
    bundle: fx.base,
    spec: shSpec(fx, "sleep 10", (s) => (s.hostname = "shared")),
    stdio: { stdout: "null" },
  });
  try {
    await a.start();
    const r = await capture(
      fx,
      shSpec(fx, "hostname; readlink /proc/self/ns/net; ps -o comm= | sort | tr '\\n' ' '", (s) => {
        delete s.hostname;
        s.linux!.namespaces = s.linux!.namespaces!.map((n) =>
          ["uts", "network", "pid"].includes(n.type)
            ? { ...n, path: `/proc/${a.pid}/ns/${n.type === "network" ? "net" : n.type}` }
            : n
        );
        s.mounts = s.mounts!.filter((m) => m.type !== "cgroup");
      }),
    );
    assert.equal(r.stdout.split("\n")[0], "shared", r.stderr);
    assert.equal(r.stdout.split("\n")[1], Deno.readLinkSync(`/proc/${a.pid}/ns/net`));
    assert.match(
      r.stdout.split("\n")[2],
      /sleep/,
      "the joined PID namespace shows the other container's init",
    );
  } finally {
    await a.delete({ force: true });
  }
});

test("runtime: a pooled init binds, while idle, every libc symbol a container's set-up calls", async () => {
  // Each symbol bound once the configuration has arrived would cost the
  // container's start about 0.3 ms; the init reports any such to this file.
  const log = await Deno.makeTempFile({ prefix: "tsk-late-bind-" });
  Deno.env.set("TSK_RUNTIME_LATE_BIND_LOG", log);
  const pool = new InitPool({ size: 1 });
  try {
    assert.ok(await pool.ready());
    // Much of what a set-up can do: devices, sysctl, rlimits, a non-root
    // user with groups and capabilities, the default seccomp profile, a
    // read-only root, masked and read-only paths, hostname and domain name.
    const r = await capture(
      fx,
      shSpec(fx, "id -u; hostname", (s) => {
        s.linux!.devices = [{ type: "c", path: "/dev/sub/zero", major: 1, minor: 5 }];
        s.linux!.sysctl = { "net.ipv4.ip_forward": "1" };
        s.process.rlimits = [{ type: "RLIMIT_NOFILE", soft: 77, hard: 88 }];
        s.process.user = { uid: 1000, gid: 1000, additionalGids: [10] };
        s.process.capabilities = { bounding: ["CAP_KILL"], permitted: ["CAP_KILL"] };
        s.linux!.seccomp = DEFAULT_SECCOMP_PROFILE;
        s.root.readonly = true;
        s.hostname = "late";
        s.domainname = "bind";
      }),
      { pool },
    );
    assert.equal(r.stdout, "1000\nlate\n", r.stderr);
    assert.equal(Deno.readTextFileSync(log), "");
  } finally {
    Deno.env.delete("TSK_RUNTIME_LATE_BIND_LOG");
    await pool.close();
    await Deno.remove(log);
  }
});

test("runtime: a pooled init holds few of its binary's pages while idle", async () => {
  // Unmapped while idle (runtime/_memory.ts), they are not unmapped in the
  // container's execve. Without that an idle init holds about 28 MB of file
  // pages here; with it 14-15 MB (its warm-up and wait fault some back in).
  const pool = new InitPool({ size: 1, cgroupParent: null });
  try {
    assert.ok(await pool.ready());
    // Its parent thread is the one that spawned it (PID namespaces are per thread).
    const pid = [...Deno.readDirSync(`/proc/${Deno.pid}/task`)]
      .flatMap((t) =>
        Deno.readTextFileSync(`/proc/${Deno.pid}/task/${t.name}/children`).trim().split(" ")
      )
      .filter(Boolean).map(Number)[0];
    assert.ok(pid !== undefined, "the pool's init is a child of this process");
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kB = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]);
    assert.ok(
      kB("RssFile") < 20 * 1024,
      `idle init ${pid}: ${kB("RssFile")} kB of file pages resident (${
        kB("RssAnon")
      } kB anonymous)`,
    );
    // And it still builds a container.
    const r = await capture(fx, shSpec(fx, "echo $$"), { pool });
    assert.equal(r.stdout, "1\n", r.stderr);
  } finally {
    await pool.close();
  }
});

test("runtime: containers created concurrently in one process do not mix", async () => {
  const pool = new InitPool({ size: 2 });
  try {
    const results = await Promise.all(
      Array.from(
        { length: 6 },
        (_, i) =>
          capture(fx, shSpec(fx, `echo ${i} $(hostname)`, (s) => (s.hostname = `h${i}`)), {
            pool: i % 2 ? pool : undefined,
          }),
      ),
    );
    results.forEach((r, i) => {
      assert.equal(r.stdout, `${i} h${i}\n`);
      assert.equal(r.status.exitCode, 0);
    });
  } finally {
    await pool.close();
  }
  assert.deepEqual(await listContainers({ root: fx.root }), []);
});

test("runtime: 100 create/delete cycles leave no cgroups, mounts, processes or state", async () => {
  const spec = shSpec(fx, "true");
  await runContainer(uid("warm"), { root: fx.root, bundle: fx.base, spec });
  const ours = () =>
    Deno.readTextFileSync("/proc/self/mountinfo").split("\n").filter((l) =>
      l.includes(fx.base) || l.includes("tsk-runtime")
    );
  const mountsBefore = ours();
  // A name of this run's own, so a run of this test elsewhere on the host cannot mask or fake a leak.
  const prefix = `cycle${crypto.randomUUID().slice(0, 8)}`;
  for (let i = 0; i < 100; i++) {
    const c = await createContainer(uid(prefix), { root: fx.root, bundle: fx.base, spec });
    if (i % 2 === 0) {
      await c.delete({ force: true });
    } else {
      await c.start();
      await c.wait();
      await c.delete();
    }
  }
  assert.deepEqual(ours(), mountsBefore);
  assert.deepEqual(cgroupDirsNamed("tsk-runtime").filter((d) => d.includes(`/${prefix}-`)), []);
  assert.deepEqual([...Deno.readDirSync(fx.root)], []);
  const children = Deno.readTextFileSync(`/proc/${Deno.pid}/task/${Deno.pid}/children`).trim();
  assert.equal(children, "");
});

test("runtime: delete with keepStateDir removes the cgroup and leaves the state directory to the caller", async () => {
  const id = uid("keep");
  const c = await createContainer(id, { root: fx.root, bundle: fx.base, spec: shSpec(fx, "true") });
  await c.start();
  await c.wait();
  await c.delete({ keepStateDir: true });
  assert.deepEqual(cgroupDirsNamed("tsk-runtime").filter((d) => d.endsWith(`/${id}`)), []);
  assert.ok(Deno.statSync(posix.join(fx.root, id, "state.json")).isFile);
  Deno.removeSync(posix.join(fx.root, id), { recursive: true });
  assert.deepEqual(await listContainers({ root: fx.root }), []);
});

test("runtime: the state is written before the init is ready (a prestart hook sees it)", async () => {
  // With `run` nothing waits between the init's ready and its execve: the
  // container must never run without its state.
  const id = uid("state-first");
  const out = posix.join(fx.base, `${id}.seen`);
  const spec = shSpec(fx, "true", (s) => {
    s.hooks = {
      prestart: [{
        path: "/bin/sh",
        args: ["sh", "-c", `test -f ${posix.join(fx.root, id, "state.json")} && echo yes >${out}`],
      }],
    };
  });
  const st = await runContainer(id, { root: fx.root, bundle: fx.base, spec });
  assert.equal(st.exitCode, 0);
  assert.equal(Deno.readTextFileSync(out), "yes\n");
  Deno.removeSync(out);
});

test("runtime: runContainer deletes the container even when it fails", async () => {
  const st = await runContainer(uid("once"), {
    root: fx.root,
    bundle: fx.base,
    spec: shSpec(fx, "exit 5"),
    stdio: { stdout: "null" },
  });
  assert.equal(st.exitCode, 5);
  assert.deepEqual(await listContainers({ root: fx.root }), []);
});

test("runtime: the init runs from a read-only copy of the runtime binary (CVE-2019-5736)", async () => {
  const { linuxSyscalls } = await import("@tsk/runtime");
  const sys = linuxSyscalls();
  const c = await createContainer(uid("exe"), {
    root: fx.root,
    bundle: fx.base,
    spec: shSpec(fx, "true"),
  });
  let exe = "";
  try {
    // Before start the init is still the Deno binary: its exe must be unwritable,
    // and the process must be non-dumpable (nothing can open /proc/<pid>/exe).
    exe = Deno.readLinkSync(`/proc/${c.pid}/exe`);
    assert.ok(exe.startsWith("/run/tsk-runtime-exe/"), exe);
    assert.equal(sys.mountFlags(exe) & 1, 1, "the init's executable must be on a read-only mount");
  } finally {
    await c.delete({ force: true });
  }
  // This test process runs the same Deno inode, so the kernel answers
  // ETXTBSY before it checks the mount; once no Deno runs, EROFS remains.
  assert.throws(
    () => Deno.openSync(exe, { write: true }),
    /Read-only file system|os error 30|Text file busy|os error 26/,
  );
  // From inside: no process can write through any /proc/*/exe.
  const r = await capture(
    fx,
    shSpec(
      fx,
      "for p in /proc/[0-9]*; do echo x >> $p/exe 2>/dev/null && echo WROTE $p; done; echo checked",
      (s) => {
        s.root.readonly = false;
      },
    ),
  );
  assert.equal(r.stdout.trim(), "checked");
});

if (!ignore) {
  globalThis.addEventListener("unload", () => {
    Deno.removeSync(fx.base, { recursive: true });
  });
}
