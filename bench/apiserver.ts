/**
 * Benchmark of the control plane's API server (`deno task bench apiserver`):
 *
 * - creates/s through the API with 50 concurrent clients, on SQLite and on
 *   etcd, beside raw etcd puts (`/v3/kv/put`, 50 clients) as the peer;
 * - mutating-call latency at a paced 1,000 writes/s on SQLite (target:
 *   p99 under 50 ms);
 * - watch fan-out: 10,000 watch streams, time from a write to the last
 *   watcher receiving it (p50/p99; target p99 under 500 ms);
 * - the API server's resident memory, idle and with the watchers.
 *
 * The API server runs as its own process (`sched/main.ts`) so that its
 * RSS and CPU are its own. Flags: --watchers N (default 10000),
 * --seconds N per throughput run (default 6), --watch-client raw|api
 * (default raw: bare TLS connections that only scan for event names, so
 * the fan-out figure is mostly the server's; api: `ApiClient.watch`,
 * which also parses every event).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { ApiClient, type ClientConfig, type ConfigMap, loadClientConfig } from "@tsk/api";
import { startEtcd } from "@tsk/sched";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    watchers: { type: "string", default: "10000" },
    seconds: { type: "string", default: "6" },
    "watch-client": { type: "string", default: "raw" },
  },
});
const WATCHERS = Number(values.watchers);
const RAW = values["watch-client"] !== "api";
const SECONDS = Number(values.seconds);
const CLIENTS = 50;
const MAIN = new URL("../sched/main.ts", import.meta.url).pathname;

interface Metric {
  metric: string;
  unit: string;
  tsk: number;
  peer: string | null;
  "peer_value": number | null;
  ratio: number | null;
}
const results: Metric[] = [];

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

async function rssOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

async function startServer(
  home: string,
  extra: string[],
): Promise<{ child: Deno.ChildProcess; config: ClientConfig }> {
  await Deno.writeTextFile(`${home}/scheduler.yaml`, "rateLimit: {qps: 0}\nwatchHistory: 20000\n");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "--port",
      "0",
      "--data",
      `${home}/cp`,
      "--config",
      `${home}/scheduler.yaml`,
      ...extra,
    ],
    env: { TSK_HOME: home },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!/"msg":"listening"/.test(buf)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`scheduler exited: ${buf}`);
    buf += value;
  }
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  return { child, config: await loadClientConfig({ env: { TSK_HOME: home } }) };
}

async function stopServer(child: Deno.ChildProcess): Promise<void> {
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await child.status;
  clearTimeout(t);
}

/** Runs `CLIENTS` loops calling `op` for `seconds`; returns ops/s and latencies (ms). */
async function closedLoop(
  seconds: number,
  op: (client: number, i: number) => Promise<void>,
): Promise<{ rate: number; lat: number[] }> {
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    for (let i = 0; performance.now() < end; i++) {
      const t0 = performance.now();
      await op(c, i);
      lat.push(performance.now() - t0);
      n++;
    }
  }));
  return { rate: n / ((performance.now() - start) / 1000), lat: lat.sort((a, b) => a - b) };
}

/** Issues `rate` calls per second for `seconds`, open loop; returns latencies (ms). */
async function paced(
  rate: number,
  seconds: number,
  op: (i: number) => Promise<void>,
): Promise<{ lat: number[]; achieved: number }> {
  const lat: number[] = [];
  const total = rate * seconds;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    pending.push(op(i).then(() => void lat.push(performance.now() - Math.min(t0, due + 1))));
  }
  await Promise.all(pending);
  return { lat: lat.sort((a, b) => a - b), achieved: total / ((performance.now() - start) / 1000) };
}

function cm(name: string): ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "default" },
    data: { k: "v".repeat(256) },
  };
}

async function createsThroughApi(
  config: ClientConfig,
  tag: string,
): Promise<{ rate: number; lat: number[] }> {
  const clients = Array.from({ length: CLIENTS }, () => new ApiClient(config));
  try {
    // Warm up connections.
    await Promise.all(clients.map((c) => c.list("namespaces", { limit: 1 })));
    return await closedLoop(
      SECONDS,
      (c, i) => clients[c].create(cm(`${tag}-${c}-${i}`)).then(() => {}),
    );
  } finally {
    for (const c of clients) c.close();
  }
}

async function rawEtcdPuts(url: string): Promise<{ rate: number; lat: number[] }> {
  const clients = Array.from({ length: CLIENTS }, () => Deno.createHttpClient({}));
  const value = btoa(JSON.stringify(cm("x")));
  try {
    return await closedLoop(SECONDS, async (c, i) => {
      const r = await fetch(`${url}/v3/kv/put`, {
        method: "POST",
        body: JSON.stringify({ key: btoa(`/bench/raw/${c}/${i}`), value }),
        client: clients[c],
      });
      await r.body?.cancel();
      if (!r.ok) throw new Error(`etcd put: HTTP ${r.status}`);
    });
  } finally {
    for (const c of clients) c.close();
  }
}

