/**
 * NodePorts: two pods cannot hold the same host port (protocol, address,
 * port) on one node.
 *
 * @module
 */
import type { NodeInfo } from "../scheduler/node_info.ts";
import type { Handle, Plugin } from "../scheduler/plugin.ts";
import type { PodInfo } from "../scheduler/pod_info.ts";
import { FLAG_HOST_PORTS } from "../scheduler/snapshot.ts";
import { SKIP, type Status, status, SUCCESS } from "../scheduler/status.ts";

/** Plugin name. */
export const NAME = "NodePorts";

const REJECT: Status = status(
  "Unschedulable",
  ["node(s) didn't have free ports for the requested pod ports"],
  NAME,
);

/**
 * Whether the pod's host ports are free on the node.
 *
 * @param pod The pod.
 * @param node The node.
 * @returns True when no host port conflicts.
 *
 * @example No ports
 * ```ts
 * import { makeNode, makePod } from "../scheduler/builders.ts";
 * import { fits } from "./node_ports.ts";
 * import { NodeInfo } from "../scheduler/node_info.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * fits(newPodInfo(makePod("p")),
 *   new NodeInfo(makeNode("n"))); // true
 * ```
 */
export function fits(pod: PodInfo, node: NodeInfo): boolean {
  return pod.hostPorts.length === 0 || !node.portsConflict(pod.hostPorts);
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
 * import { factory } from "./node_ports.ts";
 * import { Snapshot } from "../scheduler/snapshot.ts";
 * const p = factory({}, { snapshot: new Snapshot() } as never);
 * p.name; // "NodePorts"
 * ```
 */
export function factory(_args: Record<string, unknown>, handle: Handle): Plugin {
  const snap = handle.snapshot;
  return {
    name: NAME,
    events: ["NodeAdd", "AssignedPodDelete"],
    preFilter: (_state, pod) => pod.hostPorts.length > 0 ? SUCCESS : SKIP,
    filter: (_state, pod, node) => fits(pod, node) ? SUCCESS : REJECT,
    filterAll(_state, pod, nodes, count, rejected) {
      let k = 0;
      for (let j = 0; j < count; j++) {
        const slot = nodes[j];
        if ((snap.flags[slot] & FLAG_HOST_PORTS) && !fits(pod, snap.nodes[slot])) {
          rejected[slot] = REJECT;
        } else nodes[k++] = slot;
      }
      return k;
    },
  };
}
