/**
 * End-to-end tests of the `tsk-runtime` command line, and a comparison with
 * runc on the same bundle. Real containers, as root.
 *
 * @module
 */
import assert from "node:assert/strict";
import { posix } from "node:path";
import { defaultSpec, HOOK_NAMES, type Spec } from "@tsk/runtime";
import { busyboxRootfs, requireRoot } from "@tsk/runtime/testing";
import {
  type CommandResult,
  containerTest,
  runtimeArgv,
  runToFiles,
  stopSupervisor,
  uid,
} from "./_runtime_helpers.ts";

const ignore = !requireRoot();

function cmd(program: string, args: string[]): Promise<CommandResult> {
  return runToFiles([program, ...args]);
}

function tsk(root: string, ...args: string[]): Promise<CommandResult> {
  return runToFiles([...runtimeArgv(root), ...args]);
}

async function bundle(
  base: string,
  name: string,
  rootfs: string,
  edit: (s: Spec) => void,
): Promise<string> {
  const dir = posix.join(base, name);
  await Deno.mkdir(dir, { recursive: true });
  const spec = defaultSpec();
  spec.root.path = rootfs;
  edit(spec);
  await Deno.writeTextFile(posix.join(dir, "config.json"), JSON.stringify(spec, null, 2));
  return dir;
}

/** `run [flags] --bundle b` under runc, then under tsk-runtime, each with an id of its own. */
async function underBoth(base: string, b: string, flags: string[] = []) {
  const runc = await cmd("runc", [
    "--root",
    posix.join(base, "runc"),
    "run",
    ...flags,
    "--bundle",
    b,
    uid("cmp"),
  ]);
  const ours = await tsk(posix.join(base, "state"), "run", ...flags, "--bundle", b, uid("cmp"));
  return { ours, runc };
}

function test(name: string, fn: (base: string, rootfs: string) => Promise<void>): void {
  containerTest(name, async () => {
    const base = await Deno.makeTempDir({ prefix: "tsk-cli-test-" });
    try {
      await fn(base, await busyboxRootfs(posix.join(base, "rootfs")));
    } finally {
      // run and create start the root's supervisor: stop it.
      await stopSupervisor(posix.join(base, "state"));
      await Deno.remove(base, { recursive: true });
    }
  }, { ignore });
}

test("tsk-runtime: run exits with the container's status", async (base, rootfs) => {
  const b = await bundle(
    base,
    "b",
    rootfs,
    (s) => (s.process.args = ["sh", "-c", "echo out; exit 42"]),
  );
  // Through the supervisor, and on the direct path.
  for (const mode of [[], ["--no-supervisor"]]) {
    const r = await tsk(posix.join(base, "state"), ...mode, "run", "--bundle", b, uid("run"));
    assert.equal(r.code, 42, r.stderr);
    assert.equal(r.stdout, "out\n");
  }
  // Nothing but the supervisor's own directory.
  assert.deepEqual([...Deno.readDirSync(posix.join(base, "state"))].map((e) => e.name), [
    ".supervisor",
  ]);
});

test("tsk-runtime: create, start, state, kill and delete follow runc", async (base, rootfs) => {
  const root = posix.join(base, "state");
  const b = await bundle(base, "b", rootfs, (s) => {
    s.process.args = ["sleep", "30"];
    s.annotations = { "org.example": "yes" };
  });
  const id = uid("life");
  const pidFile = posix.join(base, "pid");
  let r = await tsk(root, "create", "--bundle", b, "--pid-file", pidFile, id);
  assert.equal(r.code, 0, r.stderr);
  try {
    const state = JSON.parse((await tsk(root, "state", id)).stdout);
    assert.equal(state.status, "created");
    assert.equal(state.id, id);
    assert.equal(state.bundle, b);
    assert.deepEqual(state.annotations, { "org.example": "yes" });
    // runc's extra fields, which containerd reads.
    assert.equal(state.rootfs, rootfs);
    assert.equal(state.owner, "");
    assert.equal(String(state.pid), await Deno.readTextFile(pidFile));
    assert.equal((await tsk(root, "start", id)).code, 0);
    assert.equal(JSON.parse((await tsk(root, "state", id)).stdout).status, "running");
    r = await tsk(root, "list", "--format", "json");
    assert.deepEqual(
      JSON.parse(r.stdout).map((s: { id: string; owner: string }) => [s.id, s.owner]),
      [[id, "root"]],
    );
    r = await tsk(root, "list");
    assert.match(r.stdout, /^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER\n/);
    assert.match(r.stdout, new RegExp(`^${id}\\s+\\d+\\s+running\\s.*\\sroot$`, "m"));
    r = await tsk(root, "ps", "--format", "json", id);
    assert.deepEqual(JSON.parse(r.stdout), [state.pid]);
    r = await tsk(root, "events", "--stats", id);
    assert.equal(JSON.parse(r.stdout).data.pids.current, 1);
    assert.ok(JSON.parse(r.stdout).data.cpu.usage.total > 0);
    r = await tsk(root, "update", "--memory", String(64 << 20), "--pids-limit", "20", id);
    assert.equal(r.code, 0, r.stderr);
    r = await tsk(root, "events", "--stats", id);
    assert.equal(JSON.parse(r.stdout).data.memory.usage.limit, 64 << 20);
    assert.equal(JSON.parse(r.stdout).data.pids.limit, 20);
    r = await tsk(root, "update", "--pids-limit", "x", id);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--pids-limit: expected an integer, got x/);
    r = await tsk(root, "exec", id, "hostname");
    assert.equal(r.stdout, "tsk\n");
    r = await tsk(root, "delete", id);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot delete: the container is running/);
    assert.equal((await tsk(root, "kill", id, "KILL")).code, 0);
    for (let i = 0; i < 50; i++) {
      if (JSON.parse((await tsk(root, "state", id)).stdout).status === "stopped") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(JSON.parse((await tsk(root, "state", id)).stdout).status, "stopped");
  } finally {
    r = await tsk(root, "delete", "--force", id);
    assert.equal(r.code, 0, r.stderr);
  }
  r = await tsk(root, "state", id);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /does not exist/);
});

