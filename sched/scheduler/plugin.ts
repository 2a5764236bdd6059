/**
 * The plugin contract: a plugin is a name plus the extension points it
 * implements, each returning a {@linkcode Status}. Filter and score have a
 * per-node form (the contract) and an optional bulk form over the snapshot's
 * typed arrays (the fast path) that must agree with it.
 *
 * @module
 */
import type { CycleState } from "./cycle_state.ts";
import type { NodeInfo } from "./node_info.ts";
import type { PodInfo } from "./pod_info.ts";
import type { Snapshot } from "./snapshot.ts";
import type { Status } from "./status.ts";
import type { SchedulerClient } from "./client.ts";
import type { UtilizationScore } from "./utilization.ts";

/** Largest score a plugin gives a node after normalization. */
export const MAX_NODE_SCORE = 100;

/** A change in the cluster that may make an unschedulable pod schedulable. */
export type ClusterEvent =
  | "NodeAdd"
  | "NodeUpdate"
  | "AssignedPodAdd"
  | "AssignedPodUpdate"
  | "AssignedPodDelete";

/** Every cluster event. */
export const ALL_EVENTS: readonly ClusterEvent[] = [
  "NodeAdd",
  "NodeUpdate",
  "AssignedPodAdd",
  "AssignedPodUpdate",
  "AssignedPodDelete",
];

/** Why filtering found no node: a status per rejected node slot. */
export interface Diagnosis {
  /** Status by node slot for the nodes filtered out in this cycle. */
  readonly rejected: readonly (Status | undefined)[];
  /** Number of nodes in the snapshot. */
  readonly nodeCount: number;
  /** A preFilter failure that rejected every node at once. */
  readonly preFilterStatus?: Status;
}

/** The result of postFilter (preemption). */
export interface PostFilterResult {
  /** Success when the pod can be placed once victims leave. */
  status: Status;
  /** The node the pod will go to once the victims are gone. */
  nominatedNodeName?: string;
  /** The pods evicted to make room. */
  victims?: PodInfo[];
}

/** What a plugin factory receives. */
export interface Handle {
  /** The live snapshot. */
  readonly snapshot: Snapshot;
  /** Writes to the store (binding, eviction, status). */
  readonly client: SchedulerClient;
  /** Runs every filter plugin of the profile on one node (preemption simulates with it). */
  runFilters(state: CycleState, pod: PodInfo, node: NodeInfo): Status;
  /** Runs every preFilter plugin (preemption re-runs them on a copied state). */
  runPreFilters(state: CycleState, pod: PodInfo): Status;
}

/**
 * A scheduler plugin. Implement only the extension points you need.
 */
export interface Plugin {
  /** Registry name (NodeResourcesFit, ...). */
  readonly name: string;
  /** Events that can make a pod this plugin rejected schedulable. @default every event */
  readonly events?: readonly ClusterEvent[];

  /** Computes per-pod data; `Skip` disables the plugin's filter for this pod. */
  preFilter?(state: CycleState, pod: PodInfo): Status;
  /** Whether the pod fits the node. */
  filter?(state: CycleState, pod: PodInfo, node: NodeInfo): Status;
  /**
   * Bulk filter: keeps in `nodes[0..count)` the slots that pass, writing the
   * failure status of each dropped slot into `rejected`; returns the new count.
   */
  filterAll?(
    state: CycleState,
    pod: PodInfo,
    nodes: Int32Array,
    count: number,
    rejected: (Status | undefined)[],
  ): number;
  /** Runs when no node fits (preemption). */
  postFilter?(state: CycleState, pod: PodInfo, diagnosis: Diagnosis): Promise<PostFilterResult>;
  /** Computes per-pod scoring data; `Skip` disables the plugin's score for this pod. */
  preScore?(state: CycleState, pod: PodInfo, nodes: Int32Array, count: number): Status;
  /** Raw score of one node. */
  score?(state: CycleState, pod: PodInfo, node: NodeInfo): number;
  /** Bulk score: writes `out[slot]` for every slot in `nodes[0..count)`. */
  scoreAll?(
    state: CycleState,
    pod: PodInfo,
    nodes: Int32Array,
    count: number,
    out: Float64Array,
  ): void;
  /**
   * Fused bulk score for plugins without normalizeScore: adds
   * `weight × score` to `total[slot]` (writes it when `assign`: the first
   * plugin to score) for every slot in `nodes[0..count)`. Saves the
   * framework a pass over the nodes.
   */
  addScores?(
    state: CycleState,
    pod: PodInfo,
    nodes: Int32Array,
    count: number,
    total: Float64Array,
    weight: number,
    assign: boolean,
  ): void;
  /**
   * This plugin's score for the pod, times `weight`, described as a
   * utilization score when it is one (undefined otherwise). It must equal
   * what `addScores` adds, bit for bit: the framework then scores the plugins
   * that all have one, and picks the node, in a single pass.
   */
  utilizationScore?(state: CycleState, pod: PodInfo, weight: number): UtilizationScore | undefined;
  /** Maps raw scores (`scores[slot]`) into [0, MAX_NODE_SCORE]. */
  normalizeScore?(
    state: CycleState,
    pod: PodInfo,
    nodes: Int32Array,
    count: number,
    scores: Float64Array,
  ): void;
  /** Claims resources for the pod on the chosen node before binding. */
  reserve?(state: CycleState, pod: PodInfo, nodeName: string): Status;
  /** Undoes reserve when a later phase fails. */
  unreserve?(state: CycleState, pod: PodInfo, nodeName: string): void;
  /** Writes the binding; `Skip` passes to the next bind plugin. */
  bind?(state: CycleState, pod: PodInfo, nodeName: string): Promise<Status>;
}

/** Builds a plugin from its args. */
export type PluginFactory = (args: Record<string, unknown>, handle: Handle) => Plugin;
