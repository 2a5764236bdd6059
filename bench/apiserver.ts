/**
 * Benchmark of the control plane's API server (`deno task bench apiserver`):
 *
 * - creates/s through the API with 50 concurrent clients, on SQLite and on
 *   etcd, beside raw etcd puts (`/v3/kv/put`, 50 clients) as the peer;
 * - mutating-call latency at a paced 1,000 writes/s on SQLite (target:
 *   p99 under 50 ms);
 * - watch fan-out: 10,000 watch streams, time from a write to the last
 *   watcher receiving it (p50/p99; target p99 under 500 ms);
 * - the API server's resident memory, idle and with the watchers;
 * - with `--only floor`: the floor under the fan-out, a bare server that
 *   writes one chunk to each of `--watchers` sockets per round on
 *   `node:tls` (what `serveHttps` uses), plain `node:net` and
 *   `Deno.listenTls`, and its CPU per write.
 *
 * The API server runs as its own process (`sched/main.ts`) so that its
 * RSS and CPU are its own. The watch clients run in their own processes
 * too (`--watch-procs`, default 2), so that reading 10,000 streams does
 * not hold up the process that writes and takes the start time: each
 * client stamps an event when the read that carries its first byte
 * returns, on the wall clock shared by all processes
 * (`performance.timeOrigin + performance.now()`).
 *
 * The paced runs send creates over 50 warmed keep-alive TLS connections,
 * each call on an idle one, and time each call from its scheduled send
 * time (no coordinated omission); they also print how late the generator
 * issued, its CPU, and the server's own histograms and CPU.
 *
 * Flags: --watchers N (default 10000), --seconds N per throughput run
 * (default 6), --watch-client raw|api (default raw: bare TLS connections
 * that only scan for event names, so the fan-out figure is mostly the
 * server's; api: `ApiClient.watch`, which also parses every event),
 * --watch-procs N (default 2), --only watch|paced|floor (the fan-out alone,
 * the paced runs alone, or the floor servers), --paced-client raw|api (default raw: hand-built
 * HTTP/1.1 requests with the admin's certificate and token; api:
 * `ApiClient`), --server-flags "..." (extra `deno run` flags for the API
 * server, e.g. `--cpu-prof`), --server-main PATH (another checkout's
 * `sched/main.ts`, for before/after runs), --server-log FILE (keep the
 * server's output).
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
    "watch-procs": { type: "string", default: "2" },
    only: { type: "string" },
    "server-flags": { type: "string", default: "" },
    "server-main": { type: "string" },
    "paced-client": { type: "string", default: "raw" },
    "server-log": { type: "string" },
    "client-flags": { type: "string", default: "" },
    "client-log": { type: "string" },
    // Internal: the role of a watch-client process.
    role: { type: "string" },
    home: { type: "string" },
    path: { type: "string" },
    count: { type: "string" },
    transport: { type: "string" },
  },
});
const WATCHERS = Number(values.watchers);
const RAW = values["watch-client"] !== "api";
const SECONDS = Number(values.seconds);
const PACED_CLIENT = values["paced-client"];
const WATCH_PROCS = Math.max(1, Number(values["watch-procs"]));
const CLIENTS = 50;
const MAIN = values["server-main"] ?? new URL("../sched/main.ts", import.meta.url).pathname;
/** Wall-clock milliseconds, comparable between processes. */
const wall = () => performance.timeOrigin + performance.now();
/** Prefixes each line of a child's output with the wall-clock time it was read at. */
const stamp = (text: string) => {
  const t = wall().toFixed(1);
  return text.replace(/^(?=.)/gm, `${t} `);
};

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

/** CPU time (user + system) a process has used, in ms. */
async function cpuMsOf(pid: number): Promise<number> {
  const [user, system] = await cpuSplitOf(pid);
  return user + system;
}

/** CPU time (all cores, not idle or waiting for I/O) the machine has used, in ms. */
async function machineBusyMs(): Promise<number> {
  const cpu = (await Deno.readTextFile("/proc/stat")).split("\n")[0].trim().split(/\s+/);
  // user nice system idle iowait irq softirq steal: all but idle and iowait, in clock ticks.
  const f = cpu.slice(1, 9).map(Number);
  return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) * 10;
}