test(
  "tsk-runtime: a malformed config.json names the field and leaves no state",
  async (base, rootfs) => {
    const root = posix.join(base, "state");
    const b = await bundle(base, "b", rootfs, (s) => {
      (s.linux as Record<string, unknown>).intelRdt = { closID: "x" };
    });
    // Through the supervisor (`run`): validation happens before anything
    // of the container is written.
    const r = await tsk(root, "run", "--bundle", b, uid("bad"));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /linux\.intelRdt: not supported by tsk-runtime/);
    const left = [...Deno.readDirSync(root)].map((e) => e.name).filter((n) => n !== ".supervisor");
    assert.deepEqual(left, []);
    // `create` (always in the calling process) does not even create the root.
    const direct = posix.join(base, "direct");
    const d = await tsk(direct, "create", "--bundle", b, uid("bad"));
    assert.equal(d.code, 1);
    assert.match(d.stderr, /linux\.intelRdt: not supported by tsk-runtime/);
    assert.throws(() => Deno.statSync(direct), Deno.errors.NotFound);
  },
);

test("tsk-runtime: features, --version and --help", async (base) => {
  const root = posix.join(base, "state");
  const f = JSON.parse((await tsk(root, "features")).stdout);
  assert.ok(f.linux.namespaces.includes("pid"));
  // Every mount option runc 1.1 lists (so tools that check features use them).
  const runc = new Deno.Command("runc", { args: ["features"], stdout: "piped" }).outputSync();
  assert.ok(runc.success, "runc features");
  const theirs: string[] = JSON.parse(new TextDecoder().decode(runc.stdout)).mountOptions;
  assert.deepEqual(theirs.filter((o) => !f.mountOptions.includes(o)), []);
  assert.equal(f.linux.seccomp.enabled, true);
  assert.match((await tsk(root, "--version")).stdout, /^tsk-runtime version \d/);
  for (const c of ["create", "run", "exec", "kill", "delete"]) {
    const r = await tsk(root, c, "--help");
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`Usage: tsk-runtime ${c}`));
  }
  assert.equal((await tsk(root, "bogus")).code, 2);
});

test("tsk-runtime: the same bundle sees the same things under runc", async (base, rootfs) => {
  const script = [
    "hostname",
    "id",
    "echo pid=$$",
    "cat /proc/1/cmdline | tr '\\0' ' '; echo",
    "awk '{print $5, $(NF-2)}' /proc/self/mountinfo | sort",
    "grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status",
    "ls -l /dev | awk '{print $1, $3, $4, $5, $6, $9, $10, $11}'",
    "ls /proc/self/fd",
    "ulimit -n",
    "umask",
    "cat /proc/self/oom_score_adj",
    "pwd",
    "env | sort",
    "touch /x 2>&1",
    "ls /sys/fs/cgroup",
    "cat /proc/self/cgroup | sed 's/:.*:/:/'",
    "ls /proc/sys/net/ipv4 | wc -l",
    "ip link 2>/dev/null | grep -c mtu",
  ].join("; ");
  const b = await bundle(base, "b", rootfs, (s) => {
    s.process.args = ["sh", "-c", script];
    s.ociVersion = "1.0.2"; // Debian's runc knows up to 1.0.2.
    s.hostname = "same";
  });
  const { ours, runc } = await underBoth(base, b);
  assert.equal(runc.code, 0, runc.stderr);
  assert.equal(ours.code, 0, ours.stderr);
  assert.equal(ours.stdout, runc.stdout);
  assert.equal(ours.stderr, runc.stderr);
});

