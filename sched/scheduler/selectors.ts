/**
 * Label and node selectors compiled once per pod into plain predicates, so the
 * per-node loops do no parsing.
 *
 * The semantics are `@tsk/api`'s (`matchesSelector`); this module only
 * compiles a selector once and adds a fast path for the one-label case.
 *
 * @module
 */
import { matchesSelector, type Selector, selectorFromLabelSelector } from "@tsk/api";
import type { LabelSelector, Node, NodeSelectorRequirement, NodeSelectorTerm } from "./types.ts";

/** A compiled selector over a label map. */
export type LabelMatcher = (labels: Record<string, string> | undefined) => boolean;

/**
 * Compiles a label selector. An empty selector matches everything; an absent
 * one (`undefined`) matches nothing, as in Kubernetes' affinity terms.
 *
 * @param sel The selector.
 * @returns A predicate over labels.
 *
 * @example Match an app
 * ```ts
 * import { compileLabelSelector } from "./selectors.ts";
 * const m = compileLabelSelector({ matchLabels: { app: "web" } });
 * m({ app: "web", tier: "fe" }); // true
 * ```
 */
export function compileLabelSelector(sel: LabelSelector | undefined): LabelMatcher {
  if (!sel) return () => false;
  const pairs = Object.entries(sel.matchLabels ?? {});
  if (pairs.length === 1 && (sel.matchExpressions ?? []).length === 0) {
    // The common case (one app label), without the generic loop.
    const [k, v] = pairs[0];
    return (labels) => labels !== undefined && labels[k] === v;
  }
  const requirements = selectorFromLabelSelector(sel);
  return (labels) => matchesSelector(requirements, labels);
}

/**
 * The `key=value` pairs that every pod matched by `sel` must carry; used to
 * look candidates up in a label index instead of scanning every pod.
 *
 * @param sel The selector.
 * @returns Pairs (possibly empty: no index can help).
 *
 * @example Index keys
 * ```ts
 * import { selectorIndexKeys } from "./selectors.ts";
 * selectorIndexKeys({ matchLabels: { app: "web" } }); // ["app=web"]
 * ```
 */
export function selectorIndexKeys(sel: LabelSelector | undefined): string[] {
  if (!sel) return [];
  const keys = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    if (e.operator === "In" && e.values?.length === 1) keys.push(`${e.key}=${e.values[0]}`);
  }
  return keys;
}

/** A compiled node predicate. */
export type NodeMatcher = (node: Node) => boolean;

function requirement(r: NodeSelectorRequirement, field: boolean): NodeMatcher {
  if (!field) {
    const req: Selector = [{ key: r.key, operator: r.operator, values: [...(r.values ?? [])] }];
    return (n) => {
      try {
        return matchesSelector(req, n.metadata.labels);
      } catch {
        return false; // a Gt/Lt bound that is not an integer matches nothing
      }
    };
  }
  // Fields: only metadata.name, as in Kubernetes.
  const values = new Set(r.values ?? []);
  const get = (n: Node) => (r.key === "metadata.name" ? n.metadata.name : undefined);
  switch (r.operator) {
    case "In":
      return (n) => {
        const v = get(n);
        return v !== undefined && values.has(v);
      };
    case "NotIn":
      return (n) => {
        const v = get(n);
        return v === undefined || !values.has(v);
      };
    case "Exists":
      return (n) => get(n) !== undefined;
    case "DoesNotExist":
      return (n) => get(n) === undefined;
    default:
      return () => false;
  }
}

/**
 * Compiles one node selector term (requirements ANDed). A term with no
 * requirements matches no node, as in Kubernetes.
 *
 * @param term The term.
 * @returns A predicate over nodes.
 *
 * @example Match a zone
 * ```ts
 * import { makeNode } from "./builders.ts";
 * import { compileNodeSelectorTerm } from "./selectors.ts";
 * const m = compileNodeSelectorTerm({
 *   matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }],
 * });
 * m(makeNode("n1", { labels: { zone: "a" } })); // true
 * ```
 */
export function compileNodeSelectorTerm(term: NodeSelectorTerm): NodeMatcher {
  const reqs = [
    ...(term.matchExpressions ?? []).map((r) => requirement(r, false)),
    ...(term.matchFields ?? []).map((r) => requirement(r, true)),
  ];
  if (reqs.length === 0) return () => false;
  return (n) => {
    for (let i = 0; i < reqs.length; i++) if (!reqs[i](n)) return false;
    return true;
  };
}

/**
 * Compiles a list of terms, ORed, as in `requiredDuringScheduling...`.
 *
 * @param terms The terms.
 * @returns A predicate over nodes.
 *
 * @example Two zones
 * ```ts
 * import { makeNode } from "./builders.ts";
 * import { compileNodeSelectorTerms } from "./selectors.ts";
 * const m = compileNodeSelectorTerms([
 *   { matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] },
 *   { matchExpressions: [{ key: "zone", operator: "In", values: ["b"] }] },
 * ]);
 * m(makeNode("n", { labels: { zone: "b" } })); // true
 * ```
 */
export function compileNodeSelectorTerms(terms: NodeSelectorTerm[]): NodeMatcher {
  const ms = terms.map(compileNodeSelectorTerm);
  return (n) => {
    for (let i = 0; i < ms.length; i++) if (ms[i](n)) return true;
    return false;
  };
}
