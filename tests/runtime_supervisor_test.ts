/**
 * End-to-end tests of the per-root supervisor behind `tsk-runtime`: real
 * containers, as root, driven through the command line as a user would.
 * Every test stops the supervisors it started, also when it fails.
 *
 * @module
 */
import assert from "node:assert/strict";
import { posix } from "node:path";
import { defaultSpec, removeOrphanPoolCgroups, type Spec } from "@tsk/runtime";
import { busyboxRootfs, requireRoot } from "@tsk/runtime/testing";
import {
  cgroupDirsNamed,
  type CommandResult,
  containerTest,
  runtimeArgv,
  runToFiles,
  stopSupervisor,
  uid,
} from "./_runtime_helpers.ts";

const ignore = !requireRoot();

interface Ctx {
  base: string;
  rootfs: string;
  root: string;
}

function test(name: string, fn: (ctx: Ctx) => Promise<void>): void {
  containerTest(name, async () => {
    const base = await Deno.makeTempDir({ prefix: "tsk-supervisor-test-" });
    const root = posix.join(base, "state");
    try {
      await fn({ base, root, rootfs: await busyboxRootfs(posix.join(base, "rootfs")) });
    } finally {
      await stopSupervisor(root);
      // Anything a failed test left: through the direct path.
      for (const id of listIds(root)) {
        await tsk(root, ["--no-supervisor", "delete", "--force", id]).catch(() => {});
      }
      await Deno.remove(base, { recursive: true });
    }
  }, { ignore });
}

function listIds(root: string): string[] {
  try {
    return [...Deno.readDirSync(root)].filter((e) => !e.name.startsWith(".")).map((e) => e.name);
  } catch {
    return [];
  }
}