test(
  "tsk-runtime: without a cgroup namespace the container sees its own cgroups and limits, as under runc",
  async (base, rootfs) => {
    // Each cgroup mount at /sys/fs/cgroup: the container's own directory
    // ("own") or a hierarchy's root ("root"), systemd's named one included;
    // the hybrid host's empty unified hierarchy is left out (runc joins it,
    // tsk does not).
    const script = [
      "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max",
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
      'awk \'$5 ~ /^\\/sys\\/fs\\/cgroup/ && $5 !~ /unified/ { print $5, ($4 == "/" ? "root" : "own") }\' /proc/self/mountinfo | sort',
    ].join("; ");
    const b = await bundle(base, "b", rootfs, (s) => {
      s.process.args = ["sh", "-c", script];
      s.ociVersion = "1.0.2";
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== "cgroup");
      s.linux!.resources = {
        ...s.linux!.resources,
        pids: { limit: 77 },
        memory: { limit: 64 << 20 },
      };
    });
    const { ours, runc } = await underBoth(base, b);
    assert.equal(runc.code, 0, runc.stderr);
    assert.equal(ours.code, 0, ours.stderr);
    assert.match(ours.stdout, /^77\n67108864\n/);
    assert.equal(ours.stdout, runc.stdout);
  },
);

/** The same detached `sleep 30` container under runc and under tsk-runtime. */
interface SideBySide {
  /** tsk-runtime's state root. */
  root: string;
  /** runc's state root. */
  runcRoot: string;
  /** runc's container id. */
  a: string;
  /** tsk-runtime's container id. */
  t: string;
}

/**
 * Runs `fn` with one bundle's detached `sleep 30` container started under
 * runc and under tsk-runtime (`edit` shapes the spec), deleting both after.
 */
async function sideBySide(
  options: { base: string; rootfs: string; prefix: string; edit?: (s: Spec) => void },
  fn: (c: SideBySide) => Promise<void>,
): Promise<void> {
  const { base, rootfs, prefix, edit } = options;
  const b = await bundle(base, "b", rootfs, (s) => {
    s.process.args = ["sleep", "30"];
    s.ociVersion = "1.0.2";
    edit?.(s);
  });
  const c = {
    root: posix.join(base, "state"),
    runcRoot: posix.join(base, "runc"),
    a: uid(prefix),
    t: uid(prefix),
  };
  try {
    const theirs = await cmd("runc", ["--root", c.runcRoot, "run", "-d", "--bundle", b, c.a]);
    assert.equal(theirs.code, 0, theirs.stderr);
    const ours = await tsk(c.root, "run", "-d", "--bundle", b, c.t);
    assert.equal(ours.code, 0, ours.stderr);
    await fn(c);
  } finally {
    await cmd("runc", ["--root", c.runcRoot, "delete", "--force", c.a]);
    await tsk(c.root, "delete", "--force", c.t);
  }
}

test("tsk-runtime: events --stats speaks runc's schema", async (base, rootfs) => {
  const edit = (s: Spec) => {
    s.linux!.resources = {
      ...s.linux!.resources,
      pids: { limit: 50 },
      memory: { limit: 64 << 20 },
    };
  };
  await sideBySide({ base, rootfs, prefix: "ev", edit }, async ({ root, runcRoot, a, t }) => {
    const theirs = JSON.parse(
      (await cmd("runc", ["--root", runcRoot, "events", "--stats", a])).stdout,
    );
    const ours = JSON.parse((await tsk(root, "events", "--stats", t)).stdout);
    assert.deepEqual([ours.type, ours.id], ["stats", t]);
    // Every part runc reports, and the same limits in the same places.
    assert.deepEqual(Object.keys(ours.data).sort(), Object.keys(theirs.data).sort());
    for (const part of ["cpu", "memory"]) {
      const missing = Object.keys(theirs.data[part]).filter((k) => !(k in ours.data[part]));
      assert.deepEqual(
        missing.filter((k) => !["swap", "kernel", "kernelTCP", "raw", "cache"].includes(k)),
        [],
      );
    }
    assert.equal(ours.data.memory.usage.limit, theirs.data.memory.usage.limit);
    assert.equal(ours.data.pids.limit, theirs.data.pids.limit);
    assert.equal(ours.data.pids.current, theirs.data.pids.current);
    assert.equal(typeof ours.data.cpu.usage.total, typeof theirs.data.cpu.usage.total);
  });
});

