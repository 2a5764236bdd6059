/**
 * Containerfile/Dockerfile parsing: line continuations, comments, the
 * `escape` directive, exec (JSON) and shell forms, flags (`--from=`,
 * `--chown=`), build stages, and variable substitution.
 *
 * @module
 */
import { ValidationError } from "../errors.ts";

/** One instruction of a Containerfile. */
export interface Instruction {
  /** The instruction word, upper case: `RUN`, `COPY`, ... */
  name: string;
  /** The text after the instruction word and its flags. */
  raw: string;
  /** Flags such as `--from=build` as `{ from: "build" }`. */
  flags: Record<string, string>;
  /** The exec form's arguments, when the text is a JSON array of strings. */
  json?: string[];
  /** The 1-based line the instruction starts on. */
  line: number;
  /** The instruction as written (joined continuation lines), for progress and history. */
  text: string;
}

/** A build stage: one `FROM` and the instructions after it. */
export interface Stage {
  /** The position of the stage, 0-based. */
  index: number;
  /** The `AS name`, lower-cased, if any. */
  name?: string;
  /** The base: `scratch`, an image reference, or a stage name (unexpanded). */
  from: string;
  /** The `--platform` flag of FROM, if any. */
  platform?: string;
  /** The FROM instruction. */
  fromInstruction: Instruction;
  /** The instructions after FROM. */
  instructions: Instruction[];
}

/** A parsed Containerfile. */
export interface Containerfile {
  /** `ARG` instructions before the first `FROM`. */
  globalArgs: Instruction[];
  /** The stages, in order. */
  stages: Stage[];
}

const KNOWN = new Set([
  "FROM",
  "RUN",
  "CMD",
  "LABEL",
  "MAINTAINER",
  "EXPOSE",
  "ENV",
  "ADD",
  "COPY",
  "ENTRYPOINT",
  "VOLUME",
  "USER",
  "WORKDIR",
  "ARG",
  "ONBUILD",
  "STOPSIGNAL",
  "HEALTHCHECK",
  "SHELL",
]);

function fail(line: number, detail: string): never {
  throw new ValidationError(`line ${line}`, detail);
}

/**
 * Parses a Containerfile.
 *
 * @param text The file's content.
 * @returns The global args and stages.
 * @throws {ValidationError} Naming the line, for unknown instructions, a missing FROM, bad flags or JSON.
 *
 * @example Parse a two-stage file
 * ```ts
 * import { parseContainerfile } from "@tsk/image";
 * const f = parseContainerfile("FROM busybox AS build\nRUN echo hi > /x\nFROM scratch\nCOPY --from=build /x /x\n");
 * console.log(f.stages.length, f.stages[1].instructions[0].flags.from); // 2 build
 * ```
 */
