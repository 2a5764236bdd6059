/**
 * The slice of the Kubernetes-shaped resource model that the scheduler reads.
 *
 * TODO(unify with @tsk/api): these are local stand-ins until the api branch's
 * resource types land; the shapes follow Kubernetes' so that the real types
 * are assignable to them and the swap is a change of import.
 *
 * @module
 */

/** A set of resource quantities by name: `{ cpu: "500m", memory: "1Gi" }`. */
export type ResourceList = Record<string, string | number>;

/** The metadata the scheduler uses. */
export interface ObjectMeta {
  /** Object name, unique in its namespace. */
  name: string;
  /** Namespace; absent means "default" for pods. */
  namespace?: string;
  /** Unique id given by the API server. */
  uid?: string;
  /** Labels that selectors match. */
  labels?: Record<string, string>;
  /** Annotations. */
  annotations?: Record<string, string>;
  /** Version for optimistic concurrency. */
  resourceVersion?: string;
  /** RFC 3339 creation time. */
  creationTimestamp?: string;
  /** Set when deletion has been requested. */
  deletionTimestamp?: string;
}

/** A taint's effect. */
export type TaintEffect = "NoSchedule" | "PreferNoSchedule" | "NoExecute";

/** A node taint: pods that do not tolerate it are kept away. */
export interface Taint {
  /** Taint key. */
  key: string;
  /** Taint value. */
  value?: string;
  /** What happens to pods that do not tolerate it. */
  effect: TaintEffect;
}

/** A pod's toleration of taints. */
export interface Toleration {
  /** Key to match; empty with `Exists` matches every key. */
  key?: string;
  /** `Equal` (default) or `Exists`. */
  operator?: "Equal" | "Exists";
  /** Value to match with `Equal`. */
  value?: string;
  /** Effect to match; empty matches every effect. */
  effect?: TaintEffect | "";
  /** For NoExecute: how long the pod stays bound after the taint appears. */
  tolerationSeconds?: number;
}

/** One requirement of a label selector. */
export interface LabelSelectorRequirement {
  /** Label key. */
  key: string;
  /** Set operator. */
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  /** Values for In and NotIn. */
  values?: string[];
}

/** A label selector: all of matchLabels and matchExpressions must hold. */
export interface LabelSelector {
  /** Exact key/value pairs. */
  matchLabels?: Record<string, string>;
  /** Set-based requirements. */
  matchExpressions?: LabelSelectorRequirement[];
}

/** One requirement of a node selector term. */
export interface NodeSelectorRequirement {
  /** Label (or field) key. */
  key: string;
  /** Operator; Gt and Lt compare integers. */
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt";
  /** Values. */
  values?: string[];
}

/** A node selector term: all requirements must hold. */
export interface NodeSelectorTerm {
  /** Requirements on node labels. */
  matchExpressions?: NodeSelectorRequirement[];
  /** Requirements on node fields (only `metadata.name`). */
  matchFields?: NodeSelectorRequirement[];
}

/** Node affinity: required terms (ORed) and weighted preferences. */
export interface NodeAffinity {
  /** Hard requirement. */
  requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] };
  /** Soft preferences. */
  preferredDuringSchedulingIgnoredDuringExecution?: {
    weight: number;
    preference: NodeSelectorTerm;
  }[];
}

/** A pod (anti-)affinity term: pods matching the selector, in a topology domain. */
export interface PodAffinityTerm {
  /** Which pods. */
  labelSelector?: LabelSelector;
  /** Namespaces to look in; empty means the pod's own. */
  namespaces?: string[];
  /** Node label that defines the domain (zone, hostname, ...). */
  topologyKey: string;
}

/** A weighted pod (anti-)affinity preference. */
export interface WeightedPodAffinityTerm {
  /** 1-100. */
  weight: number;
  /** The term. */
  podAffinityTerm: PodAffinityTerm;
}

