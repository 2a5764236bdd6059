/**
 * `@tsk/mesh`: the service mesh. Today it holds the cluster certificate
 * authority, which the control plane uses for its TLS and client
 * certificates; the sidecar proxy joins it later.
 *
 * @example Create a CA
 * ```ts
 * import { CertificateAuthority } from "@tsk/mesh";
 * const ca = await CertificateAuthority.create({ commonName: "my-cluster-ca" });
 * ```
 *
 * @module
 */
export * from "./ca.ts";
