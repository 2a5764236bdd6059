/**
 * The error type of the cgroup layer.
 *
 * @module
 */

/**
 * A cgroup operation failed or a resources object was invalid. `field` names
 * the config field at fault (e.g. `linux.resources.memory.limit`) when the
 * error is about one; `cause` carries the underlying filesystem error.
 *
 * @example Tell a config error from a host error
 * ```ts
 * import { CgroupError } from "./errors.ts";
 * const err = new CgroupError("expected an integer", { field: "linux.resources.pids.limit" });
 * err.message; // "linux.resources.pids.limit: expected an integer"
 * ```
 */
export class CgroupError extends Error {
  /** The config field the error is about, when it is about one. */
  readonly field?: string;
  /**
   * Creates the error.
   *
   * @param message The detail. With `options.field` the message becomes
   * `<field>: <message>`.
   * @param options `field` and the standard `cause`.
   */
  constructor(message: string, options: ErrorOptions & { field?: string } = {}) {
    super(options.field ? `${options.field}: ${message}` : message, { cause: options.cause });
    this.name = "CgroupError";
    this.field = options.field;
  }
}
