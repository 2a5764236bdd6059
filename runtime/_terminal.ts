/**
 * A container's terminal, as runc's `--console-socket` gives one: the init
 * (or exec stage) opens a pseudo-terminal in the container's own devpts,
 * sends the master to the caller's unix socket (SCM_RIGHTS; conmon and
 * containerd-shim listen there), and makes the slave its controlling
 * terminal and stdin, stdout and stderr. Synchronous calls only: this runs
 * in the init stage.
 *
 * @module
 */
import { errno, libc } from "./_libc.ts";
import { SyscallError } from "./errors.ts";
import { O, type Syscalls } from "./syscalls.ts";
import { sendWithFds } from "./_unix_socket.ts";

// asm-generic/ioctls.h: the same numbers on x86_64 and aarch64.
const TIOCSPTLCK = 0x40045431n;
const TIOCGPTN = 0x80045430n;
const TIOCSCTTY = 0x540en;
/** ioctl(2) requests for a terminal's size (struct winsize), shared with _console.ts. */
export const TIOCGWINSZ = 0x5413n;
export const TIOCSWINSZ = 0x5414n;
const EPERM = 1;

function ioctl(fd: number, request: bigint, arg: Uint8Array | null, what: string): void {
  if (libc().ioctl(fd, request, arg) < 0) throw new SyscallError("ioctl", errno(), what);
}

/** The terminal's size (`process.consoleSize`). */
export interface ConsoleSize {
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
}

/**
 * Opens a pseudo-terminal under the current `/dev` (the container's, after
 * pivot_root or setns), sends its master over `socket` and closes it there,
 * and makes the slave this process's controlling terminal and fds 0-2.
 *
 * @param sys The host.
 * @param socket A connected unix socket (closed here).
 * @param size The terminal's size, if the spec sets one.
 */
export function attachTerminal(sys: Syscalls, socket: number, size?: ConsoleSize): void {
  const master = sys.open("/dev/ptmx", O.RDWR | O.NOCTTY | O.CLOEXEC);
  let slave = -1;
  try {
    ioctl(master, TIOCSPTLCK, new Uint8Array(4), "unlock the pseudo-terminal");
    const n = new Uint32Array(1);
    ioctl(master, TIOCGPTN, new Uint8Array(n.buffer), "pseudo-terminal number");
    const name = `/dev/pts/${n[0]}`;
    slave = sys.open(name, O.RDWR | O.NOCTTY | O.CLOEXEC);
    if (size) {
      // struct winsize { unsigned short ws_row, ws_col, ws_xpixel, ws_ypixel; }
      const ws = new Uint16Array([size.height, size.width, 0, 0]);
      ioctl(slave, TIOCSWINSZ, new Uint8Array(ws.buffer), "terminal size");
    }
    // As runc: the master's name goes with it.
    sendWithFds(socket, new TextEncoder().encode(name), [master]);
  } catch (e) {
    if (slave >= 0) sys.close(slave);
    throw e;
  } finally {
    sys.close(master);
    sys.close(socket);
  }
  // A new session (unless this is a session leader already), whose
  // controlling terminal the slave becomes.
  if (libc().setsid() < 0 && errno() !== EPERM) {
    throw new SyscallError("setsid", errno(), "for the terminal");
  }
  ioctl(slave, TIOCSCTTY, null, "controlling terminal");
  for (const fd of [0, 1, 2]) sys.dup3(slave, fd, 0);
  sys.close(slave);
}
