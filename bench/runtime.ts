/**
 * `deno task bench runtime [--iterations N] [--settle-ms MS] [--only NAMES] [--seed S]`:
 * create+start+wait+delete of a busybox `true` container from one bundle,
 * N times each (default 100; each after MS of quiet, default 0), through
 * tsk-runtime's CLI (through its supervisor, the same with
 * TSK_RUNTIME_QUICK_EXIT=1, and with `--no-supervisor`),
 * through the library API in this long-lived process (with a pool of
 * pre-started inits, and without), runc and crun. The supervised CLI's CPU
 * time includes the supervisor's and that of the inits it reaped.
 * `--only` keeps the runners whose names contain one of the comma-separated
 * NAMES, or the one runner a whole name names (`--only "tsk-runtime CLI,runc"`:
 * the supervised CLI against runc alone).
 *
 * Each round runs every runner once, in an order shuffled from the seed S
 * (printed; random by default).
 *
 * Besides each runner's median, each comparison is paired round by round:
 * the median of the per-round ratios with its 95% interval, and whether the
 * interval clears 1 (`bench/_stats.ts`); the machine's speed swings between
 * minutes, and the pairing keeps a slow phase out of the verdict.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { posix } from "node:path";
import { createContainer, InitPool } from "@tsk/runtime";
import { stopSupervisor, supervisorPid, writeBenchBundle } from "./_runtime_bench.ts";
import { median, pairedRatio, seededRandom, shuffled } from "./_stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    iterations: { type: "string", default: "100" },
    "settle-ms": { type: "string", default: "0" },
    only: { type: "string" },
    seed: { type: "string" },
  },
});
const N = Number(values.iterations);
const SETTLE_MS = Number(values["settle-ms"]);
const SEED = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isInteger(N) || N < 1) {
  console.error(
    `bench runtime: --iterations: expected a whole number above 0, got ${values.iterations}`,
  );
  Deno.exit(2);
}
if (!Number.isInteger(SEED) || SEED < 0) {
  console.error(`bench runtime: --seed: expected a whole number, 0 or more, got ${values.seed}`);
  Deno.exit(2);
}
if (!(SETTLE_MS >= 0)) {
  console.error(
    `bench runtime: --settle-ms: expected 0 or more milliseconds, got ${values["settle-ms"]}`,
  );
  Deno.exit(2);
}
if (Deno.uid() !== 0) {
  console.error("bench runtime: containers need root");
  Deno.exit(1);
}

function hybridWithV2Controllers(): boolean {
  try {
    return Deno.readTextFileSync("/sys/fs/cgroup/unified/cgroup.controllers").trim() !== "";
  } catch {
    return false;
  }
}

// crun 1.8 refuses hybrid hosts whose v2 hierarchy holds any controller
// (this host: hugetlb). The whole benchmark then re-runs itself in a private
// mount namespace where an empty tmpfs hides /sys/fs/cgroup/unified, so all
// four runners see the same (v1) host.
const notes: string[] = [];
if (hybridWithV2Controllers()) {
  if (Deno.env.get("TSK_BENCH_PRIVATE_NS") === "1") {
    throw new Error(
      "bench runtime: /sys/fs/cgroup/unified is still visible in the private namespace",
    );
  }
  const r = await new Deno.Command("unshare", {
    args: [
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      'mount -t tmpfs tmpfs /sys/fs/cgroup/unified && exec "$@"',
      "sh",
      Deno.execPath(),
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      ...Deno.args,
    ],
    env: { TSK_BENCH_PRIVATE_NS: "1" },
  }).spawn().status;
  Deno.exit(r.code);
}
if (Deno.env.get("TSK_BENCH_PRIVATE_NS") === "1") {
  notes.push(
    "ran in a mount namespace hiding /sys/fs/cgroup/unified (crun refuses this hybrid host)",
  );
}

const base = await Deno.makeTempDir({ prefix: "tsk-bench-runtime-" });
const bundle = await writeBenchBundle(posix.join(base, "bundle"));
const MAIN = new URL("../runtime/main.ts", import.meta.url).pathname;

type Runner = () => Promise<number>;

// CPU time (user + system), which the host's load does not inflate the way
// it inflates wall time: getrusage(2) of this process and of the reaped
// children (a CLI's container init is reaped by that CLI, so it counts).
const rusage = Deno.dlopen("libc.so.6", {
  getrusage: { parameters: ["i32", "buffer"], result: "i32" },
}).symbols.getrusage;
function cpuMs(who: 0 | -1): number {
  const buf = new BigInt64Array(18); // struct rusage: two timevals first
  rusage(who, new Uint8Array(buf.buffer));
  return Number(buf[0] + buf[2]) * 1000 + Number(buf[1] + buf[3]) / 1000;
}
/** CPU ms of this process (RUSAGE_SELF) plus reaped children (RUSAGE_CHILDREN). */
function cpuNow(includeSelf: boolean): number {
  return cpuMs(-1) + (includeSelf ? cpuMs(0) : 0);
}

