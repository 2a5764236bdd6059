/**
 * The core (`v1`) kinds: Namespace, Node, Pod, Service, Endpoints,
 * ConfigMap, Secret and Event, shaped like Kubernetes' core/v1.
 *
 * @module
 */
import type { Condition, ObjectMeta, StringMap } from "./meta.ts";
import type { LabelSelector } from "./labels.ts";

/** A quantity string such as `500m`, `1Gi` or `2`; see `parseQuantity`. */
export type QuantityString = string;

/** Resource names to quantities: `{ cpu: "500m", memory: "1Gi" }`. */
export type ResourceList = Record<string, QuantityString>;

// ---------------------------------------------------------------- Namespace

/** A namespace: a scope for names, selectors and policies. */
export interface Namespace {
  /** Always `v1`. */
  apiVersion: "v1";
  /** Always `Namespace`. */
  kind: "Namespace";
  /** Metadata; `name` is the namespace. */
  metadata: ObjectMeta;
  /** Finalizers that hold the namespace while it empties. */
  spec?: { finalizers?: string[] };
  /** `Active` or `Terminating`. */
  status?: { phase?: "Active" | "Terminating" };
}

// ---------------------------------------------------------------- Node

/** A taint repels pods that do not tolerate it. */
export interface Taint {
  /** The taint key. */
  key: string;
  /** The taint value. */
  value?: string;
  /** What happens to pods that do not tolerate it. */
  effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
  /** RFC 3339 time the taint was added (NoExecute). */
  timeAdded?: string;
}

/** An image present on a node, with its size. */
export interface ContainerImage {
  /** Names (references) of the image. */
  names: string[];
  /** Size in bytes. */
  sizeBytes?: number;
}

/** An address of a node. */
export interface NodeAddress {
  /** `InternalIP`, `ExternalIP` or `Hostname`. */
  type: string;
  /** The address. */
  address: string;
}

/** Desired state of a node. */
export interface NodeSpec {
  /** The pod CIDR assigned to the node. */
  podCIDR?: string;
  /** Taints on the node. */
  taints?: Taint[];
  /** When true, no new pods are scheduled onto the node. */
  unschedulable?: boolean;
  /** An identifier of the node in its provider. */
  providerID?: string;
}

/** Observed state of a node, reported by its agent. */
export interface NodeStatus {
  /** Total resources of the node. */
  capacity?: ResourceList;
  /** Resources available to pods (capacity minus reservations). */
  allocatable?: ResourceList;
  /** `Ready`, `MemoryPressure`, `DiskPressure`, `PIDPressure`, `NetworkUnavailable`. */
  conditions?: Condition[];
  /** Addresses of the node. */
  addresses?: NodeAddress[];
  /** Images present on the node. */
  images?: ContainerImage[];
  /** Facts about the node's software. */
  nodeInfo?: {
    machineID?: string;
    kernelVersion?: string;
    osImage?: string;
    containerRuntimeVersion?: string;
    agentVersion?: string;
    operatingSystem?: string;
    architecture?: string;
  };
  /** The port the node agent listens on. */
  daemonEndpoints?: { agentEndpoint?: { Port: number } };
}

/** A machine that runs pods. */
export interface Node {
  /** Always `v1`. */
  apiVersion: "v1";
  /** Always `Node`. */
  kind: "Node";
  /** Metadata; nodes are cluster-scoped. */
  metadata: ObjectMeta;
  /** Desired state. */
  spec?: NodeSpec;
  /** Observed state. */
  status?: NodeStatus;
}

// ---------------------------------------------------------------- Pod

/** Compute resources of a container. */
export interface ResourceRequirements {
  /** The minimum the scheduler reserves. */
  requests?: ResourceList;
  /** The maximum the runtime enforces. */
  limits?: ResourceList;
}

/** A port a container listens on. */
export interface ContainerPort {
  /** An IANA service name, unique in the pod. */
  name?: string;
  /** The port in the container. */
  containerPort: number;
  /** The port on the host, when mapped. */
  hostPort?: number;
  /** The host IP to bind a host port to. */
  hostIP?: string;
  /** `TCP`, `UDP` or `SCTP`. */
  protocol?: "TCP" | "UDP" | "SCTP";
}

/** An environment variable. */
export interface EnvVar {
  /** The name. */
  name: string;
  /** A literal value. */
  value?: string;
  /** Where to read the value from instead. */
  valueFrom?: {
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    fieldRef?: { fieldPath: string };
  };
}