test("tsk-runtime: hooks run when, where and how runc runs them", async (base, rootfs) => {
  const dir = posix.join(base, "hooks"), log = posix.join(dir, "log");
  await Deno.mkdir(dir);
  await Deno.writeTextFile(posix.join(rootfs, "MARKER"), "");
  const hook = posix.join(dir, "hook.sh");
  await Deno.writeTextFile(
    hook,
    `#!/bin/sh
state=$(cat)
status=$(echo "$state" | sed -n 's/.*"status":"\\([a-z]*\\)".*/\\1/p')
case "$state" in *'"pid":'*) pid=pid;; *) pid=nopid;; esac
if [ -e /MARKER ]; then where=container; else where=host; fi
echo "$1 $status $pid $where X=$X HOME=\${HOME-unset}" >> ${log}
[ "$1" != "$FAIL" ]
`,
    { mode: 0o755 },
  );
  const names = HOOK_NAMES;
  const spec = (fail = "", timeout?: number) =>
    bundle(base, `b-${fail || "ok"}`, rootfs, (s) => {
      s.process.args = ["true"];
      s.ociVersion = "1.0.2";
      // The script and its log in the container too, for startContainer.
      s.mounts!.push({ destination: dir, type: "bind", source: dir, options: ["rbind"] });
      s.hooks = Object.fromEntries(names.map((n) => [n, [{
        path: hook,
        args: [hook, n],
        env: [`X=${n}`, `FAIL=${fail}`],
        ...(timeout ? { timeout } : {}),
      }]]));
    });
  const ok = await spec();
  const root = posix.join(base, "state"), runcRoot = posix.join(base, "runc");
  const ours = await tsk(root, "run", "--bundle", ok, uid("hk"));
  assert.equal(ours.code, 0, ours.stderr);
  const oursLog = await Deno.readTextFile(log);
  await Deno.remove(log);
  const theirs = await cmd("runc", ["--root", runcRoot, "run", "--bundle", ok, uid("hk")]);
  assert.equal(theirs.code, 0, theirs.stderr);
  // The same hooks, states, places and environments as under runc; runc
  // 1.1 runs poststart before startContainer (the spec: after the
  // program started), so the order is checked against the spec alone.
  const sorted = (t: string) => t.split("\n").sort().join("\n");
  assert.equal(
    sorted(oursLog),
    sorted((await Deno.readTextFile(log)).replace("poststart created", "poststart running")),
  );
  assert.equal(
    oursLog,
    [
      "prestart creating pid host X=prestart HOME=unset",
      "createRuntime creating pid host X=createRuntime HOME=unset",
      "createContainer creating pid host X=createContainer HOME=unset",
      "startContainer created pid container X=startContainer HOME=unset",
      "poststart running pid host X=poststart HOME=unset",
      "poststop stopped nopid host X=poststop HOME=unset",
      "",
    ].join("\n"),
  );

  // A create hook that fails stops the container, naming the hook; nothing is left.
  for (const failing of ["createRuntime", "createContainer", "startContainer"]) {
    await Deno.remove(log).catch(() => {});
    const b = await spec(failing);
    const r = await tsk(root, "run", "--bundle", b, uid("hk"));
    assert.notEqual(r.code, 0, failing);
    assert.match(r.stderr, new RegExp(`hooks\\.${failing}\\[0\\]: ${hook} exited with status 1`));
    const said = await Deno.readTextFile(log);
    assert.doesNotMatch(said, /poststart/, failing);
    // The failed create goes on to delete's end: poststop runs (as under runc).
    assert.match(said, /poststop stopped nopid host/, failing);
    const left = [...Deno.readDirSync(root)].map((e) => e.name).filter((n) => !n.startsWith("."));
    assert.deepEqual(left, [], failing);
  }
  // A hook past its timeout is killed, and counts as failed.
  const slow = await bundle(base, "slow", rootfs, (s) => {
    s.process.args = ["true"];
    s.hooks = { createRuntime: [{ path: "/bin/sleep", args: ["sleep", "30"], timeout: 1 }] };
  });
  const t0 = Date.now();
  const late = await tsk(root, "run", "--bundle", slow, uid("hk"));
  assert.notEqual(late.code, 0);
  assert.match(
    late.stderr,
    /hooks\.createRuntime\[0\]: \/bin\/sleep did not finish within 1 s and was killed/,
  );
  assert.ok(Date.now() - t0 < 10_000);
  // A poststart or poststop hook that fails is a warning, and the next
  // ones of its kind still run.
  await Deno.remove(log);
  const twice = await bundle(base, "twice", rootfs, (s) => {
    s.process.args = ["true"];
    const h = (n: string) => ({ path: hook, args: [hook, n], env: ["FAIL=poststart-1"] });
    s.hooks = { poststart: [h("poststart-1"), h("poststart-2")], poststop: [h("poststop")] };
  });
  const r = await tsk(root, "run", "--bundle", twice, uid("hk"));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: hooks\.poststart\[0\]/);
  assert.match(await Deno.readTextFile(log), /poststart-1 .*\npoststart-2 .*\npoststop /);
});