function command(
  program: string,
  args: (id: string) => string[],
  env: Record<string, string> = {},
): Runner {
  return async () => {
    const id = `bench-${crypto.randomUUID().slice(0, 8)}`;
    const t0 = performance.now();
    const r = await new Deno.Command(program, {
      args: args(id),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env,
    }).output();
    const ms = performance.now() - t0;
    if (!r.success) throw new Error(`${program} failed: ${new TextDecoder().decode(r.stderr)}`);
    return ms;
  };
}

function library(pool: InitPool | undefined): Runner {
  const root = posix.join(base, "lib-state");
  return async () => {
    // Latency with a warm pool: wait (untimed) until it has refilled.
    if (pool && !(await pool.ready())) throw new Error("the init pool did not refill in 5 s");
    const t0 = performance.now();
    const c = await createContainer(`bench-${crypto.randomUUID().slice(0, 8)}`, {
      bundle,
      root,
      pool,
      stdio: { stdout: "null", stderr: "null" },
    });
    await c.start();
    const st = await c.wait();
    await c.delete();
    const ms = performance.now() - t0;
    if (st.exitCode !== 0) throw new Error(`library run exited ${st.exitCode}`);
    return ms;
  };
}

async function has(program: string): Promise<boolean> {
  try {
    return (await new Deno.Command(program, { args: ["--version"], stdout: "null", stderr: "null" })
      .output())
      .success;
  } catch {
    return false;
  }
}

const cli = ["run", "-A", "--no-config", "--no-lock", MAIN];
const rest = (id: string) => ["--bundle", bundle, id];
const supRoot = posix.join(base, "cli-sup-state");

/** CPU ms the supervisor used, with the inits it reaped (utime+stime+cutime+cstime). */
function supervisorCpuMs(): number {
  const pid = supervisorPid(supRoot);
  if (pid === null) return 0;
  try {
    const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
    // Fields 14-17 of stat, in clock ticks (100 per second here).
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
  } catch {
    return 0;
  }
}

/**
 * CPU time of every thread of `pid` so far, in nanoseconds (schedstat), or
 * `null` when gone or when a thread is not sleeping interruptibly (one
 * waiting in the kernel, for an RCU grace period say, uses no CPU).
 */
function threadsCpuNs(pid: number): number | null {
  try {
    let ns = 0;
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        const stat = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`);
        if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "S") return null;
        ns += Number(Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/schedstat`).split(" ")[0]);
      } catch { /* the thread ended */ }
    }
    return ns;
  } catch {
    return null;
  }
}

/** How long the supervisor must have used no CPU before a run: its refill is done. */
const SUPERVISOR_QUIET_MS = 10;

/**
 * Waits (untimed) until the supervisor has two idle inits waiting for their
 * configuration, and has itself used no CPU for {@linkcode SUPERVISOR_QUIET_MS}:
 * a refilled init blocks on its configuration before the supervisor has
 * moved it into its cgroup, and those moves (each waiting for an RCU grace
 * period under the cgroup mutex, 5-14 ms here) would otherwise run during
 * the next runner's timed run (runc's own cgroup writes wait for that mutex).
 */
