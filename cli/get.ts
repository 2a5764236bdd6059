/**
 * `tsk get TYPE [NAME...]`: tables, or YAML/JSON with `-o`; `-w` keeps
 * watching; `-l` filters by labels.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { stringify as stringifyYaml } from "yaml";
import type { ApiObject } from "@tsk/api";
import { type Command, type CommandIo, UsageError } from "./command.ts";
import { clientFor, COMMON_FLAGS, COMMON_HELP } from "./_client_config.ts";
import { parseTargets } from "./_targets.ts";
import { columns, renderTable } from "./_table.ts";

const HELP = `Usage: tsk get TYPE [NAME...] [flags]
       tsk get TYPE,TYPE... [flags]
       tsk get TYPE/NAME [flags]

Shows objects as a table, or as YAML or JSON.

Flags:
  -o, --output FORMAT      yaml, json, name or wide (default: a table)
  -l, --selector SEL       label selector, e.g. app=web,tier!=db
      --field-selector SEL field selector, e.g. spec.nodeName=node-1
  -w, --watch              after listing, print changes as they happen
${COMMON_HELP}`;

function printObjects(
  io: CommandIo,
  items: ApiObject[],
  output: string | undefined,
  list: boolean,
): void {
  if (output === "json") {
    io.out(JSON.stringify(list ? { apiVersion: "v1", kind: "List", items } : items[0], null, 2));
  } else if (output === "yaml") {
    io.out(stringifyYaml(list ? { apiVersion: "v1", kind: "List", items } : items[0]).trimEnd());
  } else if (output === "name") {
    for (const o of items) io.out(`${o.kind.toLowerCase()}/${o.metadata.name}`);
  }
}

/** The `get` command. */
export const getCommand: Command = {
  name: "get",
  summary: "Show objects as a table, YAML or JSON; -w to watch",
  async run(args: string[], io: CommandIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...COMMON_FLAGS,
        output: { type: "string", short: "o" },
        selector: { type: "string", short: "l" },
        "field-selector": { type: "string" },
        watch: { type: "boolean", short: "w" },
      },
      allowPositionals: true,
    });
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    const output = values.output;
    if (output !== undefined && !["yaml", "json", "name", "wide"].includes(output)) {
      throw new UsageError(`-o: expected yaml, json, name or wide, got ${JSON.stringify(output)}`);
    }
    const targets = parseTargets(positionals);
    const client = await clientFor(io, values.server);
    try {
      for (const [ti, t] of targets.entries()) {
        if (ti > 0 && (!output || output === "wide")) io.out("");
        const ns = t.info.namespaced
          ? (values["all-namespaces"] ? undefined : values.namespace ?? "default")
          : undefined;
        const allNs = t.info.namespaced && ns === undefined;
        let items: ApiObject[];
        let rv: string | undefined;
        if (t.names.length > 0) {
          items = [];
          for (const name of t.names) {
            items.push(
              await client.get(t.info.plural, name, {
                namespace: ns ?? values.namespace ?? "default",
              }),
            );
          }
        } else {
          const list = await client.list(t.info.plural, {
            namespace: ns,
            labelSelector: values.selector,
            fieldSelector: values["field-selector"],
          });
          items = list.items;
          rv = list.metadata.resourceVersion;
        }
        const { headers, row } = columns(t.info.kind);
        const fullRow = (o: ApiObject) => allNs ? [o.metadata.namespace ?? "", ...row(o)] : row(o);
        const fullHeaders = allNs ? ["NAMESPACE", ...headers] : headers;
        if (output && output !== "wide") {
          printObjects(io, items, output, t.names.length !== 1);
        } else if (items.length === 0 && !values.watch) {
          io.err(
            ns ? `No ${t.info.plural} found in the namespace ${ns}.` : `No ${t.info.plural} found.`,
          );
        } else {
          for (const line of renderTable(fullHeaders, items.map(fullRow))) io.out(line);
        }
        if (values.watch) {
          if (t.names.length > 0) rv = items[0]?.metadata.resourceVersion;
          const fieldSelector = t.names.length === 1
            ? `metadata.name=${t.names[0]}`
            : values["field-selector"];
          const stop = new AbortController();
          const onSig = () => stop.abort();
          try {
            Deno.addSignalListener("SIGINT", onSig);
          } catch { /* no signals here */ }
          try {
            for await (
              const ev of client.watch(t.info.plural, {
                namespace: ns,
                labelSelector: values.selector,
                fieldSelector,
                resourceVersion: rv,
                signal: stop.signal,
              })
            ) {
              const o = ev.object as ApiObject;
              if (output && output !== "wide") printObjects(io, [o], output, false);
              else {
                const cells = fullRow(o);
                if (ev.type === "DELETED" && t.info.kind === "Pod") {
                  cells[allNs ? 3 : 2] = "Deleted";
                }
                io.out(renderTable(fullHeaders, [cells])[1]);
              }
            }
          } finally {
            try {
              Deno.removeSignalListener("SIGINT", onSig);
            } catch { /* no signals here */ }
          }
        }
      }
    } finally {
      client.close();
    }
    return 0;
  },
};
