/**
 * `coordination.k8s.io/v1` Lease: leader election and node heartbeats.
 *
 * @module
 */
import type { ObjectMeta } from "./meta.ts";

/** Desired state of a lease. */
export interface LeaseSpec {
  /** Who holds it. */
  holderIdentity?: string;
  /** How long the holder may go without renewing. */
  leaseDurationSeconds?: number;
  /** RFC 3339 (with microseconds) time acquired. */
  acquireTime?: string;
  /** RFC 3339 (with microseconds) time last renewed. */
  renewTime?: string;
  /** How many times it changed hands. */
  leaseTransitions?: number;
}

/** A lease: a lock with an expiry, renewed by its holder. */
export interface Lease {
  /** Always `coordination.k8s.io/v1`. */
  apiVersion: "coordination.k8s.io/v1";
  /** Always `Lease`. */
  kind: "Lease";
  /** Metadata. */
  metadata: ObjectMeta;
  /** Desired state. */
  spec?: LeaseSpec;
}
