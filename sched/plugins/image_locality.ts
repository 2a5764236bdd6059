/**
 * ImageLocality: favours nodes that already hold the pod's images, weighted
 * by image size and by how widely the image is spread (an image on every
 * node says little about any one of them).
 *
 * @module
 */
import type { NodeInfo } from "../scheduler/node_info.ts";
import { type Handle, MAX_NODE_SCORE, type Plugin } from "../scheduler/plugin.ts";
import type { PodInfo } from "../scheduler/pod_info.ts";
import type { Snapshot } from "../scheduler/snapshot.ts";
import { SKIP, SUCCESS } from "../scheduler/status.ts";

/** Plugin name. */
export const NAME = "ImageLocality";

const MB = 1024 * 1024;
/** Below this summed size a node scores 0 (as Kubernetes: 23 MB). */
export const MIN_THRESHOLD = 23 * MB;
/** At this size per container a node scores 100 (as Kubernetes: 1000 MB). */
export const MAX_CONTAINER_THRESHOLD = 1000 * MB;

/**
 * Maps the summed, spread-scaled image size on a node to a score.
 *
 * @param sum Sum over the pod's images on the node of size × (nodes with it / all nodes).
 * @param containers Number of containers in the pod.
 * @returns 0..100.
 *
 * @example Nothing present
 * ```ts
 * import { scaledScore } from "./image_locality.ts";
 * scaledScore(0, 1); // 0
 * ```
 */
export function scaledScore(sum: number, containers: number): number {
  const max = MAX_CONTAINER_THRESHOLD * Math.max(1, containers);
  const s = sum < MIN_THRESHOLD ? MIN_THRESHOLD : sum > max ? max : sum;
  return MAX_NODE_SCORE * (s - MIN_THRESHOLD) / (max - MIN_THRESHOLD);
}

/**
 * The score of a node for a pod.
 *
 * @param pod The pod.
 * @param node The node.
 * @param snapshot For how many nodes hold each image.
 * @returns 0..100.
 *
 * @example No images
 * ```ts
 * import { makeNode, makePod } from "../scheduler/builders.ts";
 * import { score } from "./image_locality.ts";
 * import { Snapshot } from "../scheduler/snapshot.ts";
 * import { newPodInfo } from "../scheduler/pod_info.ts";
 * const s = new Snapshot();
 * const n = s.addNode(makeNode("n"));
 * score(newPodInfo(makePod("p")), n, s); // 0
 * ```
 */
export function score(pod: PodInfo, node: NodeInfo, snapshot: Snapshot): number {
  let sum = 0;
  for (const img of pod.images) {
    const size = node.images.get(img);
    const st = snapshot.images.get(img);
    if (size !== undefined && st) sum += size * (st.nodes.size / snapshot.count);
  }
  return scaledScore(sum, pod.pod.spec.containers.length);
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
 * import { factory } from "./image_locality.ts";
 * import { Snapshot } from "../scheduler/snapshot.ts";
 * factory({}, { snapshot: new Snapshot() } as never).name; // "ImageLocality"
 * ```
 */
export function factory(_args: Record<string, unknown>, handle: Handle): Plugin {
  const snap = handle.snapshot;
  return {
    name: NAME,
    // No image of the pod on any node: every node scores 0, skip the work.
    preScore(_state, pod) {
      for (const img of pod.images) if (snap.images.has(img)) return SUCCESS;
      return SKIP;
    },
    score: (_state, pod, node) => score(pod, node, snap),
    scoreAll(_state, pod, nodes, count, out) {
      for (let j = 0; j < count; j++) out[nodes[j]] = 0;
      // Slots outside `nodes` may collect sums too; only `nodes` are read.
      for (const img of pod.images) {
        const st = snap.images.get(img);
        if (!st) continue;
        const spread = st.nodes.size / snap.count;
        for (const ni of st.nodes) out[ni.index] += st.size * spread;
      }
      const containers = pod.pod.spec.containers.length;
      for (let j = 0; j < count; j++) out[nodes[j]] = scaledScore(out[nodes[j]], containers);
    },
  };
}