const table: string[][] = [];
function row(name: string, value: string, note = "") {
  table.push([name, value, note]);
  console.error(`  ${name}: ${value} ${note}`);
}

/** Creates/s of the server's own logic, in one process without network or TLS: the ceiling. */
async function inProcess(): Promise<{ store: number; app: number }> {
  const { Authenticator, createApiApp, ObjectStore, SqliteKv } = await import("@tsk/sched");
  const dir = await Deno.makeTempDir({ prefix: "tsk-bench-inproc-" });
  const store = new ObjectStore(new SqliteKv(`${dir}/state.db`));
  try {
    await store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "default" } });
    const token = "bench-token-0123456789";
    const app = createApiApp({
      store,
      authenticator: new Authenticator([{ token, user: "bench", groups: ["system:masters"] }]),
    });
    const a = await closedLoop(2, (c, i) => store.create(cm(`s-${c}-${i}`)).then(() => {}));
    const b = await closedLoop(2, async (c, i) => {
      const r = await app.request("/api/v1/namespaces/default/configmaps", {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify(cm(`a-${c}-${i}`)),
      });
      await r.body?.cancel();
    });
    return { store: a.rate, app: b.rate };
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

// ---------------------------------------------------------------- SQLite
const homeA = await Deno.makeTempDir({ prefix: "tsk-bench-api-" });
const etcd = await startEtcd();
const homeB = await Deno.makeTempDir({ prefix: "tsk-bench-api-" });
try {
  console.error("apiserver bench: in-process ceiling");
  const ceiling = await inProcess();
  row(
    "creates/s in-process: store / app (no TLS)",
    `${round(ceiling.store, 0)} / ${round(ceiling.app, 0)}`,
    "SQLite, 50 callers",
  );
  console.error("apiserver bench: SQLite store");
  const sqlite = await startServer(homeA, []);
  const idleRss = await rssOf(sqlite.child.pid);
  const s = await createsThroughApi(sqlite.config, "c");
  row(
    "creates/s, SQLite, 50 clients",
    `${round(s.rate, 0)}`,
    `p50 ${round(pct(s.lat, 50))} ms, p99 ${round(pct(s.lat, 99))} ms`,
  );

  const pacedClients = Array.from({ length: CLIENTS }, () => new ApiClient(sqlite.config));
  const p500 = await paced(
    500,
    4,
    (i) => pacedClients[i % CLIENTS].create(cm(`paced5-${i}`)).then(() => {}),
  );
  row(
    "mutating p99 at 500 writes/s, SQLite",
    `${round(pct(p500.lat, 99))} ms`,
    `p50 ${round(pct(p500.lat, 50))} ms, achieved ${round(p500.achieved, 0)}/s`,
  );
  const p = await paced(
    1000,
    5,
    (i) => pacedClients[i % CLIENTS].create(cm(`paced-${i}`)).then(() => {}),
  );
  for (const c of pacedClients) c.close();
  row(
    "mutating p99 at 1000 writes/s, SQLite",
    `${round(pct(p.lat, 99))} ms`,
    `p50 ${round(pct(p.lat, 50))} ms, achieved ${round(p.achieved, 0)}/s`,
  );

  // ---------------------------------------------------------------- watch fan-out
  console.error(`apiserver bench: opening ${WATCHERS} watchers`);
  const ns = "default";
  const watchClientCount = Math.ceil(WATCHERS / 500);
  const httpClients = Array.from({ length: watchClientCount }, () => new ApiClient(sqlite.config));
  const rv = (await httpClients[0].list("leases", { namespace: ns })).metadata.resourceVersion!;
  const arrivals = new Map<string, number[]>();
  const stop = new AbortController();
  const watchers: Promise<void>[] = [];
  const retry: number[] = [];
  let active = 0;
  let gaveUp = 0;
  const attempts = new Map<number, number>();
  const server = new URL(sqlite.config.server);
  const token = sqlite.config.token!;
  const watchPath =
    `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases?watch=1&resourceVersion=${rv}`;
  const names = /"name":"(fan-\d+)"/g;
  // A bare TLS connection per watcher that only scans for event names: the
  // client does as little as possible, so the figure is mostly the server's.
  const runRawWatcher = (w: number) => {
    active++;
    watchers.push((async () => {
      let conn: Deno.TlsConn | undefined;
      try {
        conn = await Deno.connectTls({
          hostname: server.hostname,
          port: Number(server.port),
          caCerts: [sqlite.config.certificateAuthority!],
        });
        stop.signal.addEventListener("abort", () => {
          try {
            conn!.close();
          } catch { /* closed */ }
        }, { once: true });
        await conn.write(
          new TextEncoder().encode(
            `GET ${watchPath} HTTP/1.1\r\nHost: ${server.host}\r\nAuthorization: Bearer ${token}\r\n\r\n`,
          ),
        );
        const buf = new Uint8Array(65536);
        const dec = new TextDecoder();
        let tail = "";
        while (true) {
          const n = await conn.read(buf);
          if (n === null) break;
          const now = performance.now();
          const text = tail + dec.decode(buf.subarray(0, n), { stream: true });
          for (const m of text.matchAll(names)) {
            let a = arrivals.get(m[1]);
            if (!a) arrivals.set(m[1], a = []);
            a.push(now);
          }
          // Keep a short tail without a complete name, so a name split across reads still counts once.
          const cut = text.lastIndexOf('"name":"fan-');
          tail = cut >= 0 && !/"name":"fan-\d+"/.test(text.slice(cut)) ? text.slice(cut) : "";
        }
      } catch (err) {
        if (stop.signal.aborted) return;
        const n = (attempts.get(w) ?? 0) + 1;
        attempts.set(w, n);
        if (n < 5) retry.push(w);
        else {
          gaveUp++;
          console.error(`watcher ${w}: ${err}`);
        }
      } finally {
        active--;
        try {
          conn?.close();
        } catch { /* closed */ }
      }
    })());
  };
  const runWatcher = (w: number) => {
    if (RAW) return runRawWatcher(w);
    const client = httpClients[w % watchClientCount];
    active++;
    watchers.push((async () => {
      let got = 0;
      try {
        for await (
          const ev of client.watch("leases", {
            namespace: ns,
            resourceVersion: rv,
            signal: stop.signal,
          })
        ) {
          const now = performance.now();
          got++;
          const name = ev.object.metadata.name!;
          let a = arrivals.get(name);
          if (!a) arrivals.set(name, a = []);
          a.push(now);
        }
      } catch (err) {
        if (stop.signal.aborted) return;
        const n = (attempts.get(w) ?? 0) + 1;
        attempts.set(w, n);
        if (got === 0 && n < 5) retry.push(w);
        else {
          gaveUp++;
          console.error(`watcher ${w}: ${err}`);
        }
      } finally {
        active--;
      }
    })());
  };
  // Open the watchers in batches, as many clients reconnecting after a restart would.
  const metricsClient = Deno.createHttpClient({ caCerts: [sqlite.config.certificateAuthority!] });
  const serverWatchers = async () => {
    const text = await (await fetch(`${sqlite.config.server}/metrics`, { client: metricsClient }))
      .text();
    return Number(/^apiserver_watchers (\d+)/m.exec(text)?.[1] ?? 0);
  };
  const openStart = performance.now();
  let next = 0;
  while (next < WATCHERS || retry.length > 0) {
    const batch: number[] = retry.splice(0, 250);
    while (batch.length < 250 && next < WATCHERS) batch.push(next++);
    for (const w of batch) runWatcher(w);
    const deadline = performance.now() + 20_000;
    while (performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      if ((await serverWatchers()) >= active) break;
    }
    if (performance.now() - openStart > 300_000) break;
  }
  const established = await serverWatchers();
  row(
    "watchers established",
    `${established}`,
    `in ${round((performance.now() - openStart) / 1000)} s${gaveUp ? `, ${gaveUp} gave up` : ""}`,
  );
  const withWatchersRss = await rssOf(sqlite.child.pid);
  const writer = new ApiClient(sqlite.config);
  const writes = 20;
  const toLast: number[] = [];
  const perWatcher: number[] = [];
  for (let i = 0; i < writes; i++) {
    const name = `fan-${i}`;
    const t0 = performance.now();
    await writer.create({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name, namespace: ns },
      spec: { holderIdentity: "bench" },
    });
    const deadline = performance.now() + 30_000;
    while ((arrivals.get(name)?.length ?? 0) < established && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2));
    }
    const got = arrivals.get(name) ?? [];
    if (got.length < established) {
      console.error(`write ${i}: only ${got.length} of ${established} watchers got it`);
    }
    for (const t of got) perWatcher.push(t - t0);
    toLast.push(Math.max(...got) - t0);
    await new Promise((r) => setTimeout(r, 100));
  }
  toLast.sort((a, b) => a - b);
  perWatcher.sort((a, b) => a - b);
  const fanRss = Math.max(withWatchersRss, await rssOf(sqlite.child.pid));
  row(
    `write → last of ${established} watchers`,
    `p50 ${round(pct(toLast, 50))} ms`,
    `p99 ${round(pct(toLast, 99))} ms`,
  );
  row(
    "write → each watcher",
    `p50 ${round(pct(perWatcher, 50))} ms`,
    `p99 ${round(pct(perWatcher, 99))} ms`,
  );
  row(
    "API server RSS idle / with watchers",
    `${round(idleRss / 2 ** 20)} MiB`,
    `${round(fanRss / 2 ** 20)} MiB`,
  );
  stop.abort();
  await Promise.race([Promise.all(watchers), new Promise((r) => setTimeout(r, 15_000))]);
  writer.close();
  metricsClient.close();
  for (const c of httpClients) c.close();
  await stopServer(sqlite.child);

  // ---------------------------------------------------------------- etcd
  console.error("apiserver bench: etcd store");
  const onEtcd = await startServer(homeB, ["--store", "etcd", "--etcd-endpoints", etcd.url]);
  const e = await createsThroughApi(onEtcd.config, "e");
  row(
    "creates/s, etcd, 50 clients",
    `${round(e.rate, 0)}`,
    `p50 ${round(pct(e.lat, 50))} ms, p99 ${round(pct(e.lat, 99))} ms`,
  );
  await stopServer(onEtcd.child);
  const raw = await rawEtcdPuts(etcd.url);
  row(
    "raw etcd puts/s (peer), 50 clients",
    `${round(raw.rate, 0)}`,
    `p50 ${round(pct(raw.lat, 50))} ms, p99 ${round(pct(raw.lat, 99))} ms`,
  );

  results.push(
    {
      metric: "creates_per_s_sqlite_50_clients",
      unit: "ops/s",
      tsk: round(s.rate, 0),
      peer: "etcd raw put",
      "peer_value": round(raw.rate, 0),
      ratio: round(s.rate / raw.rate, 2),
    },
    {
      metric: "creates_per_s_etcd_50_clients",
      unit: "ops/s",
      tsk: round(e.rate, 0),
      peer: "etcd raw put",
      "peer_value": round(raw.rate, 0),
      ratio: round(e.rate / raw.rate, 2),
    },
    {
      metric: "create_p99_sqlite_50_clients",
      unit: "ms",
      tsk: round(pct(s.lat, 99)),
      peer: "etcd raw put",
      "peer_value": round(pct(raw.lat, 99)),
      ratio: round(pct(raw.lat, 99) / pct(s.lat, 99), 2),
    },
    {
      metric: "create_p99_at_500_per_s_sqlite",
      unit: "ms",
      tsk: round(pct(p500.lat, 99)),
      peer: null,
      "peer_value": null,
      ratio: null,
    },
    {
      metric: "creates_per_s_in_process_app",
      unit: "ops/s",
      tsk: round(ceiling.app, 0),
      peer: null,
      "peer_value": null,
      ratio: null,
    },
    {
      metric: "create_p99_at_1000_per_s_sqlite",
      unit: "ms",
      tsk: round(pct(p.lat, 99)),
      peer: null,
      "peer_value": null,
      ratio: null,
    },
    {
      metric: `watch_fanout_${established}_last_watcher_p50`,
      unit: "ms",
      tsk: round(pct(toLast, 50)),
      peer: null,
      "peer_value": null,
      ratio: null,
    },
    {
      metric: `watch_fanout_${established}_last_watcher_p99`,
      unit: "ms",
      tsk: round(pct(toLast, 99)),
      peer: null,
      "peer_value": null,
      ratio: null,
    },
    {
      metric: "apiserver_rss_idle",
      unit: "MiB",
      tsk: round(idleRss / 2 ** 20),
      peer: null,
      "peer_value": null,
      ratio: null,
    },
    {
      metric: `apiserver_rss_${established}_watchers`,
      unit: "MiB",
      tsk: round(fanRss / 2 ** 20),
      peer: null,
      "peer_value": null,
      ratio: null,
    },
  );
} finally {
  await etcd.stop();
  await Deno.remove(homeA, { recursive: true }).catch(() => {});
  await Deno.remove(homeB, { recursive: true }).catch(() => {});
}

const w = [Math.max(...table.map((r) => r[0].length)), Math.max(...table.map((r) => r[1].length))];
console.log(`\n${"measure".padEnd(w[0])}  ${"value".padEnd(w[1])}  detail`);
for (const r of table) console.log(`${r[0].padEnd(w[0])}  ${r[1].padEnd(w[1])}  ${r[2]}`);
console.log();
for (const r of results) console.log(JSON.stringify({ bench: "apiserver", ...r }));
