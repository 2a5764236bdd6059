/**
 * `deno task bench registry`: tsk's registry beside the distribution
 * registry (Debian's docker-registry), in one run on loopback:
 *
 * - blob push and pull throughput (MB/s) of 100 MB blobs, with curl as the
 *   client for both (monolithic upload: POST, then PUT ?digest= with the body);
 * - the CPU time (user + system, from `/proc/<pid>/stat`) each server spends
 *   per GB pulled, which the noise of a shared machine distorts less than
 *   wall-clock throughput;
 * - manifest GET requests per second with 50 concurrent clients (hey).
 *
 * Flags: --size MB (default 100), --rounds N (default 7), --seconds S for hey (default 5).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { parseArgs } from "node:util";

const flags = parseArgs({
  args: Deno.args,
  options: { size: { type: "string" }, rounds: { type: "string" }, seconds: { type: "string" } },
}).values;
const SIZE = Number(flags.size ?? 100) * 1024 * 1024;
const ROUNDS = Number(flags.rounds ?? 7);
const SECONDS = Number(flags.seconds ?? 5);

interface Server {
  name: string;
  url: string;
  pid: number;
  stop: () => Promise<void>;
}

async function need(cmd: string): Promise<void> {
  const r = await new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
    .output();
  if (!r.success) {
    throw new Error(
      `bench registry: ${cmd} is not installed: apt-get install ${
        cmd === "docker-registry" ? "docker-registry" : cmd
      }`,
    );
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitUp(url: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${url}/v2/`);
      await r.body?.cancel();
      if (r.status === 200) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`bench registry: ${url} did not come up`);
}

async function spawnServer(
  name: string,
  cmd: string,
  args: string[],
  port: number,
): Promise<Server> {
  const child = new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).spawn();
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url);
  return {
    name,
    url,
    pid: child.pid,
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

async function startTsk(dir: string): Promise<Server> {
  const port = freePort();
  const main = new URL("../registry/main.ts", import.meta.url).pathname;
  return await spawnServer("tsk", Deno.execPath(), [
    "run",
    "-A",
    main,
    "--port",
    String(port),
    "--data",
    join(dir, "tsk"),
    "--gc-interval",
    "0",
  ], port);
}

async function startDistribution(dir: string): Promise<Server> {
  const port = freePort();
  const cfg = join(dir, "distribution.yml");
  await Deno.writeTextFile(
    cfg,
    `version: 0.1
log:
  level: info
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: ${join(dir, "distribution")}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
`,
  );
  return await spawnServer("distribution", "docker-registry", ["serve", cfg], port);
}

async function curl(args: string[]): Promise<string> {
  const r = await new Deno.Command("curl", {
    args: ["-sS", "--fail", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(`curl ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  return new TextDecoder().decode(r.stdout);
}

/** Pushes a blob file; returns seconds. */
async function pushBlob(s: Server, repo: string, file: string, digest: string): Promise<number> {
  const t0 = performance.now();
  const headers = await curl([
    "-D",
    "-",
    "-o",
    "/dev/null",
    "-X",
    "POST",
    `${s.url}/v2/${repo}/blobs/uploads/`,
  ]);
  const loc = /^location: (.+)$/im.exec(headers)![1].trim();
  const abs = loc.startsWith("http") ? loc : `${s.url}${loc}`;
  const put = `${abs}${abs.includes("?") ? "&" : "?"}digest=${digest}`;
  await curl([
    "-o",
    "/dev/null",
    "-X",
    "PUT",
    "-H",
    "Content-Type: application/octet-stream",
    "-T",
    file,
    put,
  ]);
  return (performance.now() - t0) / 1000;
}

/** CPU seconds (user + system, all threads) a process has used so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the parenthesised command name: utime is the 12th, stime the 13th.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ
}

/** Pulls a blob; returns seconds, as curl times the transfer (not its own start-up). */
async function pullBlob(s: Server, repo: string, digest: string): Promise<number> {
  const out = await curl([
    "-o",
    "/dev/null",
    "-w",
    "%{time_total}",
    `${s.url}/v2/${repo}/blobs/${digest}`,
  ]);
  return Number(out.trim());
}

function sha256(data: Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

async function pushSmallImage(s: Server, repo: string): Promise<void> {
  const enc = new TextEncoder();
  const config = enc.encode(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [] },
    }),
  );
  const layer = enc.encode("tiny layer for the manifest benchmark");
  for (const b of [config, layer]) {
    const post = await fetch(`${s.url}/v2/${repo}/blobs/uploads/`, { method: "POST" });
    await post.body?.cancel();
    const loc = new URL(post.headers.get("Location")!, s.url);
    loc.searchParams.set("digest", sha256(b));
    const r = await fetch(loc, { method: "PUT", body: b });
    if (r.status !== 201) {
      throw new Error(`${s.name}: blob push answered ${r.status}: ${await r.text()}`);
    }
    await r.body?.cancel();
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: sha256(config),
      size: config.byteLength,
    },
    layers: [{
      mediaType: "application/vnd.oci.image.layer.v1.tar",
      digest: sha256(layer),
      size: layer.byteLength,
    }],
  });
  const r = await fetch(`${s.url}/v2/${repo}/manifests/v1`, {
    method: "PUT",
    body: manifest,
    headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json" },
  });
  if (r.status !== 201) {
    throw new Error(`${s.name}: manifest push answered ${r.status}: ${await r.text()}`);
  }
  await r.body?.cancel();
}

