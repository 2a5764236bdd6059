/**
 * Kills the API server with SIGKILL while clients are writing, restarts it
 * on the same data directory and checks that every write it acknowledged
 * is there.
 */
import assert from "node:assert/strict";
import { ApiClient, type ConfigMap, loadClientConfig } from "@tsk/api";

const MAIN = new URL("../sched/main.ts", import.meta.url).pathname;

async function startServer(home: string): Promise<{ child: Deno.ChildProcess; url: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--port", "0", "--data", `${home}/cp`],
    env: { TSK_HOME: home },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    const m = /"msg":"listening","url":"([^"]+)"/.exec(buf);
    if (m) {
      // Keep draining stdout so the child never blocks on a full pipe.
      (async () => {
        try {
          while (!(await reader.read()).done) { /* drain */ }
        } catch { /* closed */ }
      })();
      return { child, url: m[1] };
    }
  }
  child.kill("SIGKILL");
  throw new Error(`scheduler did not start: ${buf}`);
}

Deno.test("a SIGKILLed API server loses no acknowledged write", async () => {
  const home = await Deno.makeTempDir({ prefix: "tsk-crash-" });
  let server = await startServer(home);
  try {
    const client = new ApiClient(await loadClientConfig({ env: { TSK_HOME: home } }));
    const acked: string[] = [];
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const name = `w${w}-${i}`;
        try {
          await client.create<ConfigMap>({
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name, namespace: "default" },
            data: { payload: "x".repeat(512) },
          });
          acked.push(name);
        } catch {
          return; // the server is gone
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, w) => writer(w));
    while (acked.length < 400) await new Promise((r) => setTimeout(r, 5));
    server.child.kill("SIGKILL");
    const status = await server.child.status;
    assert.equal(status.signal, "SIGKILL");
    stop = true;
    await Promise.all(writers);
    client.close();

    server = await startServer(home);
    const again = new ApiClient(await loadClientConfig({ env: { TSK_HOME: home } }));
    try {
      const stored = new Set(
        (await again.list("configmaps", { namespace: "default" })).items.map((i) =>
          i.metadata.name
        ),
      );
      const lost = acked.filter((n) => !stored.has(n));
      assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged writes were lost`);
      // The store still works after the crash: new writes get newer versions.
      const fresh = await again.create<ConfigMap>({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "after" },
      });
      assert.ok(Number(fresh.metadata.resourceVersion) > acked.length);
    } finally {
      again.close();
    }
  } finally {
    try {
      server.child.kill("SIGTERM");
      await server.child.status;
    } catch { /* already gone */ }
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("the scheduler program shuts down cleanly on SIGTERM and keeps its data for the next start", async () => {
  const home = await Deno.makeTempDir({ prefix: "tsk-term-" });
  try {
    const first = await startServer(home);
    const client = new ApiClient(await loadClientConfig({ env: { TSK_HOME: home } }));
    await client.create<ConfigMap>({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "kept" },
    });
    const ctl = new AbortController();
    let watchEnd = "running";
    const watching = (async () => {
      for await (
        const _ of client.watch("configmaps", { signal: ctl.signal })
      ) { /* until the server ends it */ }
    })().then(() => watchEnd = "ended", (e) => watchEnd = `broke: ${e}`);
    await new Promise((r) => setTimeout(r, 100));
    first.child.kill("SIGTERM");
    const status = await first.child.status;
    assert.equal(status.code, 0);
    await watching;
    // In-flight watches are ended, not cut.
    assert.equal(watchEnd, "ended");
    ctl.abort();
    client.close();
    const second = await startServer(home);
    const again = new ApiClient(await loadClientConfig({ env: { TSK_HOME: home } }));
    try {
      assert.equal((await again.get("configmaps", "kept")).metadata.name, "kept");
    } finally {
      again.close();
      second.child.kill("SIGTERM");
      assert.equal((await second.child.status).code, 0);
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
