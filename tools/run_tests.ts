/**
 * The whole test gate: installs the Debian packages the tests need, then runs
 * `deno fmt --check`, `deno lint`, `deno check`, the layering check and every
 * test, and ends with the plain line `N passed, N failed`.
 *
 * Usage: `deno task test [deno test args...]` (extra args, e.g. a path, narrow
 * the tests run; the static checks always run on the whole workspace).
 *
 * @module
 */
import { DEBIAN_DEPS } from "./deps.ts";

const ci = Deno.env.get("CI") === "true";

async function run(
  cmd: string,
  args: string[],
  opts: { quiet?: boolean; timeoutMs?: number } = {},
): Promise<{
  code: number;
  out: string;
  timedOut: boolean;
}> {
  const child = new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let timedOut = false;
  const watchdog = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, opts.timeoutMs);
  const dec = new TextDecoder();
  let out = "";
  const pump = async (s: ReadableStream<Uint8Array>, sink: typeof Deno.stdout) => {
    for await (const chunk of s) {
      out += dec.decode(chunk, { stream: true });
      if (!opts.quiet) await sink.write(chunk);
    }
  };
  const pumps = Promise.all([pump(child.stdout, Deno.stdout), pump(child.stderr, Deno.stderr)]);
  const status = await child.status;
  clearTimeout(watchdog);
  // After a kill, processes the child started may still hold its pipes open.
  await (timedOut ? Promise.race([pumps, new Promise((r) => setTimeout(r, 5000))]) : pumps);
  return { code: status.code, out, timedOut };
}

async function installedDebian(name: string): Promise<boolean> {
  const r = await run("dpkg-query", ["-W", "-f=${Status}", name], { quiet: true }).catch(
    () => ({ code: 1, out: "", timedOut: false }),
  );
  return r.code === 0 && r.out.includes("install ok installed");
}

async function ensureDebianDeps(): Promise<void> {
  const missing = [];
  for (const dep of DEBIAN_DEPS) {
    if (!(await installedDebian(dep.name))) missing.push(dep);
  }
  if (missing.length === 0) return;
  for (const dep of missing) {
    console.log(`test: installing Debian package ${dep.name} (${dep.why})`);
  }
  if (Deno.uid() !== 0) {
    throw new Error(
      `Cannot install Debian packages: not root; install them by hand: apt-get install ${
        missing.map((d) => d.name).join(" ")
      }`,
    );
  }
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const update = await new Deno.Command("apt-get", { args: ["update", "-qq"], env }).output();
  if (!update.success) throw new Error("Cannot install Debian packages: apt-get update failed");
  const install = await new Deno.Command("apt-get", {
    args: ["install", "-y", "-qq", "--no-install-recommends", ...missing.map((d) => d.name)],
    env,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!install.success) {
    throw new Error(
      `Cannot install Debian packages: apt-get install ${
        missing.map((d) => d.name).join(" ")
      } failed`,
    );
  }
}

/** Static checks, each counted as one passed or failed check. */
const checks: [string, string[]][] = [
  ["deno fmt --check", ["fmt", "--check"]],
  ["deno lint", ["lint"]],
  ["deno check", ["check", "--doc", "."]],
  ["layering", ["run", "-A", "tools/layering.ts"]],
];

let passed = 0;
let failed = 0;
const failures: string[] = [];

await ensureDebianDeps();

const deno = Deno.execPath();
for (const [name, args] of checks) {
  console.log(`\n== ${name}`);
  const r = await run(deno, args);
  if (r.code === 0) passed++;
  else {
    failed++;
    failures.push(name);
  }
}

console.log("\n== deno test");
const extra = Deno.args.length > 0 ? Deno.args : ["."];
// A hung test must fail the run by name, not run into CI's 90 minutes: deno
// test prints "'<name>' has been running for over (Nm)" while one hangs.
const testMinutes = Number(Deno.env.get("TSK_TEST_TIMEOUT_MINUTES") ?? 30);
const t = await run(deno, ["test", "-A", "--no-check", ...extra], {
  timeoutMs: testMinutes * 60_000,
});
if (t.timedOut) {
  const hung = [...t.out.matchAll(/'([^']+)' has been running for over/g)].at(-1)?.[1];
  failed++;
  failures.push(
    `deno test killed after ${testMinutes} min${hung ? `; still running: ${hung}` : ""}`,
  );
}
// deno test's summary: "ok | 12 passed (3 steps) | 0 failed | 1 ignored (2s)"
// deno-lint-ignore no-control-regex
const plain = t.out.replace(/\x1b\[[0-9;]*m/g, "");
const summary = [
  ...plain.matchAll(
    /^(ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?(?: \| (\d+) ignored)?/gm,
  ),
].at(-1);
if (!summary) {
  if (!t.timedOut) {
    failed++;
    failures.push("deno test (no summary: the test run crashed)");
  }
} else {
  passed += Number(summary[2]);
  failed += Number(summary[4]);
  const ignored = Number(summary[6] ?? 0);
  if (Number(summary[4]) > 0) failures.push("deno test");
  if (ignored > 0 && ci) {
    failed += ignored;
    failures.push(`${ignored} ignored test(s): nothing may be skipped in CI`);
  }
  if (t.code !== 0 && Number(summary[4]) === 0) {
    failed++;
    failures.push(`deno test exited ${t.code}`);
  }
}

if (failures.length > 0) console.log(`\nfailed: ${failures.join("; ")}`);
console.log(`\n${passed} passed, ${failed} failed`);
Deno.exit(failed === 0 ? 0 : 1);
