/**
 * Starts a control plane in this process for a test, on a free port with a
 * temporary data directory and TSK_HOME, and removes everything after.
 *
 * @module
 */
import { ApiClient, type ClientConfig } from "@tsk/api";
import {
  type ControlPlane,
  type ControlPlaneOptions,
  silentLogger,
  startControlPlane,
} from "@tsk/sched";

/** A control plane started for one test. */
export interface TestControlPlane {
  /** The running control plane. */
  cp: ControlPlane;
  /** A client with the admin's credentials. */
  admin: ApiClient;
  /** TSK_HOME for CLI runs. */
  home: string;
  /** The environment for CLI runs. */
  env: Record<string, string>;
  /** Makes a client with a changed config. */
  client(change: Partial<ClientConfig>): ApiClient;
  /** Stops and removes everything. */
  stop(): Promise<void>;
}

/** Starts a control plane for a test. */
export async function startTestControlPlane(
  options: Partial<ControlPlaneOptions> = {},
): Promise<TestControlPlane> {
  const home = await Deno.makeTempDir({ prefix: "tsk-home-" });
  const clients: ApiClient[] = [];
  const cp = await startControlPlane({
    dataDir: `${home}/control-plane`,
    port: 0,
    env: { TSK_HOME: home },
    logger: silentLogger,
    ...options,
  });
  const client = (change: Partial<ClientConfig>) => {
    const c = new ApiClient({ ...cp.adminConfig, ...change });
    clients.push(c);
    return c;
  };
  const admin = client({});
  return {
    cp,
    admin,
    home,
    env: { TSK_HOME: home },
    client,
    async stop() {
      for (const c of clients) c.close();
      await cp.close();
      await Deno.remove(home, { recursive: true });
    },
  };
}
