import assert from "node:assert/strict";
import { loadConfig, parseDuration } from "./config.ts";
import { ConfigError } from "./errors.ts";

const files = (map: Record<string, string>) => ({
  readTextFile: (p: string) =>
    map[p] !== undefined ? Promise.resolve(map[p]) : Promise.reject(new Error("no such file")),
  env: { TSK_HOME: "/srv/tsk" },
});

Deno.test("loadConfig() defaults: loopback, port 5000, data under TSK_HOME, no auth", async () => {
  const c = await loadConfig([], files({}));
  assert.ok(c !== "help");
  assert.equal(c.host, "127.0.0.1");
  assert.equal(c.port, 5000);
  assert.equal(c.data, "/srv/tsk/registry");
  assert.equal(c.auth.mode, "none");
  assert.equal(c.tls, null);
  assert.equal(c.gc.untaggedRetention, null);
  assert.equal(c.mmap, true);
});

Deno.test("loadConfig() turns mmap off by flag or YAML", async () => {
  const byFlag = await loadConfig(["--no-mmap"], files({}));
  assert.ok(byFlag !== "help");
  assert.equal(byFlag.mmap, false);
  const byYaml = await loadConfig(
    ["--config", "/c.yaml"],
    files({ "/c.yaml": "storage:\n  mmap: false\n" }),
  );
  assert.ok(byYaml !== "help");
  assert.equal(byYaml.mmap, false);
});

Deno.test("loadConfig() reads YAML and lets flags win", async () => {
  const yaml =
    "port: 6000\ndata: /y\ngc:\n  interval: 10m\n  untaggedRetention: 2d\ntls:\n  cert: /c\n  key: /k\n";
  const c = await loadConfig(
    ["--config", "/cfg.yaml", "--port", "7000"],
    files({ "/cfg.yaml": yaml }),
  );
  assert.ok(c !== "help");
  assert.equal(c.port, 7000);
  assert.equal(c.data, "/y");
  assert.equal(c.gc.interval, 600_000);
  assert.equal(c.gc.untaggedRetention, 2 * 86_400_000);
  assert.deepEqual(c.tls, { cert: "/c", key: "/k" });
});

Deno.test("loadConfig() errors name the field", async () => {
  const bad: [string[], Record<string, string>, RegExp][] = [
    [["--port", "70000"], {}, /^port: expected an integer/],
    [["--tls-cert", "/c"], {}, /^tls: give both/],
    [["--auth", "token"], {}, /^auth.htpasswd: required/],
    [["--gc-grace", "soon"], {}, /^gc.grace: expected a duration/],
    [["--config", "/missing.yaml"], {}, /^config: cannot read \/missing.yaml/],
    [["--config", "/bad.yaml"], { "/bad.yaml": "a: [" }, /^config: \/bad.yaml is not valid YAML/],
    [["--bogus"], {}, /^flags: /],
    [
      ["--config", "/m.yaml"],
      { "/m.yaml": "storage:\n  mmap: maybe\n" },
      /^storage.mmap: expected/,
    ],
  ];
  for (const [args, map, re] of bad) {
    await assert.rejects(
      loadConfig(args, files(map)),
      (e) => e instanceof ConfigError && re.test(e.message),
    );
  }
});

Deno.test("parseDuration() reads units and bare seconds", () => {
  assert.equal(parseDuration("500ms", "x"), 500);
  assert.equal(parseDuration("90s", "x"), 90_000);
  assert.equal(parseDuration("2h", "x"), 7_200_000);
  assert.equal(parseDuration(3, "x"), 3000);
});
