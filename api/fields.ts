/**
 * Field selectors (`?fieldSelector=spec.nodeName=node-1,status.phase!=Failed`):
 * equality on dotted paths of an object's string, number or boolean fields.
 *
 * @module
 */
import { BadRequestError } from "./errors.ts";

/** One field requirement. */
export interface FieldRequirement {
  /** A dotted path, e.g. `spec.nodeName`. */
  field: string;
  /** `=` (also written `==`) or `!=`. */
  operator: "=" | "!=";
  /** The value compared with the field's string form; `""` matches an absent field. */
  value: string;
}

/**
 * Parses a field selector.
 *
 * @param text Comma-separated `path=value`, `path==value` or `path!=value`.
 * @returns The requirements; an empty string gives none.
 * @throws {BadRequestError} Naming the bad term.
 *
 * @example Pods on a node
 * ```ts
 * import { matchesFieldSelector, parseFieldSelector } from "@tsk/api";
 * const sel = parseFieldSelector("spec.nodeName=n1");
 * console.log(matchesFieldSelector(sel, { spec: { nodeName: "n1" } })); // true
 * ```
 */
export function parseFieldSelector(text: string): FieldRequirement[] {
  if (text.trim() === "") return [];
  return text.split(",").map((term) => {
    const m = /^\s*([A-Za-z0-9_.\-/]+)\s*(==|!=|=)\s*([^,]*?)\s*$/.exec(term);
    if (!m) {
      throw new BadRequestError(
        `fieldSelector: expected path=value, path==value or path!=value, got ${
          JSON.stringify(term)
        }`,
      );
    }
    return { field: m[1], operator: m[2] === "!=" ? "!=" : "=", value: m[3] };
  });
}

/**
 * Reads a dotted path of an object as a string (`""` when absent).
 *
 * @param obj The object.
 * @param path A dotted path such as `metadata.name`.
 * @returns The value's string form.
 *
 * @example Read a field
 * ```ts
 * import { fieldValue } from "@tsk/api";
 * console.log(fieldValue({ status: { phase: "Running" } }, "status.phase")); // "Running"
 * ```
 */
export function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object") return "";
    cur = (cur as Record<string, unknown>)[part];
  }
  if (cur === undefined || cur === null) return "";
  if (typeof cur === "object") return JSON.stringify(cur);
  return String(cur);
}

/**
 * Tells whether an object satisfies every field requirement.
 *
 * @param selector The requirements.
 * @param obj The object.
 * @returns True when all hold.
 *
 * @example Exclude finished pods
 * ```ts
 * import { matchesFieldSelector, parseFieldSelector } from "@tsk/api";
 * const sel = parseFieldSelector("status.phase!=Succeeded");
 * console.log(matchesFieldSelector(sel, { status: { phase: "Running" } })); // true
 * ```
 */
export function matchesFieldSelector(selector: FieldRequirement[], obj: unknown): boolean {
  for (const r of selector) {
    const v = fieldValue(obj, r.field);
    if (r.operator === "=" ? v !== r.value : v === r.value) return false;
  }
  return true;
}
