/**
 * Defaults every path shares, in a module with no imports: the command
 * line loads it on every call (see `_cli_main.ts`).
 *
 * @module
 */

/** The default state directory. */
export const DEFAULT_ROOT = "/run/tsk-runtime";
