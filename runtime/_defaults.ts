/**
 * Defaults every path shares, in a module with no imports: the command
 * line loads it on every call (see `_cli_main.ts`).
 *
 * @module
 */

/** The default state directory. */
export const DEFAULT_ROOT = "/run/tsk-runtime";

/**
 * Set to `1` to have a supervised command exit without waiting for the
 * kernel to free its memory (`_quick_exit.ts`; off by default).
 */
export const QUICK_EXIT_ENV = "TSK_RUNTIME_QUICK_EXIT";
