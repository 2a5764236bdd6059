/**
 * What the runtime's benchmark (`runtime.ts`) and its trace
 * (`trace_runtime.ts`) share: the bundle they run, and the supervisor of a
 * state root they start through the CLI and stop at the end.
 *
 * @module
 */
import { posix } from "node:path";
import { defaultSpec } from "@tsk/runtime";
import { busyboxRootfs } from "@tsk/runtime/testing";

/**
 * Writes the benchmarked bundle at `dir`: busybox's rootfs and the default
 * spec running `true` (ociVersion 1.0.2, the newest Debian's runc and crun
 * know).
 *
 * @param dir The bundle's directory (made if missing).
 * @returns `dir`.
 *
 * @example
 * ```ts ignore
 * import { writeBenchBundle } from "./_runtime_bench.ts";
 * const bundle = await writeBenchBundle("/tmp/b");
 * ```
 */
export async function writeBenchBundle(dir: string): Promise<string> {
  await busyboxRootfs(posix.join(dir, "rootfs"));
  const spec = defaultSpec({ args: ["true"] });
  spec.ociVersion = "1.0.2";
  await Deno.writeTextFile(posix.join(dir, "config.json"), JSON.stringify(spec));
  return dir;
}

/**
 * The pid of the supervisor serving the state root `root`, or `null` when
 * none has started.
 *
 * @example
 * ```ts
 * import { supervisorPid } from "./_runtime_bench.ts";
 * supervisorPid("/nonexistent"); // null
 * ```
 */
export function supervisorPid(root: string): number | null {
  try {
    return Number(Deno.readTextFileSync(posix.join(root, ".supervisor", "pid")).trim());
  } catch {
    return null;
  }
}

/**
 * Stops the supervisor of `root` (SIGTERM) and waits up to 5 s for it to go.
 *
 * @example
 * ```ts
 * import { stopSupervisor } from "./_runtime_bench.ts";
 * await stopSupervisor("/nonexistent"); // none: returns at once
 * ```
 */
export async function stopSupervisor(root: string): Promise<void> {
  const pid = supervisorPid(root);
  if (pid === null) return;
  try {
    Deno.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  for (let i = 0; i < 250; i++) {
    try {
      Deno.statSync(`/proc/${pid}`);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