/** A volume mounted into a container. */
export interface VolumeMount {
  /** The volume's name in the pod. */
  name: string;
  /** Where in the container. */
  mountPath: string;
  /** Mount read-only. */
  readOnly?: boolean;
  /** A path inside the volume. */
  subPath?: string;
}

/** A health check. */
export interface Probe {
  /** Run a command in the container; exit 0 is healthy. */
  exec?: { command: string[] };
  /** GET a path; 2xx and 3xx are healthy. */
  httpGet?: { path?: string; port: number | string; host?: string; scheme?: "HTTP" | "HTTPS" };
  /** Open a TCP connection. */
  tcpSocket?: { port: number | string; host?: string };
  /** Seconds after start before the first probe. @default 0 */
  initialDelaySeconds?: number;
  /** Seconds a probe may take. @default 1 */
  timeoutSeconds?: number;
  /** Seconds between probes. @default 10 */
  periodSeconds?: number;
  /** Successes in a row that count as healthy. @default 1 */
  successThreshold?: number;
  /** Failures in a row that count as unhealthy. @default 3 */
  failureThreshold?: number;
}

/** Security settings of a container. */
export interface SecurityContext {
  /** Run as this uid. */
  runAsUser?: number;
  /** Run as this gid. */
  runAsGroup?: number;
  /** Refuse to run as uid 0. */
  runAsNonRoot?: boolean;
  /** Mount the root filesystem read-only. */
  readOnlyRootFilesystem?: boolean;
  /** Give the container every capability and device. */
  privileged?: boolean;
  /** Whether the process may gain privileges (no_new_privs when false). */
  allowPrivilegeEscalation?: boolean;
  /** Capabilities to add and drop. */
  capabilities?: { add?: string[]; drop?: string[] };
  /** The seccomp profile. */
  seccompProfile?: {
    type: "RuntimeDefault" | "Unconfined" | "Localhost";
    localhostProfile?: string;
  };
}

/** A container in a pod. */
export interface Container {
  /** Unique within the pod, a DNS label. */
  name: string;
  /** The image reference. */
  image: string;
  /** `Always`, `IfNotPresent` or `Never`. */
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /** Replaces the image's entrypoint. */
  command?: string[];
  /** Replaces the image's cmd. */
  args?: string[];
  /** The working directory. */
  workingDir?: string;
  /** Environment variables. */
  env?: EnvVar[];
  /** Ports exposed. */
  ports?: ContainerPort[];
  /** Requests and limits. */
  resources?: ResourceRequirements;
  /** Volumes mounted. */
  volumeMounts?: VolumeMount[];
  /** Restart the container when this fails. */
  livenessProbe?: Probe;
  /** Remove the pod from endpoints while this fails. */
  readinessProbe?: Probe;
  /** Hold the other probes until this succeeds. */
  startupProbe?: Probe;
  /** Security settings. */
  securityContext?: SecurityContext;
  /** Allocate a TTY. */
  tty?: boolean;
  /** Keep stdin open. */
  stdin?: boolean;
}

/** A volume of a pod. */
export interface Volume {
  /** Unique within the pod. */
  name: string;
  /** A scratch directory living as long as the pod. */
  emptyDir?: { medium?: "" | "Memory"; sizeLimit?: QuantityString };
  /** A directory of the host. */
  hostPath?: { path: string; type?: string };
  /** The keys of a ConfigMap as files. */
  configMap?: { name: string; items?: { key: string; path: string }[]; optional?: boolean };
  /** The keys of a Secret as files. */
  secret?: { secretName: string; items?: { key: string; path: string }[]; optional?: boolean };
}

/** One requirement on a node's labels (or fields). */
export interface NodeSelectorRequirement {
  /** The label key. */
  key: string;
  /** How the values compare. */
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt";
  /** The values; one integer for Gt and Lt, none for Exists and DoesNotExist. */
  values?: string[];
}

/** A node matches a term when it matches every requirement of it. */
export interface NodeSelectorTerm {
  /** Requirements on the node's labels. */
  matchExpressions?: NodeSelectorRequirement[];
  /** Requirements on the node's fields (`metadata.name`). */
  matchFields?: NodeSelectorRequirement[];
}

/** A node matches when it matches any of the terms (they are ORed). */
export interface NodeSelector {
  /** The terms. */
  nodeSelectorTerms: NodeSelectorTerm[];
}