async function supervisorPoolReady(): Promise<boolean> {
  const pid = supervisorPid(supRoot);
  if (pid === null) return true;
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    try {
      const kids = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(" ")
        .filter(Boolean);
      const idle = kids.filter((k) => {
        try {
          // Blocked reading its configuration socket (see runtime/pool.ts).
          return /^unix_stream_/.test(Deno.readTextFileSync(`/proc/${k}/wchan`));
        } catch {
          return false;
        }
      });
      if (idle.length >= 2) {
        const before = threadsCpuNs(pid);
        await new Promise((r) => setTimeout(r, SUPERVISOR_QUIET_MS));
        if (before !== null && threadsCpuNs(pid) === before) return true;
        continue; // busy: look again at once
      }
    } catch { /* starting */ }
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}

const pool = new InitPool({ size: 2 });
try {
  const runners: Record<string, Runner> = {
    // The default path: a request to the root's supervisor (started by the
    // warm-up rounds), which keeps its own pool of inits.
    "tsk-runtime CLI": command(
      Deno.execPath(),
      (id) => [...cli, "--root", supRoot, "run", ...rest(id)],
    ),
    // The same with the opt-in quick exit (runtime/_quick_exit.ts).
    "tsk-runtime CLI (quick exit)": command(
      Deno.execPath(),
      (id) => [...cli, "--root", supRoot, "run", ...rest(id)],
      { TSK_RUNTIME_QUICK_EXIT: "1" },
    ),
    "tsk-runtime CLI (direct)": command(
      Deno.execPath(),
      (
        id,
      ) => [...cli, "--root", posix.join(base, "cli-state"), "--no-supervisor", "run", ...rest(id)],
    ),
    "tsk library (pool)": library(pool),
    "tsk library (no pool)": library(undefined),
  };
  for (const peer of ["runc", "crun"]) {
    if (!(await has(peer))) {
      console.error(`bench runtime: ${peer} is not installed (apt-get install ${peer})`);
      continue;
    }
    const root = posix.join(base, `${peer}-state`);
    runners[peer] = command(peer, (id) => ["--root", root, "run", "--bundle", bundle, id]);
  }
  if (values.only !== undefined) {
    // A whole name keeps that runner alone; a part keeps every runner it names.
    const names = Object.keys(runners);
    const wanted = values.only.split(",").map((w) => w.trim()).filter(Boolean);
    const keeps = (name: string, w: string) => names.includes(w) ? name === w : name.includes(w);
    for (const name of names) {
      if (!wanted.some((w) => keeps(name, w))) delete runners[name];
    }
    if (Object.keys(runners).length === 0) {
      throw new Error(`bench runtime: --only: no runner matches ${values.only}`);
    }
  }
  // Every runner once per round, so that the host's load drifts over every
  // runner alike, in a new order each round (seeded: --seed replays it), so
  // that no runner always follows the same one and inherits the same
  // leftovers; two warm-up rounds are not counted.
  const results: Record<string, number[]> = Object.fromEntries(
    Object.keys(runners).map((k) => [k, []]),
  );
  const cpu: Record<string, number> = Object.fromEntries(Object.keys(runners).map((k) => [k, 0]));
  const random = seededRandom(SEED);
  for (let i = -2; i < N; i++) {
    for (const [name, run] of shuffled(Object.entries(runners), random)) {
      // Kernel work a runner leaves behind (its network namespace's
      // teardown, its cgroups' release) runs after it returns: let it
      // finish, so that it is not charged to whichever runner comes next.
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const self = name.startsWith("tsk library");
      const supervised = name.startsWith("tsk-runtime CLI") && !name.includes("direct");
      if (supervised && !(await supervisorPoolReady())) {
        throw new Error("the supervisor did not refill its pool and go quiet in 5 s");
      }
      const c0 = cpuNow(self) + (supervised ? supervisorCpuMs() : 0);
      const ms = await run();
      const used = cpuNow(self) + (supervised ? supervisorCpuMs() : 0) - c0;
      // The pool refills in the background after a take: let it finish
      // (untimed) so that no runner is measured beside a starting init.
      if (!(await pool.ready())) throw new Error("the init pool did not refill in 5 s");
      if (supervised && !(await supervisorPoolReady())) {
        throw new Error("the supervisor did not refill its pool and go quiet in 5 s");
      }
      if (i >= 0) {
        results[name].push(ms);
        cpu[name] += used;
      }
    }
  }
  console.log(
    `create+start+wait+delete of busybox \`true\`, ${N} iterations, each after ${SETTLE_MS} ms of quiet, median ms (order seed ${SEED})`,
  );
  for (const n of notes) console.log(`note: ${n}`);
  console.log();
  console.log("runner                        median ms   min ms   CPU ms/run");
  for (const [k, v] of Object.entries(results)) {
    console.log(
      `${k.padEnd(28)}  ${median(v).toFixed(1).padStart(9)}  ${
        Math.min(...v).toFixed(1).padStart(7)
      }  ${(cpu[k] / N).toFixed(1).padStart(11)}`,
    );
  }
  const line = (metric: string, tsk: number[] | undefined, peer: string) => {
    const p = results[peer];
    if (tsk === undefined || (p === undefined && values.only !== undefined)) return;
    const t = median(tsk);
    const pv = p ? median(p) : null;
    const paired = p ? pairedRatio(tsk, p) : null;
    console.log(JSON.stringify({
      bench: "runtime",
      metric,
      unit: "ms",
      tsk: Number(t.toFixed(2)),
      peer: p ? peer : null,
      peer_value: pv === null ? null : Number(pv.toFixed(2)),
      ratio: pv === null ? null : Number((pv / t).toFixed(3)),
      // Round by round (see bench/_stats.ts): the median ratio, its 95%
      // interval, and whether the interval clears 1.
      paired_ratio: paired && Number(paired.ratio.toFixed(3)),
      paired_ci95: paired && [Number(paired.low.toFixed(3)), Number(paired.high.toFixed(3))],
      paired_verdict: paired?.verdict ?? null,
    }));
  };
  const comparisons: [metric: string, tsk: string, peer: string][] = [
    ["lifecycle_cli_vs_runc", "tsk-runtime CLI", "runc"],
    ["lifecycle_cli_quick_exit_vs_runc", "tsk-runtime CLI (quick exit)", "runc"],
    ["lifecycle_cli_direct_vs_runc", "tsk-runtime CLI (direct)", "runc"],
    ["lifecycle_library_pool_vs_crun", "tsk library (pool)", "crun"],
    ["lifecycle_library_nopool_vs_crun", "tsk library (no pool)", "crun"],
    ["lifecycle_cli_vs_crun", "tsk-runtime CLI", "crun"],
  ];
  console.log();
  console.log("paired by round (peer ms / tsk ms; above 1: tsk faster)  median  95% interval");
  for (const [, tsk, peer] of comparisons) {
    if (!results[tsk] || !results[peer]) continue;
    const r = pairedRatio(results[tsk], results[peer]);
    console.log(
      `${`${tsk} vs ${peer}`.padEnd(56)}  ${r.ratio.toFixed(3)}  ${r.low.toFixed(3)}-${
        r.high.toFixed(3)
      }  ${r.verdict}`,
    );
  }
  console.log();
  for (const [metric, tsk, peer] of comparisons) line(metric, results[tsk], peer);
  const cpuLine = (metric: string, tsk: string, peer: string) => {
    if (cpu[peer] === undefined || cpu[tsk] === undefined) return;
    const t = cpu[tsk] / N, p = cpu[peer] / N;
    console.log(JSON.stringify({
      bench: "runtime",
      metric,
      unit: "cpu_ms",
      tsk: Number(t.toFixed(2)),
      peer,
      peer_value: Number(p.toFixed(2)),
      ratio: Number((p / t).toFixed(3)),
    }));
  };
  cpuLine("cpu_per_lifecycle_cli_vs_runc", "tsk-runtime CLI", "runc");
  cpuLine("cpu_per_lifecycle_cli_direct_vs_runc", "tsk-runtime CLI (direct)", "runc");
  cpuLine("cpu_per_lifecycle_library_pool_vs_crun", "tsk library (pool)", "crun");
} finally {
  await stopSupervisor(supRoot);
  await pool.close();
  await Deno.remove(base, { recursive: true });
}
