/**
 * Per-cycle data that plugins pass from one extension point to the next
 * (what preFilter computed, filter and score read).
 *
 * @module
 */

/**
 * Data for one scheduling cycle of one pod, keyed by plugin-chosen strings
 * (by convention the plugin's name).
 *
 * @example Pass data from preFilter to filter
 * ```ts
 * import { CycleState } from "./cycle_state.ts";
 * const state = new CycleState();
 * state.write("NodeAffinity", { terms: 1 });
 * state.read<{ terms: number }>("NodeAffinity")?.terms; // 1
 * ```
 */
export class CycleState {
  #data = new Map<string, unknown>();
  /** Plugins whose preFilter returned Skip: the framework does not run their filter. */
  readonly skipFilter = new Set<string>();
  /** Plugins whose preScore returned Skip: the framework does not run their score. */
  readonly skipScore = new Set<string>();

  /**
   * Stores a value.
   *
   * @param key The key.
   * @param value The value.
   */
  write(key: string, value: unknown): void {
    this.#data.set(key, value);
  }

  /**
   * Reads a value.
   *
   * @param key The key.
   * @returns The value, or undefined.
   */
  read<T>(key: string): T | undefined {
    return this.#data.get(key) as T | undefined;
  }

  /**
   * Copies the state (preemption simulates on a copy).
   *
   * @returns A shallow copy; values that plugins mutate must be cloned by them.
   */
  clone(): CycleState {
    const c = new CycleState();
    for (const [k, v] of this.#data) {
      const cl = v as { clone?: () => unknown } | null;
      c.#data.set(k, cl && typeof cl.clone === "function" ? cl.clone() : v);
    }
    for (const s of this.skipFilter) c.skipFilter.add(s);
    for (const s of this.skipScore) c.skipScore.add(s);
    return c;
  }
}
