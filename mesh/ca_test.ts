import assert from "node:assert/strict";
import { CaError, CertificateAuthority, certificateIdentity } from "./ca.ts";

Deno.test("CertificateAuthority issues client certificates carrying user and groups", async () => {
  const ca = await CertificateAuthority.create();
  const c = await ca.issue("alice", { organizations: ["dev", "ops"] });
  assert.deepEqual(certificateIdentity(c.certPem), {
    commonName: "alice",
    organizations: ["dev", "ops"],
  });
  assert.match(c.keyPem, /^-----BEGIN PRIVATE KEY-----/);
});

Deno.test("CertificateAuthority.load() round-trips and refuses a foreign key", async () => {
  const ca = await CertificateAuthority.create();
  const again = await CertificateAuthority.load(ca.certPem, ca.keyPem);
  assert.equal(again.certPem, ca.certPem);
  const other = await CertificateAuthority.create();
  await assert.rejects(CertificateAuthority.load(ca.certPem, other.keyPem), CaError);
  await assert.rejects(CertificateAuthority.load(ca.certPem, "nope"), /key: expected a PEM block/);
});

Deno.test("a server certificate from the CA is accepted by a TLS client trusting only the CA", async () => {
  const ca = await CertificateAuthority.create();
  const server = await ca.issue("localhost", {
    usage: "server",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
  });
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: server.certPem,
    key: server.keyPem,
  });
  const port = (listener.addr as Deno.NetAddr).port;
  const accept = (async () => {
    const conn = await listener.accept();
    await conn.handshake();
    await conn.write(new TextEncoder().encode("hi"));
    conn.close();
  })();
  try {
    const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca.certPem] });
    const buf = new Uint8Array(2);
    await conn.read(buf);
    assert.equal(new TextDecoder().decode(buf), "hi");
    conn.close();
    await accept;
  } finally {
    listener.close();
  }
});
