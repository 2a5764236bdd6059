/**
 * `deno task bench trace_runtime [--runs N] [--gap-ms MS]`: where a
 * supervised `tsk-runtime run` of a busybox `true` container spends its
 * time, phase by phase, from the kernel's own tracepoints. It runs the
 * command N times (default 20, MS apart, default 100) under `perf record
 * -a` (Debian's linux-perf; root) and reads, for each run, when the command
 * execs, connects to the supervisor and sends its request, when the
 * supervisor sends the pooled init its configuration, when the init execs
 * the container's process, when that exits and is reaped, when the answer
 * goes out, and when the command exits and this process's wait returns.
 *
 * Only the events named below are traced, so the cost is small next to
 * `strace` (which made the command five times slower), but every system call
 * takes the tracing path: read the phases against each other, not as
 * absolute figures. Not a test; docs/benchmarks.md has the figures.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { posix } from "node:path";
import { stopSupervisor, supervisorPid, writeBenchBundle } from "./_runtime_bench.ts";
import { median } from "./_stats.ts";

/** One line of `perf script -F comm,pid,tid,time,event,trace`. */
export interface TraceEvent {
  /** Milliseconds (the trace clock). */
  t: number;
  /** The task's name (`deno`, `true`, `tokio-runtime-w`, ...). */
  comm: string;
  /** The process (thread group) id. */
  pid: number;
  /** The thread id. */
  tid: number;
  /** `sched:sched_process_exec`, `syscalls:sys_exit_wait4`, ... */
  event: string;
  /** The event's fields as perf prints them. */
  rest: string;
}

/**
 * The tracepoints the phases are read from (`perf record -e` each).
 *
 * @example
 * ```ts
 * import { EVENTS } from "./trace_runtime.ts";
 * const args = EVENTS.flatMap((e) => ["-e", e]); // for `perf record -a`
 * ```
 */
export const EVENTS = [
  "sched:sched_process_exec",
  "sched:sched_process_exit",
  "syscalls:sys_enter_connect",
  "syscalls:sys_enter_sendto",
  "syscalls:sys_enter_sendmsg",
  "syscalls:sys_enter_execve",
  "syscalls:sys_exit_wait4",
  "syscalls:sys_enter_exit_group",
] as const;

const LINE = /^\s*(.+?)\s+(\d+)\/(\d+)\s+([\d.]+):\s+([\w:]+):\s*(.*)$/;

/**
 * Parses `perf script -F comm,pid,tid,time,event,trace` output; lines of
 * another shape are skipped.
 *
 * @example
 * ```ts
 * import { parsePerfScript } from "./trace_runtime.ts";
 * const [e] = parsePerfScript(
 *   "  deno 12/12 100.5:  sched:sched_process_exec: filename=/usr/bin/deno pid=12 old_pid=12",
 * );
 * e.pid; // 12
 * ```
 */
export function parsePerfScript(text: string): TraceEvent[] {
  const out: TraceEvent[] = [];
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    out.push({
      comm: m[1],
      pid: Number(m[2]),
      tid: Number(m[3]),
      t: Number(m[4]) * 1000,
      event: m[5],
      rest: m[6],
    });
  }
  return out;
}

/**
 * The phases of one run, in order, each from the previous mark: the key of
 * {@linkcode phaseDurations}'s result and a label.
 *
 * @example
 * ```ts
 * import { PHASES } from "./trace_runtime.ts";
 * for (const [key, label] of PHASES) console.log(key, label);
 * ```
 */
export const PHASES = [
  ["connect", "command's execve → connect to the supervisor"],
  ["send", "connect → request sent"],
  ["config", "request → configuration sent to the init"],
  ["initExec", "configuration → the init's execve"],
  ["containerExec", "the init's execve → the container's process runs"],
  ["containerExit", "the container's process runs and exits"],
  ["reaped", "its exit → the supervisor reaps it"],
  ["answer", "reaped → answer sent"],
  ["exitGroup", "answer → the command's exit_group"],
  ["done", "exit_group → the caller's wait returns"],
] as const;

/** A mark's name. */
export type Mark = "exec" | typeof PHASES[number][0];

/** The pids a run's marks are told apart by. */
export interface RunPids {
  /** The `tsk-runtime run` command. */
  command: number;
  /** The supervisor serving it. */
  supervisor: number;
  /** The process that ran the command and waits for it. */
  caller: number;
}

/** The return value of a `sys_exit_*` event (perf prints it in hex). */
function returned(e: TraceEvent): number {
  return Number.parseInt(e.rest.trim(), 16);
}