async function hey(url: string, seconds: number): Promise<number> {
  const r = await new Deno.Command("hey", {
    args: [
      "-z",
      `${seconds}s`,
      "-c",
      "50",
      "-H",
      "Accept: application/vnd.oci.image.manifest.v1+json",
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(r.stdout);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!r.success || !m) throw new Error(`hey failed: ${out}${new TextDecoder().decode(r.stderr)}`);
  const codes = /Status code distribution:\s*\n((?:\s+\[\d+\].*\n?)+)/.exec(out)?.[1] ?? "";
  if (!/\[200\]/.test(codes) || /\[(?!200)\d+\]/.test(codes)) {
    throw new Error(`hey: non-200 answers: ${codes}`);
  }
  return Number(m[1]);
}

for (const cmd of ["docker-registry", "curl", "hey"]) await need(cmd);
const dir = await Deno.makeTempDir({ prefix: "tsk-bench-registry-" });
const results: Record<string, Record<string, number>> = { tsk: {}, distribution: {} };
try {
  // Distinct blobs per round, written once to a file that curl streams.
  const files: { path: string; digest: string }[] = [];
  const block = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i += 65536) {
    crypto.getRandomValues(block.subarray(i, Math.min(SIZE, i + 65536)));
  }
  for (let r = 0; r < ROUNDS; r++) {
    block[0] = r;
    const path = join(dir, `blob${r}`);
    await Deno.writeFile(path, block);
    files.push({ path, digest: sha256(block) });
  }
  const servers = [await startTsk(dir), await startDistribution(dir)];
  try {
    for (const s of servers) await pushSmallImage(s, "bench/img");
    const push: Record<string, number[]> = { tsk: [], distribution: [] };
    const pull: Record<string, number[]> = { tsk: [], distribution: [] };
    const pullCpu: Record<string, number> = { tsk: 0, distribution: 0 };
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate who goes first so neither always meets a warm page cache.
      const order = r % 2 === 0 ? servers : [...servers].reverse();
      for (const s of order) {
        push[s.name].push(
          SIZE / 1e6 / await pushBlob(s, "bench/blob", files[r].path, files[r].digest),
        );
      }
      for (const s of order) {
        const cpu0 = await cpuSeconds(s.pid);
        pull[s.name].push(SIZE / 1e6 / await pullBlob(s, "bench/blob", files[r].digest));
        pullCpu[s.name] += await cpuSeconds(s.pid) - cpu0;
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    for (const s of servers) {
      results[s.name].push = median(push[s.name]);
      results[s.name].pull = median(pull[s.name]);
      results[s.name].pullCpu = (pullCpu[s.name] * 1000) / (ROUNDS * SIZE / 1e9);
      const inOrder = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(" ");
      console.log(`${s.name} pushes (MB/s, in order): ${inOrder(push[s.name])}`);
      console.log(`${s.name} pulls (MB/s, in order): ${inOrder(pull[s.name])}`);
    }
    for (const s of servers) await hey(`${s.url}/v2/bench/img/manifests/v1`, 1); // warm-up
    for (const s of servers) {
      results[s.name].rps = await hey(`${s.url}/v2/bench/img/manifests/v1`, SECONDS);
    }
  } finally {
    for (const s of servers) await s.stop();
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

const metrics = [
  { key: "push", metric: `blob_push_${SIZE / 1024 / 1024}mb`, unit: "MB/s" },
  { key: "pull", metric: `blob_pull_${SIZE / 1024 / 1024}mb`, unit: "MB/s" },
  { key: "pullCpu", metric: "blob_pull_cpu", unit: "ms/GB", lowerIsBetter: true },
  { key: "rps", metric: "manifest_get_50_clients", unit: "req/s" },
];
console.log(`\nregistry benchmark (${ROUNDS} rounds, median; hey ${SECONDS}s, 50 clients)`);
console.log(
  `${"metric".padEnd(28)} ${"tsk".padStart(10)} ${"distribution".padStart(13)} ${
    "ratio".padStart(7)
  }`,
);
const lines = [];
for (const m of metrics) {
  const t = results.tsk[m.key], p = results.distribution[m.key];
  const ratio = Math.round((m.lowerIsBetter ? p / t : t / p) * 100) / 100;
  console.log(
    `${`${m.metric} (${m.unit})`.padEnd(28)} ${t.toFixed(1).padStart(10)} ${
      p.toFixed(1).padStart(13)
    } ${ratio.toFixed(2).padStart(7)}`,
  );
  lines.push(JSON.stringify({
    bench: "registry",
    metric: m.metric,
    unit: m.unit,
    tsk: Math.round(t * 10) / 10,
    peer: "distribution (docker-registry 2.8)",
    peer_value: Math.round(p * 10) / 10,
    ratio,
  }));
}
for (const l of lines) console.log(l);