/** A preferred node term with its weight. */
export interface PreferredSchedulingTerm {
  /** 1 to 100. */
  weight: number;
  /** The term. */
  preference: NodeSelectorTerm;
}

/** Rules about which nodes a pod may or prefers to run on. */
export interface NodeAffinity {
  /** Nodes that do not match are never chosen. */
  requiredDuringSchedulingIgnoredDuringExecution?: NodeSelector;
  /** Nodes that match score higher by the weight. */
  preferredDuringSchedulingIgnoredDuringExecution?: PreferredSchedulingTerm[];
}

/** Co-location with (or away from) pods that match a selector. */
export interface PodAffinityTerm {
  /** Which pods. */
  labelSelector?: LabelSelector;
  /** Namespaces of those pods; the pod's own when empty and no namespaceSelector. */
  namespaces?: string[];
  /** Namespaces by label. */
  namespaceSelector?: LabelSelector;
  /** The node label that defines "together", e.g. `kubernetes.io/hostname`. */
  topologyKey: string;
}

/** A preferred pod affinity term with its weight. */
export interface WeightedPodAffinityTerm {
  /** 1 to 100. */
  weight: number;
  /** The term. */
  podAffinityTerm: PodAffinityTerm;
}

/** Run near matching pods. */
export interface PodAffinity {
  /** Must hold. */
  requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
  /** Scored. */
  preferredDuringSchedulingIgnoredDuringExecution?: WeightedPodAffinityTerm[];
}

/** Run away from matching pods. */
export interface PodAntiAffinity {
  /** Must hold. */
  requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
  /** Scored. */
  preferredDuringSchedulingIgnoredDuringExecution?: WeightedPodAffinityTerm[];
}

/** All affinity rules of a pod. */
export interface Affinity {
  /** Node affinity. */
  nodeAffinity?: NodeAffinity;
  /** Pod affinity. */
  podAffinity?: PodAffinity;
  /** Pod anti-affinity. */
  podAntiAffinity?: PodAntiAffinity;
}

/** Lets a pod run on nodes with a matching taint. */
export interface Toleration {
  /** The taint key; empty with operator Exists matches every key. */
  key?: string;
  /** How the value compares. @default "Equal" */
  operator?: "Equal" | "Exists";
  /** The value to compare with `Equal`. */
  value?: string;
  /** The effect matched; empty matches every effect. */
  effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute";
  /** How long a NoExecute taint is tolerated. */
  tolerationSeconds?: number;
}

/** Spreads matching pods evenly across topology domains. */
export interface TopologySpreadConstraint {
  /** The largest allowed difference in matching pods between domains. */
  maxSkew: number;
  /** The node label that defines a domain. */
  topologyKey: string;
  /** What to do when the skew would be exceeded. */
  whenUnsatisfiable: "DoNotSchedule" | "ScheduleAnyway";
  /** Which pods count. */
  labelSelector?: LabelSelector;
  /** The least number of domains, when DoNotSchedule. */
  minDomains?: number;
}

/** Desired state of a pod. */
export interface PodSpec {
  /** The containers; at least one. */
  containers: Container[];
  /** Containers run to completion before the others start. */
  initContainers?: Container[];
  /** Volumes the containers can mount. */
  volumes?: Volume[];
  /** The node the pod is bound to; set by the scheduler's bind. */
  nodeName?: string;
  /** Labels a node must have. */
  nodeSelector?: StringMap;
  /** Affinity and anti-affinity rules. */
  affinity?: Affinity;
  /** Taints tolerated. */
  tolerations?: Toleration[];
  /** Spread constraints. */
  topologySpreadConstraints?: TopologySpreadConstraint[];
  /** The name of a priority class; resolved into `priority`. */
  priorityClassName?: string;
  /** The scheduling priority: higher goes first and may preempt lower. */
  priority?: number;
  /** Whether this pod may preempt lower-priority pods. @default "PreemptLowerPriority" */
  preemptionPolicy?: "PreemptLowerPriority" | "Never";
  /** Which scheduler places the pod. @default "default-scheduler" */
  schedulerName?: string;
  /** `Always`, `OnFailure` or `Never`. @default "Always" */
  restartPolicy?: "Always" | "OnFailure" | "Never";
  /** Seconds between SIGTERM and SIGKILL on deletion. @default 30 */
  terminationGracePeriodSeconds?: number;
  /** Seconds the pod may run before it is failed. */
  activeDeadlineSeconds?: number;
  /** Use the host's network namespace. */
  hostNetwork?: boolean;
  /** Use the host's PID namespace. */
  hostPID?: boolean;
  /** Use the host's IPC namespace. */
  hostIPC?: boolean;
  /** The pod's hostname. */
  hostname?: string;
  /** The pod's subdomain. */
  subdomain?: string;
  /** `ClusterFirst`, `Default` or `None`. @default "ClusterFirst" */
  dnsPolicy?: "ClusterFirst" | "Default" | "None" | "ClusterFirstWithHostNet";
  /** The service account the pod runs as. */
  serviceAccountName?: string;
  /** Pod-wide security settings. */
  securityContext?: {
    runAsUser?: number;
    runAsGroup?: number;
    fsGroup?: number;
    runAsNonRoot?: boolean;
  };
  /** Extra pod overhead accounted on top of the containers'. */
  overhead?: ResourceList;
}

