/**
 * NodeName: a pod that names its node (`spec.nodeName` set before
 * scheduling) fits that node only.
 *
 * @module
 */
import type { NodeInfo } from "../scheduler/node_info.ts";
import type { Handle, Plugin } from "../scheduler/plugin.ts";
import type { PodInfo } from "../scheduler/pod_info.ts";
import { SKIP, type Status, status, SUCCESS } from "../scheduler/status.ts";

/** Plugin name. */
export const NAME = "NodeName";

const REJECT: Status = status(
  "UnschedulableAndUnresolvable",
  ["node(s) didn't match the requested node name"],
  NAME,
);

/**
 * Whether the pod may go to the node as far as its requested node name goes.
 *
 * @param pod The pod.
 * @param node The node.
 * @returns True when the pod names no node or names this one.
 *
 * @example Named node
 * ```ts
 * import { makeNode, makePod } from "../scheduler/builders.ts";
 * import { fits } from "./node_name.ts";
 * import { NodeInfo } from "../scheduler/node_info.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * const pod = newPodInfo(makePod("p", { spec: { nodeName: "a" } }));
 * fits(pod, new NodeInfo(makeNode("b"))); // false
 * ```
 */
export function fits(pod: PodInfo, node: NodeInfo): boolean {
  const want = pod.pod.spec.nodeName;
  return !want || want === node.name;
}

/**
 * Builds the plugin.
 *
 * @param _args None.
 * @param _handle Framework handle.
 * @returns The plugin.
 *
 * @example Build
 * ```ts
 * import { factory } from "./node_name.ts";
 * const p = factory({}, {} as never);
 * p.name; // "NodeName"
 * ```
 */
export function factory(_args: Record<string, unknown>, _handle: Handle): Plugin {
  return {
    name: NAME,
    events: ["NodeAdd"],
    preFilter: (_state, pod) => pod.pod.spec.nodeName ? SUCCESS : SKIP,
    filter: (_state, pod, node) => fits(pod, node) ? SUCCESS : REJECT,
  };
}
