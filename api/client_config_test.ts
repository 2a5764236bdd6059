import assert from "node:assert/strict";
import { loadClientConfig, parseClientConfig, writeClientConfig } from "./client_config.ts";

Deno.test("client config round-trips with mode 0600 and TSK_SERVER overrides the URL", async () => {
  const home = await Deno.makeTempDir();
  try {
    await writeClientConfig(`${home}/config`, {
      apiVersion: "tsk/v1",
      kind: "Config",
      server: "https://127.0.0.1:6443",
      token: "t",
    });
    assert.equal((await Deno.stat(`${home}/config`)).mode! & 0o777, 0o600);
    assert.equal(
      (await loadClientConfig({ env: { TSK_HOME: home } })).server,
      "https://127.0.0.1:6443",
    );
    const over = await loadClientConfig({
      env: { TSK_HOME: home, TSK_SERVER: "https://10.0.0.1:1" },
    });
    assert.equal(over.server, "https://10.0.0.1:1");
    assert.equal(over.token, "t");
    assert.equal(
      (await loadClientConfig({ env: { TSK_HOME: home }, server: "http://x:1" })).server,
      "http://x:1",
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("parseClientConfig() names the bad field", () => {
  assert.throws(
    () => parseClientConfig("server: localhost", "cfg"),
    /^ClientConfigError: cfg: server: expected a URL/,
  );
  assert.throws(
    () => parseClientConfig("server: https://a:1\nclientCertificate: x\n", "cfg"),
    /clientCertificate and clientKey: give both or neither/,
  );
});
