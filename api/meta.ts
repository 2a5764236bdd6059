/**
 * The parts every resource shares: type and object metadata, owner
 * references, conditions and lists, shaped like Kubernetes' so that users'
 * manifests apply with little change.
 *
 * @module
 */

/** A map of string keys to string values, as labels and annotations are. */
export type StringMap = Record<string, string>;

/** Points from a dependent object to the object that owns it. */
export interface OwnerReference {
  /** The owner's apiVersion, e.g. `apps/v1`. */
  apiVersion: string;
  /** The owner's kind, e.g. `ReplicaSet`. */
  kind: string;
  /** The owner's name. */
  name: string;
  /** The owner's uid. */
  uid: string;
  /** True when the owner is the managing controller. */
  controller?: boolean;
  /** True when the owner may not be deleted before this object. */
  blockOwnerDeletion?: boolean;
}

/** Metadata every stored object has. Server-set fields are read-only to clients. */
export interface ObjectMeta {
  /** Unique within the namespace (or the cluster, for cluster-scoped kinds). */
  name?: string;
  /** When set and `name` is not, the server appends a random suffix. */
  generateName?: string;
  /** The namespace; absent for cluster-scoped kinds. */
  namespace?: string;
  /** Set by the server on create; unique in time and space. */
  uid?: string;
  /** Opaque version of the object, for optimistic concurrency and watches. */
  resourceVersion?: string;
  /** Incremented by the server on every change to `spec`. */
  generation?: number;
  /** Identifying key/value pairs that selectors match. */
  labels?: StringMap;
  /** Non-identifying key/value pairs. */
  annotations?: StringMap;
  /** The objects this one depends on. */
  ownerReferences?: OwnerReference[];
  /** Names that must be removed before the object is deleted. */
  finalizers?: string[];
  /** RFC 3339 time the server created the object. */
  creationTimestamp?: string;
  /** RFC 3339 time after which the object is deleted; set by a graceful delete. */
  deletionTimestamp?: string;
  /** The grace period the deletion was requested with, in seconds. */
  deletionGracePeriodSeconds?: number;
}

/** Metadata of a list response. */
export interface ListMeta {
  /** The store's version at which the list was read; watch from here. */
  resourceVersion?: string;
  /** Opaque token for the next page, when the list was limited. */
  continue?: string;
  /** Items left after this page, when known. */
  remainingItemCount?: number;
}

/** A condition of an object's status (`Ready`, `PodScheduled`, ...). */
export interface Condition {
  /** The condition's type. */
  type: string;
  /** `True`, `False` or `Unknown`. */
  status: "True" | "False" | "Unknown";
  /** One CamelCase word for why. */
  reason?: string;
  /** A human-readable detail. */
  message?: string;
  /** RFC 3339 time the status last changed. */
  lastTransitionTime?: string;
  /** RFC 3339 time the condition was last probed. */
  lastProbeTime?: string;
  /** RFC 3339 time of the last heartbeat (nodes). */
  lastHeartbeatTime?: string;
}

/** The fields every object has: the type, the metadata. */
export interface TypeMeta {
  /** `v1` for the core group, `group/version` for the others. */
  apiVersion: string;
  /** The kind, e.g. `Pod`. */
  kind: string;
}

/** Any stored object: type meta, metadata, and kind-specific fields. */
export interface ApiObject extends TypeMeta {
  /** The object's metadata. */
  metadata: ObjectMeta;
  /** Desired state, for kinds that have one. */
  spec?: unknown;
  /** Observed state, for kinds that have one. */
  status?: unknown;
}

/** A list of objects, as `GET` on a collection returns. */
export interface ObjectList<T extends ApiObject = ApiObject> {
  /** Same as the items'. */
  apiVersion: string;
  /** The item kind followed by `List`, e.g. `PodList`. */
  kind: string;
  /** Version and pagination token. */
  metadata: ListMeta;
  /** The objects. */
  items: T[];
}

/** A Kubernetes-shaped error or success body the API server returns. */
export interface Status {
  /** Always `v1`. */
  apiVersion: "v1";
  /** Always `Status`. */
  kind: "Status";
  /** `Success` or `Failure`. */
  status: "Success" | "Failure";
  /** A sentence that names the field and the fix. */
  message: string;
  /** One CamelCase word: `NotFound`, `Conflict`, `Invalid`, `Expired`, ... */
  reason: string;
  /** The HTTP status code. */
  code: number;
  /** Which object, and the field errors for `Invalid`. */
  details?: {
    name?: string;
    kind?: string;
    causes?: { field: string; message: string }[];
    retryAfterSeconds?: number;
  };
}
