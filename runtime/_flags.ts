/**
 * A small command-line flag parser for `tsk-runtime`, shaped like
 * `node:util`'s `parseArgs` (long and short flags, `--flag=value`,
 * booleans, strings, repeated strings, positionals). `tsk-runtime` starts
 * on every runc-style call, and loading the Node compatibility layer for
 * `parseArgs` alone cost more than a whole container start on the
 * benchmark host.
 *
 * @module
 */

/** One flag's definition. */
export interface FlagSpec {
  /** `boolean` flags take no value; `string` flags take one. */
  type: "boolean" | "string";
  /** A one-letter alias. */
  short?: string;
  /** May repeat; values collect into an array. */
  multiple?: boolean;
}

/** Parsed flags and positionals. */
export interface ParsedFlags {
  /** Flag values by long name. */
  values: Record<string, string | boolean | string[] | undefined>;
  /** Arguments that are not flags, in order. */
  positionals: string[];
}

/**
 * Parses `args`. Flags may appear anywhere before `--`; after the first
 * positional when `stopAtPositional` is set, everything is positional (for
 * `exec ID CMD ARGS...`).
 *
 * @param args The arguments.
 * @param spec The flags by long name.
 * @param stopAtPositional Treat everything after the first positional as positional.
 * @returns The values and positionals.
 * @throws {Error} For an unknown flag or a missing value.
 */
export function parseFlags(
  args: readonly string[],
  spec: Record<string, FlagSpec>,
  stopAtPositional = false,
): ParsedFlags {
  const values: ParsedFlags["values"] = {};
  const positionals: string[] = [];
  const byShort = new Map(
    Object.entries(spec).filter(([, s]) => s.short).map(([k, s]) => [s.short!, k]),
  );
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      positionals.push(a);
      if (stopAtPositional) {
        positionals.push(...args.slice(i + 1));
        break;
      }
      continue;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      inline = eq < 0 ? undefined : a.slice(eq + 1);
    } else {
      name = byShort.get(a.slice(1, 2));
      if (a.length > 2) inline = a.slice(2);
      if (name === undefined) throw new Error(`unknown option ${a}`);
    }
    const def = spec[name];
    if (def === undefined) throw new Error(`unknown option --${name}`);
    if (def.type === "boolean") {
      if (inline !== undefined) throw new Error(`option --${name} takes no value`);
      values[name] = true;
      continue;
    }
    const v = inline ?? args[++i];
    if (v === undefined) throw new Error(`option --${name} needs a value`);
    if (def.multiple) values[name] = [...((values[name] as string[] | undefined) ?? []), v];
    else values[name] = v;
  }
  return { values, positionals };
}
