/**
 * Label selectors: the structured form of manifests (`matchLabels`,
 * `matchExpressions`) and the string form of `-l` and `?labelSelector=`
 * (`a=b,c in (x,y),!d`), parsed to one list of requirements that are ANDed.
 *
 * @module
 */
import { BadRequestError } from "./errors.ts";
import type { StringMap } from "./meta.ts";

/** One expression of a structured selector. */
export interface LabelSelectorRequirement {
  /** The label key. */
  key: string;
  /** How the values compare. */
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  /** Values for In and NotIn; none for Exists and DoesNotExist. */
  values?: string[];
}

/** The structured selector of manifests; both parts are ANDed. `{}` matches everything. */
export interface LabelSelector {
  /** Each key must have exactly this value. */
  matchLabels?: StringMap;
  /** Each expression must hold. */
  matchExpressions?: LabelSelectorRequirement[];
}

/** The operators of a parsed requirement. */
export type SelectorOperator = "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt";

/** One parsed requirement. */
export interface Requirement {
  /** The label key. */
  key: string;
  /** The operator; `a=b` is In with one value, `a!=b` is NotIn. */
  operator: SelectorOperator;
  /** The values (one integer for Gt and Lt). */
  values: string[];
}

/** A parsed selector: requirements that must all hold. An empty list matches everything. */
export type Selector = Requirement[];

const KEY_RE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/**
 * Checks a label key: an optional DNS subdomain prefix and `/`, then a name
 * of at most 63 characters.
 *
 * @param key The key.
 * @returns An error message, or undefined when valid.
 *
 * @example Check a key
 * ```ts
 * import { checkLabelKey } from "@tsk/api";
 * console.log(checkLabelKey("app.kubernetes.io/name")); // undefined
 * ```
 */
export function checkLabelKey(key: string): string | undefined {
  const name = key.includes("/") ? key.slice(key.indexOf("/") + 1) : key;
  const prefix = key.includes("/") ? key.slice(0, key.indexOf("/")) : "";
  if (!KEY_RE.test(key) || name.length > 63 || prefix.length > 253) {
    return `expected a label key like app or example.com/app (at most 63 characters of [A-Za-z0-9-_.]), got ${
      JSON.stringify(key)
    }`;
  }
  return undefined;
}

/**
 * Checks a label value: empty, or at most 63 characters of `[A-Za-z0-9-_.]`
 * starting and ending alphanumeric.
 *
 * @param value The value.
 * @returns An error message, or undefined when valid.
 *
 * @example Check a value
 * ```ts
 * import { checkLabelValue } from "@tsk/api";
 * console.log(checkLabelValue("web") === undefined); // true
 * ```
 */
export function checkLabelValue(value: string): string | undefined {
  if (typeof value !== "string" || !VALUE_RE.test(value) || value.length > 63) {
    return `expected a label value of at most 63 characters of [A-Za-z0-9-_.], got ${
      JSON.stringify(value)
    }`;
  }
  return undefined;
}

/**
 * Parses the string form of a selector: comma-separated requirements
 * `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>1`, `k<1`.
 *
 * @param text The selector; empty selects everything.
 * @returns The requirements.
 * @throws {BadRequestError} Naming the position and what was expected.
 *
 * @example Parse and match
 * ```ts
 * import { matchesSelector, parseSelector } from "@tsk/api";
 * const sel = parseSelector("app=web,tier in (front,back),!canary");
 * console.log(matchesSelector(sel, { app: "web", tier: "front" })); // true
 * ```
 */
export function parseSelector(text: string): Selector {
  const out: Selector = [];
  let i = 0;
  const s = text;
  const fail = (what: string): never => {
    throw new BadRequestError(
      `labelSelector: ${what} at position ${i} of ${JSON.stringify(text)}`,
    );
  };
  const ws = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  const word = (): string => {
    ws();
    const start = i;
    while (i < s.length && /[A-Za-z0-9\-_./]/.test(s[i])) i++;
    return s.slice(start, i);
  };
  ws();
  if (i >= s.length) return out;
  while (true) {
    ws();
    let negate = false;
    if (s[i] === "!") {
      negate = true;
      i++;
    }
    const key = word();
    if (!key) fail("expected a label key");
    const keyErr = checkLabelKey(key);
    if (keyErr) fail(keyErr);
    ws();
    if (negate) {
      out.push({ key, operator: "DoesNotExist", values: [] });
    } else if (i >= s.length || s[i] === ",") {
      out.push({ key, operator: "Exists", values: [] });
    } else if (s.startsWith("==", i) || s.startsWith("!=", i) || s[i] === "=") {
      const op = s.startsWith("!=", i) ? "NotIn" : "In";
      i += s.startsWith("==", i) || s.startsWith("!=", i) ? 2 : 1;
      const value = word();
      const vErr = checkLabelValue(value);
      if (vErr) fail(vErr);
      out.push({ key, operator: op, values: [value] });
    } else if (s[i] === ">" || s[i] === "<") {
      const op = s[i] === ">" ? "Gt" : "Lt";
      i++;
      const value = word();
      if (!/^-?\d+$/.test(value)) fail("expected an integer after > or <");
      out.push({ key, operator: op, values: [value] });
    } else {
      const opWord = word();
      if (opWord !== "in" && opWord !== "notin") fail("expected =, ==, !=, in, notin, > or <");
      ws();
      if (s[i] !== "(") fail("expected ( after in or notin");
      i++;
      const values: string[] = [];
      while (true) {
        const value = word();
        const vErr = checkLabelValue(value);
        if (vErr) fail(vErr);
        values.push(value);
        ws();
        if (s[i] === ",") {
          i++;
          continue;
        }
        if (s[i] === ")") {
          i++;
          break;
        }
        fail("expected , or ) in a value list");
      }
      out.push({ key, operator: opWord === "in" ? "In" : "NotIn", values });
    }
    ws();
    if (i >= s.length) break;
    if (s[i] !== ",") fail("expected , between requirements");
    i++;
  }
  return out;
}

