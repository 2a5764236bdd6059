/**
 * tsk: a container platform for Deno, built from Linux primitives up. This
 * module re-exports each package's public entry point under its own
 * namespace, so names from different layers never clash; import a package
 * directly (`@tsk/runtime`, `@tsk/image`, ...) to take only what you need.
 *
 * @example Resolve the state directory through the root module
 * ```ts
 * import { api } from "./mod.ts";
 * const home = api.tskHome({ env: { TSK_HOME: "/tmp/tsk" } });
 * ```
 *
 * @module
 */
export * as api from "@tsk/api";
export * as runtime from "@tsk/runtime";
export * as image from "@tsk/image";
export * as registry from "@tsk/registry";
export * as sched from "@tsk/sched";
export * as mesh from "@tsk/mesh";
export * as cli from "@tsk/cli";
