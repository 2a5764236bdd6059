/**
 * `@tsk/api`: the shared typed interfaces of tsk. It imports no other tsk
 * package.
 *
 * @example Resolve the state directory
 * ```ts
 * import { tskHome } from "@tsk/api";
 * const home = tskHome({ env: { TSK_HOME: "/tmp/tsk" } });
 * ```
 *
 * @module
 */
export { tskHome, type TskHomeOptions } from "./home.ts";
