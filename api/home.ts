/**
 * Where tsk keeps its state (DESIGN.md, "State and configuration").
 *
 * @module
 */

/** Options for {@linkcode tskHome}. */
export interface TskHomeOptions {
  /**
   * The environment to read `TSK_HOME` and `HOME` from.
   * @default Deno.env.toObject()
   */
  env?: Record<string, string | undefined>;
  /**
   * The effective user id; 0 selects the system-wide default.
   * @default Deno.uid()
   */
  uid?: number | null;
}

/**
 * Returns the directory that holds all state of the CLI and of the
 * all-in-one cluster: `$TSK_HOME` when set, else `/var/lib/tsk` for root and
 * `~/.local/share/tsk` for anyone else.
 *
 * @param options Where to read the environment and user id from.
 * @returns An absolute directory path (not created).
 * @throws {Error} When `TSK_HOME` is relative, or neither root nor `HOME` is set.
 *
 * @example Resolve the state directory
 * ```ts
 * import { tskHome } from "@tsk/api";
 * const home = tskHome({ env: { TSK_HOME: "/tmp/tsk" } });
 * console.log(home); // "/tmp/tsk"
 * ```
 */
export function tskHome(options: TskHomeOptions = {}): string {
  const env = options.env ?? Deno.env.toObject();
  const uid = options.uid === undefined ? Deno.uid() : options.uid;
  const explicit = env.TSK_HOME;
  if (explicit !== undefined && explicit !== "") {
    if (!explicit.startsWith("/")) {
      throw new Error(`TSK_HOME: expected an absolute path, got ${JSON.stringify(explicit)}`);
    }
    return explicit.replace(/\/+$/, "") || "/";
  }
  if (uid === 0) return "/var/lib/tsk";
  const home = env.HOME;
  if (!home) throw new Error("HOME: not set, and TSK_HOME is not set either; set TSK_HOME");
  return `${home.replace(/\/+$/, "")}/.local/share/tsk`;
}
