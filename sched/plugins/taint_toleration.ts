/**
 * TaintToleration: a pod goes to a node only if it tolerates every NoSchedule
 * and NoExecute taint there; PreferNoSchedule taints it does not tolerate
 * lower the node's score.
 *
 * @module
 */
import type { NodeInfo } from "../scheduler/node_info.ts";
import { type Handle, MAX_NODE_SCORE, type Plugin } from "../scheduler/plugin.ts";
import type { PodInfo } from "../scheduler/pod_info.ts";
import { FLAG_HARD_TAINT, FLAG_SOFT_TAINT } from "../scheduler/snapshot.ts";
import { SKIP, type Status, status, SUCCESS } from "../scheduler/status.ts";
import type { Taint, Toleration } from "../scheduler/types.ts";

/** Plugin name. */
export const NAME = "TaintToleration";

/**
 * Whether a toleration tolerates a taint, as in Kubernetes: empty key with
 * Exists matches every taint, empty effect matches every effect.
 *
 * @param t The toleration.
 * @param taint The taint.
 * @returns True when tolerated.
 *
 * @example Exists
 * ```ts
 * import { tolerates } from "./taint_toleration.ts";
 * tolerates({ key: "gpu", operator: "Exists" }, { key: "gpu", effect: "NoSchedule" }); // true
 * ```
 */
export function tolerates(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  const op = t.operator ?? "Equal";
  if (op === "Exists") return true;
  if (!t.key) return false; // empty key requires Exists
  return (t.value ?? "") === (taint.value ?? "");
}

/**
 * The first NoSchedule or NoExecute taint of the node that the pod does not
 * tolerate.
 *
 * @param pod The pod.
 * @param node The node.
 * @returns The taint, or undefined when the pod fits.
 *
 * @example A GPU node
 * ```ts
 * import { makeNode, makePod } from "../scheduler/builders.ts";
 * import { untoleratedTaint } from "./taint_toleration.ts";
 * import { NodeInfo } from "../scheduler/node_info.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * const node = new NodeInfo(makeNode("n", {
 *   taints: [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }],
 * }));
 * untoleratedTaint(newPodInfo(makePod("p")), node)?.key;
 * // "dedicated"
 * ```
 */
export function untoleratedTaint(pod: PodInfo, node: NodeInfo): Taint | undefined {
  const tols = pod.pod.spec.tolerations ?? [];
  for (const taint of node.taints) {
    if (taint.effect === "PreferNoSchedule") continue;
    if (!tols.some((t) => tolerates(t, taint))) return taint;
  }
  return undefined;
}

/**
 * Whether the pod tolerates the node's hard taints.
 *
 * @param pod The pod.
 * @param node The node.
 * @returns True when it does.
 *
 * @example Untainted node
 * ```ts
 * import { makeNode, makePod } from "../scheduler/builders.ts";
 * import { fits } from "./taint_toleration.ts";
 * import { NodeInfo } from "../scheduler/node_info.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * fits(newPodInfo(makePod("p")),
 *   new NodeInfo(makeNode("n"))); // true
 * ```
 */
export function fits(pod: PodInfo, node: NodeInfo): boolean {
  return untoleratedTaint(pod, node) === undefined;
}

/**
 * How many PreferNoSchedule taints of the node the pod does not tolerate
 * (tolerations with an empty or PreferNoSchedule effect count).
 *
 * @param pod The pod.
 * @param node The node.
 * @returns The count (higher is worse).
 *
 * @example One soft taint
 * ```ts
 * import { makeNode, makePod } from "../scheduler/builders.ts";
 * import { intolerablePreferNoSchedule } from "./taint_toleration.ts";
 * import { NodeInfo } from "../scheduler/node_info.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * const node = new NodeInfo(makeNode("n", { taints: [{ key: "spot", effect: "PreferNoSchedule" }] }));
 * intolerablePreferNoSchedule(
 *   newPodInfo(makePod("p")), node); // 1
 * ```
 */
export function intolerablePreferNoSchedule(pod: PodInfo, node: NodeInfo): number {
  const tols = (pod.pod.spec.tolerations ?? []).filter((t) =>
    !t.effect || t.effect === "PreferNoSchedule"
  );
  let n = 0;
  for (const taint of node.taints) {
    if (taint.effect === "PreferNoSchedule" && !tols.some((t) => tolerates(t, taint))) n++;
  }
  return n;
}

/**
 * Builds the plugin.
 *
 * @param _args None.
 * @param handle Framework handle.
 * @returns The plugin.
 *
 * @example Build
 * ```ts
 * import { factory } from "./taint_toleration.ts";
 * import { Snapshot } from "../scheduler/snapshot.ts";
 * factory({}, { snapshot: new Snapshot() } as never).name; // "TaintToleration"
 * ```
 */
export function factory(_args: Record<string, unknown>, handle: Handle): Plugin {
  const snap = handle.snapshot;
  const statuses = new Map<string, Status>();
  const reject = (t: Taint): Status => {
    const text = `{${t.key}: ${t.value ?? ""}}`;
    let s = statuses.get(text);
    if (!s) {
      s = status("UnschedulableAndUnresolvable", [`node(s) had untolerated taint ${text}`], NAME);
      statuses.set(text, s);
    }
    return s;
  };
  const filter = (pod: PodInfo, node: NodeInfo): Status => {
    const t = untoleratedTaint(pod, node);
    return t ? reject(t) : SUCCESS;
  };
  return {
    name: NAME,
    events: ["NodeAdd", "NodeUpdate"],
    filter: (_state, pod, node) => filter(pod, node),
    filterAll(_state, pod, nodes, count, rejected) {
      if (snap.hardTaintedNodes === 0) return count;
      const flags = snap.flags;
      let k = 0;
      for (let j = 0; j < count; j++) {
        const slot = nodes[j];
        if (flags[slot] & FLAG_HARD_TAINT) {
          const s = filter(pod, snap.nodes[slot]);
          if (s !== SUCCESS) {
            rejected[slot] = s;
            continue;
          }
        }
        nodes[k++] = slot;
      }
      return k;
    },
    // With no soft taint anywhere every node scores the same: skip the work.
    preScore: () => snap.softTaintedNodes === 0 ? SKIP : SUCCESS,
    score: (_state, pod, node) => intolerablePreferNoSchedule(pod, node),
    scoreAll(_state, pod, nodes, count, out) {
      for (let j = 0; j < count; j++) {
        const slot = nodes[j];
        out[slot] = snap.flags[slot] & FLAG_SOFT_TAINT
          ? intolerablePreferNoSchedule(pod, snap.nodes[slot])
          : 0;
      }
    },
    normalizeScore(_state, _pod, nodes, count, scores) {
      let max = 0;
      for (let j = 0; j < count; j++) max = Math.max(max, scores[nodes[j]]);
      for (let j = 0; j < count; j++) {
        const slot = nodes[j];
        scores[slot] = max === 0 ? MAX_NODE_SCORE : MAX_NODE_SCORE * (1 - scores[slot] / max);
      }
    },
  };
}
