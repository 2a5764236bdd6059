/**
 * Debian packages that the tests and benchmarks need, with the reason for
 * each. `tools/run_tests.ts` installs the missing ones with apt-get and says so.
 *
 * @module
 */

/** A Debian package the test suite needs, and why. */
export interface DebianDep {
  /** The package name as apt-get knows it. */
  name: string;
  /** What uses it. */
  why: string;
}

/** Every Debian package the test suite uses. Add a line when a test needs one. */
export const DEBIAN_DEPS: readonly DebianDep[] = [
  { name: "busybox-static", why: "root filesystems for test containers" },
  { name: "runc", why: "reference OCI runtime the runtime tests compare against" },
  { name: "crun", why: "peer in the runtime benchmark" },
  {
    name: "etcd-server",
    why: "the etcd store backend's conformance tests and the apiserver benchmark",
  },
  { name: "etcd-client", why: "etcdctl, to inspect the etcd store by hand" },
  { name: "skopeo", why: "registry tests; OCI layout and registry interop peer for @tsk/image" },
  {
    name: "podman",
    why: "registry tests: podman push and pull; runtime tests: podman drives tsk-runtime",
  },
  { name: "conmon", why: "runtime tests: podman's monitor, which drives tsk-runtime as runc" },
  {
    name: "docker.io",
    why: "runtime tests: a private dockerd (containerd and its runc shim) drives tsk-runtime",
  },
  {
    name: "iproute2",
    why: "runtime tests: ip(8) brings up lo in the network namespace of the Docker bridge test",
  },
  { name: "curl", why: "registry tests: raw HTTP, a client killed mid-upload" },
  { name: "openssl", why: "registry tests: TLS certificate; image tests: token server key" },
  {
    name: "docker-registry",
    why: "peer in the registry benchmark; the registry @tsk/image tests pull from and push to",
  },
  { name: "hey", why: "registry benchmark: manifest GETs with 50 clients" },
  { name: "libseccomp2", why: "reference seccomp compiler the seccomp tests compare against" },
  { name: "umoci", why: "OCI layout unpack peer for @tsk/image" },
  { name: "buildah", why: "peer in the image build benchmark" },
];
