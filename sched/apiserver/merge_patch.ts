/**
 * JSON merge patch (RFC 7386): objects merge key by key, `null` deletes a
 * key, anything else replaces.
 *
 * @module
 */

/**
 * Applies a merge patch, returning a new value.
 *
 * @param target The document.
 * @param patch The patch.
 * @returns The patched document; the inputs are not changed.
 *
 * @example Scale and drop a label
 * ```ts
 * import { mergePatch } from "@tsk/sched";
 * const out = mergePatch({ spec: { replicas: 1 }, metadata: { labels: { a: "1" } } },
 *   { spec: { replicas: 3 }, metadata: { labels: { a: null } } });
 * console.log(out); // { spec: { replicas: 3 }, metadata: { labels: {} } }
 * ```
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) {
    return structuredClone(patch);
  }
  const base: Record<string, unknown> =
    target !== null && typeof target === "object" && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete base[k];
    else base[k] = mergePatch(base[k], v);
  }
  return base;
}
