/**
 * Resolves what commands name: `pods`, `po web db`, `pods,svc`, `deploy/web`.
 *
 * @module
 */
import { resourceByName, type ResourceInfo, RESOURCES } from "@tsk/api";
import { UsageError } from "./command.ts";

/** A resource type and optional names. */
export interface Target {
  /** The kind. */
  info: ResourceInfo;
  /** The names; empty means all. */
  names: string[];
}

/**
 * Looks up a resource type the way kubectl does (plural, singular, short name, kind).
 *
 * @param word What the user typed.
 * @returns The kind.
 * @throws {UsageError} Listing the served types.
 */
export function resolveType(word: string): ResourceInfo {
  const info = resourceByName(word);
  if (!info) {
    throw new UsageError(
      `unknown resource type ${JSON.stringify(word)}; one of: ${
        RESOURCES.map((r) => r.plural).join(", ")
      }`,
    );
  }
  return info;
}

/**
 * Parses `TYPE [NAME...]`, `TYPE,TYPE` or `TYPE/NAME [TYPE/NAME...]`.
 *
 * @param args The positional arguments.
 * @returns The targets.
 * @throws {UsageError} When nothing or a mix is given.
 */
export function parseTargets(args: string[]): Target[] {
  if (args.length === 0) throw new UsageError("expected a resource type, e.g. pods, or TYPE/NAME");
  if (args[0].includes("/")) {
    return args.map((a) => {
      const [type, name, ...rest] = a.split("/");
      if (!name || rest.length > 0) {
        throw new UsageError(`expected TYPE/NAME, got ${JSON.stringify(a)}`);
      }
      return { info: resolveType(type), names: [name] };
    });
  }
  const [type, ...names] = args;
  if (type.includes(",")) {
    if (names.length > 0) throw new UsageError("name objects of one type only, or use TYPE/NAME");
    return type.split(",").filter((t) => t !== "").map((t) => ({
      info: resolveType(t),
      names: [],
    }));
  }
  for (const n of names) {
    if (n.includes("/")) {
      throw new UsageError(`cannot mix TYPE NAME and TYPE/NAME forms: ${JSON.stringify(n)}`);
    }
  }
  return [{ info: resolveType(type), names }];
}
