/**
 * The shape every `tsk` command group has, so that each lives in its own file
 * and `main.ts` only dispatches.
 *
 * @module
 */

/** What a command can write to and read from; injected so tests run in-process. */
export interface CommandIo {
  /** Writes a line to standard output. */
  out(line: string): void;
  /** Writes a line to standard error. */
  err(line: string): void;
  /** The environment (`TSK_HOME`, `TSK_SERVER`, ...). */
  env: Record<string, string | undefined>;
}

/** A top-level `tsk` command such as `image` or `apply`. */
export interface Command {
  /** The word after `tsk`. */
  name: string;
  /** One line for `tsk --help`. */
  summary: string;
  /**
   * Runs the command with the arguments after its name.
   * @returns The process exit code.
   */
  run(args: string[], io: CommandIo): Promise<number>;
}

/** Raised for bad command-line input; `main` prints it and exits 2. */
export class UsageError extends Error {
  /** Creates a usage error; the message should name the flag or argument. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/**
 * Returns the real process's IO.
 *
 * @returns Console-backed IO with the process environment.
 *
 * @example Print through the process IO
 * ```ts
 * import { processIo } from "@tsk/cli";
 * processIo().out("hello");
 * ```
 */
export function processIo(): CommandIo {
  return {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
    env: Deno.env.toObject(),
  };
}
