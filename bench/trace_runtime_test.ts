import assert from "node:assert/strict";
import { parsePerfScript, phaseDurations, runMarks } from "./trace_runtime.ts";

// One supervised run as `perf script -F comm,pid,tid,time,event,trace` prints
// it (shortened from a real trace): the command is 300, the supervisor 100,
// the caller 50, the pooled init 200; a refilled init (400) execs meanwhile.
const TRACE = `
            deno   300/300   1000.000000:      sched:sched_process_exec: filename=/usr/bin/deno pid=300 old_pid=300
            deno   300/300   1000.020000:    syscalls:sys_enter_connect: fd: 0x00000016, uservaddr: 0x7ffc, addrlen: 0x0000001f
            deno   300/300   1000.021500:     syscalls:sys_enter_sendto: fd: 0x00000016, buff: 0x5603, len: 0x00000037, flags: 0x00004000
            deno   100/100   1000.021800:    syscalls:sys_enter_sendmsg: fd: 0x00000018, msg: 0x5649, flags: 0x00004000
            deno   100/100   1000.022600:    syscalls:sys_enter_sendmsg: fd: 0x0000001b, msg: 0x5649, flags: 0x00004000
            deno   400/400   1000.023000:     syscalls:sys_enter_execve: filename: 0x5627, argv: 0x5627, envp: 0x5627
 deno-65024-1466   200/200   1000.028000:     syscalls:sys_enter_execve: filename: 0x5627, argv: 0x5627, envp: 0x5627
            true   200/200   1000.031000:      sched:sched_process_exec: filename=/bin/true pid=200 old_pid=200
            true   200/200   1000.031500:      sched:sched_process_exit: comm=true pid=200 prio=120 group_dead=true
 tokio-runtime-w   100/107   1000.032000:       syscalls:sys_exit_wait4: 0xc8
            deno   100/100   1000.032200:    syscalls:sys_enter_sendmsg: fd: 0x00000018, msg: 0x5649, flags: 0x00004000
            deno   100/100   1000.033000:    syscalls:sys_enter_sendmsg: fd: 0x00000018, msg: 0x5649, flags: 0x00004000
            deno   300/301   1000.033500: syscalls:sys_enter_exit_group: error_code: 0x00000000
            deno   300/300   1000.033600: syscalls:sys_enter_exit_group: error_code: 0x00000000
 tokio-runtime-w    50/55    1000.037000:       syscalls:sys_exit_wait4: 0x12c
not a perf line
`;

Deno.test("parsePerfScript reads comm, pid, tid, time in ms, event and fields", () => {
  const events = parsePerfScript(TRACE);
  assert.equal(events.length, 15);
  assert.deepEqual(events[9], {
    comm: "tokio-runtime-w",
    pid: 100,
    tid: 107,
    t: 1000032,
    event: "syscalls:sys_exit_wait4",
    rest: "0xc8",
  });
});

Deno.test("runMarks finds each phase of a run by pid, and phaseDurations subtracts them", () => {
  const marks = runMarks(parsePerfScript(TRACE), { command: 300, supervisor: 100, caller: 50 });
  assert.ok(marks);
  const d = phaseDurations(marks);
  const ms = (x: number) => Math.round(x * 1000) / 1000;
  assert.deepEqual(Object.fromEntries(Object.entries(d).map(([k, v]) => [k, ms(v)])), {
    connect: 20, // exec → connect
    send: 1.5,
    config: 1.1, // the supervisor's last sendmsg before the init's execve
    initExec: 5.4, // the refilled init's execve (pid 400, not a stage's comm) is not it
    containerExec: 3,
    containerExit: 0.5,
    reaped: 0.5, // wait4 returned 0xc8 = 200
    answer: 1, // the last sendmsg before the command exits, not the first after the reap
    exitGroup: 0.6, // the main thread's exit_group, not another thread's
    done: 3.4, // the caller's wait4 returned 0x12c = 300
  });
});

Deno.test("runMarks gives null for a run it cannot follow", () => {
  const events = parsePerfScript(TRACE);
  assert.equal(runMarks(events, { command: 999, supervisor: 100, caller: 50 }), null);
  // The caller's wait is missing: no `done`, so no run.
  const cut = events.filter((e) => !(e.pid === 50));
  assert.equal(runMarks(cut, { command: 300, supervisor: 100, caller: 50 }), null);
});
