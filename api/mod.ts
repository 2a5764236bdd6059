/**
 * `@tsk/api`: the shared typed interfaces of tsk. Resource types shaped like
 * Kubernetes', quantities, label selectors, validation and defaulting, the
 * admission chain, the `Store` and watch contracts, and the HTTP client with
 * informers. It imports no other tsk package.
 *
 * @example Parse a quantity and match a selector
 * ```ts
 * import { matchesSelector, parseQuantity, parseSelector } from "@tsk/api";
 * console.log(parseQuantity("1Gi"));
 * console.log(matchesSelector(parseSelector("app=web"), { app: "web" }));
 * ```
 *
 * @module
 */
export { tskHome, type TskHomeOptions } from "./home.ts";
export * from "./meta.ts";
export * from "./core_v1.ts";
export * from "./apps_v1.ts";
export * from "./coordination_v1.ts";
export * from "./resources.ts";
export * from "./labels.ts";
export * from "./quantity.ts";
export * from "./errors.ts";
export * from "./fields.ts";
export * from "./validation.ts";
export * from "./defaults.ts";
export * from "./admission.ts";
export * from "./store.ts";
export * from "./client_config.ts";
export * from "./client.ts";
export * from "./informer.ts";
