/**
 * A quicker exit for the short-lived `tsk-runtime` command: its caller gets
 * the exit status without waiting for the kernel to free Deno's address
 * space.
 *
 * A process's exit frees its memory before its parent can reap it; for a
 * Deno process that is 2-5 ms here (tens of megabytes of mappings), a tenth
 * of a supervised `run`. When another process shares the address space
 * (clone(2) with CLONE_VM), the exit only drops a reference and the last
 * user frees it. So, as it exits, the command clones a helper that shares
 * its memory and descriptor table and only sleeps for {@linkcode LINGER_MS}
 * (glibc's clone() running `usleep`: no JavaScript runs in it), then
 * returns, and the address space goes with it. Its sleep lets the command's
 * own threads finish exiting first: freeing the memory while they still use
 * it (a helper woken as the main thread let go of the address space) made
 * the exit slower, not faster.
 *
 * Before it exits, the command closes every descriptor it inherited (those
 * without close-on-exec: stdin, stdout, stderr and any other its caller
 * passed) and Deno's own duplicates of them, so that its caller sees
 * end-of-file at once too. The helper
 * starts with every signal blocked, so a terminal's Ctrl-C does not reach
 * it, and in / so that it keeps no directory busy. Any step that fails
 * leaves an ordinary exit.
 *
 * Off unless `TSK_RUNTIME_QUICK_EXIT=1`: unlike runc's, such a command leaves
 * a process behind for 25 ms. It is reparented to the caller's reaper (a
 * subreaper such as containerd-shim sees one more child exit; a PID 1 that
 * never reaps, as an application run as a container's PID 1, collects a
 * zombie per command), and it keeps the Deno binary mapped and Deno's own
 * descriptors (its cache databases) open until it goes.
 *
 * @module
 */
import { cstr, libc, preload } from "./_libc.ts";
import { QUICK_EXIT_ENV } from "./_defaults.ts";

/** How long the helper keeps the address space: longer than the command's own exit takes. */
export const LINGER_MS = 25;

/** Sets another linger, in milliseconds (the tests make it long enough to see). */
export const LINGER_ENV = "TSK_RUNTIME_QUICK_EXIT_LINGER_MS";

const CLONE_VM = 0x100;
const CLONE_FILES = 0x400;
const SIGCHLD = 17;
const SIG_BLOCK = 0;
const SIG_SETMASK = 2;
const F_GETFD = 1;

interface Prepared {
  usleep: Deno.PointerObject;
  lingerUs: bigint;
  /** The helper's stack (usleep needs a few hundred bytes). */
  stack: Uint8Array<ArrayBuffer>;
  all: Uint8Array<ArrayBuffer>;
  saved: Uint8Array<ArrayBuffer>;
  /** The descriptors this process inherited (no close-on-exec), and Deno's duplicates of them. */
  inherited: number[];
}

let prepared: Prepared | null = null;

/**
 * Gets what {@linkcode exitQuickly} needs (about 1 ms: call it while the
 * command waits for something else). Does nothing when turned off.
 *
 * @example
 * ```ts ignore
 * prepareQuickExit();
 * ```
 */
export function prepareQuickExit(): void {
  if (prepared !== null || Deno.env.get(QUICK_EXIT_ENV) !== "1") return;
  try {
    preload(["chdir", "clone", "dlsym", "close", "fcntl", "pthread_sigmask", "sigfillset"]);
    const c = libc();
    const usleep = c.dlsym(null, cstr("usleep"));
    if (usleep === null) return;
    const text = Deno.env.get(LINGER_ENV);
    const ms = text === undefined ? LINGER_MS : Number(text);
    if (!(ms >= 0 && ms <= 60_000)) {
      console.error(
        `tsk-runtime: ${LINGER_ENV}: expected 0 to 60000 (ms), got ${JSON.stringify(text)}; ` +
          "exiting the ordinary way",
      );
      return;
    }
    const all = new Uint8Array(128);
    c.sigfillset(all);
    // Deno keeps close-on-exec duplicates of its stdout and stderr: those
    // go too (the same open file, by /proc's link; an anonymous inode's
    // link names no single file, and Deno's own epoll and eventfd must stay).
    const open = new Map<number, string>();
    for (const e of Deno.readDirSync("/proc/self/fd")) {
      try {
        const link = Deno.readLinkSync(`/proc/self/fd/${e.name}`);
        if (!link.startsWith("anon_inode:")) open.set(Number(e.name), link);
      } catch { /* the directory's own descriptor, closed by now */ }
    }
    const files = new Set(
      [...open].filter(([fd]) => c.fcntl(fd, F_GETFD, 0n) === 0).map(([, file]) => file),
    );
    const inherited = [...open].filter(([, file]) => files.has(file)).map(([fd]) => fd);
    prepared = {
      usleep,
      lingerUs: BigInt(Math.round(ms * 1000)),
      stack: new Uint8Array(16384),
      all,
      saved: new Uint8Array(128),
      inherited,
    };
  } catch {
    prepared = null;
  }
}

/**
 * Exits with `code`, leaving the freeing of this process's memory to a
 * helper when {@linkcode prepareQuickExit} ran; otherwise as `Deno.exit`.
 *
 * @param code The exit status.
 *
 * @example
 * ```ts ignore
 * exitQuickly(0);
 * ```
 */
export function exitQuickly(code: number): never {
  const p = prepared;
  if (p !== null) {
    try {
      handOver(p);
    } catch { /* an ordinary exit */ }
  }
  Deno.exit(code);
}

function handOver(p: Prepared): void {
  const c = libc();
  const top = (BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(p.stack))) +
    BigInt(p.stack.length)) & ~15n;
  // The helper keeps no directory busy (an unmount right after the command
  // would fail): it starts in /, and the command needs no working directory
  // any more.
  if (c.chdir(cstr("/")) !== 0) return;
  c.pthread_sigmask(SIG_BLOCK, p.all, p.saved);
  const pid = c.clone(
    p.usleep,
    Deno.UnsafePointer.create(top),
    CLONE_VM | CLONE_FILES | SIGCHLD,
    Deno.UnsafePointer.create(p.lingerUs),
  );
  c.pthread_sigmask(SIG_SETMASK, p.saved, null);
  if (pid <= 0) return;
  // The descriptor table is the helper's too now: what the caller may wait
  // on must close here, not when the helper is done.
  for (const fd of p.inherited) c.close(fd);
}
