/**
 * `deno task bench image`: tsk beside its peers in one run.
 *
 * - warm-cache rebuild of a small Containerfile (FROM + COPY + RUN + ENV):
 *   `tsk image build` vs `buildah bud --layers` (overlay storage, runc);
 * - push and pull of a ~100 MB image (two incompressible layers) to a
 *   local docker-registry: `tsk image push|pull` vs `skopeo copy`.
 *
 * Both sides run as command-line programs (process start-up included), in
 * alternating order, and the median of the runs is reported. Ends with one
 * JSON line per metric; ratio = peer / tsk, so above 1 means tsk is faster.
 *
 * @module
 */
import { join } from "node:path";
import { randomFillSync } from "node:crypto";
import { commitImage, exportLayout, ImageStore, storeLayer, TarWriter } from "@tsk/image";
import { busyboxImage, startRegistry } from "@tsk/image/testing";
import { median } from "./_stats.ts";

const RUNS = Number(Deno.env.get("BENCH_RUNS") ?? 5);
const REPO = new URL("..", import.meta.url).pathname;
const CLI = join(REPO, "cli/main.ts");

async function sh(cmd: string, args: string[], env: Record<string, string> = {}): Promise<void> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

function tsk(home: string, ...args: string[]): Promise<void> {
  return sh(Deno.execPath(), ["run", "-A", CLI, "image", ...args], {
    TSK_HOME: home,
    TSK_PROGRESS: "plain",
  });
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Times one tsk run and one peer run, alternating which goes first. */
async function pair(
  i: number,
  ours: () => Promise<void>,
  theirs: () => Promise<void>,
  oursTimes: number[],
  theirTimes: number[],
  havePeer: boolean,
): Promise<void> {
  if (havePeer && i % 2 === 1) theirTimes.push(await timed(theirs));
  oursTimes.push(await timed(ours));
  if (havePeer && i % 2 === 0) theirTimes.push(await timed(theirs));
}

interface Metric {
  metric: string;
  unit: string;
  tsk: number;
  peer: string | null;
  peerValue: number | null;
  note?: string;
}

const metrics: Metric[] = [];
const base = await Deno.makeTempDir({ prefix: "tsk-bench-image-" });
try {
  const home = join(base, "home");
  const store = await ImageStore.open({ root: join(home, "image") });
  await busyboxImage(store, "busybox:latest");
  const layout = join(base, "busybox-layout");
  await exportLayout(store, "busybox:latest", layout);

  // ---- warm-cache rebuild vs buildah
  const ctx = join(base, "ctx");
  await Deno.mkdir(join(ctx, "app"), { recursive: true });
  for (let i = 0; i < 50; i++) {
    await Deno.writeTextFile(join(ctx, "app", `file${i}.txt`), `content ${i}\n`.repeat(200));
  }
  const steps =
    'COPY app /app\nRUN ls /app | wc -l > /count\nENV MODE=bench\nCMD ["cat", "/count"]\n';
  await Deno.writeTextFile(join(ctx, "Containerfile.tsk"), `FROM busybox:latest\n${steps}`);
  await Deno.writeTextFile(
    join(ctx, "Containerfile.buildah"),
    `FROM oci:${layout}:latest\n${steps}`,
  );
  const buildah = "/usr/bin/buildah";
  const haveBuildah = await Deno.stat(buildah).then(() => true, () => false);
  const bArgs = [
    "--storage-driver",
    "overlay",
    "--root",
    join(base, "buildah-root"),
    "--runroot",
    join(base, "buildah-run"),
    "bud",
    "--runtime",
    "/usr/sbin/runc",
    "--layers",
    "-q",
    "-f",
    join(ctx, "Containerfile.buildah"),
    "-t",
    "bench",
    ctx,
  ];
  const tArgs = ["build", "-q", "-f", "Containerfile.tsk", "-t", "bench", ctx];
  await tsk(home, ...tArgs); // cold: fills the cache
  if (haveBuildah) await sh(buildah, bArgs);
  const tRebuild: number[] = [], bRebuild: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await pair(
      i,
      () => tsk(home, ...tArgs),
      () => sh(buildah, bArgs),
      tRebuild,
      bRebuild,
      haveBuildah,
    );
  }
  metrics.push({
    metric: "warm_rebuild",
    unit: "ms",
    tsk: median(tRebuild),
    peer: haveBuildah ? "buildah" : null,
    peerValue: haveBuildah ? median(bRebuild) : null,
    ...(haveBuildah ? {} : { note: "buildah not installed" }),
  });

  // ---- a ~100 MB image: two 50 MiB incompressible layers
  const big = async (seed: number) => {
    const w = new TarWriter();
    const stored = storeLayer(w.readable, store.content, "gzip");
    const size = 50 << 20;
    const chunks = (async function* () {
      const buf = new Uint8Array(1 << 20);
      for (let off = 0; off < size; off += buf.length) {
        randomFillSync(buf);
        buf[0] = seed;
        yield buf.slice();
      }
    })();
    await w.add({ name: `data/blob${seed}.bin`, type: "file", size, mode: 0o644 }, chunks);
    await w.close();
    return await stored;
  };
  const layers = [await big(1), await big(2)];
  const bigImage = await commitImage(store, layers, {
    tag: "big:1",
    created: "2024-01-01T00:00:00Z",
  });
  const bigBytes = layers.reduce((n, l) => n + l.descriptor.size, 0);
  const bigLayout = join(base, "big-layout");
  await exportLayout(store, "big:1", bigLayout);
  const haveSkopeo = await Deno.stat("/usr/bin/skopeo").then(() => true, () => false);
  const tPush: number[] = [], sPush: number[] = [], tPull: number[] = [], sPull: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Fresh registries each run: every blob is uploaded, and neither tool can
    // mount blobs the other pushed (skopeo remembers where blobs live and mounts).
    const regT = await startRegistry(), regS = await startRegistry();
    const fresh = join(base, `pull-${i}`);
    await Deno.mkdir(fresh, { recursive: true });
    try {
      const pushT = () => tsk(home, "push", "-q", "big:1", `${regT.host}/bench/big:1`);
      const pushS = () =>
        sh("skopeo", [
          "copy",
          "-q",
          "--dest-tls-verify=false",
          `oci:${bigLayout}:1`,
          `docker://${regS.host}/bench/big:1`,
        ]);
      // Alternate which goes first, so neither always meets a cold page cache.
      await pair(i, pushT, pushS, tPush, sPush, haveSkopeo);
      // A fresh destination each run, so every blob is downloaded.
      const pullT = () => tsk(join(fresh, "tsk"), "pull", "-q", `${regT.host}/bench/big:1`);
      const pullS = () =>
        sh("skopeo", [
          "copy",
          "-q",
          "--src-tls-verify=false",
          `docker://${regT.host}/bench/big:1`,
          `oci:${join(fresh, "skopeo")}:1`,
        ]);
      await pair(i, pullT, pullS, tPull, sPull, haveSkopeo);
    } finally {
      await regT.stop();
      await regS.stop();
      await Deno.remove(fresh, { recursive: true }).catch(() => {});
    }
  }
  const peer = haveSkopeo ? "skopeo" : null;
  metrics.push({
    metric: "push_100mb",
    unit: "ms",
    tsk: median(tPush),
    peer,
    peerValue: haveSkopeo ? median(sPush) : null,
  });
  metrics.push({
    metric: "pull_100mb",
    unit: "ms",
    tsk: median(tPull),
    peer,
    peerValue: haveSkopeo ? median(sPull) : null,
  });
  console.log(
    `image: ${bigImage.digest.slice(0, 19)}, ${
      (bigBytes / 1e6).toFixed(1)
    } MB in 2 layers; ${RUNS} runs each, median`,
  );
} finally {
  await Deno.remove(base, { recursive: true }).catch(() => {});
}

console.log("");
console.log("metric          unit   tsk        peer      peer value   ratio (peer/tsk)");
for (const m of metrics) {
  const ratio = m.peerValue !== null ? m.peerValue / m.tsk : null;
  console.log(
    `${m.metric.padEnd(15)} ${m.unit.padEnd(6)} ${m.tsk.toFixed(1).padEnd(10)} ${
      (m.peer ?? "-").padEnd(9)
    } ${(m.peerValue?.toFixed(1) ?? "-").padEnd(12)} ${ratio?.toFixed(2) ?? "-"}${
      m.note ? `  (${m.note})` : ""
    }`,
  );
}
for (const m of metrics) {
  const ratio = m.peerValue !== null ? Number((m.peerValue / m.tsk).toFixed(3)) : null;
  console.log(JSON.stringify({
    bench: "image",
    metric: m.metric,
    unit: m.unit,
    tsk: Number(m.tsk.toFixed(1)),
    peer: m.peer,
    "peer_value": m.peerValue === null ? null : Number(m.peerValue.toFixed(1)),
    ratio,
  }));
}