/** The state of one container as its agent reports it. */
export interface ContainerStatus {
  /** The container's name. */
  name: string;
  /** Exactly one of waiting, running, terminated. */
  state?: ContainerState;
  /** The previous termination, after a restart. */
  lastState?: ContainerState;
  /** True when the readiness probe passes. */
  ready: boolean;
  /** How many times it restarted. */
  restartCount: number;
  /** The image reference. */
  image: string;
  /** The resolved image id (digest). */
  imageID?: string;
  /** The runtime's container id. */
  containerID?: string;
  /** True once started (startup probe passed). */
  started?: boolean;
}

/** A container's state. */
export interface ContainerState {
  /** Not running yet. */
  waiting?: { reason?: string; message?: string };
  /** Running since. */
  running?: { startedAt?: string };
  /** Finished. */
  terminated?: {
    exitCode: number;
    signal?: number;
    reason?: string;
    message?: string;
    startedAt?: string;
    finishedAt?: string;
    containerID?: string;
  };
}

/** The lifecycle phase of a pod. */
export type PodPhase = "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";

/** Observed state of a pod. */
export interface PodStatus {
  /** The phase. */
  phase?: PodPhase;
  /** `PodScheduled`, `Initialized`, `ContainersReady`, `Ready`. */
  conditions?: Condition[];
  /** A human-readable detail. */
  message?: string;
  /** One CamelCase word, e.g. `Evicted`. */
  reason?: string;
  /** The node a preemption made room on, while the victims terminate. */
  nominatedNodeName?: string;
  /** The node's IP. */
  hostIP?: string;
  /** The pod's IP. */
  podIP?: string;
  /** The pod's IPs. */
  podIPs?: { ip: string }[];
  /** RFC 3339 time the agent accepted the pod. */
  startTime?: string;
  /** Per-container state. */
  containerStatuses?: ContainerStatus[];
  /** Per-init-container state. */
  initContainerStatuses?: ContainerStatus[];
  /** `Guaranteed`, `Burstable` or `BestEffort`. */
  qosClass?: "Guaranteed" | "Burstable" | "BestEffort";
}

/** A group of containers scheduled together onto one node. */
export interface Pod {
  /** Always `v1`. */
  apiVersion: "v1";
  /** Always `Pod`. */
  kind: "Pod";
  /** Metadata; pods are namespaced. */
  metadata: ObjectMeta;
  /** Desired state. */
  spec: PodSpec;
  /** Observed state. */
  status?: PodStatus;
}

/** The pod template of a workload controller. */
export interface PodTemplateSpec {
  /** Labels and annotations of the pods created. */
  metadata?: ObjectMeta;
  /** The pods' spec. */
  spec: PodSpec;
}

// ---------------------------------------------------------------- Service

/** A port of a service. */
export interface ServicePort {
  /** Unique in the service; required when there are several ports. */
  name?: string;
  /** `TCP`, `UDP` or `SCTP`. @default "TCP" */
  protocol?: "TCP" | "UDP" | "SCTP";
  /** The port the service listens on. */
  port: number;
  /** The port (or a container port name) on the pods. @default port */
  targetPort?: number | string;
  /** The port on every node, for NodePort services. */
  nodePort?: number;
}

