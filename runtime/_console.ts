/**
 * The foreground `run` of a spec that asks for a terminal without a
 * `--console-socket`, as runc's `run` does it: the command listens on a
 * private console socket itself, receives the master of the container's
 * terminal, puts its own terminal in raw mode, and copies between the two
 * (its size too, on SIGWINCH) until the container's side closes.
 *
 * @module
 */
import * as posix from "./_path.ts";
import { libc } from "./_libc.ts";
import { acceptUnix, listenUnix, recvWithFds } from "./_unix_socket.ts";
import { linuxSyscalls } from "./syscalls.ts";
import { TIOCGWINSZ, TIOCSWINSZ } from "./_terminal.ts";

const TCGETS = 0x5401n;
const TCSETS = 0x5402n;

/**
 * Puts the terminal at `fd` in raw mode as cfmakeraw(3) does (output
 * processing off too: the container's terminal already turns \n into
 * \r\n) and returns what restores it, or `null` when `fd` is no terminal.
 */
function makeRaw(fd: number): (() => void) | null {
  // The kernel's struct termios: c_iflag, c_oflag, c_cflag, c_lflag (u32), c_line, c_cc[19].
  const saved = new Uint8Array(64);
  if (libc().ioctl(fd, TCGETS, saved) < 0) return null;
  const t = new Uint8Array(saved);
  const v = new DataView(t.buffer);
  const [iflag, oflag, cflag, lflag] = [0, 4, 8, 12].map((o) => v.getUint32(o, true));
  // IGNBRK BRKINT PARMRK ISTRIP INLCR IGNCR ICRNL IXON
  v.setUint32(0, iflag & ~(0o1 | 0o2 | 0o10 | 0o40 | 0o100 | 0o200 | 0o400 | 0o2000), true);
  v.setUint32(4, oflag & ~0o1, true); // OPOST
  v.setUint32(8, (cflag & ~(0o60 | 0o400)) | 0o60, true); // CSIZE, PARENB off; CS8
  // ECHO ECHONL ICANON ISIG IEXTEN
  v.setUint32(12, lflag & ~(0o10 | 0o100 | 0o2 | 0o1 | 0o100000), true);
  t[17 + 6] = 1; // VMIN
  t[17 + 5] = 0; // VTIME
  if (libc().ioctl(fd, TCSETS, t) < 0) return null;
  return () => void libc().ioctl(fd, TCSETS, saved);
}

/** A console socket this process listens on, and the master it will receive. */
export interface ConsoleProxy {
  /** The socket's path, for `consoleSocket`. */
  path: string;
  /**
   * Copies between this process's stdio and the container's terminal until
   * the container's side closes; resolves then, the terminal restored.
   */
  pump(): Promise<void>;
  /** Stops listening and removes the socket (also when nothing connected). */
  close(): void;
}

/** Whether the bundle's spec asks for a terminal (read before the library validates it). */
export function specWantsTerminal(bundle: string): boolean {
  try {
    const spec = JSON.parse(Deno.readTextFileSync(posix.join(bundle, "config.json")));
    return spec?.process?.terminal === true;
  } catch {
    return false; // the library names what is wrong
  }
}

function copySize(from: number, to: number): void {
  const ws = new Uint16Array(4);
  if (libc().ioctl(from, TIOCGWINSZ, new Uint8Array(ws.buffer)) < 0) return;
  libc().ioctl(to, TIOCSWINSZ, new Uint8Array(ws.buffer));
}

/**
 * Listens on a console socket in a fresh private directory; the master of
 * the container's terminal is taken as the init connects (during create).
 *
 * @returns The proxy.
 */
export function openConsole(): ConsoleProxy {
  const dir = Deno.makeTempDirSync({ prefix: "tsk-runtime-console-" });
  Deno.chmodSync(dir, 0o700);
  const path = posix.join(dir, "console.sock");
  const sys = linuxSyscalls();
  let listener = -1;
  try {
    listener = listenUnix(path);
  } catch (e) {
    Deno.removeSync(dir, { recursive: true });
    throw e;
  }
  const master = (async () => {
    const conn = await acceptUnix(listener, 60_000);
    if (conn === null) return null;
    try {
      const got = await recvWithFds(conn);
      return got.fds[0] ?? null;
    } finally {
      sys.close(conn);
    }
  })();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      sys.close(listener);
    } catch { /* closed */ }
    Deno.removeSync(dir, { recursive: true });
  };
  return {
    path,
    close,
    async pump() {
      const fd = await master;
      close();
      if (fd === null) return;
      const restore = makeRaw(0);
      const raw = restore !== null;
      if (raw) copySize(0, fd);
      const resize = () => copySize(0, fd);
      if (raw) Deno.addSignalListener("SIGWINCH", resize);
      // What is typed goes in; this loop ends with the process.
      (async () => {
        try {
          for await (const chunk of Deno.stdin.readable) {
            for (let off = 0; off < chunk.length;) {
              off += sys.write(fd, chunk.subarray(off) as Uint8Array<ArrayBuffer>);
            }
          }
        } catch { /* the terminal closed */ }
      })();
      try {
        const buf = new Uint8Array(65536);
        for (;;) {
          let n: number;
          try {
            n = await sys.readAsync(fd, buf);
          } catch {
            break; // EIO: every holder of the terminal's slave is gone
          }
          if (n <= 0) break;
          for (let off = 0; off < n;) off += Deno.stdout.writeSync(buf.subarray(off, n));
        }
      } finally {
        if (raw) {
          Deno.removeSignalListener("SIGWINCH", resize);
          restore();
        }
        sys.close(fd);
      }
    },
  };
}
