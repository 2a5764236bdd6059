/**
 * `.dockerignore` matching: `*`, `?`, `**`, character classes, and `!`
 * exceptions, the last matching rule winning, as Docker applies them.
 *
 * @module
 */

interface Rule {
  negate: boolean;
  re: RegExp;
}

function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        i++;
        if (pattern[i + 1] === "/") {
          i++;
          re += "(?:.*/)?";
        } else re += ".*";
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        re += `[${pattern.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else if (c === "\\" && i + 1 < pattern.length) {
      re += pattern[++i].replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  // A pattern matching a directory excludes what is below it too.
  return new RegExp(`^${re}(?:/.*)?$`);
}

function clean(p: string): string {
  const parts: string[] = [];
  for (const s of p.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") parts.pop();
    else parts.push(s);
  }
  return parts.join("/");
}

/**
 * A compiled `.dockerignore`.
 *
 * @example Ignore logs except one
 * ```ts
 * import { DockerIgnore } from "@tsk/image";
 * const ig = new DockerIgnore("*.log\n!keep.log\n");
 * console.log(ig.ignores("a.log"), ig.ignores("keep.log")); // true false
 * ```
 */
export class DockerIgnore {
  readonly #rules: Rule[] = [];

  /**
   * Compiles the patterns.
   *
   * @param text The content of `.dockerignore`.
   */
  constructor(text: string) {
    for (let line of text.split(/\r?\n/)) {
      line = line.trim();
      if (line === "" || line.startsWith("#")) continue;
      const negate = line.startsWith("!");
      if (negate) line = line.slice(1).trim();
      const pattern = clean(line);
      if (pattern === "") continue;
      this.#rules.push({ negate, re: globToRegExp(pattern) });
    }
  }

  /**
   * Returns whether a context path is excluded.
   *
   * @param path Relative to the context root, `/`-separated.
   * @returns True when the last matching rule excludes it.
   */
  ignores(path: string): boolean {
    const p = clean(path);
    let ignored = false;
    for (const r of this.#rules) if (r.re.test(p)) ignored = !r.negate;
    return ignored;
  }

  /**
   * Returns whether some exception rule could re-include something below
   * a directory (then the walk must descend into an ignored directory).
   *
   * @returns True when any `!` rule exists.
   */
  hasExceptions(): boolean {
    return this.#rules.some((r) => r.negate);
  }
}
