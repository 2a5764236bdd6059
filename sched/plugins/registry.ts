/**
 * The in-tree plugins, registered by name.
 *
 * @module
 */
import { Registry } from "../scheduler/registry.ts";
import * as defaultBinder from "./default_binder.ts";
import * as defaultPreemption from "./default_preemption.ts";
import * as imageLocality from "./image_locality.ts";
import * as interPodAffinity from "./inter_pod_affinity.ts";
import * as nodeAffinity from "./node_affinity.ts";
import * as nodeName from "./node_name.ts";
import * as nodePorts from "./node_ports.ts";
import * as nodeResourcesBalancedAllocation from "./node_resources_balanced_allocation.ts";
import * as nodeResourcesFit from "./node_resources_fit.ts";
import * as nodeUnschedulable from "./node_unschedulable.ts";
import * as podTopologySpread from "./pod_topology_spread.ts";
import * as taintToleration from "./taint_toleration.ts";

/**
 * A registry holding every in-tree plugin; add out-of-tree plugins to it with
 * `register` (a duplicate name is an error).
 *
 * @returns A fresh registry.
 *
 * @example List plugins
 * ```ts
 * import { inTreeRegistry } from "./registry.ts";
 * inTreeRegistry().has("NodeResourcesFit"); // true
 * ```
 */
export function inTreeRegistry(): Registry {
  return new Registry(
    [
      nodeUnschedulable,
      nodeName,
      taintToleration,
      nodeAffinity,
      nodePorts,
      nodeResourcesFit,
      podTopologySpread,
      interPodAffinity,
      defaultPreemption,
      nodeResourcesBalancedAllocation,
      imageLocality,
      defaultBinder,
    ].map((m) => [m.NAME, m.factory]),
  );
}
