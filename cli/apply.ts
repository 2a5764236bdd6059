/**
 * `tsk apply -f FILE`: create or update every object in the manifests.
 * Idempotent: applying the same manifests again changes nothing. Fields
 * removed from a manifest since the last apply are removed from the object
 * (a three-way merge through the `tsk.dev/last-applied` annotation, like
 * kubectl's); fields set by others (status, a pod's node) are kept.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type ApiObject, NotFoundError, resourceForKind } from "@tsk/api";
import { type Command, type CommandIo, UsageError } from "./command.ts";
import { clientFor, COMMON_FLAGS, COMMON_HELP } from "./_client_config.ts";
import { readManifests } from "./_manifests.ts";

/** The annotation holding the last applied manifest. */
export const LAST_APPLIED = "tsk.dev/last-applied";

const HELP = `Usage: tsk apply -f FILE [-f FILE...] [flags]

Creates or updates the objects in FILE (YAML, several documents allowed;
a directory; or - for standard input).

Flags:
  -f, --filename FILE      manifests to apply (repeatable)
      --dry-run            validate on the server without storing
${COMMON_HELP}`;

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Computes the merge patch that takes the live object to the manifest:
 * the manifest's fields, plus `null` for fields the last applied manifest
 * had and this one dropped.
 *
 * @param last The last applied manifest (or undefined).
 * @param next The manifest now.
 * @returns The merge patch.
 */
export function applyPatch(last: unknown, next: unknown): unknown {
  if (!isObj(next)) return next;
  const out: Json = {};
  for (const [k, v] of Object.entries(next)) {
    out[k] = applyPatch(isObj(last) ? last[k] : undefined, v);
  }
  if (isObj(last)) { for (const k of Object.keys(last)) if (!(k in next)) out[k] = null; }
  return out;
}

function label(obj: ApiObject): string {
  return `${obj.kind.toLowerCase()}/${obj.metadata?.name ?? obj.metadata?.generateName ?? "?"}`;
}

/** The `apply` command. */
export const applyCommand: Command = {
  name: "apply",
  summary: "Create or update objects from YAML manifests (idempotent)",
  async run(args: string[], io: CommandIo): Promise<number> {
    const { values } = parseArgs({
      args,
      options: {
        ...COMMON_FLAGS,
        filename: { type: "string", short: "f", multiple: true },
        "dry-run": { type: "boolean" },
      },
      allowPositionals: false,
    });
    if (values.help) {
      io.out(HELP);
      return 0;
    }
    if (!values.filename?.length) throw new UsageError("-f: required: the manifests to apply");
    const manifests = await readManifests(values.filename);
    if (manifests.length === 0) throw new UsageError("-f: no objects found in the manifests");
    const client = await clientFor(io, values.server);
    let failed = 0;
    try {
      for (const { object, source } of manifests) {
        try {
          const info = resourceForKind(object.apiVersion, object.kind);
          if (!info) {
            throw new Error(
              `kind: ${JSON.stringify(object.apiVersion)} ${
                JSON.stringify(object.kind)
              } is not served`,
            );
          }
          const meta = object.metadata ?? {};
          if (!meta.name) throw new Error("metadata.name: required");
          const namespace = info.namespaced
            ? meta.namespace ?? values.namespace ?? "default"
            : undefined;
          const manifest = structuredClone(object);
          manifest.metadata = { ...meta, ...(namespace ? { namespace } : {}) };
          const lastApplied = JSON.stringify(manifest);
          let live: ApiObject | undefined;
          try {
            live = await client.get(info.plural, meta.name, { namespace });
          } catch (err) {
            if (!(err instanceof NotFoundError)) throw err;
          }
          if (!live) {
            const body = structuredClone(manifest);
            body.metadata.annotations = {
              ...body.metadata.annotations,
              [LAST_APPLIED]: lastApplied,
            };
            await client.create(body, { dryRun: values["dry-run"] });
            io.out(`${label(object)} created${values["dry-run"] ? " (dry run)" : ""}`);
            continue;
          }
          const previous = live.metadata.annotations?.[LAST_APPLIED];
          const patch = applyPatch(previous ? JSON.parse(previous) : undefined, manifest) as Json;
          const metaPatch = (patch.metadata ?? {}) as Json;
          metaPatch.annotations = {
            ...(isObj(metaPatch.annotations) ? metaPatch.annotations : {}),
            [LAST_APPLIED]: lastApplied,
          };
          patch.metadata = metaPatch;
          delete patch.status;
          if (values["dry-run"]) {
            io.out(`${label(object)} configured (dry run)`);
            continue;
          }
          const after = await client.patch(info.plural, { name: meta.name, patch, namespace });
          io.out(
            `${label(object)} ${
              after.metadata.resourceVersion === live.metadata.resourceVersion
                ? "unchanged"
                : "configured"
            }`,
          );
        } catch (err) {
          failed++;
          io.err(
            `error: ${source} (${label(object)}): ${
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
