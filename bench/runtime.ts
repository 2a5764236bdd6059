/**
 * `deno task bench runtime [--iterations N]`: create+start+wait+delete of a
 * busybox `true` container from one bundle, N times each, through
 * tsk-runtime's CLI, through the library API in this long-lived process
 * (with a pool of pre-started inits, and without), runc and crun.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { posix } from "node:path";
import { createContainer, defaultSpec, InitPool } from "@tsk/runtime";
import { busyboxRootfs } from "@tsk/runtime/testing";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    iterations: { type: "string", default: "20" },
    // Internal: time `peer run` in this process and print the samples as JSON.
    "peer-loop": { type: "string" },
    bundle: { type: "string" },
    root: { type: "string" },
  },
});
const N = Number(values.iterations);
if (values["peer-loop"]) {
  const peer = values["peer-loop"];
  const samples = await timeCommand(
    peer,
    (id) => ["--root", values.root!, "run", "--bundle", values.bundle!, id],
  );
  console.log(JSON.stringify(samples));
  Deno.exit(0);
}
if (Deno.uid() !== 0) {
  console.error("bench runtime: containers need root");
  Deno.exit(1);
}

const base = await Deno.makeTempDir({ prefix: "tsk-bench-runtime-" });
const bundle = posix.join(base, "bundle");
await busyboxRootfs(posix.join(bundle, "rootfs"));
const spec = defaultSpec({ args: ["true"] });
spec.ociVersion = "1.0.2"; // Debian's runc and crun know up to 1.0.2.
await Deno.writeTextFile(posix.join(bundle, "config.json"), JSON.stringify(spec));
const MAIN = new URL("../runtime/main.ts", import.meta.url).pathname;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function timeCommand(program: string, args: (id: string) => string[]): Promise<number[]> {
  const out: number[] = [];
  for (let i = -2; i < N; i++) {
    const id = `bench-${crypto.randomUUID().slice(0, 8)}`;
    const t0 = performance.now();
    const r = await new Deno.Command(program, {
      args: args(id),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    })
      .output();
    const ms = performance.now() - t0;
    if (!r.success) throw new Error(`${program} failed: ${new TextDecoder().decode(r.stderr)}`);
    if (i >= 0) out.push(ms); // two warm-up runs
  }
  return out;
}

async function timeLibrary(pool: InitPool | undefined): Promise<number[]> {
  const out: number[] = [];
  const root = posix.join(base, "lib-state");
  for (let i = -2; i < N; i++) {
    if (pool) await new Promise((r) => setTimeout(r, 20)); // let the pool refill, as between real requests
    const t0 = performance.now();
    const c = await createContainer(`bench-${crypto.randomUUID().slice(0, 8)}`, {
      bundle,
      root,
      pool,
      stdio: { stdout: "null", stderr: "null" },
    });
    await c.start();
    const st = await c.wait();
    await c.delete();
    const ms = performance.now() - t0;
    if (st.exitCode !== 0) throw new Error(`library run exited ${st.exitCode}`);
    if (i >= 0) out.push(ms);
  }
  return out;
}

async function has(program: string): Promise<boolean> {
  try {
    return (await new Deno.Command(program, { args: ["--version"], stdout: "null", stderr: "null" })
      .output())
      .success;
  } catch {
    return false;
  }
}

function hybridWithV2Controllers(): boolean {
  try {
    return Deno.readTextFileSync("/sys/fs/cgroup/unified/cgroup.controllers").trim() !== "";
  } catch {
    return false;
  }
}

const notes: string[] = [];
try {
  const results: Record<string, number[]> = {};
  results["tsk-runtime CLI"] = await timeCommand(
    Deno.execPath(),
    (
      id,
    ) => [
      "run",
      "-A",
      MAIN,
      "--root",
      posix.join(base, "cli-state"),
      "run",
      "--bundle",
      bundle,
      id,
    ],
  );
  const pool = new InitPool({ size: 2 });
  try {
    results["tsk library (pool)"] = await timeLibrary(pool);
  } finally {
    await pool.close();
  }
  results["tsk library (no pool)"] = await timeLibrary(undefined);
  for (const peer of ["runc", "crun"]) {
    if (!(await has(peer))) {
      console.error(`bench runtime: ${peer} is not installed (apt-get install ${peer})`);
      continue;
    }
    const root = posix.join(base, `${peer}-state`);
    if (peer === "crun" && hybridWithV2Controllers()) {
      // crun 1.8 refuses hybrid hosts whose v2 hierarchy holds any
      // controller (here: hugetlb). It runs, timed by a Deno child, in a
      // private mount namespace where an empty tmpfs hides that hierarchy.
      notes.push(
        "crun ran in a mount namespace hiding /sys/fs/cgroup/unified (it refuses this hybrid host)",
      );
      const self = new URL(import.meta.url).pathname;
      const r = await new Deno.Command("unshare", {
        args: [
          "-m",
          "--propagation",
          "private",
          "sh",
          "-c",
          'mount -t tmpfs tmpfs /sys/fs/cgroup/unified && exec "$@"',
          "sh",
          Deno.execPath(),
          "run",
          "-A",
          self,
          "--peer-loop",
          peer,
          "--iterations",
          String(N),
          "--bundle",
          bundle,
          "--root",
          root,
        ],
        stdout: "piped",
      }).output();
      if (!r.success) throw new Error("crun timing loop failed");
      results[peer] = JSON.parse(new TextDecoder().decode(r.stdout).trim().split("\n").at(-1)!);
      continue;
    }
    results[peer] = await timeCommand(
      peer,
      (id) => ["--root", root, "run", "--bundle", bundle, id],
    );
  }
  console.log(`create+start+wait+delete of busybox \`true\`, ${N} iterations, median ms`);
  for (const n of notes) console.log(`note: ${n}`);
  console.log();
  console.log("runner                  median ms   min ms");
  for (const [k, v] of Object.entries(results)) {
    console.log(
      `${k.padEnd(22)}  ${median(v).toFixed(1).padStart(9)}  ${
        Math.min(...v).toFixed(1).padStart(7)
      }`,
    );
  }
  const line = (metric: string, tsk: number[], peer: string) => {
    const p = results[peer];
    const t = median(tsk);
    const pv = p ? median(p) : null;
    console.log(JSON.stringify({
      bench: "runtime",
      metric,
      unit: "ms",
      tsk: Number(t.toFixed(2)),
      peer: p ? peer : null,
      peer_value: pv === null ? null : Number(pv.toFixed(2)),
      ratio: pv === null ? null : Number((pv / t).toFixed(3)),
    }));
  };
  console.log();
  line("lifecycle_cli_vs_runc", results["tsk-runtime CLI"], "runc");
  line("lifecycle_library_pool_vs_crun", results["tsk library (pool)"], "crun");
  line("lifecycle_library_nopool_vs_crun", results["tsk library (no pool)"], "crun");
  line("lifecycle_cli_vs_crun", results["tsk-runtime CLI"], "crun");
} finally {
  await Deno.remove(base, { recursive: true });
}
