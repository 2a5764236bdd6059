import assert from "node:assert/strict";
import { ObjectStore } from "./object_store.ts";
import { EtcdKv } from "./etcd.ts";
import { startEtcd } from "./etcd_server.ts";
import { runConformance } from "./conformance.ts";
import { CertificateAuthority } from "@tsk/mesh";

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

Deno.test({
  name: "EtcdKv talks to an etcd that requires client certificates",
  ignore,
  fn: async () => {
    const ca = await CertificateAuthority.create();
    const server = await ca.issue("etcd", {
      usage: "both",
      ipAddresses: ["127.0.0.1"],
      dnsNames: ["localhost"],
    });
    const client = await ca.issue("tsk-apiserver");
    const etcd = await startEtcd({ tls: { ...server, caPem: ca.certPem } });
    const kv = new EtcdKv(etcd.url, {
      tls: { caPem: ca.certPem, certPem: client.certPem, keyPem: client.keyPem },
    });
    const anonymous = new EtcdKv(etcd.url, { tls: { caPem: ca.certPem }, timeoutMs: 3000 });
    try {
      let rev = 0;
      const deadline = Date.now() + 10000;
      while (!rev) {
        try {
          rev = await kv.create("/registry/tls", "v");
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      assert.equal((await kv.get("/registry/tls"))?.modRevision, rev);
      await assert.rejects(anonymous.get("/registry/tls"));
    } finally {
      await kv.close();
      await anonymous.close();
      await etcd.stop();
    }
  },
});
