/**
 * Two API servers over one etcd (Debian etcd-server, started here on
 * loopback): a write through one is read, watched and conflict-checked
 * through the other.
 */
import assert from "node:assert/strict";
import { ApiClient, type ConfigMap, ConflictError, type WatchEvent } from "@tsk/api";
import { silentLogger, startControlPlane, startEtcd } from "@tsk/sched";

const haveEtcd = await new Deno.Command("etcd", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success).catch(() => false);

Deno.test({
  name: "two API servers over one etcd agree on objects, versions, conflicts and watches",
  // In CI a missing etcd must fail loudly, never skip.
  ignore: !haveEtcd && Deno.env.get("CI") !== "true",
  fn: async () => {
    const etcd = await startEtcd();
    const home = await Deno.makeTempDir({ prefix: "tsk-ha-" });
    const start = (dir: string) =>
      startControlPlane({
        dataDir: `${home}/${dir}`,
        port: 0,
        store: "etcd",
        etcdEndpoints: etcd.url,
        clientConfigPath: null,
        logger: silentLogger,
      });
    const a = await start("a");
    // The second server shares the cluster CA and tokens, as an HA pair would.
    await Deno.mkdir(`${home}/b/pki`, { recursive: true });
    for (const f of ["pki/ca.crt", "pki/ca.key", "tokens.json"]) {
      await Deno.copyFile(`${home}/a/${f}`, `${home}/b/${f}`);
    }
    const b = await start("b");
    const ca = new ApiClient(a.adminConfig);
    const cb = new ApiClient(b.adminConfig);
    try {
      const from = (await cb.list("configmaps")).metadata.resourceVersion;
      const ctl = new AbortController();
      const seen: WatchEvent[] = [];
      const watching = (async () => {
        for await (
          const ev of cb.watch("configmaps", {
            namespace: "default",
            resourceVersion: from,
            signal: ctl.signal,
          })
        ) {
          seen.push(ev);
          if (seen.length === 3) break;
        }
      })();
      const created = await ca.create<ConfigMap>({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "shared" },
        data: { v: "a" },
      });
      const viaB = await cb.get<ConfigMap>("configmaps", "shared");
      assert.equal(viaB.metadata.resourceVersion, created.metadata.resourceVersion);
      viaB.data = { v: "b" };
      await cb.update(viaB);
      created.data = { v: "stale" };
      await assert.rejects(ca.update(created), ConflictError);
      await ca.delete("configmaps", "shared");
      const deadline = Date.now() + 10000;
      while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      ctl.abort();
      await watching.catch(() => {});
      assert.deepEqual(seen.map((e) => e.type), ["ADDED", "MODIFIED", "DELETED"]);
      // Both servers bootstrapped the same built-in namespaces once.
      assert.deepEqual((await ca.list("namespaces")).items.map((n) => n.metadata.name), [
        "default",
        "tsk-system",
      ]);
    } finally {
      ca.close();
      cb.close();
      await a.close();
      await b.close();
      await etcd.stop();
      await Deno.remove(home, { recursive: true });
    }
  },
});