test(
  "tsk-runtime: a container gets its own session keyring, as with runc, and exec joins it",
  async (base, rootfs) => {
    // /proc/keys lists the keyrings the process can see (unmasked for the
    // test): one line per session keyring, its container id and its
    // permissions. Root sees other containers' too until the kernel collects
    // them, so only the container's own is compared.
    const script = "awk '/keyring *_ses[.]/ { for (i = 1; i <= NF; i++) if ($i ~ /^_ses[.]/) " +
      '{ d = $i; sub(/^_ses[.]/, "", d); sub(/:$/, "", d); print d, "perm", $5 } }\' /proc/keys';
    const own = (out: string, id: string) =>
      out.split("\n").filter((l) => l.startsWith(`${id} `)).map((l) => l.replace(id, "ID"));
    const b = await bundle(base, "b", rootfs, (s) => {
      s.process.args = ["sh", "-c", script];
      s.ociVersion = "1.0.2";
      s.linux!.maskedPaths = s.linux!.maskedPaths!.filter((p) => p !== "/proc/keys");
    });
    const root = posix.join(base, "state"), runcRoot = posix.join(base, "runc");
    for (const flags of [[], ["--no-new-keyring"]]) {
      const [a, t] = [uid("kr"), uid("kr")];
      const theirs = await cmd("runc", ["--root", runcRoot, "run", ...flags, "--bundle", b, a]);
      assert.equal(theirs.code, 0, theirs.stderr);
      const ours = await tsk(root, "run", ...flags, "--bundle", b, t);
      assert.equal(ours.code, 0, ours.stderr);
      assert.deepEqual(own(ours.stdout, t), own(theirs.stdout, a), `${flags}`);
      assert.equal(
        own(ours.stdout, t).length,
        flags.length === 0 ? 1 : 0,
        `${flags}: ${ours.stdout}`,
      );
    }
    const id = uid("kr");
    const sleeper = await bundle(base, "sleeper", rootfs, (s) => {
      s.process.args = ["sleep", "30"];
      s.linux!.maskedPaths = s.linux!.maskedPaths!.filter((p) => p !== "/proc/keys");
    });
    assert.equal((await tsk(root, "run", "-d", "--bundle", sleeper, id)).code, 0);
    try {
      const e = await tsk(root, "exec", id, "sh", "-c", script);
      assert.equal(own(e.stdout, id).length, 1, e.stderr);
    } finally {
      await tsk(root, "delete", "--force", id);
    }
  },
);

test("tsk-runtime: exec takes runc's --cap, --additional-gids and --user", async (base, rootfs) => {
  await sideBySide({ base, rootfs, prefix: "ex" }, async ({ root, runcRoot, a, t }) => {
    const flags = ["--cap", "CAP_SYS_ADMIN", "-g", "10", "-g", "20", "-u", "1000:1000"];
    const script = ["sh", "-c", "grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status; id"];
    const theirs = await cmd("runc", ["--root", runcRoot, "exec", ...flags, a, ...script]);
    const ours = await tsk(root, "exec", ...flags, t, ...script);
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(ours.stdout, theirs.stdout);
    assert.match(ours.stdout, /groups=10,20/);
    const bad = await tsk(root, "exec", "-u", "nobody", t, "true");
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--user: expected a number, got "nobody"/);
  });
});

/** The container's pid, from `state` (`argv`: the runtime with its global flags). */
async function statePid(argv: string[], id: string): Promise<number> {
  const r = await cmd(argv[0], [...argv.slice(1), "state", id]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.slice(0, r.stdout.lastIndexOf("}") + 1)).pid;
}

/**
 * Makes `sub` in each v1 hierarchy of the process's cgroups, and in the
 * unified one of a hybrid host with `unified` (runc manages it there; tsk
 * leaves it be); returns the directories.
 */
function makeSubCgroups(pid: number, sub: string, unified: boolean): string[] {
  const made: string[] = [];
  for (const line of Deno.readTextFileSync(`/proc/${pid}/cgroup`).trim().split("\n")) {
    const [, controllers, path] = line.split(":");
    if (controllers === "" && !unified) continue;
    const mount = controllers === ""
      ? "unified"
      : controllers.startsWith("name=")
      ? controllers.slice(5)
      : controllers;
    const dir = posix.join("/sys/fs/cgroup", mount, path, sub);
    try {
      Deno.mkdirSync(dir);
      made.push(dir);
    } catch {
      continue; // a hierarchy not mounted there
    }
    // A new v1 cpuset starts empty and takes no process until given its parent's.
    if (controllers.split(",").includes("cpuset")) {
      for (const f of ["cpuset.cpus", "cpuset.mems"]) {
        Deno.writeTextFileSync(`${dir}/${f}`, Deno.readTextFileSync(`${posix.dirname(dir)}/${f}`));
      }
    }
  }
  return made;
}

