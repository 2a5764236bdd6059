/**
 * The workload kinds of `apps/v1`: ReplicaSet and Deployment.
 *
 * @module
 */
import type { Condition, ObjectMeta } from "./meta.ts";
import type { PodTemplateSpec } from "./core_v1.ts";
import type { LabelSelector } from "./labels.ts";

/** Desired state of a ReplicaSet. */
export interface ReplicaSetSpec {
  /** How many pods. @default 1 */
  replicas?: number;
  /** Which pods belong to it; must match the template's labels. */
  selector: LabelSelector;
  /** The pods to create. */
  template: PodTemplateSpec;
  /** Seconds a new pod must be ready to count as available. @default 0 */
  minReadySeconds?: number;
}

/** Observed state of a ReplicaSet. */
export interface ReplicaSetStatus {
  /** Pods that exist. */
  replicas: number;
  /** Pods whose labels match the template. */
  fullyLabeledReplicas?: number;
  /** Ready pods. */
  readyReplicas?: number;
  /** Pods ready for at least minReadySeconds. */
  availableReplicas?: number;
  /** The generation this status describes. */
  observedGeneration?: number;
  /** Conditions. */
  conditions?: Condition[];
}

/** Keeps a number of identical pods running. */
export interface ReplicaSet {
  /** Always `apps/v1`. */
  apiVersion: "apps/v1";
  /** Always `ReplicaSet`. */
  kind: "ReplicaSet";
  /** Metadata. */
  metadata: ObjectMeta;
  /** Desired state. */
  spec: ReplicaSetSpec;
  /** Observed state. */
  status?: ReplicaSetStatus;
}

/** How a Deployment replaces old pods with new ones. */
export interface DeploymentStrategy {
  /** `RollingUpdate` or `Recreate`. @default "RollingUpdate" */
  type?: "RollingUpdate" | "Recreate";
  /** Limits of a rolling update. */
  rollingUpdate?: {
    /** Pods that may be unavailable during the update (number or percent). @default "25%" */
    maxUnavailable?: number | string;
    /** Pods over the desired count during the update (number or percent). @default "25%" */
    maxSurge?: number | string;
  };
}

/** Desired state of a Deployment. */
export interface DeploymentSpec {
  /** How many pods. @default 1 */
  replicas?: number;
  /** Which pods belong to it. */
  selector: LabelSelector;
  /** The pods to create. */
  template: PodTemplateSpec;
  /** The update strategy. */
  strategy?: DeploymentStrategy;
  /** Seconds a new pod must be ready to count as available. @default 0 */
  minReadySeconds?: number;
  /** Old ReplicaSets kept for rollback. @default 10 */
  revisionHistoryLimit?: number;
  /** When true, changes to the template are not rolled out. */
  paused?: boolean;
  /** Seconds before a stalled rollout is reported. @default 600 */
  progressDeadlineSeconds?: number;
}

/** Observed state of a Deployment. */
export interface DeploymentStatus {
  /** The generation this status describes. */
  observedGeneration?: number;
  /** Pods of all its ReplicaSets. */
  replicas?: number;
  /** Pods of the current template. */
  updatedReplicas?: number;
  /** Ready pods. */
  readyReplicas?: number;
  /** Available pods. */
  availableReplicas?: number;
  /** Unavailable pods. */
  unavailableReplicas?: number;
  /** `Available`, `Progressing`, `ReplicaFailure`. */
  conditions?: Condition[];
}

/** Declarative updates for pods through ReplicaSets. */
export interface Deployment {
  /** Always `apps/v1`. */
  apiVersion: "apps/v1";
  /** Always `Deployment`. */
  kind: "Deployment";
  /** Metadata. */
  metadata: ObjectMeta;
  /** Desired state. */
  spec: DeploymentSpec;
  /** Observed state. */
  status?: DeploymentStatus;
}

/** The `scale` subresource of ReplicaSets and Deployments. */
export interface Scale {
  /** Always `autoscaling/v1`. */
  apiVersion: "autoscaling/v1";
  /** Always `Scale`. */
  kind: "Scale";
  /** The scaled object's metadata. */
  metadata: ObjectMeta;
  /** The desired replicas. */
  spec: { replicas?: number };
  /** The observed replicas and selector. */
  status?: { replicas: number; selector?: string };
}
