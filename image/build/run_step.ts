/**
 * Running a build's RUN step in a `@tsk/runtime` container whose root
 * filesystem is an overlay of the stage's layer snapshots and a fresh upper
 * dir (the upper dir's diff becomes the step's layer).
 *
 * @module
 */
import { join } from "node:path";
// The runtime loads only when a RUN step runs: pull, push and the rest of
// `tsk image` do not pay for it.
import type { Spec } from "@tsk/runtime";

/** What a RUN step executes and where. */
export interface RunStepRequest {
  /** The process's argv. */
  args: string[];
  /** `NAME=value` environment. */
  env: string[];
  /** The working directory inside the container. */
  cwd: string;
  /** The user and group ids. */
  uid: number;
  /** The group id. */
  gid: number;
  /** The overlay lower dirs, top-most first. */
  lowerDirs: string[];
  /** The step's upper dir (its changes land here). */
  upperDir: string;
  /** overlayfs's work dir. */
  workDir: string;
  /** A scratch directory for the step (bundle, mount point, state). */
  scratch: string;
  /** Receives the container's output as it comes. */
  onOutput?: (chunk: Uint8Array, stream: "stdout" | "stderr") => void;
}

/** Runs one RUN step; resolves to the exit code (or null when killed by a signal). */
export type RunStep = (req: RunStepRequest) => Promise<number | null>;

/**
 * Builds the OCI runtime spec of a RUN step from the runtime's default spec:
 * Docker's default capabilities, a private network namespace, a writable root.
 *
 * @param req The step.
 * @param rootPath Where the overlay is mounted.
 * @param spec The runtime's default spec (`defaultSpec()` of `@tsk/runtime`), changed in place.
 * @param capabilities Docker's default set (`DEFAULT_CAPABILITIES` of `@tsk/runtime`).
 * @returns The spec.
 *
 * @example The spec of a step
 * ```ts ignore
 * import { DEFAULT_CAPABILITIES, defaultSpec } from "@tsk/runtime";
 * import { runStepSpec } from "@tsk/image";
 * const spec = runStepSpec({ args: ["true"], env: [], cwd: "/", uid: 0, gid: 0, lowerDirs: [],
 *   upperDir: "/u", workDir: "/w", scratch: "/s" }, "/mnt", defaultSpec(), DEFAULT_CAPABILITIES);
 * ```
 */
export function runStepSpec(
  req: RunStepRequest,
  rootPath: string,
  spec: Spec,
  capabilities: readonly string[],
): Spec {
  spec.process.args = req.args;
  spec.root.readonly = false;
  spec.hostname = "buildkitsandbox";
  spec.root.path = rootPath;
  spec.process.env = req.env;
  spec.process.cwd = req.cwd;
  spec.process.user = { uid: req.uid, gid: req.gid };
  spec.process.noNewPrivileges = false;
  const caps = [...capabilities];
  spec.process.capabilities = { bounding: caps, effective: caps, permitted: caps };
  return spec;
}

/**
 * The default RUN executor: a `@tsk/runtime` container per step.
 *
 * @param req The step.
 * @returns The exit code.
 *
 * @example Run a step
 * ```ts ignore
 * import { runWithRuntime } from "@tsk/image";
 * await runWithRuntime({ args: ["true"], env: [], cwd: "/", uid: 0, gid: 0,
 *   lowerDirs: ["/tmp/rootfs"], upperDir: "/tmp/u", workDir: "/tmp/w", scratch: "/tmp/s" });
 * ```
 */
export async function runWithRuntime(req: RunStepRequest): Promise<number | null> {
  const mnt = join(req.scratch, "rootfs");
  const state = join(req.scratch, "state");
  await Deno.mkdir(mnt, { recursive: true });
  await Deno.mkdir(state, { recursive: true });
  const { createContainer, defaultSpec, DEFAULT_CAPABILITIES } = await import("@tsk/runtime");
  const id = `tsk-build-${crypto.randomUUID().slice(0, 12)}`;
  const c = await createContainer(id, {
    spec: runStepSpec(req, mnt, defaultSpec(), DEFAULT_CAPABILITIES),
    root: state,
    bundle: req.scratch,
    rootfs: { lowerDirs: req.lowerDirs, upperDir: req.upperDir, workDir: req.workDir },
    stdio: { stdin: "null", stdout: "pipe", stderr: "pipe" },
  });
  try {
    const pump = async (s: ReadableStream<Uint8Array> | null, name: "stdout" | "stderr") => {
      if (!s) return;
      for await (const chunk of s) req.onOutput?.(chunk, name);
    };
    await c.start();
    const [status] = await Promise.all([
      c.wait(),
      pump(c.stdout, "stdout"),
      pump(c.stderr, "stderr"),
    ]);
    return status.exitCode;
  } finally {
    await c.delete({ force: true });
  }
}
