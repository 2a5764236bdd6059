/**
 * `tsk describe TYPE NAME`: an object in readable form, with its
 * conditions and the events about it.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { stringify as stringifyYaml } from "yaml";
import type { ApiObject, Condition, Event } from "@tsk/api";
import { type Command, type CommandIo, UsageError } from "./command.ts";
import { clientFor, COMMON_FLAGS, COMMON_HELP } from "./_client_config.ts";
import { parseTargets } from "./_targets.ts";
import { age, renderTable } from "./_table.ts";

const HELP = `Usage: tsk describe TYPE NAME [flags]
       tsk describe TYPE/NAME [flags]

Shows an object's metadata, spec, status conditions and recent events.

Flags:
${COMMON_HELP}`;

function indent(text: string, by = "  "): string[] {
  return text.trimEnd().split("\n").map((l) => by + l);
}

function map(m: Record<string, string> | undefined): string {
  const e = Object.entries(m ?? {});
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(", ") : "<none>";
}

/**
 * Renders an object for `describe`.
 *
 * @param obj The object.
 * @param events Events about it.
 * @returns The lines.
 */
export function describeObject(obj: ApiObject, events: Event[]): string[] {
  const m = obj.metadata;
  const out = [
    `Name:         ${m.name}`,
    ...(m.namespace ? [`Namespace:    ${m.namespace}`] : []),
    `Kind:         ${obj.kind} (${obj.apiVersion})`,
    `Labels:       ${map(m.labels)}`,
    `Annotations:  ${
      map(Object.fromEntries(
        Object.entries(m.annotations ?? {}).filter(([k]) => k !== "tsk.dev/last-applied"),
      ))
    }`,
    `Created:      ${m.creationTimestamp} (${age(m.creationTimestamp)} ago)`,
    `UID:          ${m.uid}`,
    `Version:      ${m.resourceVersion} (generation ${m.generation ?? 1})`,
  ];
  if (m.ownerReferences?.length) {
    out.push(`Controlled By: ${m.ownerReferences.map((o) => `${o.kind}/${o.name}`).join(", ")}`);
  }
  if (m.finalizers?.length) out.push(`Finalizers:   ${m.finalizers.join(", ")}`);
  if (m.deletionTimestamp) {
    out.push(
      `Deleting:     since ${m.deletionTimestamp} (grace ${m.deletionGracePeriodSeconds ?? 0}s)`,
    );
  }
  const rest = { ...obj } as Record<string, unknown>;
  delete rest.apiVersion;
  delete rest.kind;
  delete rest.metadata;
  const status = rest.status as { conditions?: Condition[] } | undefined;
  delete rest.status;
  if (Object.keys(rest).length) {
    for (const [k, v] of Object.entries(rest)) {
      out.push(`${k[0].toUpperCase()}${k.slice(1)}:`, ...indent(stringifyYaml(v)));
    }
  }
  if (status) {
    const { conditions, ...others } = status;
    if (Object.keys(others).length) out.push("Status:", ...indent(stringifyYaml(others)));
    if (conditions?.length) {
      out.push("Conditions:");
      out.push(...indent(
        renderTable(
          ["TYPE", "STATUS", "REASON", "MESSAGE"],
          conditions.map((c) => [c.type, c.status, c.reason ?? "", c.message ?? ""]),
        ).join("\n"),
      ));
    }
  }
  out.push("Events:");
  if (events.length === 0) out.push("  <none>");
  else {
    out.push(...indent(
      renderTable(
        ["TYPE", "REASON", "AGE", "FROM", "MESSAGE"],
        events.map((e) => [
          e.type ?? "Normal",
          e.reason ?? "",
          age(e.lastTimestamp ?? e.metadata.creationTimestamp),
          e.source?.component ?? e.reportingComponent ?? "",
          e.message ?? "",
        ]),
      ).join("\n"),
    ));
  }
  return out;
}

/** The `describe` command. */
export const describeCommand: Command = {
  name: "describe",
  summary: "Show an object in detail, with its conditions and events",
  async run(args: string[], io: CommandIo): Promise<number> {
    const { values, positionals } = parseArgs({
      args,
      options: { ...COMMON_FLAGS },
      allowPositionals: true,
    });
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    const targets = parseTargets(positionals);
    const client = await clientFor(io, values.server);
    try {
      let first = true;
      for (const t of targets) {
        const ns = t.info.namespaced ? values.namespace ?? "default" : undefined;
        let names = t.names;
        if (names.length === 0) {
          const list = await client.list(t.info.plural, {
            namespace: values["all-namespaces"] ? undefined : ns,
          });
          names = list.items.map((i) => i.metadata.name!);
          if (names.length === 0) throw new UsageError(`no ${t.info.plural} to describe`);
        }
        for (const name of names) {
          const obj = await client.get(t.info.plural, name, { namespace: ns });
          const events = await client.list<Event>("events", {
            namespace: obj.metadata.namespace ?? "default",
            fieldSelector: `involvedObject.kind=${t.info.kind},involvedObject.name=${name}`,
          }).then((l) => l.items).catch(() => []);
          if (!first) io.out("");
          first = false;
          for (
            const line of describeObject(obj, events)
          ) io.out(line);
        }
      }
    } finally {
      client.close();
    }
    return 0;
  },
};
