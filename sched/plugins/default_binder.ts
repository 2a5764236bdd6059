/**
 * DefaultBinder: writes `spec.nodeName` through the store, in batches.
 *
 * @module
 */
import { BatchBinder } from "../scheduler/binder.ts";
import type { Handle, Plugin } from "../scheduler/plugin.ts";
import { errorStatus, SUCCESS } from "../scheduler/status.ts";

/** Plugin name. */
export const NAME = "DefaultBinder";

/** Plugin args. */
export interface DefaultBinderArgs {
  /** Largest number of bindings written in one store transaction. @default 500 */
  maxBatch?: number;
}

/**
 * Builds the plugin.
 *
 * @param args {@linkcode DefaultBinderArgs}.
 * @param handle Framework handle (its client writes).
 * @returns The plugin.
 *
 * @example Build
 * ```ts
 * import { factory } from "./default_binder.ts";
 * import { MemoryClient } from "../scheduler/client.ts";
 * factory({}, { client: new MemoryClient() } as never).name; // "DefaultBinder"
 * ```
 */
export function factory(args: Record<string, unknown>, handle: Handle): Plugin {
  const binder = new BatchBinder(handle.client, {
    maxBatch: (args as DefaultBinderArgs).maxBatch,
  });
  return {
    name: NAME,
    async bind(_state, pod, nodeName) {
      const err = await binder.bind({ pod: pod.pod, nodeName });
      return err ? errorStatus(NAME, err) : SUCCESS;
    },
  };
}
