/**
 * The runtime's version.
 *
 * @module
 */

/** The version `tsk-runtime --version` prints. */
export const VERSION = "0.1.0";
