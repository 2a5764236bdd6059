/**
 * The `scheduler` program: the control plane. It hosts the API server and
 * the scheduler; the controllers start here too.
 *
 * Usage: `deno task scheduler --port 6443 --data DIR [--store sqlite|etcd]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { tskHome } from "@tsk/api";
import { parseControlPlaneConfig, startControlPlane } from "./apiserver/control_plane.ts";
import { jsonLogger } from "./apiserver/log.ts";
import { parseConfig as parseSchedulerConfig } from "./scheduler/profile.ts";
import { startScheduler } from "./scheduler/start.ts";

const HELP = `Usage: deno task scheduler [flags]

Runs the tsk control plane: the API server over SQLite (default) or etcd.

Flags:
  --port N               port to listen on; 0 picks a free one (default 6443)
  --host ADDR            address to listen on (default 127.0.0.1)
  --data DIR             data directory: CA, tokens, SQLite file, audit log
                         (default $TSK_HOME/control-plane)
  --store sqlite|etcd    where objects live (default sqlite)
  --etcd-endpoints URLS  etcd client URLs, comma-separated (with --store etcd)
  --etcd-cafile FILE     CA of etcd's https endpoints
  --etcd-certfile FILE   client certificate for etcd
  --etcd-keyfile FILE    client key for etcd
  --client-auth MODE     optional (tokens or certificates) or require
                         (client certificates only, refused at the handshake)
  --config FILE          YAML with tokens, roles, bindings, rateLimit
  --scheduler-config FILE  YAML with scheduler profiles (plugins, weights, args)
  -h, --help             show this help

It writes the admin client config to $TSK_HOME/config, which 'tsk' reads.`;

/**
 * Runs the program.
 *
 * @param args The command-line arguments.
 * @returns The exit code, once stopped by SIGTERM or SIGINT.
 *
 * @example Print the help
 * ```ts ignore
 * import { main } from "./main.ts";
 * await main(["--help"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: "string", default: "6443" },
        host: { type: "string", default: "127.0.0.1" },
        data: { type: "string" },
        store: { type: "string", default: "sqlite" },
        "etcd-endpoints": { type: "string" },
        "etcd-cafile": { type: "string" },
        "etcd-certfile": { type: "string" },
        "etcd-keyfile": { type: "string" },
        "client-auth": { type: "string", default: "optional" },
        config: { type: "string" },
        "scheduler-config": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`scheduler: ${err instanceof Error ? err.message : err}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`scheduler: --port: expected a number from 0 to 65535, got ${values.port}`);
    return 2;
  }
  if (values.store !== "sqlite" && values.store !== "etcd") {
    console.error(`scheduler: --store: expected sqlite or etcd, got ${values.store}`);
    return 2;
  }
  if (values.store === "etcd" && !values["etcd-endpoints"]) {
    console.error(
      "scheduler: --etcd-endpoints: required with --store etcd, e.g. http://127.0.0.1:2379",
    );
    return 2;
  }
  const clientAuth = values["client-auth"];
  if (clientAuth !== "optional" && clientAuth !== "require") {
    console.error(`scheduler: --client-auth: expected optional or require, got ${clientAuth}`);
    return 2;
  }
  const log = jsonLogger();
  try {
    const config = values.config
      ? parseControlPlaneConfig(await Deno.readTextFile(values.config), values.config)
      : undefined;
    const read = (f: string | undefined) => f ? Deno.readTextFile(f) : Promise.resolve(undefined);
    const etcdTls = values["etcd-cafile"] || values["etcd-certfile"]
      ? {
        caPem: await read(values["etcd-cafile"]),
        certPem: await read(values["etcd-certfile"]),
        keyPem: await read(values["etcd-keyfile"]),
      }
      : undefined;
    // Read before anything starts: a bad file stops the program with nothing running.
    const schedConfig = values["scheduler-config"]
      ? parseSchedulerConfig(await Deno.readTextFile(values["scheduler-config"]))
      : undefined;
    const cp = await startControlPlane({
      dataDir: values.data ?? join(tskHome(), "control-plane"),
      port,
      hostname: values.host,
      store: values.store,
      etcdEndpoints: values["etcd-endpoints"],
      etcdTls,
      clientAuth,
      config,
      logger: log,
    });
    // The scheduler and controllers start here, on cp.store.
    let sched;
    try {
      sched = startScheduler(cp.store, {
        config: schedConfig,
        log: ({ level, msg, ...fields }) =>
          (level === "error" ? log.error : level === "warn" ? log.warn : log.info)(
            String(msg),
            fields,
          ),
      });
    } catch (err) {
      await cp.close(); // a profile naming an unknown plugin, say: stop what started
      throw err;
    }
    // /metrics shows the scheduler's metrics after the API server's.
    const renderApi = cp.metrics.render.bind(cp.metrics);
    cp.metrics.render = () => renderApi() + sched.scheduler.metrics.render();
    const stop = new Promise<string>((resolve) => {
      for (const sig of ["SIGTERM", "SIGINT"] as const) {
        Deno.addSignalListener(sig, () => resolve(sig));
      }
    });
    const sig = await stop;
    log.info("shutting down", { signal: sig });
    await sched.stop();
    await cp.close();
    return 0;
  } catch (err) {
    log.error("failed", { error: err instanceof Error ? err.message : String(err) });
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
