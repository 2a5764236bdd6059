/**
 * `tsk scale deploy/web --replicas 3`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Command, type CommandIo, UsageError } from "./command.ts";
import { clientFor, COMMON_FLAGS, COMMON_HELP } from "./_client_config.ts";
import { parseTargets } from "./_targets.ts";

const HELP = `Usage: tsk scale TYPE NAME --replicas N [flags]
       tsk scale TYPE/NAME --replicas N [flags]

Sets the replicas of Deployments and ReplicaSets (their scale subresource).

Flags:
      --replicas N         the desired replicas
${COMMON_HELP}`;

/** The `scale` command. */
export const scaleCommand: Command = {
  name: "scale",
  summary: "Set the replicas of a Deployment or ReplicaSet",
  async run(args: string[], io: CommandIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      options: { ...COMMON_FLAGS, replicas: { type: "string" } },
      allowPositionals: true,
    });
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    if (values.replicas === undefined || !/^\d+$/.test(values.replicas)) {
      throw new UsageError(
        `--replicas: expected a non-negative integer, got ${JSON.stringify(values.replicas)}`,
      );
    }
    const replicas = Number(values.replicas);
    const targets = parseTargets(positionals);
    const client = await clientFor(io, values.server);
    try {
      for (const t of targets) {
        if (!t.info.scaleSubresource) {
          throw new UsageError(
            `${t.info.plural}: cannot be scaled; use deployments or replicasets`,
          );
        }
        if (t.names.length === 0) throw new UsageError(`name the ${t.info.singular} to scale`);
        for (const name of t.names) {
          await client.scale(t.info.plural, { name, replicas, namespace: values.namespace });
          io.out(`${t.info.kind.toLowerCase()}/${name} scaled to ${replicas}`);
        }
      }
    } finally {
      client.close();
    }
    return 0;
  },
};
