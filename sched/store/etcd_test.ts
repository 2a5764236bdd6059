import assert from "node:assert/strict";
import { ObjectStore } from "./object_store.ts";
import { EtcdKv } from "./etcd.ts";
import { startEtcd } from "./etcd_server.ts";
import { runConformance } from "./conformance.ts";

const haveEtcd = await new Deno.Command("etcd", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success).catch(() => false);
// In CI a missing etcd must fail loudly, never skip.
const ignore = !haveEtcd && Deno.env.get("CI") !== "true";

Deno.test({
  name: "etcd object store passes the store conformance suite, with two API servers over one etcd",
  ignore,
  fn: async (t) => {
    const etcd = await startEtcd();
    const store = new ObjectStore(new EtcdKv(etcd.url));
    const peer = new ObjectStore(new EtcdKv(etcd.url));
    try {
      await runConformance(t, { store, peers: [peer] });
    } finally {
      await store.close();
      await peer.close();
      await etcd.stop();
    }
  },
});

Deno.test({
  name: "EtcdKv reports an unreachable etcd as unavailable, naming the endpoint",
  fn: async () => {
    const kv = new EtcdKv("http://127.0.0.1:1", { timeoutMs: 2000 });
    await assert.rejects(kv.get("/x"), /etcd \/v3\/kv\/range/);
    await kv.close();
  },
});

Deno.test("EtcdKv refuses an endpoint that is not a URL", () => {
  assert.throws(() => new EtcdKv("localhost:2379"), /etcd-endpoints: expected a URL/);
});