/**
 * Reads one run's marks from the trace (times in ms), or `null` when one is
 * missing (a run that failed, or a trace that lost events). The init is the
 * process whose exec of the container's program follows the request; the
 * configuration is the supervisor's last `sendmsg` before that init's
 * execve, the answer its last before the command exits.
 *
 * @example
 * ```ts ignore
 * import { parsePerfScript, runMarks } from "./trace_runtime.ts";
 * const marks = runMarks(parsePerfScript(text), { command: 12, supervisor: 7, caller: 5 });
 * ```
 */
export function runMarks(
  events: readonly TraceEvent[],
  pids: RunPids,
): Record<Mark, number> | null {
  const m: Partial<Record<Mark, number>> = {};
  const at = (i: number) => events[i].t;
  const find = (from: number, ok: (e: TraceEvent) => boolean) => {
    for (let i = from; i < events.length; i++) if (ok(events[i])) return i;
    return -1;
  };
  const exec = find(
    0,
    (e) => e.event === "sched:sched_process_exec" && e.pid === pids.command,
  );
  if (exec < 0) return null;
  m.exec = at(exec);
  const connect = find(
    exec,
    (e) => e.event === "syscalls:sys_enter_connect" && e.pid === pids.command,
  );
  const send = connect < 0
    ? -1
    : find(connect, (e) => e.event === "syscalls:sys_enter_sendto" && e.pid === pids.command);
  if (send < 0) return null;
  m.connect = at(connect);
  m.send = at(send);
  // The container's process: the first exec, after the request, of a
  // process that is neither the command nor the supervisor and was a
  // stage of the runtime (its execve came from a `deno-*` process).
  const initExecve = find(
    send,
    (e) =>
      e.event === "syscalls:sys_enter_execve" && e.comm.startsWith("deno-") &&
      e.pid !== pids.command && e.pid !== pids.supervisor,
  );
  if (initExecve < 0) return null;
  const init = events[initExecve].pid;
  let config = -1;
  for (let i = send; i < initExecve; i++) {
    const e = events[i];
    if (e.event === "syscalls:sys_enter_sendmsg" && e.pid === pids.supervisor) config = i;
  }
  const containerExec = find(
    initExecve,
    (e) => e.event === "sched:sched_process_exec" && e.pid === init,
  );
  const containerExit = containerExec < 0 ? -1 : find(
    containerExec,
    (e) =>
      e.event === "sched:sched_process_exit" && e.pid === init &&
      /group_dead=1|group_dead=true/.test(e.rest),
  );
  const reaped = containerExit < 0 ? -1 : find(
    containerExit,
    (e) =>
      e.event === "syscalls:sys_exit_wait4" && e.pid === pids.supervisor && returned(e) === init,
  );
  const exitGroup = reaped < 0 ? -1 : find(
    reaped,
    (e) =>
      e.event === "syscalls:sys_enter_exit_group" && e.pid === pids.command &&
      e.tid === pids.command,
  );
  // The answer: the supervisor's last message before the command exits
  // (a `started` can come after the reap when the container is that quick).
  let answer = -1;
  for (let i = reaped; i >= 0 && i < exitGroup; i++) {
    const e = events[i];
    if (e.event === "syscalls:sys_enter_sendmsg" && e.pid === pids.supervisor) answer = i;
  }
  const done = exitGroup < 0 ? -1 : find(
    exitGroup,
    (e) =>
      e.event === "syscalls:sys_exit_wait4" && e.pid === pids.caller &&
      returned(e) === pids.command,
  );
  if ([config, containerExec, containerExit, reaped, answer, exitGroup, done].some((i) => i < 0)) {
    return null;
  }
  m.config = at(config);
  m.initExec = at(initExecve);
  m.containerExec = at(containerExec);
  m.containerExit = at(containerExit);
  m.reaped = at(reaped);
  m.answer = at(answer);
  m.exitGroup = at(exitGroup);
  m.done = at(done);
  return m as Record<Mark, number>;
}

/**
 * Each phase's duration in ms (a mark minus the one before it).
 *
 * @example
 * ```ts ignore
 * import { phaseDurations } from "./trace_runtime.ts";
 * phaseDurations(marks).connect; // ms from the command's exec to its connect
 * ```
 */