/**
 * `exec --ignore-paused` into the paused container `id` is still waiting
 * 1.5 s later; `resume` then lets it run and print `word`.
 */
async function execWaitsForResume(root: string, id: string, word: string): Promise<void> {
  let done = false;
  const pending = tsk(root, "exec", "--ignore-paused", id, "echo", word).then((r) => {
    done = true;
    return r;
  });
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(done, false, "exec into a paused container returned before resume");
  assert.equal((await tsk(root, "resume", id)).code, 0);
  const r = await pending;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${word}\n`);
}

test("tsk-runtime: exec takes runc's --cgroup and --ignore-paused", async (base, rootfs) => {
  const made: string[] = [];
  try {
    await sideBySide({ base, rootfs, prefix: "ex" }, async ({ root, runcRoot, a, t }) => {
      // --cgroup: an existing sub-cgroup, in every hierarchy or the named ones.
      made.push(...makeSubCgroups(await statePid(["runc", "--root", runcRoot], a), "sub", true));
      made.push(...makeSubCgroups(await statePid(runtimeArgv(root), t), "sub", false));
      const script = ["sh", "-c", "grep -E ':(memory|pids|cpu,cpuacct):' /proc/self/cgroup"];
      for (const flags of [["--cgroup", "sub"], ["--cgroup", "memory:sub"]]) {
        const theirs = await cmd("runc", ["--root", runcRoot, "exec", ...flags, a, ...script]);
        const ours = await tsk(root, "exec", ...flags, t, ...script);
        assert.equal(ours.code, 0, ours.stderr);
        assert.equal(theirs.code, 0, theirs.stderr);
        // The paths differ (their ids); which of them end in the sub-cgroup does not.
        const inSub = (out: string) =>
          out.trim().split("\n").map((l) => `${l.split(":")[1]}:${l.endsWith("/sub")}`).sort();
        assert.deepEqual(inSub(ours.stdout), inSub(theirs.stdout));
      }
      assert.deepEqual(
        (await tsk(root, "exec", "--cgroup", "memory:sub", t, ...script)).stdout.split("\n")
          .filter((l) => l.includes(":memory:")).map((l) => l.endsWith("/sub")),
        [true],
      );
      const missing = await tsk(root, "exec", "--cgroup", "nosuch", t, "true");
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /cgroup: .*nosuch does not exist/);
      const escaping = await tsk(root, "exec", "--cgroup", "../x", t, "true");
      assert.notEqual(escaping.code, 0);
      assert.match(escaping.stderr, /--cgroup: expected a path inside the container's cgroup/);
      // A paused container: refused without --ignore-paused, as runc's; with
      // it, the process runs once the container is resumed.
      assert.equal((await cmd("runc", ["--root", runcRoot, "pause", a])).code, 0);
      assert.equal((await tsk(root, "pause", t)).code, 0);
      const theirs = await cmd("runc", ["--root", runcRoot, "exec", a, "true"]);
      const ours = await tsk(root, "exec", t, "true");
      assert.notEqual(theirs.code, 0);
      assert.notEqual(ours.code, 0);
      assert.match(ours.stderr, /paused.*--ignore-paused/);
      await execWaitsForResume(root, t, "after");
      assert.equal((await cmd("runc", ["--root", runcRoot, "resume", a])).code, 0);
      // Refused with the field named, as the spec's own.
      const aa = await tsk(root, "exec", "--apparmor", "unconfined", t, "true");
      assert.notEqual(aa.code, 0);
      assert.match(aa.stderr, /process\.apparmorProfile: not supported/);
      // The same through the root's supervisor (a plain run starts it).
      const quick = await bundle(base, "quick", rootfs, (s) => (s.process.args = ["true"]));
      assert.equal((await tsk(root, "run", "--bundle", quick, uid("q"))).code, 0);
      const sub = await tsk(root, "exec", "--cgroup", "memory:sub", t, ...script);
      assert.equal(sub.code, 0, sub.stderr);
      assert.match(sub.stdout, /:memory:.*\/sub\n/);
      assert.equal((await tsk(root, "pause", t)).code, 0);
      await execWaitsForResume(root, t, "later");
      const log = Deno.readTextFileSync(posix.join(root, ".supervisor", "log"));
      assert.equal(log.split("\n").filter((l) => l.includes('"exec"') && l.includes(t)).length, 2);
    });
  } finally {
    // Both deleted: the sub-cgroups, then what a delete could not remove around them.
    for (const d of [...made, ...made.map((m) => posix.dirname(m))]) {
      try {
        Deno.removeSync(d);
      } catch { /* gone */ }
    }
  }
});

test(
  "tsk-runtime: run of a spec with a terminal and no console socket holds the terminal itself, as runc's run",
  async (base, rootfs) => {
    const b = await bundle(base, "b", rootfs, (s) => {
      s.process.terminal = true;
      s.process.args = [
        "sh",
        "-c",
        "tty; test -t 0 && echo stdin-tty; read x; echo got $x; exit 3",
      ];
      s.ociVersion = "1.0.2";
    });
    // script(1) gives the command a terminal; the line is typed once it runs.
    const inTerminal = async (argv: string[]) => {
      const child = new Deno.Command("script", {
        args: ["-qec", argv.map((a) => `'${a}'`).join(" "), "/dev/null"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      await new Promise((r) => setTimeout(r, 1500));
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode("hello\n"));
      await w.close();
      const out = await child.output();
      return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
    };
    const ours = await inTerminal([
      ...runtimeArgv(posix.join(base, "state")),
      "run",
      "--bundle",
      b,
      uid("tty"),
    ]);
    const theirs = await inTerminal([
      "runc",
      "--root",
      posix.join(base, "runc"),
      "run",
      "--bundle",
      b,
      uid("tty"),
    ]);
    assert.equal(ours.code, 3, ours.stdout);
    assert.equal(theirs.code, 3, theirs.stdout);
    assert.equal(ours.stdout, "/dev/pts/0\r\nstdin-tty\r\nhello\r\ngot hello\r\n");
    assert.equal(ours.stdout, theirs.stdout);
    // exec -t without a console socket: the same (NULs from script(1) aside).
    const sleeper = await bundle(
      base,
      "sleeper",
      rootfs,
      (s) => (s.process.args = ["sleep", "30"]),
    );
    const [a, t] = [uid("tty"), uid("tty")];
    assert.equal(
      (await cmd("runc", ["--root", posix.join(base, "runc"), "run", "-d", "--bundle", sleeper, a]))
        .code,
      0,
    );
    assert.equal(
      (await tsk(posix.join(base, "state"), "run", "-d", "--bundle", sleeper, t)).code,
      0,
    );
    try {
      const script = ["sh", "-c", "tty; test -t 0 && echo stdin-tty; read x; echo got $x; exit 4"];
      const e1 = await inTerminal([
        ...runtimeArgv(posix.join(base, "state")),
        "exec",
        "-t",
        t,
        ...script,
      ]);
      const e2 = await inTerminal([
        "runc",
        "--root",
        posix.join(base, "runc"),
        "exec",
        "-t",
        a,
        ...script,
      ]);
      assert.equal(e1.code, 4, e1.stdout);
      assert.equal(e1.stdout.replaceAll("\0", ""), e2.stdout.replaceAll("\0", ""));
      assert.match(e1.stdout, /stdin-tty\r\nhello\r\ngot hello\r\n/);
    } finally {
      await cmd("runc", ["--root", posix.join(base, "runc"), "delete", "--force", a]);
      await tsk(posix.join(base, "state"), "delete", "--force", t);
    }
    // Detached, a terminal still needs a console socket (as runc).
    const d = await tsk(posix.join(base, "state"), "run", "-d", "--bundle", b, uid("tty"));
    assert.notEqual(d.code, 0);
    assert.match(d.stderr, /process\.terminal: a terminal needs a console socket/);
  },
);

/**
 * Runs `argv` with fd 3 reading `input` and fd 4 writing `output` (and with
 * `prefix`, e.g. `env LISTEN_FDS=1 LISTEN_PID=$$`, in front).
 */
function withFds(
  argv: string[],
  input: string,
  output: string,
  prefix = "",
): Promise<CommandResult> {
  return runToFiles([
    "sh",
    "-c",
    `exec ${prefix} "$@" 3<"${input}" 4>>"${output}"`,
    "sh",
    ...argv,
  ]);
}

test(
  "tsk-runtime: --preserve-fds and socket activation hand fds 3, 4, ... on, as runc",
  async (base, rootfs) => {
    const input = posix.join(base, "in.txt"), output = posix.join(base, "out.txt");
    await Deno.writeTextFile(input, "from fd 3\n");
    const script = "for f in 3 4 5; do test -e /proc/self/fd/$f && echo open $f; done; " +
      "cat <&3; echo to fd 4 >&4; echo listen=$LISTEN_FDS pid=$LISTEN_PID";
    const b = await bundle(base, "b", rootfs, (s) => {
      s.process.args = ["sh", "-c", script];
      s.ociVersion = "1.0.2";
    });
    const root = posix.join(base, "state"), runcRoot = posix.join(base, "runc");
    const runs: [string, string[], string][] = [
      ["--preserve-fds 2", ["run", "--preserve-fds", "2", "--bundle", b], ""],
      ["none", ["run", "--bundle", b], ""],
      ["LISTEN_FDS=1", ["run", "--bundle", b], "env LISTEN_FDS=1 LISTEN_PID=$$"],
    ];
    for (const [what, args, prefix] of runs) {
      await Deno.writeTextFile(output, "");
      const ours = await withFds([...runtimeArgv(root), ...args, uid("fd")], input, output, prefix);
      assert.equal(ours.code, 0, `${what}: ${ours.stderr}`);
      const oursOut = await Deno.readTextFile(output);
      await Deno.writeTextFile(output, "");
      const theirs = await withFds(
        ["runc", "--root", runcRoot, ...args, uid("fd")],
        input,
        output,
        prefix,
      );
      assert.equal(theirs.code, 0, `${what}: ${theirs.stderr}`);
      assert.equal(ours.stdout, theirs.stdout, what);
      assert.equal(oursOut, await Deno.readTextFile(output), what);
    }
    // What each printed, under both.
    await Deno.writeTextFile(output, "");
    const two = await withFds([...runtimeArgv(root), ...runs[0][1], uid("fd")], input, output);
    assert.equal(two.stdout, "open 3\nopen 4\nfrom fd 3\nlisten= pid=\n");
    assert.equal(await Deno.readTextFile(output), "to fd 4\n");
    const none = await withFds([...runtimeArgv(root), ...runs[1][1], uid("fd")], input, output);
    assert.equal(none.stdout, "listen= pid=\n");

    // exec: the same into a running container.
    const id = uid("fdexec");
    const sleeper = await bundle(
      base,
      "sleeper",
      rootfs,
      (s) => (s.process.args = ["sleep", "30"]),
    );
    assert.equal((await tsk(root, "run", "-d", "--bundle", sleeper, id)).code, 0);
    try {
      await Deno.writeTextFile(output, "");
      const e = await withFds(
        [...runtimeArgv(root), "exec", "--preserve-fds", "1", id, "sh", "-c", script],
        input,
        output,
      );
      assert.equal(e.code, 0, e.stderr);
      assert.equal(e.stdout, "open 3\nfrom fd 3\nlisten= pid=\n");
    } finally {
      await tsk(root, "delete", "--force", id);
    }

    // More than one message's worth of descriptors (SCM_RIGHTS batches of 8 before).
    const many = await runToFiles([
      "bash", // (dash takes one-digit descriptors only)
      "-c",
      `exec "$@" ${Array.from({ length: 12 }, (_, i) => `${i + 3}</dev/null`).join(" ")}`,
      "sh",
      ...runtimeArgv(root),
      "run",
      "--preserve-fds",
      "12",
      "--bundle",
      await bundle(
        base,
        "many",
        rootfs,
        (s) => (s.process.args = ["sh", "-c", "ls /proc/self/fd | wc -l"]),
      ),
      uid("fd"),
    ]);
    assert.equal(many.stdout.trim(), "16", many.stderr); // 0-2, 3-14, and ls's own

    // Bad values are named.
    let r = await tsk(root, "run", "--preserve-fds", "x", "--bundle", b, uid("fd"));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--preserve-fds: expected a number of descriptors, got x/);
    r = await tsk(root, "run", "--preserve-fds", "40", "--bundle", b, uid("fd"));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--preserve-fds: descriptor \d+ is not open/);
  },
);

test("tsk-runtime: supervisor names a bad idle timeout (flag or environment) and a bad --watch", async (base) => {
  const root = posix.join(base, "state");
  const bad = await new Deno.Command(Deno.execPath(), {
    args: [...runtimeArgv(root).slice(1), "supervisor"],
    env: { TSK_RUNTIME_SUPERVISOR_IDLE: "soon" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(bad.code, 2);
  assert.match(
    new TextDecoder().decode(bad.stderr),
    /TSK_RUNTIME_SUPERVISOR_IDLE: expected a number of seconds \(0: never\), got "soon"/,
  );
  const r = await tsk(root, "supervisor", "--idle-timeout", "-1");
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--idle-timeout: expected a number of seconds \(0: never\), got "-1"/);
  const w = await tsk(root, "supervisor", "--watch", posix.join(base, "missing"));
  assert.equal(w.code, 2);
  assert.match(w.stderr, /--watch: .*missing is not a directory/);
});
