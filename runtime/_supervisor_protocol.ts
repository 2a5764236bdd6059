/**
 * What the `tsk-runtime` command line and the per-root supervisor say to
 * each other: newline-delimited JSON over `<root>/.supervisor/sock`. A
 * request is one line; for `run` and `exec` the supervisor takes the
 * caller's stdin, stdout and stderr (descriptors 0, 1 and 2 of the
 * connection's peer, by pidfd_getfd(2)), or, when descriptors came with the
 * request as SCM_RIGHTS, uses those. It answers
 * `accepted` at once (a connection closed before that was never served and
 * may be retried), then one or more lines, the last of which is `exit`,
 * `ok` or `error`.
 * While a `run` or `exec` waits, the client may send `signal` lines on the
 * same connection. Only type imports: the client loads it on every call.
 *
 * @module
 */
import type { ExecArgs } from "./_exec_args.ts";

/** A request from the command line. */
export type SupervisorRequest =
  | {
    op: "run";
    id: string;
    /** Absolute bundle path. */
    bundle: string;
    /** Absolute pid file path. */
    pidFile?: string;
    /** `run --keep`: do not delete once stopped. */
    keep?: boolean;
  }
  | { op: "start" | "state" | "pause" | "resume"; id: string }
  /** `ps`: the reply's output is the pids as a JSON array. */
  | { op: "ps"; id: string }
  | ({
    op: "exec";
    id: string;
    /** Absolute pid file path. */
    pidFile?: string;
  } & ExecArgs)
  | { op: "kill"; id: string; signal: string; all?: boolean }
  | { op: "delete"; id: string; force?: boolean }
  | { op: "ping" };

/** A line sent by the client while its `run` waits. */
export interface SignalMessage {
  /** Always `signal`. */
  op: "signal";
  /**
   * The signal to send to the container's init: its name (`SIGINT`, as the
   * client sends it, with no signal table to load) or its number.
   */
  signal: string | number;
}

/** A line from the supervisor. */
export type SupervisorReply =
  | { type: "accepted" }
  | { type: "started"; pid: number }
  | { type: "exit"; exitCode: number | null; signal?: number; oomKilled: boolean }
  | { type: "ok"; output?: string }
  | { type: "error"; message: string; usage?: boolean }
  /** A poststart or poststop hook failed: the lifecycle went on (the command prints it). */
  | { type: "warning"; message: string }
  /** Nothing was done: the command serves this request itself (a terminal it must hold). */
  | { type: "direct"; message: string }
  /**
   * Sent instead of `accepted` to a `run` or `exec` whose stdio the
   * supervisor could not take (pidfd_getfd refused, a descriptor closed):
   * nothing was done, and the command takes the direct path.
   */
  | { type: "stdio"; message: string };

/** The supervisor's files, in `<root>/.supervisor` (no container id starts with a dot). */
export interface SupervisorPaths {
  /** The directory holding the rest. */
  dir: string;
  /** The unix socket it listens on. */
  socket: string;
  /** Its pid. */
  pid: string;
  /** Held (flock) while it runs: one supervisor per root. */
  lock: string;
  /** Its log, one JSON object a line. */
  log: string;
}

/**
 * The supervisor's files under `root`.
 *
 * @param root An absolute state root.
 * @returns The paths.
 */
export function supervisorPaths(root: string): SupervisorPaths {
  const dir = `${root.endsWith("/") ? root.slice(0, -1) : root}/.supervisor`;
  return {
    dir,
    socket: `${dir}/sock`,
    pid: `${dir}/pid`,
    lock: `${dir}/lock`,
    log: `${dir}/log`,
  };
}

/** Set (to anything but empty or `0`) to keep the command line off the supervisor. */
export const NO_SUPERVISOR_ENV = "TSK_RUNTIME_NO_SUPERVISOR";
/** Seconds an idle auto-started supervisor waits before it exits. */
export const IDLE_ENV = "TSK_RUNTIME_SUPERVISOR_IDLE";
/** The idle timeout when neither `--idle-timeout` nor the environment sets one. */
export const DEFAULT_IDLE_SECONDS = 60;

/** One JSON value as a line. */
export function jsonLine(value: unknown): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(JSON.stringify(value) + "\n");
}

/** Splits newline-delimited JSON as it arrives. */
export class LineReader {
  #buf = "";
  #dec = new TextDecoder();

  /**
   * Adds bytes.
   * @param data What arrived.
   * @returns The complete lines parsed as JSON.
   */
  push(data: Uint8Array): unknown[] {
    this.#buf += this.#dec.decode(data, { stream: true });
    const out: unknown[] = [];
    let nl: number;
    while ((nl = this.#buf.indexOf("\n")) >= 0) {
      const line = this.#buf.slice(0, nl);
      this.#buf = this.#buf.slice(nl + 1);
      if (line.trim() !== "") out.push(JSON.parse(line));
    }
    return out;
  }
}
