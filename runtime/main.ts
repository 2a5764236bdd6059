/**
 * `tsk-runtime`: an OCI runtime command line that follows runc's, so tools
 * written for runc can drive it.
 *
 * ```
 * tsk-runtime [--root DIR] [--log FILE] [--log-format text|json] COMMAND [OPTIONS] [ID]
 * ```
 *
 * `run`, `exec`, `start`, `state`, `kill`, `delete`, `ps`, `pause` and
 * `resume` go through the root's supervisor (`supervisor.ts`) when one runs;
 * `run` starts one on demand. `create`, `run --detach` and `exec --detach`
 * always run in this process: what they start outlives the command and is
 * the caller's to reap, as with runc (conmon and containerd-shim wait for it
 * as child subreapers). `--no-supervisor` or `TSK_RUNTIME_NO_SUPERVISOR=1`
 * keeps every command in this process. With `TSK_RUNTIME_QUICK_EXIT=1` a
 * supervised command leaves the freeing of its memory to a short-lived
 * helper as it exits (`_quick_exit.ts`).
 *
 * Overlay root filesystems are requested through the bundle's annotations
 * `dev.tsk.rootfs.lowerdirs` (colon-separated, uppermost first),
 * `dev.tsk.rootfs.upperdir` and `dev.tsk.rootfs.workdir`.
 *
 * @module
 */
import { main as cliMain } from "./_cli_main.ts";
import { QUICK_EXIT_ENV } from "./_defaults.ts";

/** The result of running the CLI: the process exit code. */
export type ExitCode = number;

/**
 * Runs the command line and returns the exit code.
 *
 * @param args The arguments (without the program name).
 * @returns The exit code.
 *
 * @example Print the version
 * ```ts
 * import { main } from "./main.ts";
 * const code = await main(["--version"]);
 * ```
 */
export async function main(args: string[]): Promise<ExitCode> {
  return await cliMain(args, import.meta.url);
}

if (import.meta.main) {
  // With TSK_RUNTIME_QUICK_EXIT=1: while the supervisor serves a request,
  // get ready to exit without waiting for the kernel to free this process's
  // memory (_quick_exit.ts).
  let quick: typeof import("./_quick_exit.ts") | undefined;
  const finish = (code: number): never => quick ? quick.exitQuickly(code) : Deno.exit(code);
  finish(
    await cliMain(Deno.args, import.meta.url, {
      whileWaiting: () => {
        if (Deno.env.get(QUICK_EXIT_ENV) !== "1") return;
        import(new URL("./_quick_exit.ts", import.meta.url).href).then((m) => {
          m.prepareQuickExit();
          quick = m;
        }, () => {/* an ordinary exit */});
      },
      // A supervised command ends as soon as its answer is in.
      finish,
    }),
  );
}