/** Pod affinity or anti-affinity. */
export interface PodAffinity {
  /** Hard terms (ANDed). */
  requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
  /** Soft terms. */
  preferredDuringSchedulingIgnoredDuringExecution?: WeightedPodAffinityTerm[];
}

/** All affinity of a pod. */
export interface Affinity {
  /** Toward nodes. */
  nodeAffinity?: NodeAffinity;
  /** Toward other pods. */
  podAffinity?: PodAffinity;
  /** Away from other pods. */
  podAntiAffinity?: PodAffinity;
}

/** A topology spread constraint. */
export interface TopologySpreadConstraint {
  /** Largest allowed difference between a domain's count and the global minimum. */
  maxSkew: number;
  /** Node label that defines the domains. */
  topologyKey: string;
  /** DoNotSchedule filters; ScheduleAnyway only scores. */
  whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway";
  /** Which pods are counted. */
  labelSelector?: LabelSelector;
  /** Minimum number of domains that count as eligible. */
  minDomains?: number;
}

/** A container port. */
export interface ContainerPort {
  /** Port in the container. */
  containerPort: number;
  /** Port on the host; the scheduler keeps these unique per node. */
  hostPort?: number;
  /** TCP (default), UDP or SCTP. */
  protocol?: string;
  /** Host address to bind. */
  hostIP?: string;
}

/** A container as far as scheduling is concerned. */
export interface Container {
  /** Container name. */
  name: string;
  /** Image reference. */
  image?: string;
  /** Requests and limits. */
  resources?: { requests?: ResourceList; limits?: ResourceList };
  /** Ports. */
  ports?: ContainerPort[];
}

/** Pod spec fields the scheduler reads. */
export interface PodSpec {
  /** Set when bound. */
  nodeName?: string;
  /** Exact node label matches. */
  nodeSelector?: Record<string, string>;
  /** Affinity. */
  affinity?: Affinity;
  /** Tolerations. */
  tolerations?: Toleration[];
  /** Containers. */
  containers: Container[];
  /** Init containers (their max request counts). */
  initContainers?: Container[];
  /** Fixed per-pod overhead. */
  overhead?: ResourceList;
  /** Resolved priority. */
  priority?: number;
  /** Priority class name, resolved to a priority when `priority` is unset. */
  priorityClassName?: string;
  /** Never preempt others when set to "Never". */
  preemptionPolicy?: "PreemptLowerPriority" | "Never";
  /** Which profile schedules the pod. */
  schedulerName?: string;
  /** Spread constraints. */
  topologySpreadConstraints?: TopologySpreadConstraint[];
}

/** A pod condition. */
export interface PodCondition {
  /** e.g. PodScheduled. */
  type: string;
  /** "True" | "False" | "Unknown". */
  status: string;
  /** Machine-readable reason. */
  reason?: string;
  /** Human-readable message. */
  message?: string;
  /** RFC 3339. */
  lastTransitionTime?: string;
}

/** Pod status fields the scheduler writes. */
export interface PodStatus {
  /** Lifecycle phase. */
  phase?: string;
  /** Conditions. */
  conditions?: PodCondition[];
  /** Node chosen by preemption, waiting for victims to leave. */
  nominatedNodeName?: string;
}

/** A pod. */
export interface Pod {
  /** API version. */
  apiVersion?: string;
  /** Kind. */
  kind?: string;
  /** Metadata. */
  metadata: ObjectMeta;
  /** Spec. */
  spec: PodSpec;
  /** Status. */
  status?: PodStatus;
}

/** An image present on a node. */
export interface ContainerImage {
  /** Names (references) of the image. */
  names: string[];
  /** Size in bytes. */
  sizeBytes: number;
}

/** A node. */
export interface Node {
  /** API version. */
  apiVersion?: string;
  /** Kind. */
  kind?: string;
  /** Metadata. */
  metadata: ObjectMeta;
  /** Spec. */
  spec?: { unschedulable?: boolean; taints?: Taint[] };
  /** Status. */
  status?: {
    capacity?: ResourceList;
    allocatable?: ResourceList;
    images?: ContainerImage[];
  };
}