export function phaseDurations(marks: Record<Mark, number>): Record<string, number> {
  const out: Record<string, number> = {};
  let prev: number = marks.exec;
  for (const [name] of PHASES) {
    out[name] = marks[name] - prev;
    prev = marks[name];
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "20" },
      "gap-ms": { type: "string", default: "100" },
    },
  });
  const runs = Number(values.runs);
  const gapMs = Number(values["gap-ms"]);
  if (!Number.isInteger(runs) || runs < 1) {
    throw new Error(`trace_runtime: --runs: expected a whole number above 0, got ${values.runs}`);
  }
  if (!(gapMs >= 0)) {
    throw new Error(`trace_runtime: --gap-ms: expected 0 or more, got ${values["gap-ms"]}`);
  }
  if (Deno.uid() !== 0) throw new Error("trace_runtime: containers and perf -a need root");
  const perfWorks = await new Deno.Command("perf", {
    args: ["--version"],
    stdout: "null",
    stderr: "null",
  }).output().then((r) => r.success, () => false);
  if (!perfWorks) {
    throw new Error("trace_runtime: perf does not run here (apt-get install linux-perf)");
  }

  const base = await Deno.makeTempDir({ prefix: "tsk-trace-runtime-" });
  const bundle = posix.join(base, "bundle");
  const root = posix.join(base, "state");
  const entry = new URL("../runtime/main.ts", import.meta.url).pathname;
  const cli = (id: string) => [
    "run",
    "-A",
    "--no-config",
    "--no-lock",
    entry,
    "--root",
    root,
    "run",
    "--bundle",
    bundle,
    id,
  ];
  let perf: Deno.ChildProcess | undefined;
  try {
    await writeBenchBundle(bundle);
    const runOnce = async (id: string) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: cli(id),
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const r = await child.output();
      if (!r.success) {
        throw new Error(`trace_runtime: run ${id} failed: ${new TextDecoder().decode(r.stderr)}`);
      }
      return child.pid;
    };
    // Warm-up: the first run starts the supervisor; the others fill its pool.
    for (let i = 0; i < 3; i++) await runOnce(`warm-${i}`);
    await new Promise((r) => setTimeout(r, 500));
    const supervisor = supervisorPid(root);
    if (supervisor === null) {
      throw new Error("trace_runtime: the warm-up runs started no supervisor");
    }

    const data = posix.join(base, "perf.data");
    perf = new Deno.Command("perf", {
      args: ["record", "-a", "-q", "-o", data, ...EVENTS.flatMap((e) => ["-e", e])],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await new Promise((r) => setTimeout(r, 1000)); // perf sets its tracepoints up
    const commands: number[] = [];
    for (let i = 0; i < runs; i++) {
      commands.push(await runOnce(`trace-${i}`));
      await new Promise((r) => setTimeout(r, gapMs));
    }
    perf.kill("SIGINT");
    const stopped = await perf.output();
    perf = undefined;
    if (!stopped.success && stopped.code !== 130 && stopped.code !== 2) {
      throw new Error(`trace_runtime: perf record: ${new TextDecoder().decode(stopped.stderr)}`);
    }
    const script = await new Deno.Command("perf", {
      args: ["script", "-i", data, "-F", "comm,pid,tid,time,event,trace"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const events = parsePerfScript(new TextDecoder().decode(script.stdout));

    const per: Record<string, number[]> = Object.fromEntries(PHASES.map(([n]) => [n, []]));
    let complete = 0;
    for (const command of commands) {
      const marks = runMarks(events, { command, supervisor, caller: Deno.pid });
      if (marks === null) continue;
      complete++;
      for (const [k, v] of Object.entries(phaseDurations(marks))) per[k].push(v);
    }
    console.log(
      `supervised \`tsk-runtime run\` of busybox \`true\`: ${complete} of ${runs} runs traced, ${gapMs} ms apart, ms`,
    );
    console.log();
    console.log(`${"phase".padEnd(52)}  median     min     max`);
    for (const [name, label] of PHASES) {
      const xs = per[name];
      if (xs.length === 0) continue;
      console.log(
        `${label.padEnd(52)}  ${median(xs).toFixed(2).padStart(6)}  ${
          Math.min(...xs).toFixed(2).padStart(6)
        }  ${Math.max(...xs).toFixed(2).padStart(6)}`,
      );
    }
    console.log();
    for (const [name] of PHASES) {
      const xs = per[name];
      if (xs.length === 0) continue;
      console.log(JSON.stringify({
        tool: "trace_runtime",
        phase: name,
        unit: "ms",
        median: Number(median(xs).toFixed(3)),
        min: Number(Math.min(...xs).toFixed(3)),
        max: Number(Math.max(...xs).toFixed(3)),
        runs: xs.length,
      }));
    }
    if (complete === 0) throw new Error("trace_runtime: no run could be read from the trace");
  } finally {
    perf?.kill("SIGINT");
    await perf?.status;
    await stopSupervisor(root);
    await Deno.remove(base, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(1);
  }
}