/**
 * Converts a structured selector into requirements.
 *
 * @param selector The selector of a manifest.
 * @returns The requirements; `{}` gives an empty list, which matches everything.
 *
 * @example Convert and print
 * ```ts
 * import { formatSelector, selectorFromLabelSelector } from "@tsk/api";
 * const sel = selectorFromLabelSelector({ matchLabels: { app: "web" } });
 * console.log(formatSelector(sel)); // "app=web"
 * ```
 */
export function selectorFromLabelSelector(selector: LabelSelector): Selector {
  const out: Selector = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    out.push({ key, operator: "In", values: [value] });
  }
  for (const e of selector.matchExpressions ?? []) {
    out.push({ key: e.key, operator: e.operator, values: [...(e.values ?? [])] });
  }
  return out;
}

/**
 * Tells whether labels satisfy every requirement. `NotIn` and `!=` hold when
 * the key is absent, as in Kubernetes.
 *
 * @param selector The requirements.
 * @param labels The object's labels.
 * @returns True when all requirements hold.
 *
 * @example Match
 * ```ts
 * import { matchesSelector, parseSelector } from "@tsk/api";
 * console.log(matchesSelector(parseSelector("a!=b"), {})); // true
 * ```
 */
export function matchesSelector(selector: Selector, labels: StringMap | undefined): boolean {
  const l = labels ?? {};
  for (const r of selector) {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.operator) {
      case "In":
        if (!has || !r.values.includes(v)) return false;
        break;
      case "NotIn":
        if (has && r.values.includes(v)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      case "Gt":
      case "Lt": {
        if (!has || !/^-?\d+$/.test(v)) return false;
        const a = BigInt(v);
        const b = BigInt(r.values[0]);
        if (r.operator === "Gt" ? !(a > b) : !(a < b)) return false;
        break;
      }
    }
  }
  return true;
}

/**
 * Tells whether labels match a structured selector. An absent selector
 * matches nothing and `{}` matches everything, as in Kubernetes.
 *
 * @param selector The structured selector, or undefined.
 * @param labels The object's labels.
 * @returns True when the selector is present and every part holds.
 *
 * @example Match a Deployment's selector
 * ```ts
 * import { labelSelectorMatches } from "@tsk/api";
 * console.log(labelSelectorMatches({ matchLabels: { app: "web" } }, { app: "web" })); // true
 * ```
 */
export function labelSelectorMatches(
  selector: LabelSelector | undefined,
  labels: StringMap | undefined,
): boolean {
  if (selector === undefined || selector === null) return false;
  return matchesSelector(selectorFromLabelSelector(selector), labels);
}

/**
 * Formats requirements in the string form that {@linkcode parseSelector} reads.
 *
 * @param selector The requirements.
 * @returns The string, e.g. `app=web,tier in (a,b)`.
 *
 * @example Round-trip
 * ```ts
 * import { formatSelector, parseSelector } from "@tsk/api";
 * console.log(formatSelector(parseSelector("x notin (a,b),!y"))); // "x notin (a,b),!y"
 * ```
 */
export function formatSelector(selector: Selector): string {
  return selector.map((r) => {
    switch (r.operator) {
      case "In":
        return r.values.length === 1
          ? `${r.key}=${r.values[0]}`
          : `${r.key} in (${r.values.join(",")})`;
      case "NotIn":
        return r.values.length === 1
          ? `${r.key}!=${r.values[0]}`
          : `${r.key} notin (${r.values.join(",")})`;
      case "Exists":
        return r.key;
      case "DoesNotExist":
        return `!${r.key}`;
      case "Gt":
        return `${r.key}>${r.values[0]}`;
      case "Lt":
        return `${r.key}<${r.values[0]}`;
    }
  }).join(",");
}
