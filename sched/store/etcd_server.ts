/**
 * Starts a local etcd (Debian `etcd-server`) on loopback ports with its own
 * data directory: used by the tests, the benchmark and the all-in-one
 * cluster when etcd is asked for.
 *
 * @module
 */
import { KvUnavailableError } from "./kv.ts";

/** Options of {@linkcode startEtcd}. */
export interface StartEtcdOptions {
  /** The etcd binary. @default "etcd" */
  binary?: string;
  /** The data directory; a new temporary one when absent (removed on stop). */
  dataDir?: string;
  /** Milliseconds to wait until it answers. @default 20000 */
  timeoutMs?: number;
  /**
   * Serve clients over TLS with this certificate and key, requiring client
   * certificates signed by `caPem` (PEM text).
   */
  tls?: { certPem: string; keyPem: string; caPem: string };
}

/** A running etcd. */
export interface EtcdServer {
  /** Its client URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** Its data directory. */
  dataDir: string;
  /** Stops it (SIGTERM, then SIGKILL) and removes a temporary data directory. */
  stop(): Promise<void>;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Starts etcd on two free loopback ports and waits until it serves.
 *
 * @param options Binary, data directory, timeout.
 * @returns The running server.
 * @throws {KvUnavailableError} When etcd is missing or does not come up.
 *
 * @example Start and stop
 * ```ts ignore
 * import { startEtcd } from "@tsk/sched";
 * const etcd = await startEtcd();
 * console.log(etcd.url);
 * await etcd.stop();
 * ```
 */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdServer> {
  const temp = options.dataDir === undefined;
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "tsk-etcd-" });
  const clientPort = freePort();
  const peerPort = freePort();
  const scheme = options.tls ? "https" : "http";
  const url = `${scheme}://127.0.0.1:${clientPort}`;
  const tlsArgs: string[] = [];
  if (options.tls) {
    const files = {
      cert: `${dataDir}/server.crt`,
      key: `${dataDir}/server.key`,
      ca: `${dataDir}/ca.crt`,
    };
    await Deno.writeTextFile(files.cert, options.tls.certPem);
    await Deno.writeTextFile(files.key, options.tls.keyPem, { mode: 0o600 });
    await Deno.writeTextFile(files.ca, options.tls.caPem);
    tlsArgs.push(
      "--cert-file",
      files.cert,
      "--key-file",
      files.key,
      "--trusted-ca-file",
      files.ca,
      "--client-cert-auth",
    );
  }
  const peer = `http://127.0.0.1:${peerPort}`;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(options.binary ?? "etcd", {
      args: [
        "--name",
        "tsk",
        "--data-dir",
        dataDir,
        "--listen-client-urls",
        url,
        "--advertise-client-urls",
        url,
        "--listen-peer-urls",
        peer,
        "--initial-advertise-peer-urls",
        peer,
        "--initial-cluster",
        `tsk=${peer}`,
        "--log-level",
        "error",
        ...tlsArgs,
      ],
      stdout: "null",
      stderr: "piped",
      stdin: "null",
    }).spawn();
  } catch (err) {
    if (temp) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    throw new KvUnavailableError(
      `etcd: cannot start ${
        options.binary ?? "etcd"
      } (install the Debian package etcd-server): ${err}`,
      { cause: err },
    );
  }
  let stderr = "";
  const pump = (async () => {
    for await (const c of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr = (stderr + c).slice(-4000);
    }
  })().catch(() => {});
  let exited = false;
  child.status.then(() => exited = true);
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const t = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, 5000);
      await child.status;
      clearTimeout(t);
    }
    await pump;
    if (temp) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  };
  const deadline = Date.now() + (options.timeoutMs ?? 20000);
  while (Date.now() < deadline) {
    if (exited) break;
    try {
      if (options.tls) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: clientPort });
        conn.close();
        // etcd listens before it serves; give it a moment.
        await new Promise((r) => setTimeout(r, 500));
        return { url, dataDir, stop };
      }
      const r = await fetch(`${url}/v3/kv/range`, {
        method: "POST",
        body: JSON.stringify({ key: btoa("x") }),
        signal: AbortSignal.timeout(1000),
      });
      await r.body?.cancel();
      if (r.ok) return { url, dataDir, stop };
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new KvUnavailableError(`etcd: did not come up on ${url}: ${stderr.trim().slice(-500)}`);
}
