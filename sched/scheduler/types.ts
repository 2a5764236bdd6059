/**
 * The resource types the scheduler reads, from `@tsk/api`.
 *
 * @module
 */
export type {
  Affinity,
  Container,
  ContainerImage,
  ContainerPort,
  Event,
  LabelSelector,
  LabelSelectorRequirement,
  Node,
  NodeAffinity,
  NodeSelectorRequirement,
  NodeSelectorTerm,
  ObjectMeta,
  Pod,
  PodAffinity,
  PodAffinityTerm,
  PodSpec,
  PodStatus,
  ResourceList,
  Taint,
  Toleration,
  TopologySpreadConstraint,
  WeightedPodAffinityTerm,
} from "@tsk/api";

/** A pod condition (`PodScheduled`, ...). */
export type { Condition as PodCondition } from "@tsk/api";

/** A taint's effect. */
export type TaintEffect = "NoSchedule" | "PreferNoSchedule" | "NoExecute";