/** Desired state of a service. */
export interface ServiceSpec {
  /** The pods behind the service. */
  selector?: StringMap;
  /** The ports. */
  ports?: ServicePort[];
  /** The virtual IP; `None` for a headless service. Allocated when empty. */
  clusterIP?: string;
  /** All virtual IPs. */
  clusterIPs?: string[];
  /** `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`. @default "ClusterIP" */
  type?: "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName";
  /** The DNS name for ExternalName services. */
  externalName?: string;
  /** `None` or `ClientIP`. @default "None" */
  sessionAffinity?: "None" | "ClientIP";
  /** Publish endpoints that are not ready yet. */
  publishNotReadyAddresses?: boolean;
}

/** A stable virtual address in front of a set of pods. */
export interface Service {
  /** Always `v1`. */
  apiVersion: "v1";
  /** Always `Service`. */
  kind: "Service";
  /** Metadata; services are namespaced. */
  metadata: ObjectMeta;
  /** Desired state. */
  spec: ServiceSpec;
  /** Observed state. */
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } };
}

// ---------------------------------------------------------------- Endpoints

/** One address behind a service. */
export interface EndpointAddress {
  /** The pod's IP. */
  ip: string;
  /** The pod's hostname. */
  hostname?: string;
  /** The node the pod runs on. */
  nodeName?: string;
  /** The pod. */
  targetRef?: { kind: string; namespace?: string; name: string; uid?: string };
}

/** A port of an endpoint set. */
export interface EndpointPort {
  /** Matches the service port's name. */
  name?: string;
  /** The port on the pods. */
  port: number;
  /** The protocol. @default "TCP" */
  protocol?: "TCP" | "UDP" | "SCTP";
}

/** Addresses sharing the same ports. */
export interface EndpointSubset {
  /** Ready addresses. */
  addresses?: EndpointAddress[];
  /** Addresses not ready yet. */
  notReadyAddresses?: EndpointAddress[];
  /** The ports. */
  ports?: EndpointPort[];
}

/** The addresses behind a service; named like the service. */
export interface Endpoints {
  /** Always `v1`. */
  apiVersion: "v1";
  /** Always `Endpoints`. */
  kind: "Endpoints";
  /** Metadata; same name as the service. */
  metadata: ObjectMeta;
  /** The address sets. */
  subsets?: EndpointSubset[];
}

// ---------------------------------------------------------------- ConfigMap, Secret

/** Configuration data for pods. */
export interface ConfigMap {
  /** Always `v1`. */
  apiVersion: "v1";
  /** Always `ConfigMap`. */
  kind: "ConfigMap";
  /** Metadata. */
  metadata: ObjectMeta;
  /** UTF-8 values. */
  data?: StringMap;
  /** Base64 values. */
  binaryData?: StringMap;
  /** When true the data cannot change. */
  immutable?: boolean;
}

/** Sensitive data for pods. */
export interface Secret {
  /** Always `v1`. */
  apiVersion: "v1";
  /** Always `Secret`. */
  kind: "Secret";
  /** Metadata. */
  metadata: ObjectMeta;
  /** The secret's type. @default "Opaque" */
  type?: string;
  /** Base64 values. */
  data?: StringMap;
  /** Plain values, merged into `data` on write. */
  stringData?: StringMap;
  /** When true the data cannot change. */
  immutable?: boolean;
}

// ---------------------------------------------------------------- Event

/** A record of something that happened to an object. */
export interface Event {
  /** Always `v1`. */
  apiVersion: "v1";
  /** Always `Event`. */
  kind: "Event";
  /** Metadata. */
  metadata: ObjectMeta;
  /** The object concerned. */
  involvedObject: {
    kind: string;
    namespace?: string;
    name: string;
    uid?: string;
    apiVersion?: string;
    resourceVersion?: string;
    fieldPath?: string;
  };
  /** One CamelCase word, e.g. `Scheduled`, `FailedScheduling`. */
  reason?: string;
  /** A human-readable detail. */
  message?: string;
  /** `Normal` or `Warning`. */
  type?: "Normal" | "Warning";
  /** Who reported it. */
  source?: { component?: string; host?: string };
  /** RFC 3339 time first seen. */
  firstTimestamp?: string;
  /** RFC 3339 time last seen. */
  lastTimestamp?: string;
  /** How many times it happened. */
  count?: number;
  /** The reporting controller, e.g. `tsk/scheduler`. */
  reportingComponent?: string;
  /** What action was taken. */
  action?: string;
}