export function parseContainerfile(text: string): Containerfile {
  let escape = "\\";
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  // Parser directives: only at the very top, as `# name=value`.
  for (const l of lines) {
    const m = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(l);
    if (!m) break;
    if (m[1].toLowerCase() === "escape") {
      if (m[2] !== "\\" && m[2] !== "`") fail(1, `escape: expected \\ or \`, got ${m[2]}`);
      escape = m[2];
    }
  }
  const logical: { text: string; line: number }[] = [];
  let cur = "";
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (cur === "" && /^\s*(#.*)?$/.test(l)) continue;
    if (cur !== "" && /^\s*#/.test(l)) continue; // comments inside continuations are dropped
    if (cur === "") start = i + 1;
    const trimmed = l.replace(/\s+$/, "");
    if (trimmed.endsWith(escape)) {
      cur += trimmed.slice(0, -1);
      continue;
    }
    cur += l;
    logical.push({ text: cur.trim(), line: start });
    cur = "";
  }
  if (cur.trim() !== "") logical.push({ text: cur.trim(), line: start });

  const file: Containerfile = { globalArgs: [], stages: [] };
  for (const { text: t, line } of logical) {
    const m = /^(\S+)\s*(.*)$/s.exec(t)!;
    const name = m[1].toUpperCase();
    if (!KNOWN.has(name)) fail(line, `unknown instruction ${m[1]}`);
    let rest = m[2];
    const flags: Record<string, string> = {};
    if (["FROM", "COPY", "ADD", "RUN"].includes(name)) {
      let fm: RegExpExecArray | null;
      while ((fm = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)) !== null) {
        flags[fm[1]] = fm[2] ?? "true";
        rest = rest.slice(fm[0].length);
      }
    }
    let json: string[] | undefined;
    if (rest.startsWith("[")) {
      try {
        const v = JSON.parse(rest);
        if (Array.isArray(v) && v.every((x) => typeof x === "string")) json = v;
      } catch { /* not JSON: shell form, as Docker treats it */ }
    }
    const ins: Instruction = { name, raw: rest, flags, line, text: t, ...(json ? { json } : {}) };
    if (name === "FROM") {
      const parts = rest.split(/\s+/).filter(Boolean);
      if (parts.length !== 1 && !(parts.length === 3 && parts[1].toLowerCase() === "as")) {
        fail(line, `FROM: expected FROM image [AS name], got ${JSON.stringify(t)}`);
      }
      const stageName = parts[2]?.toLowerCase();
      if (stageName !== undefined && !/^[a-z][a-z0-9_.-]*$/.test(stageName)) {
        fail(line, `FROM: stage name ${JSON.stringify(parts[2])} must start with a letter`);
      }
      if (stageName && file.stages.some((s) => s.name === stageName)) {
        fail(line, `FROM: duplicate stage name ${stageName}`);
      }
      file.stages.push({
        index: file.stages.length,
        ...(stageName ? { name: stageName } : {}),
        from: parts[0],
        ...(flags.platform ? { platform: flags.platform } : {}),
        fromInstruction: ins,
        instructions: [],
      });
      continue;
    }
    if (file.stages.length === 0) {
      if (name !== "ARG") {
        fail(line, `${name} before FROM: only ARG may come before the first FROM`);
      }
      file.globalArgs.push(ins);
      continue;
    }
    file.stages[file.stages.length - 1].instructions.push(ins);
  }
  if (file.stages.length === 0) fail(logical.at(-1)?.line ?? 1, "no FROM instruction");
  return file;
}

/**
 * Expands `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alternative}` as
 * Docker does in FROM, COPY, ADD, ENV, ARG, WORKDIR, USER, LABEL, EXPOSE and
 * friends; `\$` keeps a literal dollar.
 *
 * @param text The text.
 * @param vars The variables in scope.
 * @returns The expanded text.
 *
 * @example Expand with a default
 * ```ts
 * import { expandVariables } from "@tsk/image";
 * console.log(expandVariables("/app/${DIR:-src}", {})); // "/app/src"
 * ```
 */
export function expandVariables(text: string, vars: Record<string, string>): string {
  return text.replace(
    /\\\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (all, braced, op, word, bare) => {
      if (all === "\\$") return "$";
      const name = braced ?? bare;
      const v = vars[name];
      if (op === ":-") return v !== undefined && v !== "" ? v : expandVariables(word, vars);
      if (op === ":+") return v !== undefined && v !== "" ? expandVariables(word, vars) : "";
      return v ?? "";
    },
  );
}

/**
 * Splits `KEY=value KEY2="quoted value"` pairs (ENV, LABEL, ARG), or the
 * legacy `KEY value` form when `legacy` is allowed.
 *
 * @param text The text after the instruction.
 * @param legacy Whether `KEY value` (one pair, rest of line) is allowed.
 * @returns The pairs in order; a value is undefined for a bare `ARG NAME`.
 *
 * @example Split ENV pairs
 * ```ts
 * import { parseKeyValues } from "@tsk/image";
 * console.log(parseKeyValues('A=1 B="two words"', true)); // [["A","1"],["B","two words"]]
 * ```
 */
export function parseKeyValues(text: string, legacy: boolean): [string, string | undefined][] {
  const t = text.trim();
  const firstWord = /^[^\s=]+/.exec(t)?.[0] ?? "";
  if (legacy && !t.slice(firstWord.length).startsWith("=") && /\s/.test(t)) {
    return [[firstWord, t.slice(firstWord.length).trim()]];
  }
  const out: [string, string | undefined][] = [];
  let i = 0;
  while (i < t.length) {
    while (i < t.length && /\s/.test(t[i])) i++;
    if (i >= t.length) break;
    let key = "";
    while (i < t.length && t[i] !== "=" && !/\s/.test(t[i])) key += t[i++];
    if (t[i] !== "=") {
      out.push([key, undefined]);
      continue;
    }
    i++;
    let value = "";
    while (i < t.length && !/\s/.test(t[i])) {
      const c = t[i];
      if (c === '"' || c === "'") {
        const q = c;
        i++;
        while (i < t.length && t[i] !== q) {
          if (q === '"' && t[i] === "\\" && i + 1 < t.length) i++;
          value += t[i++];
        }
        i++;
      } else if (c === "\\" && i + 1 < t.length) {
        value += t[i + 1];
        i += 2;
      } else {
        value += c;
        i++;
      }
    }
    out.push([key, value]);
  }
  return out;
}