/** User and system CPU time a process has used, in ms. */
async function cpuSplitOf(pid: number, thread?: number): Promise<[number, number]> {
  const stat = await Deno.readTextFile(
    thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`,
  );
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second here).
  return [Number(fields[11]) * 10, Number(fields[12]) * 10];
}

async function startServer(
  home: string,
  extra: string[],
): Promise<{ child: Deno.ChildProcess; config: ClientConfig }> {
  await Deno.writeTextFile(`${home}/scheduler.yaml`, "rateLimit: {qps: 0}\nwatchHistory: 20000\n");
  const spawned = wall();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...values["server-flags"].split(/\s+/).filter((f) => f),
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
  const log = values["server-log"]
    ? await Deno.open(values["server-log"], { write: true, create: true, append: true })
    : undefined;
  (async () => {
    const enc = new TextEncoder();
    await log?.write(enc.encode(`${spawned.toFixed(1)} spawned\n${stamp(buf)}`));
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      await log?.write(enc.encode(stamp(value)));
    }
  })().catch(() => {}).finally(() => log?.close());
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

/** What a paced run measured. */
interface Paced {
  /** Latency of each call from its scheduled time to its answer (ms), sorted. */
  lat: number[];
  /** How late each call was issued after its scheduled time (ms), sorted. */
  late: number[];
  /** Calls per second actually issued. */
  achieved: number;
  /** Per call: scheduled time from the start (ms), latency (ms), lateness (ms). */
  timeline: [number, number, number][];
}

/**
 * Issues `rate` calls per second for `seconds`, open loop. Latency runs from
 * each call's scheduled time, so a generator that falls behind counts its
 * own delay against the server (no coordinated omission); how late each call
 * was issued is reported apart.
 */
async function paced(
  rate: number,
  seconds: number,
  op: (i: number) => Promise<void>,
): Promise<Paced> {
  const lat: number[] = [];
  const late: number[] = [];
  const timeline: [number, number, number][] = [];
  const total = rate * seconds;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const lateness = Math.max(0, performance.now() - due);
    late.push(lateness);
    pending.push(
      op(i).then(() => {
        const ms = performance.now() - due;
        lat.push(ms);
        timeline.push([due - start, ms, lateness]);
      }),
    );
  }
  await Promise.all(pending);
  return {
    timeline,
    lat: lat.sort((a, b) => a - b),
    late: late.sort((a, b) => a - b),
    achieved: total / ((performance.now() - start) / 1000),
  };
}

/** One way to send a create: through `ApiClient`, or a bare keep-alive TLS connection. */
interface Creator {
  /** Opens the connection (the TLS handshake) before the measured run. */
  warm(): Promise<void>;
  /** Creates a ConfigMap; throws unless the server answers 201. */
  create(name: string): Promise<void>;
  close(): void;
}

function apiCreator(config: ClientConfig): Creator {
  const client = new ApiClient(config);
  return {
    warm: () => client.list("namespaces", { limit: 1 }).then(() => {}),
    create: (name) => client.create(cm(name)).then(() => {}),
    close: () => client.close(),
  };
}

/**
 * A create over one keep-alive TLS connection with a hand-built HTTP/1.1
 * request and a minimal response reader: the load generator spends little
 * CPU per call, so on 2 shared cores the figure is mostly the server's.
 */
function rawCreator(config: ClientConfig): Creator {
  const server = new URL(config.server);
  const path = "/api/v1/namespaces/default/configmaps";
  const enc = new TextEncoder();
  const dec = new TextDecoder("latin1");
  const buf = new Uint8Array(65536);
  let conn: Deno.TlsConn | undefined;
  const connect = async () => {
    // Presents the admin's client certificate and token, as ApiClient does.
    conn = await Deno.connectTls({
      hostname: server.hostname,
      port: Number(server.port),
      caCerts: [config.certificateAuthority!],
      ...(config.clientCertificate && config.clientKey
        ? { cert: config.clientCertificate, key: config.clientKey }
        : {}),
    });
  };
  const send = async (bytes: Uint8Array): Promise<{ status: number; body: string }> => {
    if (!conn) await connect();
    for (let off = 0; off < bytes.length;) off += await conn!.write(bytes.subarray(off));
    let have = 0;
    let headEnd = -1;
    while (headEnd < 0) {
      const n = await conn!.read(buf.subarray(have));
      if (n === null) throw new Error("the server closed the connection");
      have += n;
      for (let i = Math.max(0, have - n - 3); i + 3 < have; i++) {
        if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) {
          headEnd = i + 4;
          break;
        }
      }
    }
    const head = dec.decode(buf.subarray(0, headEnd));
    const status = Number(head.slice(9, 12));
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    while (have < headEnd + length) {
      const n = await conn!.read(buf.subarray(have));
      if (n === null) throw new Error("the server closed the connection");
      have += n;
    }
    return { status, body: dec.decode(buf.subarray(headEnd, headEnd + length)) };
  };
  const request = (method: string, target: string, body = "") =>
    enc.encode(
      `${method} ${target} HTTP/1.1\r\nHost: ${server.host}\r\nAuthorization: Bearer ${config.token}\r\n` +
        `Accept: application/json\r\nContent-Type: application/json\r\nContent-Length: ${
          enc.encode(body).length
        }\r\n\r\n${body}`,
    );
  return {
    async warm() {
      const r = await send(request("GET", "/api/v1/namespaces?limit=1"));
      if (r.status !== 200) throw new Error(`warm-up: HTTP ${r.status}`);
    },
    async create(name) {
      const r = await send(request("POST", path, JSON.stringify(cm(name))));
      if (r.status !== 201) throw new Error(`create ${name}: HTTP ${r.status}: ${r.body}`);
    },
    close() {
      try {
        conn?.close();
      } catch { /* closed */ }
    },
  };
}

/**
 * Keep-alive connections for a paced run, each call on an idle one (as wrk
 * or hey spread calls over their connections): a call never waits behind
 * another on the same connection; when all are busy a new one is opened, up
 * to twice as many, and then calls wait for one (counted in their latency).
 */
class CreatorPool {
  #idle: Creator[];
  #all: Creator[];
  #waiting: ((c: Creator) => void)[] = [];
  #max: number;
  /** Connections opened because every one was busy. */
  grown = 0;
  /** Calls that waited for a connection (all `max` busy). */
  queued = 0;
  constructor(readonly make: () => Creator, size: number, max = size * 2) {
    this.#all = Array.from({ length: size }, make);
    this.#idle = [...this.#all];
    this.#max = max;
  }
  /** Opens every connection (one TLS handshake each) before the measured run. */
  async warm(): Promise<void> {
    await Promise.all(this.#all.map((c) => c.warm()));
  }
  async create(name: string): Promise<void> {
    let c = this.#idle.pop();
    if (!c && this.#all.length < this.#max) {
      c = this.make();
      this.#all.push(c);
      this.grown++;
    }
    if (!c) {
      this.queued++;
      c = await new Promise<Creator>((r) => this.#waiting.push(r));
    }
    try {
      await c.create(name);
    } finally {
      const next = this.#waiting.shift();
      if (next) next(c);
      else this.#idle.push(c);
    }
  }
  close(): void {
    for (const c of this.#all) c.close();
  }
}

/** The server's /metrics text. */
async function serverMetrics(config: ClientConfig, client: Deno.HttpClient): Promise<string> {
  return await (await fetch(`${config.server}/metrics`, { client })).text();
}

/** Cumulative bucket counts of a histogram whose labels match `filter`. */
function histogramOf(text: string, name: string, filter = /./): Map<number, number> {
  const out = new Map<number, number>();
  const re = new RegExp(`^${name}_bucket\\{([^}]*)\\} (\\d+)`, "gm");
  for (const m of text.matchAll(re)) {
    if (!filter.test(m[1])) continue;
    const le = /le="([^"]+)"/.exec(m[1])![1];
    const b = le === "+Inf" ? Infinity : Number(le);
    out.set(b, (out.get(b) ?? 0) + Number(m[2]));
  }
  return out;
}

/** A counter's value (0 when absent). */
function counterOf(text: string, name: string): number {
  return Number(new RegExp(`^${name}(?:\\{\\})? (\\d+)`, "m").exec(text)?.[1] ?? 0);
}

/** The smallest bucket bound at or under which `p`% of the calls between two snapshots fell. */
function histogramPct(before: Map<number, number>, after: Map<number, number>, p: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  for (const b of bounds) {
    if ((after.get(b)! - (before.get(b) ?? 0)) >= total * p / 100) return b * 1000;
  }
  return Infinity;
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

/**
 * Paced creates on a server: 500/s for 4 s, then 1,000/s for `SECONDS` s
 * (at least 5), over warmed keep-alive connections; rows for the client's
 * latency (from the scheduled time), how late the generator issued, the
 * server's own histogram and CPU.
 */
async function pacedRuns(
  config: ClientConfig,
  pid: number,
): Promise<{ p500: Paced; p: Paced }> {
  const make = PACED_CLIENT === "api" ? () => apiCreator(config) : () => rawCreator(config);
  const pool = new CreatorPool(make, CLIENTS);
  const metricsClient = Deno.createHttpClient({ caCerts: [config.certificateAuthority!] });
  try {
    await pool.warm();
    const one = async (rate: number, seconds: number, tag: string) => {
      const m0 = await serverMetrics(config, metricsClient);
      const [u0, s0] = await cpuSplitOf(pid);
      // The event loop's own thread (its id is the process id).
      const [lu0, ls0] = await cpuSplitOf(pid, pid);
      const c0 = await cpuMsOf(Deno.pid);
      const load = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
      const r = await paced(
        rate,
        seconds,
        (i) => pool.create(`${tag}-${i}`),
      );
      const c1 = await cpuMsOf(Deno.pid);
      const [u1, s1] = await cpuSplitOf(pid);
      const [lu1, ls1] = await cpuSplitOf(pid, pid);
      const m1 = await serverMetrics(config, metricsClient);
      const hp = (name: string, p: number, filter?: RegExp) =>
        histogramPct(histogramOf(m0, name, filter), histogramOf(m1, name, filter), p);
      const commits = counterOf(m1, "apiserver_storage_commits_total") -
        counterOf(m0, "apiserver_storage_commits_total");
      const writes = counterOf(m1, "apiserver_storage_commit_writes_total") -
        counterOf(m0, "apiserver_storage_commit_writes_total");
      row(
        `mutating p99 at ${rate} writes/s, SQLite`,
        `${round(pct(r.lat, 99))} ms`,
        `p50 ${round(pct(r.lat, 50))} ms, p99.9 ${round(pct(r.lat, 99.9))} ms, max ${
          round(r.lat[r.lat.length - 1])
        } ms, achieved ${round(r.achieved, 0)}/s; ${PACED_CLIENT} client; load ${load}`,
      );
      const create = /verb="create",resource="configmaps"/;
      console.error(
        `    generator: issued late p99 ${round(pct(r.late, 99))} ms, max ${
          round(r.late[r.late.length - 1])
        } ms, CPU ${round((c1 - c0) / seconds / 10)}% of a core\n` +
          `    server: create p50/p99 <= ${hp("apiserver_request_duration_seconds", 50, create)}/${
            hp("apiserver_request_duration_seconds", 99, create)
          } ms (bucket bounds; headers parsed to answer written, all requests: p99 <= ${
            hp("apiserver_http_answer_duration_seconds", 99)
          } ms, max <= ${hp("apiserver_http_answer_duration_seconds", 100)} ms), CPU ${
            round((u1 - u0 + s1 - s0) / seconds / 10)
          }% of a core (user ${round((u1 - u0) / seconds / 10)}%), of it the event-loop thread ${
            round((lu1 - lu0 + ls1 - ls0) / seconds / 10)
          }% (${round((lu1 - lu0 + ls1 - ls0) * 1000 / (seconds * rate))} µs per create)\n` +
          `    store: ${commits} commits, ${
            round(writes / Math.max(1, commits))
          } writes each; commit p50/p99 <= ${hp("apiserver_storage_commit_duration_seconds", 50)}/${
            hp("apiserver_storage_commit_duration_seconds", 99)
          } ms, queued to acknowledged p99 <= ${
            hp("apiserver_storage_write_duration_seconds", 99)
          } ms; event loop lag p99 <= ${hp("apiserver_event_loop_lag_seconds", 99)} ms, max <= ${
            hp("apiserver_event_loop_lag_seconds", 100)
          } ms`,
      );
      // Where the slowest calls were: the worst 100 ms windows by their slowest call.
      const windows = new Map<number, { n: number; max: number; late: number }>();
      for (const [due, ms, late] of r.timeline) {
        const w = Math.floor(due / 100);
        const x = windows.get(w) ?? { n: 0, max: 0, late: 0 };
        x.n++;
        x.max = Math.max(x.max, ms);
        x.late = Math.max(x.late, late);
        windows.set(w, x);
      }
      const worst = [...windows.entries()].sort((a, b) => b[1].max - a[1].max).slice(0, 3);
      console.error(
        `    worst 100 ms windows: ${
          worst.map(([w, x]) =>
            `at ${w / 10} s: ${x.n} calls, slowest ${round(x.max)} ms, issued up to ${
              round(x.late)
            } ms late`
          ).join("; ")
        }`,
      );
      return r;
    };
    // Warm-up, not measured: the server's and the generator's code gets
    // compiled (the first second after start runs slower on a busy machine).
    await paced(250, 1, (i) => pool.create(`warm-${i}`));
    await paced(500, 1, (i) => pool.create(`warm5-${i}`));
    const p500 = await one(500, 4, "paced5");
    const p = await one(1000, Math.max(5, SECONDS), "paced");
    console.error(
      `  paced runs: ${pool.grown} connections opened beyond the ${CLIENTS} warmed, ${pool.queued} calls waited for one`,
    );
    return { p500, p };
  } finally {
    pool.close();
    metricsClient.close();
  }
}

/** `deno run` of this benchmark in another role, with extra `deno run` flags. */
function roleArgv(flags: string, role: string): string[] {
  return [
    "run",
    "-A",
    ...flags.split(/\s+/).filter((f) => f),
    new URL(import.meta.url).pathname,
    "--role",
    role,
  ];
}

// ---------------------------------------------------------------- watch clients

/** Bytes kept from one read before the next, more than a `"name":"fan-N"` marker's length. */
const CARRY = 32;
const MARKER = new TextEncoder().encode('"name":"fan');

/**
 * Finds `"name":"fan-<digits>"` in `buf[0, end)` by bytes, without decoding
 * the read into a string, and calls `seen` with each number whose closing
 * quote lies past the first `CARRY` bytes (those came with the read before,
 * where a complete name was already counted). Searches for the `-` (a few per
 * event) and checks the bytes around it; `buf[end]` is overwritten with a
 * `-` that ends the search.
 */
function scanNames(
  buf: Uint8Array,
  end: number,
  now: number,
  seen: (i: number, now: number) => void,
): void {
  buf[end] = 0x2d;
  let dash = buf.indexOf(0x2d, MARKER.length);
  while (dash < end) {
    let match = true;
    for (let k = 0; k < MARKER.length; k++) {
      if (buf[dash - MARKER.length + k] !== MARKER[k]) {
        match = false;
        break;
      }
    }
    if (match) {
      let j = dash + 1;
      let i = 0;
      while (j < end && buf[j] >= 0x30 && buf[j] <= 0x39) i = i * 10 + buf[j++] - 0x30;
      if (j < end && j > dash + 1 && buf[j] === 0x22 && j >= CARRY) seen(i, now);
    }
    dash = buf.indexOf(0x2d, dash + 1);
  }
}

/**
 * A watch-client process (`--role watchers`): opens `--count` watches of
 * `--path`, reports on stdout how many are established, and for each event
 * name the time its last watcher got it; on "report" from stdin prints
 * every arrival time, on "stop" (or end of stdin) closes and exits.
 */
async function watcherProcess(): Promise<void> {
  const config = await loadClientConfig({ env: { TSK_HOME: values.home! } });
  const server = new URL(config.server);
  const count = Number(values.count);
  const path = values.path!;
  const out = (v: unknown) => console.log(JSON.stringify(v));
  const arrivals = new Map<number, number[]>();
  let established = 0;
  let failed = 0;
  const stop = new AbortController();
  const seen = (i: number, now: number) => {
    let a = arrivals.get(i);
    if (!a) arrivals.set(i, a = []);
    a.push(now);
    if (a.length === established) out({ name: `fan-${i}`, n: a.length, last: now });
  };
  const request = new TextEncoder().encode(
    `GET ${path} HTTP/1.1\r\nHost: ${server.host}\r\nAuthorization: Bearer ${config.token}\r\n\r\n`,
  );
  // A bare TLS connection per watcher that only scans the bytes for event
  // names: the client does as little as possible, so the figure is mostly the
  // server's. Each read lands after the last CARRY bytes of the one before, so
  // a name split between two reads is still found (and counted once).
  const raw = async () => {
    let conn: Deno.TlsConn | undefined;
    let counted = false;
    const onStop = () => {
      try {
        conn?.close();
      } catch { /* closed */ }
    };
    stop.signal.addEventListener("abort", onStop, { once: true });
    try {
      conn = await Deno.connectTls({
        hostname: server.hostname,
        port: Number(server.port),
        caCerts: [config.certificateAuthority!],
      });
      await conn.write(request);
      // One byte past the read for scanNames' sentinel.
      const buf = new Uint8Array(CARRY + 16384 + 1);
      const into = buf.subarray(CARRY, CARRY + 16384);
      while (true) {
        const n = await conn.read(into);
        if (n === null) break;
        const now = wall();
        if (!counted) {
          const head = new TextDecoder().decode(into.subarray(0, Math.min(n, 64)));
          if (!head.startsWith("HTTP/1.1 200")) throw new Error(head.split("\r\n")[0]);
          counted = true;
          established++;
        }
        scanNames(buf, CARRY + n, now, seen);
        buf.copyWithin(0, n, n + CARRY);
      }
      return true;
    } catch (err) {
      if (!stop.signal.aborted && failed < 5) console.error(`watcher: ${err}`);
      return stop.signal.aborted;
    } finally {
      if (counted) established--;
      stop.signal.removeEventListener("abort", onStop);
      onStop();
    }
  };
  const api = async () => {
    const client = new ApiClient(config);
    let counted = false;
    try {
      for await (
        const ev of client.watch("leases", {
          namespace: "default",
          resourceVersion: new URL(path, server).searchParams.get("resourceVersion") ?? undefined,
          signal: stop.signal,
        })
      ) {
        if (!counted) {
          counted = true;
          established++;
        }
        const i = /^fan-(\d+)$/.exec(ev.object.metadata.name!)?.[1];
        if (i !== undefined) seen(Number(i), wall());
      }
      return true;
    } catch (err) {
      if (!stop.signal.aborted && failed < 5) console.error(`watcher: ${err}`);
      return stop.signal.aborted;
    } finally {
      if (counted) established--;
      client.close();
    }
  };
  const run = async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await (RAW ? raw() : api())) return;
      if (stop.signal.aborted) return;
    }
    failed++;
  };
  // Open the watches in batches, as many clients reconnecting after a restart would.
  const all: Promise<void>[] = [];
  let last = -1;
  const progress = setInterval(() => {
    if (established !== last) out({ established: last = established, failed });
  }, 100);
  (async () => {
    for (let i = 0; i < count; i += 250) {
      for (let j = i; j < Math.min(count, i + 250); j++) all.push(run());
      const until = performance.now() + 10_000;
      while (established + failed < Math.min(count, i + 250) && performance.now() < until) {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  })();
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let buf = "";
  for await (const chunk of lines) {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const cmd = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (cmd === "report") {
        out({ report: Object.fromEntries([...arrivals].map(([i, a]) => [`fan-${i}`, a])) });
      }
      if (cmd === "stop") stop.abort();
    }
    if (stop.signal.aborted) break;
  }
  stop.abort();
  clearInterval(progress);
  await Promise.race([Promise.all(all), new Promise((r) => setTimeout(r, 10_000))]);
}

interface FanOut {
  established: number;
  toLast: number[];
  perWatcher: number[];
  withWatchersRss: number;
  serverCpuPerWrite: number;
}

/**
 * Opens `WATCHERS` watches from `WATCH_PROCS` client processes, writes 20
 * Leases one after another, and measures for each the time from just before
 * the create call to each watcher's read of it.
 */
async function watchFanOut(config: ClientConfig, home: string, pid: number): Promise<FanOut> {
  console.error(`apiserver bench: opening ${WATCHERS} watchers in ${WATCH_PROCS} processes`);
  const ns = "default";
  const writer = new ApiClient(config);
  const rv = (await writer.list("leases", { namespace: ns })).metadata.resourceVersion!;
  const watchPath =
    `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases?watch=1&resourceVersion=${rv}`;
  const clientLog = values["client-log"]
    ? await Deno.open(values["client-log"], { write: true, create: true, append: true })
    : undefined;
  const procs = Array.from({ length: WATCH_PROCS }, (_, i) => {
    const count = Math.floor(WATCHERS / WATCH_PROCS) + (i < WATCHERS % WATCH_PROCS ? 1 : 0);
    clientLog?.write(new TextEncoder().encode(`${wall().toFixed(1)} [${i}] spawned\n`));
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        ...roleArgv(values["client-flags"], "watchers"),
        "--home",
        home,
        "--path",
        watchPath,
        "--count",
        String(count),
        "--watch-client",
        RAW ? "raw" : "api",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const state = {
      child,
      count,
      established: 0,
      lasts: new Map<string, number>(),
      report: undefined as Record<string, number[]> | undefined,
      stdin: child.stdin.getWriter(),
    };
    (async () => {
      let buf = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          // Anything else the process prints (V8's lines with
          // --client-flags=--v8-flags=--trace-gc, which may share a line with
          // ours) goes to --client-log.
          const at = line.indexOf('{"');
          if (at !== 0) {
            const other = at < 0 ? line : line.slice(0, at);
            await clientLog?.write(
              new TextEncoder().encode(`${wall().toFixed(1)} [${i}] ${other}\n`),
            );
            if (at < 0) continue;
          }
          const msg = JSON.parse(line.slice(at));
          if (typeof msg.established === "number") state.established = msg.established;
          if (typeof msg.name === "string" && msg.n >= state.established) {
            state.lasts.set(msg.name, msg.last);
          }
          if (msg.report) state.report = msg.report;
        }
      }
    })().catch(() => {});
    return state;
  });
  const send = (cmd: string) =>
    Promise.all(procs.map((p) => p.stdin.write(new TextEncoder().encode(`${cmd}\n`))));
  const metricsClient = Deno.createHttpClient({ caCerts: [config.certificateAuthority!] });
  try {
    const serverWatchers = async () => {
      const text = await (await fetch(`${config.server}/metrics`, { client: metricsClient }))
        .text();
      return Number(/^apiserver_watchers (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const openStart = performance.now();
    let settled = 0;
    let prev = -1;
    while (performance.now() - openStart < 300_000) {
      await new Promise((r) => setTimeout(r, 200));
      const clients = procs.reduce((n, p) => n + p.established, 0);
      const onServer = await serverWatchers();
      if (clients >= WATCHERS && onServer >= WATCHERS) break;
      // Stop waiting when nothing has moved for 10 s.
      settled = clients === prev ? settled + 1 : 0;
      prev = clients;
      if (settled > 50) break;
    }
    const established = procs.reduce((n, p) => n + p.established, 0);
    row(
      "watchers established",
      `${established}`,
      `in ${round((performance.now() - openStart) / 1000)} s, ${WATCH_PROCS} client processes`,
    );
    const withWatchersRss = await rssOf(pid);
    // What the open watches cost with nothing to send.
    const idle0 = await cpuMsOf(pid);
    await new Promise((r) => setTimeout(r, 3000));
    console.error(
      `  server CPU with ${established} idle watchers: ${
        round(((await cpuMsOf(pid)) - idle0) / 3000 * 100)
      }% of a core`,
    );
    const writes = 20;
    const cpuBefore = await cpuMsOf(pid);
    const splitBefore = await cpuSplitOf(pid);
    const clientsBefore = await Promise.all(procs.map((p) => cpuMsOf(p.child.pid)));
    let cpuDuring = 0;
    const starts = new Map<string, number>();
    const toLast: number[] = [];
    for (let i = 0; i < writes; i++) {
      const name = `fan-${i}`;
      const t0 = wall();
      starts.set(name, t0);
      const cpu0 = await cpuMsOf(pid);
      const clients0 = await Promise.all(procs.map((p) => cpuMsOf(p.child.pid)));
      const machine0 = await machineBusyMs();
      await writer.create({
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace: ns },
        spec: { holderIdentity: "bench" },
      });
      let lasts: number[] = [NaN];
      const deadline = performance.now() + 30_000;
      while (procs.some((p) => !p.lasts.has(name)) && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 5));
      }
      if (procs.some((p) => !p.lasts.has(name))) {
        console.error(`write ${i}: not every watcher got it within 30 s`);
      } else {
        lasts = procs.map((p) => p.lasts.get(name)! - t0);
        toLast.push(Math.max(...lasts));
      }
      const cpu = (await cpuMsOf(pid)) - cpu0;
      const clients = (await Promise.all(procs.map((p) => cpuMsOf(p.child.pid))))
        .reduce((n, c, k) => n + c - clients0[k], 0);
      // Everything else the machine ran meanwhile (other jobs, the benchmark process, the kernel).
      const others = (await machineBusyMs()) - machine0 - cpu - clients;
      cpuDuring += cpu;
      console.error(
        `  write ${i} at ${t0.toFixed(1)}: last watcher ${
          round(Math.max(...lasts))
        } ms (per process ${
          lasts.map((l) => round(l)).join(" / ")
        }); CPU: server ${cpu}, watch clients ${clients}, all else ${round(others)} ms`,
      );
      await new Promise((r) => setTimeout(r, 200));
    }
    const serverCpuPerWrite = cpuDuring / writes;
    const splitAfter = await cpuSplitOf(pid);
    const clientsAfter = await Promise.all(procs.map((p) => cpuMsOf(p.child.pid)));
    const clientCpu = clientsAfter.reduce((n, c, i) => n + c - clientsBefore[i], 0);
    console.error(
      `  server CPU: ${round(serverCpuPerWrite)} ms per write fanned out (${
        round(((await cpuMsOf(pid)) - cpuBefore) / writes)
      } ms per write with the pauses between writes: user ${
        round((splitAfter[0] - splitBefore[0]) / writes)
      }, system ${round((splitAfter[1] - splitBefore[1]) / writes)}); watch clients: ${
        round(clientCpu / writes)
      } ms per write`,
    );
    await send("report");
    const reportBy = performance.now() + 30_000;
    while (procs.some((p) => !p.report) && performance.now() < reportBy) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const perWatcher: number[] = [];
    for (const p of procs) {
      for (const [name, times] of Object.entries(p.report ?? {})) {
        const t0 = starts.get(name);
        if (t0 !== undefined) { for (const t of times) perWatcher.push(t - t0); }
      }
    }
    return { established, toLast, perWatcher, withWatchersRss, serverCpuPerWrite };
  } finally {
    await send("stop").catch(() => {});
    for (const p of procs) await p.stdin.close().catch(() => {});
    const killBy = setTimeout(() => procs.forEach((p) => p.child.kill("SIGKILL")), 20_000);
    await Promise.all(procs.map((p) => p.child.status));
    clearTimeout(killBy);
    writer.close();
    metricsClient.close();
    clientLog?.close();
  }
}

function fanOutRows(fan: FanOut, idleRss: number, fanRss: number): void {
  fan.toLast.sort((a, b) => a - b);
  fan.perWatcher.sort((a, b) => a - b);
  row(
    `write → last of ${fan.established} watchers`,
    `p50 ${round(pct(fan.toLast, 50))} ms`,
    `p99 ${round(pct(fan.toLast, 99))} ms, max ${round(Math.max(...fan.toLast))} ms`,
  );
  row(
    "API server CPU per write fanned out",
    `${round(fan.serverCpuPerWrite)} ms`,
    "user + system, from the create call to the last watcher's read",
  );
  row(
    "write → each watcher",
    `p50 ${round(pct(fan.perWatcher, 50))} ms`,
    `p99 ${round(pct(fan.perWatcher, 99))} ms`,
  );
  row(
    "API server RSS idle / with watchers",
    `${round(idleRss / 2 ** 20)} MiB`,
    `${round(fanRss / 2 ** 20)} MiB`,
  );
}

function printTable(): void {
  const w = [
    Math.max(...table.map((r) => r[0].length)),
    Math.max(...table.map((r) => r[1].length)),
  ];
  console.log(`\n${"measure".padEnd(w[0])}  ${"value".padEnd(w[1])}  detail`);
  for (const r of table) console.log(`${r[0].padEnd(w[0])}  ${r[1].padEnd(w[1])}  ${r[2]}`);
  console.log();
  for (const r of results) console.log(JSON.stringify({ bench: "apiserver", ...r }));
}

function fanOutMetrics(fan: FanOut, idleRss: number, fanRss: number): Metric[] {
  const m = (metric: string, unit: string, tsk: number): Metric => ({
    metric,
    unit,
    tsk,
    peer: null,
    "peer_value": null,
    ratio: null,
  });
  return [
    m(`watch_fanout_${fan.established}_last_watcher_p50`, "ms", round(pct(fan.toLast, 50))),
    m(`watch_fanout_${fan.established}_last_watcher_p99`, "ms", round(pct(fan.toLast, 99))),
    m(`watch_fanout_${fan.established}_each_watcher_p99`, "ms", round(pct(fan.perWatcher, 99))),
    m(`watch_fanout_${fan.established}_server_cpu_per_write`, "ms", round(fan.serverCpuPerWrite)),
    m("apiserver_rss_idle", "MiB", round(idleRss / 2 ** 20)),
    m(`apiserver_rss_${fan.established}_watchers`, "MiB", round(fanRss / 2 ** 20)),
  ];
}

/**
 * The floor under the fan-out (`--role floor-server`): a bare server on
 * `--transport node-tls` (`node:tls`, as `serveHttps`), `node-net` (plain
 * TCP through `node:net`) or `deno-tls` (`Deno.listenTls`) that, once
 * `--count` clients are connected, writes one 600-byte chunk to every
 * socket per round (20 rounds, 200 ms apart) and reports its own CPU per
 * round: what one write per watcher costs with no API server around it.
 */
async function floorServer(): Promise<void> {
  const count = Number(values.count);
  const transport = values.transport!;
  const out = (v: unknown) => console.log(JSON.stringify(v));
  const certPem = Deno.env.get("FLOOR_CERT")!;
  const keyPem = Deno.env.get("FLOOR_KEY")!;
  const chunk = new TextEncoder().encode(`258\r\n${"x".repeat(0x257)}\n\r\n`);
  type Sink = { write(): void; pending(): boolean };
  const sinks: Sink[] = [];
  let port = 0;
  if (transport === "deno-tls") {
    const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: certPem, key: keyPem });
    port = (listener.addr as Deno.NetAddr).port;
    (async () => {
      for await (const conn of listener) {
        let inFlight = 0;
        sinks.push({
          write() {
            inFlight++;
            conn.write(chunk).then(() => inFlight--, () => inFlight--);
          },
          pending: () => inFlight > 0,
        });
      }
    })();
  } else {
    const tls = await import("node:tls");
    const net = await import("node:net");
    const onSocket = (socket: import("node:net").Socket) => {
      socket.setNoDelay(true);
      socket.on("error", () => {});
      sinks.push({ write: () => socket.write(chunk), pending: () => socket.writableLength > 0 });
    };
    const server = transport === "node-tls"
      ? tls.createServer({ cert: certPem, key: keyPem }, onSocket)
      : net.createServer(onSocket);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    port = (server.address() as { port: number }).port;
  }
  out({ port });
  while (sinks.length < count) await new Promise((r) => setTimeout(r, 100));
  const user: number[] = [];
  const system: number[] = [];
  const took: number[] = [];
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (const s of sinks) s.write();
    while (sinks.some((s) => s.pending())) await new Promise((r) => setTimeout(r, 1));
    const c = process.cpuUsage(c0);
    took.push(performance.now() - t0);
    user.push(c.user / 1000);
    system.push(c.system / 1000);
  }
  const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1];
  out({ user: med(user), system: med(system), took: med(took) });
}

/**
 * Runs the floor servers one after another against `WATCHERS` bare client
 * connections in this process, and prints their CPU per round of writes.
 */
async function floorRuns(): Promise<void> {
  const { CertificateAuthority } = await import("@tsk/mesh");
  const ca = await CertificateAuthority.create({ commonName: "tsk-bench-floor" });
  const pair = await ca.issue("127.0.0.1", { ipAddresses: ["127.0.0.1"], usage: "server" });
  const transports = ["node-tls", "node-net", "deno-tls"];
  for (const transport of transports) {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        ...roleArgv(values["server-flags"], "floor-server"),
        "--transport",
        transport,
        "--count",
        String(WATCHERS),
      ],
      env: { FLOOR_CERT: pair.certPem, FLOOR_KEY: pair.keyPem },
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    const next = async (): Promise<Record<string, number>> => {
      while (!buf.includes("\n")) {
        const { value, done } = await lines.read();
        if (done) throw new Error(`floor-server ${transport}: exited early`);
        buf += value;
      }
      const nl = buf.indexOf("\n");
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      return JSON.parse(line);
    };
    const { port } = await next();
    const conns: Deno.Conn[] = [];
    const drain = async (conn: Deno.Conn) => {
      const b = new Uint8Array(65536);
      try {
        while (await conn.read(b) !== null) { /* discard */ }
      } catch { /* closed */ }
    };
    for (let i = 0; i < WATCHERS; i += 250) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(250, WATCHERS - i) }, async () => {
          const conn = transport === "node-net"
            ? await Deno.connect({ hostname: "127.0.0.1", port })
            : await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca.certPem] });
          if ("handshake" in conn) await conn.handshake();
          return conn;
        }),
      );
      for (const c of batch) {
        conns.push(c);
        drain(c);
      }
    }
    const r = await next();
    const per = (ms: number) => round((ms * 1000) / WATCHERS);
    console.error(
      `  floor ${transport}: ${round(r.user + r.system)} ms CPU per round of ${WATCHERS} writes ` +
        `(user ${round(r.user)}, system ${round(r.system)}; ${
          per(r.user + r.system)
        } µs per write, ` +
        `user ${per(r.user)}); round took ${round(r.took)} ms`,
    );
    results.push({
      metric: `floor_${transport.replace("-", "_")}_cpu_per_write`,
      unit: "us",
      tsk: per(r.user + r.system),
      peer: null,
      "peer_value": null,
      ratio: null,
    });
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await child.status;
  }
}

if (values.role === "floor-server") {
  await floorServer();
  Deno.exit(0);
}

if (values.only === "floor") {
  await floorRuns();
  for (const r of results) console.log(JSON.stringify({ bench: "apiserver", ...r }));
  Deno.exit(0);
}

if (values.role === "watchers") {
  await watcherProcess();
  Deno.exit(0);
}

if (values.only === "paced") {
  const home = await Deno.makeTempDir({ prefix: "tsk-bench-api-" });
  try {
    const server = await startServer(home, []);
    try {
      const { p500, p } = await pacedRuns(server.config, server.child.pid);
      const m = (metric: string, tsk: number): Metric => ({
        metric,
        unit: "ms",
        tsk,
        peer: null,
        "peer_value": null,
        ratio: null,
      });
      results.push(
        m("create_p99_at_500_per_s_sqlite", round(pct(p500.lat, 99))),
        m("create_p99_at_1000_per_s_sqlite", round(pct(p.lat, 99))),
      );
    } finally {
      await stopServer(server.child);
    }
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
  printTable();
  Deno.exit(0);
}

if (values.only === "watch") {
  const home = await Deno.makeTempDir({ prefix: "tsk-bench-api-" });
  try {
    const server = await startServer(home, []);
    try {
      const idleRss = await rssOf(server.child.pid);
      const fan = await watchFanOut(server.config, home, server.child.pid);
      const fanRss = Math.max(fan.withWatchersRss, await rssOf(server.child.pid));
      fanOutRows(fan, idleRss, fanRss);
      results.push(...fanOutMetrics(fan, idleRss, fanRss));
    } finally {
      await stopServer(server.child);
    }
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
  printTable();
  Deno.exit(0);
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

  const { p500, p } = await pacedRuns(sqlite.config, sqlite.child.pid);

  // ---------------------------------------------------------------- watch fan-out
  const fan = await watchFanOut(sqlite.config, homeA, sqlite.child.pid);
  const fanRss = Math.max(fan.withWatchersRss, await rssOf(sqlite.child.pid));
  fanOutRows(fan, idleRss, fanRss);
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
    ...fanOutMetrics(fan, idleRss, fanRss),
  );
} finally {
  await etcd.stop();
  await Deno.remove(homeA, { recursive: true }).catch(() => {});
  await Deno.remove(homeB, { recursive: true }).catch(() => {});
}

printTable();
