/**
 * What to run for an image: its entrypoint and command merged with a
 * caller's overrides (Kubernetes' `command` / `args` rules), its environment
 * and working directory.
 *
 * @module
 */
import { ValidationError } from "./errors.ts";
import type { ImageConfig } from "./oci/config.ts";

/** Overrides for {@linkcode imageProcess}. */
export interface ImageProcessOptions {
  /**
   * Replaces the image's ENTRYPOINT (and drops its CMD), as a pod's `command`.
   * @default the image's entrypoint
   */
  command?: string[];
  /**
   * Replaces the image's CMD, as a pod's `args`.
   * @default the image's cmd (unless `command` is given)
   */
  args?: string[];
  /**
   * Extra `NAME=value` entries; they win over the image's.
   * @default []
   */
  env?: string[];
  /**
   * Replaces the working directory.
   * @default the image's WORKDIR, else `/`
   */
  cwd?: string;
}

/** The process an image runs. */
export interface ImageProcess {
  /** argv. */
  args: string[];
  /** `NAME=value` entries (PATH defaulted when the image sets none). */
  env: string[];
  /** The working directory. */
  cwd: string;
  /** The image's USER (`name`, `uid`, `uid:gid`...), or undefined for root. */
  user?: string;
}

const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Computes the process an image runs, with overrides.
 *
 * @param config The image config.
 * @param options `command`, `args`, extra `env`, `cwd`.
 * @returns argv, environment, working directory and user.
 * @throws {ValidationError} When nothing would run (no entrypoint, cmd, command or args).
 *
 * @example Override the arguments only
 * ```ts
 * import { imageProcess } from "@tsk/image";
 * const p = imageProcess({
 *   architecture: "amd64",
 *   os: "linux",
 *   config: { Entrypoint: ["/bin/echo"], Cmd: ["hello"] },
 *   rootfs: { type: "layers", diff_ids: [] },
 * }, { args: ["bye"] });
 * console.log(p.args); // ["/bin/echo", "bye"]
 * ```
 */
export function imageProcess(config: ImageConfig, options: ImageProcessOptions = {}): ImageProcess {
  const c = config.config ?? {};
  const entrypoint = options.command ?? c.Entrypoint ?? [];
  const cmd = options.args ?? (options.command ? [] : c.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw new ValidationError(
      "command",
      "the image has no ENTRYPOINT or CMD: give a command",
    );
  }
  const env = new Map<string, string>();
  for (const e of [...(c.Env ?? []), ...(options.env ?? [])]) {
    const i = e.indexOf("=");
    if (i <= 0) throw new ValidationError("env", `expected NAME=value, got ${JSON.stringify(e)}`);
    env.set(e.slice(0, i), e.slice(i + 1));
  }
  if (!env.has("PATH")) env.set("PATH", DEFAULT_PATH.slice(5));
  return {
    args,
    env: [...env].map(([k, v]) => `${k}=${v}`),
    cwd: options.cwd ?? (c.WorkingDir || "/"),
    ...(c.User ? { user: c.User } : {}),
  };
}
