/**
 * `tsk patch TYPE NAME -p PATCH`: a JSON merge patch, given as JSON or YAML.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { type Command, type CommandIo, UsageError } from "./command.ts";
import { clientFor, COMMON_FLAGS, COMMON_HELP } from "./_client_config.ts";
import { parseTargets } from "./_targets.ts";

const HELP = `Usage: tsk patch TYPE NAME -p PATCH [flags]
       tsk patch TYPE/NAME -p PATCH [flags]

Applies a JSON merge patch (RFC 7386; JSON or YAML): fields given replace,
null removes, objects merge.

Flags:
  -p, --patch PATCH        the patch, e.g. '{"spec":{"replicas":3}}'
      --subresource NAME   status or scale
${COMMON_HELP}`;

/** The `patch` command. */
export const patchCommand: Command = {
  name: "patch",
  summary: "Change fields of an object with a merge patch",
  async run(args: string[], io: CommandIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...COMMON_FLAGS,
        patch: { type: "string", short: "p" },
        subresource: { type: "string" },
      },
      allowPositionals: true,
    });
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    if (!values.patch) throw new UsageError("-p: required: the merge patch, as JSON or YAML");
    let patch: unknown;
    try {
      patch = parseYaml(values.patch);
    } catch (err) {
      throw new UsageError(
        `-p: cannot parse the patch: ${err instanceof Error ? err.message.split("\n")[0] : err}`,
      );
    }
    if (patch === null || typeof patch !== "object" || Array.isArray(patch)) {
      throw new UsageError('-p: expected an object, e.g. \'{"metadata":{"labels":{"a":"b"}}}\'');
    }
    const sub = values.subresource;
    if (sub !== undefined && sub !== "status" && sub !== "scale") {
      throw new UsageError(`--subresource: expected status or scale, got ${sub}`);
    }
    const targets = parseTargets(positionals);
    const client = await clientFor(io, values.server);
    try {
      for (const t of targets) {
        if (t.names.length === 0) throw new UsageError(`name the ${t.info.singular} to patch`);
        for (const name of t.names) {
          await client.patch(t.info.plural, {
            name,
            patch,
            namespace: t.info.namespaced ? values.namespace ?? "default" : undefined,
            subresource: sub,
          });
          io.out(`${t.info.kind.toLowerCase()}/${name} patched`);
        }
      }
    } finally {
      client.close();
    }
    return 0;
  },
};
