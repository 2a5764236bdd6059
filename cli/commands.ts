/**
 * Every `tsk` command group, in the order `tsk --help` lists them. A new
 * group is one entry here. Each group's module is imported only when that
 * group runs: a command pays for its own dependencies (the API client and
 * YAML for `apply`, the image store for `image`), not for everyone's, which
 * keeps the start-up of every `tsk` invocation short.
 *
 * @module
 */
import type { Command } from "./command.ts";

/**
 * A command whose module loads on first use. `summary` must equal the loaded
 * command's own (a test checks it).
 */
function lazy(name: string, summary: string, load: () => Promise<Command>): Command {
  return { name, summary, run: async (args, io) => (await load()).run(args, io) };
}

/** The registered top-level commands. */
export const COMMANDS: readonly Command[] = [
  lazy(
    "apply",
    "Create or update objects from YAML manifests (idempotent)",
    async () => (await import("./apply.ts")).applyCommand,
  ),
  lazy(
    "get",
    "Show objects as a table, YAML or JSON; -w to watch",
    async () => (await import("./get.ts")).getCommand,
  ),
  lazy(
    "describe",
    "Show an object in detail, with its conditions and events",
    async () => (await import("./describe.ts")).describeCommand,
  ),
  lazy(
    "delete",
    "Delete objects by name, selector or manifest",
    async () => (await import("./delete.ts")).deleteCommand,
  ),
  lazy(
    "scale",
    "Set the replicas of a Deployment or ReplicaSet",
    async () => (await import("./scale.ts")).scaleCommand,
  ),
  lazy(
    "patch",
    "Change fields of an object with a merge patch",
    async () => (await import("./patch.ts")).patchCommand,
  ),
  lazy(
    "image",
    "build, pull, push and manage OCI images",
    async () => (await import("./image.ts")).imageCommand,
  ),
];
