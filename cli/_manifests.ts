/**
 * Reads manifests for `apply -f` and `delete -f`: files, directories (their
 * .yaml, .yml and .json files) or `-` for standard input; multi-document
 * YAML; `List` kinds are flattened.
 *
 * @module
 */
import { parseAllDocuments } from "yaml";
import type { ApiObject } from "@tsk/api";
import { UsageError } from "./command.ts";

/** One manifest and where it came from. */
export interface Manifest {
  /** The object. */
  object: ApiObject;
  /** `file.yaml#2` (document index), for messages. */
  source: string;
}

async function readStdin(): Promise<string> {
  return await new Response(Deno.stdin.readable).text();
}

/**
 * Reads every manifest named by `-f` values.
 *
 * @param paths Files, directories or `-`.
 * @param stdin Reads standard input (injected for tests).
 * @returns The manifests in order.
 * @throws {UsageError} When a file is missing or a document is not an object.
 */
export async function readManifests(
  paths: string[],
  stdin: () => Promise<string> = readStdin,
): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const path of paths) {
    const files: string[] = [];
    if (path === "-") files.push("-");
    else {
      let info: Deno.FileInfo;
      try {
        info = await Deno.stat(path);
      } catch {
        throw new UsageError(`-f: ${path}: no such file or directory`);
      }
      if (info.isDirectory) {
        const names: string[] = [];
        for await (const e of Deno.readDir(path)) {
          if (e.isFile && /\.(ya?ml|json)$/.test(e.name)) {
            names.push(`${path.replace(/\/+$/, "")}/${e.name}`);
          }
        }
        files.push(...names.sort());
      } else files.push(path);
    }
    for (const file of files) {
      const text = file === "-" ? await stdin() : await Deno.readTextFile(file);
      const docs = parseAllDocuments(text);
      for (const [i, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
        const source = `${file === "-" ? "<stdin>" : file}#${i + 1}`;
        if (doc.errors.length > 0) {
          throw new UsageError(`${source}: cannot parse YAML: ${doc.errors[0].message}`);
        }
        const value = doc.toJS();
        if (value === null || value === undefined) continue;
        if (typeof value !== "object" || Array.isArray(value)) {
          throw new UsageError(`${source}: expected an object with apiVersion, kind and metadata`);
        }
        if (value.kind === "List" && Array.isArray(value.items)) {
          for (const item of value.items) out.push({ object: item, source });
        } else out.push({ object: value as ApiObject, source });
      }
    }
  }
  return out;
}
