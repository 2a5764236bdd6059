/**
 * NodeUnschedulable: keeps pods off cordoned nodes (`spec.unschedulable`)
 * unless they tolerate the `node.kubernetes.io/unschedulable` taint.
 *
 * @module
 */
import type { NodeInfo } from "../scheduler/node_info.ts";
import type { Handle, Plugin } from "../scheduler/plugin.ts";
import type { PodInfo } from "../scheduler/pod_info.ts";
import { FLAG_UNSCHEDULABLE, type Snapshot } from "../scheduler/snapshot.ts";
import { type Status, status, SUCCESS } from "../scheduler/status.ts";
import { tolerates } from "./taint_toleration.ts";

/** Plugin name. */
export const NAME = "NodeUnschedulable";

const UNSCHEDULABLE_TAINT = {
  key: "node.kubernetes.io/unschedulable",
  effect: "NoSchedule" as const,
};

const REJECT: Status = status("UnschedulableAndUnresolvable", ["node(s) were unschedulable"], NAME);

/**
 * Whether the pod may go to the node as far as cordoning goes.
 *
 * @param pod The pod.
 * @param node The node.
 * @returns True when the node is schedulable or the pod tolerates the cordon.
 *
 * @example A cordoned node
 * ```ts
 * import { makeNode, makePod } from "../scheduler/builders.ts";
 * import { fits } from "./node_unschedulable.ts";
 * import { NodeInfo } from "../scheduler/node_info.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * const node = new NodeInfo(makeNode("n", { unschedulable: true }));
 * fits(newPodInfo(makePod("p")), node); // false
 * ```
 */
export function fits(pod: PodInfo, node: NodeInfo): boolean {
  return !node.node.spec?.unschedulable || toleratesCordon(pod);
}

function toleratesCordon(pod: PodInfo): boolean {
  return (pod.pod.spec.tolerations ?? []).some((t) => tolerates(t, UNSCHEDULABLE_TAINT));
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
 * import { factory } from "./node_unschedulable.ts";
 * import { Snapshot } from "../scheduler/snapshot.ts";
 * import { MemoryClient } from "../scheduler/client.ts";
 * const p = factory({}, {
 *   snapshot: new Snapshot(),
 *   client: new MemoryClient(),
 *   runFilters: () => { throw new Error("unused"); },
 *   runPreFilters: () => { throw new Error("unused"); },
 * });
 * p.name; // "NodeUnschedulable"
 * ```
 */
export function factory(_args: Record<string, unknown>, handle: Handle): Plugin {
  const snap: Snapshot = handle.snapshot;
  return {
    name: NAME,
    events: ["NodeAdd", "NodeUpdate"],
    filter: (_state, pod, node) => fits(pod, node) ? SUCCESS : REJECT,
    filterAll(_state, pod, nodes, count, rejected) {
      if (snap.unschedulableNodes === 0 || toleratesCordon(pod)) return count;
      const flags = snap.flags;
      let k = 0;
      for (let j = 0; j < count; j++) {
        const slot = nodes[j];
        if (flags[slot] & FLAG_UNSCHEDULABLE) rejected[slot] = REJECT;
        else nodes[k++] = slot;
      }
      return k;
    },
  };
}
