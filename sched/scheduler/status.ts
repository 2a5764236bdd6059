/**
 * Plugin results: a status value instead of an exception, as in
 * kube-scheduler's framework.
 *
 * @module
 */

/** The outcome of a plugin call. */
export type Code =
  | "Success"
  | "Unschedulable"
  | "UnschedulableAndUnresolvable"
  | "Error"
  | "Skip";

/** A plugin result with the reasons users see. */
export interface Status {
  /** What happened. */
  readonly code: Code;
  /** Human-readable reasons ("Insufficient cpu"); counted in the aggregate message. */
  readonly reasons: readonly string[];
  /** The plugin that produced it (filled in by the framework when absent). */
  readonly plugin?: string;
  /** The underlying error for `Error`. */
  readonly cause?: unknown;
}

/** The shared success value; plugins return it to avoid allocating. */
export const SUCCESS: Status = Object.freeze({ code: "Success", reasons: [] });
/** The shared skip value. */
export const SKIP: Status = Object.freeze({ code: "Skip", reasons: [] });

/**
 * Builds a status; plugins build their failure statuses once, at creation, and
 * return the same object every time (no allocation on the hot path).
 *
 * @param code The code.
 * @param reasons Reasons to show users.
 * @param plugin The producing plugin's name.
 * @returns A frozen status.
 *
 * @example A filter failure
 * ```ts
 * import { status } from "./status.ts";
 * const s = status("Unschedulable", ["Insufficient cpu"], "NodeResourcesFit");
 * s.reasons[0]; // "Insufficient cpu"
 * ```
 */
export function status(code: Code, reasons: readonly string[] = [], plugin?: string): Status {
  return Object.freeze({ code, reasons: Object.freeze([...reasons]), plugin });
}

/**
 * Wraps an unexpected error as an `Error` status.
 *
 * @param plugin The plugin that failed.
 * @param cause The error.
 * @returns The status.
 *
 * @example Wrap
 * ```ts
 * import { errorStatus } from "./status.ts";
 * errorStatus("NodeResourcesFit", new Error("boom")).code; // "Error"
 * ```
 */
export function errorStatus(plugin: string, cause: unknown): Status {
  const msg = cause instanceof Error ? cause.message : String(cause);
  return Object.freeze({ code: "Error", reasons: Object.freeze([msg]), plugin, cause });
}

/**
 * Whether a status lets the pod continue (Success or Skip).
 *
 * @param s The status.
 * @returns True for Success and Skip.
 *
 * @example Check
 * ```ts
 * import { isSuccess, SUCCESS } from "./status.ts";
 * isSuccess(SUCCESS); // true
 * ```
 */
export function isSuccess(s: Status): boolean {
  return s.code === "Success" || s.code === "Skip";
}