/** Runs the CLI with stdout and stderr piped (so a pooled init serves it). */
async function tsk(
  root: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<CommandResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...runtimeArgv(root).slice(1), ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env,
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Runs the CLI with stdout and stderr in files: a created container keeps
 * the creator's stdio open (as under runc), so pipes would never reach EOF.
 */
function tskToFiles(root: string, args: string[]): Promise<CommandResult> {
  return runToFiles([...runtimeArgv(root), ...args]);
}

async function bundle(ctx: Ctx, name: string, args: string[]): Promise<string> {
  const dir = posix.join(ctx.base, name);
  await Deno.mkdir(dir, { recursive: true });
  const spec: Spec = defaultSpec({ args });
  spec.root.path = ctx.rootfs;
  await Deno.writeTextFile(posix.join(dir, "config.json"), JSON.stringify(spec));
  return dir;
}

/** Starts the root's supervisor the way users do (a `run`); returns its pid. */
async function startSupervisor(ctx: Ctx): Promise<number> {
  const warm = await bundle(ctx, "warm", ["true"]);
  assert.equal((await tsk(ctx.root, ["run", "--bundle", warm, uid("warm")])).code, 0);
  return supervisorPid(ctx.root);
}

function supervisorPid(root: string): number {
  return Number(Deno.readTextFileSync(posix.join(root, ".supervisor", "pid")).trim());
}

/** Live processes (not zombies) whose command line `match` accepts. */
function processesWhere(match: (argv: string[]) => boolean): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      if (match(argv) && alive(Number(e.name))) out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

/** Live supervisor processes started for `root`. */
function supervisorsOf(root: string): number[] {
  return processesWhere((argv) => {
    const i = argv.indexOf("--root");
    return i >= 0 && argv[i + 1] === root && argv[i + 2] === "supervisor";
  });
}

function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("supervisor: run returns the container's exit code and output", async (ctx) => {
  const b = await bundle(ctx, "b", ["sh", "-c", "echo out; echo err >&2; exit 42"]);
  const first = await tsk(ctx.root, ["run", "--bundle", b, uid("run")]);
  assert.equal(first.code, 42, first.stderr);
  assert.equal(first.stdout, "out\n");
  assert.equal(first.stderr, "err\n");
  const pid = supervisorPid(ctx.root);
  assert.ok(alive(pid), "run should have started a supervisor");
  // Later runs use the same supervisor (and its warm pool).
  for (let i = 0; i < 3; i++) {
    const r = await tsk(ctx.root, ["run", "--bundle", b, uid("run")]);
    assert.equal(r.code, 42, r.stderr);
    assert.equal(r.stdout, "out\n");
  }
  assert.equal(supervisorPid(ctx.root), pid);
  const log = Deno.readTextFileSync(posix.join(ctx.root, ".supervisor", "log"));
  assert.match(log, /"pooled":true/);
  // run deletes what it created before it answers, as runc's does: no
  // state, no cgroup. The state directory it moved out of the root goes
  // just after the answer.
  assert.deepEqual(listIds(ctx.root), []);
  assert.deepEqual(cgroupDirsNamed("tsk-runtime").filter((d) => d.includes("/run-")), []);
  for (let i = 0; i < 100 && deleting(ctx.root).length > 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.deepEqual(deleting(ctx.root), []);
});

/**
 * What the supervisor is still deleting after `run` answered: the container
 * states in `.supervisor/deleting/<holder>/` (a live supervisor keeps its
 * holder directory, empty, for its whole life).
 */
function deleting(root: string): string[] {
  const dir = posix.join(root, ".supervisor", "deleting");
  const out: string[] = [];
  try {
    for (const h of Deno.readDirSync(dir)) {
      if (!h.isDirectory) {
        out.push(h.name);
        continue;
      }
      for (const e of Deno.readDirSync(posix.join(dir, h.name))) out.push(`${h.name}/${e.name}`);
    }
  } catch { /* none */ }
  return out;
}

/** Processes (not zombies) whose command line names `marker`. */
function processesNaming(marker: string): number[] {
  return processesWhere((argv) => argv.includes(marker));
}

test("supervisor: with TSK_RUNTIME_QUICK_EXIT=1 the command exits before its memory is freed, its caller sees end-of-file at once, and the helper goes", async (ctx) => {
  const b = await bundle(ctx, "b", ["sh", "-c", "echo out; echo err >&2; exit 3"]);
  // A supervisor first, so that the run below is a supervised one.
  assert.equal((await tsk(ctx.root, ["run", "--bundle", b, uid("warm")])).code, 3);
  const id = uid("quick");
  const child = new Deno.Command(Deno.execPath(), {
    args: [...runtimeArgv(ctx.root).slice(1), "run", "--bundle", b, id],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // Long enough to see the helper; the default is 25 ms.
    env: { TSK_RUNTIME_QUICK_EXIT: "1", TSK_RUNTIME_QUICK_EXIT_LINGER_MS: "4000" },
  }).spawn();
  const status = await child.status;
  const [out, err] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  // The helper shares the command's memory (so its command line) and still
  // sleeps: the pipes reached end-of-file without waiting for it.
  const helpers = processesNaming(id);
  assert.equal(status.code, 3);
  assert.equal(out, "out\n");
  assert.equal(err, "err\n");
  assert.equal(helpers.length, 1, "one helper holds the exited command's memory");
  const [helper] = helpers;
  assert.notEqual(helper, child.pid);
  const statusText = Deno.readTextFileSync(`/proc/${helper}/status`);
  const blocked = BigInt("0x" + /SigBlk:\s*([0-9a-f]+)/.exec(statusText)![1]);
  for (const sig of [1, 2, 3, 15]) {
    assert.ok(blocked & (1n << BigInt(sig - 1)), `signal ${sig} is blocked in the helper`);
  }
  // Nothing of the command's stays open in the helper but its memory.
  const fds = [...Deno.readDirSync(`/proc/${helper}/fd`)].map((e) =>
    Deno.readLinkSync(`/proc/${helper}/fd/${e.name}`)
  );
  assert.ok(!fds.some((f) => f.startsWith("pipe:")), `no pipe stays open: ${fds.join(", ")}`);
  // It keeps no directory busy: it runs in /.
  assert.equal(Deno.readLinkSync(`/proc/${helper}/cwd`), "/");
  await until("the helper is gone", () => processesNaming(id).length === 0, 15_000);

  // A linger that is not a number of milliseconds is named, and the
  // command exits the ordinary way.
  const bad = uid("bad-linger");
  const badRun = await tsk(ctx.root, ["run", "--bundle", b, bad], {
    TSK_RUNTIME_QUICK_EXIT: "1",
    TSK_RUNTIME_QUICK_EXIT_LINGER_MS: "soon",
  });
  assert.equal(badRun.code, 3);
  assert.match(badRun.stderr, /TSK_RUNTIME_QUICK_EXIT_LINGER_MS: expected 0 to 60000/);
  assert.deepEqual(processesNaming(bad), []);

  // Off by default (unlike runc's, such a command leaves a process behind
  // for a moment): no helper.
  const off = uid("plain");
  const r = await tsk(ctx.root, ["run", "--bundle", b, off]);
  assert.equal(r.code, 3);
  assert.deepEqual(processesNaming(off), []);
});

test("supervisor: --log gets a line per event, in JSON with --log-format json; errors also go to stderr", async (ctx) => {
  const b = await bundle(ctx, "b", ["sh", "-c", "exit 5"]);
  const logFile = posix.join(ctx.base, "runtime.log");
  const id = uid("logged");
  const r = await tsk(ctx.root, [
    "--log",
    logFile,
    "--log-format",
    "json",
    "run",
    "--bundle",
    b,
    id,
  ]);
  assert.equal(r.code, 5);
  assert.equal(r.stderr, "", "an info line goes only to the file");
  const lines = Deno.readTextFileSync(logFile).trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 1);
  assert.equal(lines[0].level, "info");
  assert.match(lines[0].msg, new RegExp(`container ${id} exited: .*"exitCode":5`));
  assert.ok(!Number.isNaN(Date.parse(lines[0].time)));
  // An error: to the file and to stderr.
  const missing = await tsk(ctx.root, [
    "--log",
    logFile,
    "run",
    "--bundle",
    posix.join(ctx.base, "nowhere"),
    uid("missing"),
  ]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^tsk-runtime: .*nowhere/m);
  const last = Deno.readTextFileSync(logFile).trim().split("\n").at(-1)!;
  assert.match(last, / error: .*nowhere/);
  // Without --log nothing but errors is written anywhere.
  const quiet = await tsk(ctx.root, ["run", "--bundle", b, uid("quiet")]);
  assert.equal(quiet.code, 5);
  assert.equal(quiet.stderr, "");
});

test("supervisor: after run the id is gone at once, and a run of the same id follows", async (ctx) => {
  const b = await bundle(ctx, "b", ["sh", "-c", "echo hi; exit 3"]);
  const id = uid("same");
  for (let i = 0; i < 3; i++) {
    const r = await tsk(ctx.root, ["run", "--bundle", b, id]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, "hi\n");
    // As after runc run: the container does not exist any more.
    const st = await tsk(ctx.root, ["state", id]);
    assert.equal(st.code, 1);
    assert.match(st.stderr, /does not exist|not found/i);
    const list = await tsk(ctx.root, ["list", "--format", "json"]);
    assert.equal(list.code, 0, list.stderr);
    assert.ok(!list.stdout.includes(id), list.stdout);
  }
  // Nothing is left once the supervisor is done.
  await stopSupervisor(ctx.root);
  assert.deepEqual(listIds(ctx.root), []);
  assert.deepEqual(deleting(ctx.root), []);
  assert.deepEqual(cgroupDirsNamed("tsk-runtime").filter((d) => d.endsWith(id)), []);
});

test("supervisor: output appended to a regular file as the caller opened it, by a pooled init", async (ctx) => {
  const b = await bundle(ctx, "b", ["sh", "-c", "echo to-file; exit 5"]);
  const file = posix.join(ctx.base, "out.txt");
  Deno.writeTextFileSync(file, "before\n");
  const cli = [...runtimeArgv(ctx.root), "run", "--bundle", b];
  // Twice: the first run starts the supervisor, the second finds its pool.
  for (let i = 0; i < 2; i++) {
    const sh = await new Deno.Command("sh", {
      args: ["-c", `exec "$@" >>${file}`, "sh", ...cli, uid("file")],
      stdin: "null",
    }).output();
    assert.equal(sh.code, 5);
  }
  // The descriptor itself was passed (a reopened file would start at 0).
  assert.equal(Deno.readTextFileSync(file), "before\nto-file\nto-file\n");
  const log = Deno.readTextFileSync(posix.join(ctx.root, ".supervisor", "log"));
  const created = log.trim().split("\n").map((l) => JSON.parse(l)).filter((l) =>
    l.msg === "created"
  );
  assert.equal(created.length, 2);
  assert.equal(created[1].pooled, true, "the second run's init came from the pool");
});

test("supervisor: concurrent runs each get their own output and status", async (ctx) => {
  const b = await bundle(ctx, "b", ["sh", "-c", "echo $CODE; exit $CODE"]);
  // Warm up once so the runs below race on a running supervisor.
  const spec = JSON.parse(Deno.readTextFileSync(posix.join(b, "config.json"))) as Spec;
  const bundles = await Promise.all([0, 1, 2, 3, 4, 5].map(async (n) => {
    const dir = posix.join(ctx.base, `b${n}`);
    await Deno.mkdir(dir);
    const s = structuredClone(spec);
    s.process.env = [...(s.process.env ?? []), `CODE=${n + 10}`];
    await Deno.writeTextFile(posix.join(dir, "config.json"), JSON.stringify(s));
    return dir;
  }));
  const results = await Promise.all(
    bundles.map((dir) => tsk(ctx.root, ["run", "--bundle", dir, uid("conc")])),
  );
  results.forEach((r, n) => {
    assert.equal(r.code, n + 10, r.stderr);
    assert.equal(r.stdout, `${n + 10}\n`);
  });
  assert.deepEqual(listIds(ctx.root), []);
  // Each run found no supervisor and started one; one serves, the rest gave up.
  await until("one supervisor serves the root", () => supervisorsOf(ctx.root).length === 1);
  assert.deepEqual(supervisorsOf(ctx.root), [supervisorPid(ctx.root)]);
});

test("supervisor: signals to run reach the container", async (ctx) => {
  const b = await bundle(ctx, "b", ["sh", "-c", "trap 'exit 3' TERM; echo up; sleep 30 & wait"]);
  const child = new Deno.Command(Deno.execPath(), {
    args: [...runtimeArgv(ctx.root).slice(1), "run", "--bundle", b, uid("sig")],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  const first = await reader.read();
  assert.equal(new TextDecoder().decode(first.value), "up\n");
  reader.releaseLock();
  child.kill("SIGTERM");
  const st = await child.output();
  assert.equal(st.code, 3, new TextDecoder().decode(st.stderr));
  assert.deepEqual(listIds(ctx.root), []);
});

test("supervisor: create stays the caller's, as runc's; start, state, kill and delete of it go through the supervisor", async (ctx) => {
  // A supervisor is running.
  const sup = await startSupervisor(ctx);
  const b = await bundle(ctx, "b", ["sleep", "30"]);
  const id = uid("life");
  let r = await tskToFiles(ctx.root, ["create", "--bundle", b, id]);
  assert.equal(r.code, 0, r.stderr);
  const state = JSON.parse((await tsk(ctx.root, ["state", id])).stdout);
  assert.equal(state.status, "created");
  // The init is not the supervisor's: it went to the caller's reaper when
  // `create` exited (conmon and containerd-shim wait for it there).
  assert.notEqual(parentOf(state.pid), sup);
  assert.equal((await tsk(ctx.root, ["start", id])).code, 0);
  assert.equal(JSON.parse((await tsk(ctx.root, ["state", id])).stdout).status, "running");
  r = await tsk(ctx.root, ["delete", id]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot delete: the container is running/);
  assert.equal((await tsk(ctx.root, ["kill", id, "KILL"])).code, 0);
  await until("the container stops", () => !alive(state.pid));
  assert.equal(JSON.parse((await tsk(ctx.root, ["state", id])).stdout).status, "stopped");
  assert.equal((await tsk(ctx.root, ["delete", id])).code, 0);
  r = await tsk(ctx.root, ["state", id]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /does not exist/);
  assert.equal(supervisorPid(ctx.root), sup);
});

test("supervisor: run --keep leaves the container with its exit status recorded", async (ctx) => {
  const b = await bundle(ctx, "b", ["sh", "-c", "exit 7"]);
  const id = uid("keep");
  const r = await tsk(ctx.root, ["run", "--keep", "--bundle", b, id]);
  assert.equal(r.code, 7, r.stderr);
  const exit = JSON.parse(Deno.readTextFileSync(posix.join(ctx.root, id, "exit.json")));
  assert.equal(exit.exitCode, 7);
  assert.equal(exit.oomKilled, false);
  assert.equal(JSON.parse((await tsk(ctx.root, ["state", id])).stdout).status, "stopped");
  assert.equal((await tsk(ctx.root, ["delete", id])).code, 0);
  assert.deepEqual(listIds(ctx.root), []);
});

test("supervisor: killed mid-run, its container stays deletable", async (ctx) => {
  const b = await bundle(ctx, "b", ["sh", "-c", "echo up; sleep 30"]);
  const id = uid("orphan");
  // Files, not pipes: the container keeps the caller's stdio open after the
  // caller exits (as under runc).
  const out = posix.join(ctx.base, "out"), err = posix.join(ctx.base, "err");
  const cli = runtimeArgv(ctx.root);
  const child = new Deno.Command("sh", {
    args: ["-c", `exec "$@" >${out} 2>${err}`, "sh", ...cli, "run", "--bundle", b, id],
    stdin: "null",
  }).spawn();
  await until("the container runs", () => {
    try {
      return Deno.readTextFileSync(out) === "up\n";
    } catch {
      return false;
    }
  });
  const sup = supervisorPid(ctx.root);
  // Written before the init was ready, so before the container printed.
  const initPid = Number(
    JSON.parse(Deno.readTextFileSync(posix.join(ctx.root, id, "state.json"))).pid,
  );
  // The cgroups its idle inits wait in: the inits die with it, the cgroups
  // stay until a sweep removes them.
  await until("the supervisor's pool is full", () => poolCgroupsOf(sup).length === 2);
  const idle = poolCgroupsOf(sup);
  Deno.kill(sup, "SIGKILL");
  const st = await child.status;
  assert.equal(st.code, 1);
  assert.match(Deno.readTextFileSync(err), /supervisor exited while running/);
  // The container outlived its supervisor, as a runc container outlives its shim.
  assert.ok(alive(initPid));
  assert.equal(JSON.parse((await tsk(ctx.root, ["state", id])).stdout).status, "running");
  // A new supervisor (started by this run) or none: delete works either way.
  const other = await bundle(ctx, "b2", ["true"]);
  assert.equal((await tsk(ctx.root, ["run", "--bundle", other, uid("again")])).code, 0);
  assert.notEqual(supervisorPid(ctx.root), sup);
  const r = await tsk(ctx.root, ["delete", "--force", id]);
  assert.equal(r.code, 0, r.stderr);
  await until("the orphaned init is gone", () => !alive(initPid));
  assert.deepEqual(listIds(ctx.root), []);
  assert.deepEqual(cgroupDirsNamed("tsk-runtime").filter((d) => d.endsWith(id)), []);
  // What a new supervisor sweeps (it spares cgroups under a minute old, so
  // the test sweeps at once); nothing else runs a pool meanwhile.
  await until("the killed supervisor's idle inits are gone", () => {
    for (const m of idle) {
      if (Deno.readTextFileSync(`${m}/cgroup.procs`).trim() !== "") return false;
    }
    return true;
  });
  const removed = await removeOrphanPoolCgroups("/tsk-runtime", { minAgeMs: 0 });
  for (const m of idle) {
    assert.ok(removed.some((p) => m.endsWith(p)), `${m} removed (${removed})`);
    assert.ok(!exists(m));
  }
});

/** The pool cgroups (one hierarchy's directories) holding children of `pid`. */
function poolCgroupsOf(pid: number): string[] {
  return cgroupDirsNamed("tsk-runtime")
    .filter((d) => d.startsWith("/sys/fs/cgroup/pids/") && posix.basename(d).startsWith(".pool-"))
    .filter((d) => {
      try {
        return Deno.readTextFileSync(`${d}/cgroup.procs`).trim().split("\n").some((p) =>
          p !== "" && parentOf(Number(p)) === pid
        );
      } catch {
        return false;
      }
    });
}

/** The parent pid of `pid`, or 0 when it is gone. */
function parentOf(pid: number): number {
  try {
    return Number(/^PPid:\s+(\d+)/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Whether a path exists. */
function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

test("supervisor: a deletion its predecessor left half done is finished", async (ctx) => {
  const b = await bundle(ctx, "b", ["true"]);
  const id = uid("left");
  // A stopped container, its state moved aside as a supervisor does before
  // it answers `run`, as if that supervisor had died right then.
  const r = await tsk(ctx.root, ["run", "--keep", "--bundle", b, id]);
  assert.equal(r.code, 0, r.stderr);
  const cgroupPath = JSON.parse(
    Deno.readTextFileSync(posix.join(ctx.root, id, "state.json")),
  ).cgroupPath as string;
  assert.ok(cgroupDirsNamed("tsk-runtime").some((d) => d.endsWith(id)), cgroupPath);
  await stopSupervisor(ctx.root);
  const holder = posix.join(ctx.root, ".supervisor", "deleting", "crashed");
  Deno.mkdirSync(holder, { recursive: true });
  Deno.renameSync(posix.join(ctx.root, id), posix.join(holder, id));
  try {
    assert.equal((await tsk(ctx.root, ["run", "--bundle", b, uid("next")])).code, 0);
    await stopSupervisor(ctx.root);
    assert.deepEqual(deleting(ctx.root), []);
    // The crashed one's holder is gone, and so is the stopped one's.
    assert.deepEqual(
      [...Deno.readDirSync(posix.join(ctx.root, ".supervisor", "deleting"))].map((e) => e.name),
      [],
    );
    assert.deepEqual(listIds(ctx.root), []);
    assert.deepEqual(cgroupDirsNamed("tsk-runtime").filter((d) => d.endsWith(id)), []);
  } finally {
    // On failure, its cgroup must not outlive the test.
    if (deleting(ctx.root).length > 0) {
      await tsk(holder, ["--no-supervisor", "delete", "--force", id]).catch(() => {});
    }
  }
});

test("supervisor: a malformed request gets an error naming the field, and it serves on", async (ctx) => {
  const b = await bundle(ctx, "b", ["true"]);
  assert.equal((await tsk(ctx.root, ["run", "--bundle", b, uid("first")])).code, 0);
  // The supervisor's replies to one request line, up to its hang-up.
  const ask = async (line: string): Promise<{ type: string; message?: string }[]> => {
    const conn = await Deno.connect({
      transport: "unix",
      path: posix.join(ctx.root, ".supervisor", "sock"),
    });
    try {
      await conn.write(new TextEncoder().encode(line + "\n"));
      const text = await new Response(conn.readable).text();
      return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    } catch (e) {
      conn.close();
      throw e;
    }
  };
  const cases: [string, RegExp][] = [
    ["[1]", /^request: expected a JSON object/],
    [`{"op":"reboot"}`, /^request\.op: expected one of/],
    [`{"op":"state"}`, /^request\.id: expected a non-empty string/],
    [`{"op":"state","id":"../etc"}`, /^request\.id: expected letters/],
    [`{"op":"run","id":"x","bundle":"rel/dir"}`, /^request\.bundle: expected an absolute path/],
    [`{"op":"delete","id":"x","force":"yes"}`, /^request\.force: expected true or false/],
  ];
  for (const [line, want] of cases) {
    const replies = await ask(line);
    assert.equal(replies.length, 1, JSON.stringify(replies));
    assert.equal(replies[0].type, "error", line);
    assert.match(replies[0].message ?? "", want, line);
  }
  // Still serving, and nothing was created.
  assert.deepEqual((await ask(`{"op":"ping"}`)).map((r) => r.type), ["accepted", "ok"]);
  assert.deepEqual(listIds(ctx.root), []);
  assert.equal((await tsk(ctx.root, ["run", "--bundle", b, uid("after")])).code, 0);
});

test("supervisor: exits once idle, and --no-supervisor never starts one", async (ctx) => {
  const b = await bundle(ctx, "b", ["true"]);
  let r = await tsk(ctx.root, ["--no-supervisor", "run", "--bundle", b, uid("direct")]);
  assert.equal(r.code, 0, r.stderr);
  assert.throws(() => Deno.statSync(posix.join(ctx.root, ".supervisor")), Deno.errors.NotFound);
  r = await tsk(ctx.root, ["run", "--bundle", b, uid("idle")], {
    TSK_RUNTIME_SUPERVISOR_IDLE: "1",
  });
  assert.equal(r.code, 0, r.stderr);
  const pid = supervisorPid(ctx.root);
  const poolInits = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(" ")
    .filter(Boolean).map(Number);
  await until("the idle supervisor exits", () => !alive(pid));
  for (const f of ["sock", "pid"]) {
    assert.throws(
      () => Deno.statSync(posix.join(ctx.root, ".supervisor", f)),
      Deno.errors.NotFound,
    );
  }
  const log = Deno.readTextFileSync(posix.join(ctx.root, ".supervisor", "log"));
  assert.match(log, /"msg":"idle: exiting"/);
  // Its idle inits went with it.
  for (const p of poolInits) assert.ok(!alive(p), `idle init ${p} outlived its supervisor`);
});

test("supervisor: a change to its sources hands the root over; the old one stays the parent of what runs", async (ctx) => {
  const src = posix.join(ctx.base, "src");
  await Deno.mkdir(src);
  await Deno.writeTextFile(posix.join(src, "mod.ts"), "export const v = 1;\n");
  const old = new Deno.Command(runtimeArgv(ctx.root)[0], {
    args: [...runtimeArgv(ctx.root).slice(1), "supervisor", "--idle-timeout", "0", "--watch", src],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await until(
      "the supervisor listens",
      () => exists(posix.join(ctx.root, ".supervisor", "sock")),
    );
    const b = await bundle(ctx, "b", ["sleep", "30"]);
    const id = uid("old");
    // A `run --keep` that waits in the background (stdio in files: the
    // container holds them).
    const out = posix.join(ctx.base, "out");
    const client = new Deno.Command("sh", {
      args: [
        "-c",
        `exec "$@" >${out} 2>&1`,
        "sh",
        ...runtimeArgv(ctx.root),
        "run",
        "--keep",
        "--bundle",
        b,
        id,
      ],
      stdin: "null",
    }).spawn();
    const statePath = posix.join(ctx.root, id, "state.json");
    await until("the container runs", () => exists(statePath));
    const initPid = Number(JSON.parse(Deno.readTextFileSync(statePath)).pid);
    await until("the supervisor is its parent", () => parentOf(initPid) === old.pid);

    // An upgrade: the old supervisor stops serving and lets go of the root.
    await Deno.writeTextFile(posix.join(src, "mod.ts"), "export const v = 2;\n");
    await until(
      "the old supervisor stops listening",
      () => !exists(posix.join(ctx.root, ".supervisor", "sock")),
    );
    assert.match(
      Deno.readTextFileSync(posix.join(ctx.root, ".supervisor", "log")),
      /handing over to a new supervisor.*mod\.ts changed/,
    );
    // The next command starts a new supervisor, which serves at once.
    const b2 = await bundle(ctx, "b2", ["sh", "-c", "echo new"]);
    const second = await tsk(ctx.root, ["run", "--bundle", b2, uid("new")]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, "new\n");
    const fresh = supervisorPid(ctx.root);
    assert.notEqual(fresh, old.pid);
    // The old one still runs as the parent of its container...
    assert.ok(alive(old.pid));
    assert.equal(parentOf(initPid), old.pid);
    assert.equal(JSON.parse((await tsk(ctx.root, ["state", id])).stdout).status, "running");
    // ...which the new one can kill; the old one reaps it, records how it
    // ended, and exits.
    assert.equal((await tsk(ctx.root, ["kill", id, "KILL"])).code, 0);
    assert.equal((await client.status).code, 137, Deno.readTextFileSync(out));
    const st = await old.status;
    assert.equal(st.code, 0);
    const exit = JSON.parse(Deno.readTextFileSync(posix.join(ctx.root, id, "exit.json")));
    assert.equal(exit.signal, 9);
    assert.equal((await tsk(ctx.root, ["delete", id])).code, 0);
    assert.deepEqual(listIds(ctx.root), []);
    assert.ok(alive(fresh));
  } finally {
    try {
      old.kill("SIGKILL");
    } catch { /* exited */ }
    await old.status;
  }
});

test("supervisor: exec, ps, pause and resume go through it", async (ctx) => {
  const sup = await startSupervisor(ctx);
  const b = await bundle(ctx, "b", ["sleep", "30"]);
  const id = uid("ops");
  const r = await tskToFiles(ctx.root, ["run", "--detach", "--bundle", b, id]);
  assert.equal(r.code, 0, r.stderr);
  const log = () => Deno.readTextFileSync(posix.join(ctx.root, ".supervisor", "log"));

  // exec with the caller's stdio; the exit status is the process's.
  let e = await tsk(ctx.root, ["exec", id, "sh", "-c", "echo out; echo err >&2; exit 7"]);
  assert.equal(e.code, 7, e.stderr);
  assert.equal(e.stdout, "out\n");
  assert.equal(e.stderr, "err\n");
  assert.match(log(), /"msg":"exec".*"args":\["sh","-c","echo out/);
  // --process, through the supervisor too.
  const proc = JSON.parse(Deno.readTextFileSync(posix.join(b, "config.json"))).process;
  const procFile = posix.join(ctx.base, "proc.json");
  proc.args = ["sh", "-c", "exit 4"];
  Deno.writeTextFileSync(procFile, JSON.stringify(proc));
  e = await tsk(ctx.root, ["exec", "--process", procFile, id]);
  assert.equal(e.code, 4, e.stderr);
  assert.match(log(), /"msg":"exec".*"args":\["sh","-c","exit 4"\]/);
  // --detach (with --pid-file) stays in the calling process, as runc's: the
  // process is the caller's to reap, not the supervisor's.
  proc.args = ["sleep", "20"];
  Deno.writeTextFileSync(procFile, JSON.stringify(proc));
  const pidFile = posix.join(ctx.base, "exec.pid");
  e = await tskToFiles(ctx.root, [
    "exec",
    "--detach",
    "--process",
    procFile,
    "--pid-file",
    pidFile,
    id,
  ]);
  assert.equal(e.code, 0, e.stderr);
  const execPid = Number(Deno.readTextFileSync(pidFile));
  assert.notEqual(parentOf(execPid), sup);
  assert.doesNotMatch(log(), /"args":\["sleep","20"\]/);

  // ps lists the init and the exec'd process, as JSON and as a table.
  const ps = await tsk(ctx.root, ["ps", "--format", "json", id]);
  assert.equal(ps.code, 0, ps.stderr);
  const initPid = JSON.parse((await tsk(ctx.root, ["state", id])).stdout).pid;
  assert.deepEqual((JSON.parse(ps.stdout) as number[]).sort(), [initPid, execPid].sort());
  const table = await tsk(ctx.root, ["ps", id]);
  // As runc's ps (ps -ef): UID PID PPID C STIME TTY TIME CMD.
  assert.match(table.stdout, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n/);
  assert.match(
    table.stdout,
    new RegExp(
      `^root\\s+${execPid}\\s+\\d+\\s+\\d+\\s+(\\d\\d:\\d\\d|[A-Z][a-z]{2}\\d\\d)\\s+\\?\\s+\\d\\d:\\d\\d:\\d\\d\\s+sleep 20$`,
      "m",
    ),
  );

  // pause and resume.
  assert.equal((await tsk(ctx.root, ["pause", id])).code, 0);
  assert.equal(JSON.parse((await tsk(ctx.root, ["state", id])).stdout).status, "paused");
  assert.equal((await tsk(ctx.root, ["resume", id])).code, 0);
  assert.equal(JSON.parse((await tsk(ctx.root, ["state", id])).stdout).status, "running");
  // Both went through the supervisor, which logs each.
  assert.match(log(), new RegExp(`"msg":"paused","id":"${id}"`));
  assert.match(log(), new RegExp(`"msg":"resumed","id":"${id}"`));

  // A signal to exec reaches the process.
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...runtimeArgv(ctx.root).slice(1),
      "exec",
      id,
      "sh",
      "-c",
      // The trap also ends the sleep: it holds the pipe to our stdout.
      "trap 'kill $!; exit 5' TERM; echo up; sleep 30 & wait",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "up\n");
  reader.releaseLock();
  child.kill("SIGTERM");
  assert.equal((await child.output()).code, 5);

  // Errors name what is wrong; a missing container is reported, not served.
  e = await tsk(ctx.root, ["exec", uid("nope"), "true"]);
  assert.equal(e.code, 1);
  assert.match(e.stderr, /does not exist/);
  assert.equal(supervisorPid(ctx.root), sup);
  assert.equal((await tsk(ctx.root, ["delete", "--force", id])).code, 0);
});
