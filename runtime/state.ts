/**
 * Container state under the runtime's root directory (`--root`, default
 * /run/tsk-runtime), one directory per container as runc keeps it:
 * `<root>/<id>/state.json` and, while the container is created but not
 * started, `<root>/<id>/exec.fifo`.
 *
 * @module
 */
import * as posix from "./_path.ts";
import { pathExists } from "./_libc.ts";
import { ConfigError, ContainerNotFoundError, RuntimeError } from "./errors.ts";
import type { OverlayRootfs } from "./_messages.ts";
import type { Spec } from "./spec/config.ts";

export { DEFAULT_ROOT } from "./_defaults.ts";

/** A container's status as the OCI runtime spec names it. */
export type ContainerStatus = "creating" | "created" | "running" | "paused" | "stopped";

/** The OCI runtime spec's state object, as `tsk-runtime state` prints it. */
export interface OciState {
  /** The runtime-spec version. */
  ociVersion: string;
  /** Container id. */
  id: string;
  /** Current status. */
  status: ContainerStatus;
  /** The init's pid on the host (0 once stopped). */
  pid: number;
  /** Absolute bundle path. */
  bundle: string;
  /** The spec's annotations. */
  annotations: Record<string, string>;
  /** When the container was created (RFC 3339), as runc prints it. */
  created: string;
  /** The root filesystem's absolute path (runc's extra field, which containerd reads). */
  rootfs: string;
  /**
   * Who owns the container (runc's extra field): empty in `state`, the
   * state directory's owner in `list`.
   */
  owner: string;
}

/** What the runtime stores for a container. */
export interface StoredState {
  /** Container id. */
  id: string;
  /** Init pid on the host. */
  pid: number;
  /** Start time of the init (field 22 of /proc/<pid>/stat), to detect pid reuse. */
  initStartTime: string;
  /** Absolute bundle path. */
  bundle: string;
  /** RFC 3339 creation time. */
  created: string;
  /** cgroup path relative to the cgroup root. */
  cgroupPath: string;
  /** overlayfs layers, when used. */
  overlay: OverlayRootfs | null;
  /** The validated spec (root.path absolute). */
  spec: Spec;
  /** Frozen by `pause` (runc's extra status). */
  paused?: boolean;
  /** Created with the caller's session keyring (`--no-new-keyring`): exec'd processes keep theirs too. */
  noNewKeyring?: boolean;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/;

/**
 * Checks a container id: letters, digits and `_ . + -`, at most 128.
 *
 * @param id The id.
 * @throws {ConfigError} For an id that could escape the state directory.
 *
 * @example Validate an id
 * ```ts
 * import { validateId } from "@tsk/runtime";
 * validateId("web-1");
 * ```
 */
export function validateId(id: string): void {
  if (!ID_RE.test(id)) {
    throw new ConfigError(
      "id",
      `expected letters, digits and _ . + - (at most 128, starting with a letter or digit), got ${
        JSON.stringify(id)
      }`,
    );
  }
}

/** Paths of one container's state. */
export function statePaths(root: string, id: string): { dir: string; file: string; fifo: string } {
  const dir = posix.join(root, id);
  return {
    dir,
    file: posix.join(dir, "state.json"),
    fifo: posix.join(dir, "exec.fifo"),
  };
}

/** Writes the state file atomically (temp file then rename). */
export function writeState(root: string, state: StoredState): void {
  const { file } = statePaths(root, state.id);
  const tmp = `${file}.tmp`;
  Deno.writeTextFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
  Deno.renameSync(tmp, file);
}

/** Reads the state file of `id`; throws ContainerNotFoundError when absent. */
export function readState(root: string, id: string): StoredState {
  validateId(id);
  const { file } = statePaths(root, id);
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new ContainerNotFoundError(id);
    throw e;
  }
  try {
    return JSON.parse(text) as StoredState;
  } catch (e) {
    throw new RuntimeError(`Container ${id}: state file ${file} is corrupt`, { cause: e });
  }
}

/** Ids with a state directory under `root`. */
export function listIds(root: string): string[] {
  const ids: string[] = [];
  try {
    for (const e of Deno.readDirSync(root)) {
      if (e.isDirectory && ID_RE.test(e.name)) ids.push(e.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return ids.sort();
}

/**
 * Reads field 22 (start time) and field 3 (state) of /proc/<pid>/stat.
 *
 * @param pid The process.
 * @returns Start time and state letter, or `null` if there is no such process.
 */
export function procStat(pid: number): { startTime: string; state: string } | null {
  if (pid <= 0) return null;
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: rest[0], startTime: rest[19] };
}

/**
 * The status of a stored container: `stopped` when its init is gone (or is
 * a zombie, or its pid was reused), `created` while the start FIFO exists,
 * `running` otherwise.
 *
 * @param root The state directory.
 * @param state The stored state.
 * @returns The status.
 */
export function statusOf(root: string, state: StoredState): ContainerStatus {
  const st = procStat(state.pid);
  if (st === null || st.startTime !== state.initStartTime || st.state === "Z" || st.state === "X") {
    return "stopped";
  }
  // The start FIFO exists until start (no thrown error when it is gone).
  if (pathExists(statePaths(root, state.id).fifo)) return "created";
  return state.paused ? "paused" : "running";
}
