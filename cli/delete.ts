/**
 * `tsk delete TYPE NAME...`, `-l SELECTOR` or `-f FILE`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { NotFoundError, resourceForKind } from "@tsk/api";
import { type Command, type CommandIo, UsageError } from "./command.ts";
import { clientFor, COMMON_FLAGS, COMMON_HELP } from "./_client_config.ts";
import { parseTargets, type Target } from "./_targets.ts";
import { readManifests } from "./_manifests.ts";

const HELP = `Usage: tsk delete TYPE NAME... [flags]
       tsk delete TYPE/NAME... [flags]
       tsk delete TYPE -l SELECTOR [flags]
       tsk delete -f FILE [flags]

Deletes objects. Objects with finalizers, and pods on a node, are marked
for deletion and go once their finalizers are done or their node stops them.

Flags:
  -f, --filename FILE      delete the objects in these manifests (repeatable)
  -l, --selector SEL       delete every object of TYPE matching the selector
      --grace-period N     seconds a pod gets to stop (0 deletes at once)
      --force              same as --grace-period 0
      --ignore-not-found   do not fail on objects that do not exist
${COMMON_HELP}`;

/** The `delete` command. */
export const deleteCommand: Command = {
  name: "delete",
  summary: "Delete objects by name, selector or manifest",
  async run(args: string[], io: CommandIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...COMMON_FLAGS,
        filename: { type: "string", short: "f", multiple: true },
        selector: { type: "string", short: "l" },
        "grace-period": { type: "string" },
        force: { type: "boolean" },
        "ignore-not-found": { type: "boolean" },
      },
      allowPositionals: true,
    });
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    let grace: number | undefined;
    if (values["grace-period"] !== undefined) {
      if (!/^\d+$/.test(values["grace-period"])) {
        throw new UsageError(
          `--grace-period: expected a non-negative integer, got ${values["grace-period"]}`,
        );
      }
      grace = Number(values["grace-period"]);
    }
    if (values.force) grace = 0;
    const items: { plural: string; kind: string; name: string; namespace?: string }[] = [];
    const ns = values.namespace ?? "default";
    if (values.filename?.length) {
      for (const { object } of await readManifests(values.filename)) {
        const info = resourceForKind(object.apiVersion, object.kind);
        if (!info) throw new UsageError(`kind: ${object.kind} is not served`);
        items.push({
          plural: info.plural,
          kind: info.kind,
          name: object.metadata.name!,
          namespace: info.namespaced ? object.metadata.namespace ?? ns : undefined,
        });
      }
    }
    const client = await clientFor(io, values.server);
    let failed = 0;
    try {
      if (positionals.length > 0) {
        const targets: Target[] = parseTargets(positionals);
        for (const t of targets) {
          const tns = t.info.namespaced ? ns : undefined;
          if (t.names.length === 0) {
            if (!values.selector && !values["all-namespaces"]) {
              throw new UsageError(
                `name a ${t.info.singular}, or select with -l (refusing to delete every ${t.info.singular})`,
              );
            }
            const list = await client.list(t.info.plural, {
              namespace: values["all-namespaces"] ? undefined : tns,
              labelSelector: values.selector,
            });
            for (const i of list.items) {
              items.push({
                plural: t.info.plural,
                kind: t.info.kind,
                name: i.metadata.name!,
                namespace: i.metadata.namespace,
              });
            }
          } else {
            for (const name of t.names) {
              items.push({ plural: t.info.plural, kind: t.info.kind, name, namespace: tns });
            }
          }
        }
      }
      if (items.length === 0 && !values.filename?.length && positionals.length === 0) {
        throw new UsageError("expected TYPE NAME, TYPE -l SELECTOR or -f FILE");
      }
      for (const it of items) {
        try {
          const out = await client.delete(it.plural, it.name, {
            namespace: it.namespace,
            gracePeriodSeconds: grace,
          });
          const marked = out.metadata?.deletionTimestamp !== undefined &&
            out.metadata?.name === it.name;
          io.out(
            `${it.kind.toLowerCase()}/${it.name} ${marked ? "marked for deletion" : "deleted"}`,
          );
        } catch (err) {
          if (err instanceof NotFoundError && values["ignore-not-found"]) continue;
          failed++;
          io.err(
            `error: ${it.kind.toLowerCase()}/${it.name}: ${
              err instanceof Error ? err.message : String(err)
            }`,
          );
        }
      }
    } finally {
      client.close();
    }
    return failed > 0 ? 1 : 0;
  },
};
