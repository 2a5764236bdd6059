import assert from "node:assert/strict";
import { imageProcess } from "./process.ts";
import type { ImageConfig } from "./oci/config.ts";
import { ValidationError } from "./errors.ts";

const cfg = (config: ImageConfig["config"]): ImageConfig => ({
  architecture: "amd64",
  os: "linux",
  config,
  rootfs: { type: "layers", diff_ids: [] },
});

Deno.test("imageProcess() follows Kubernetes' command/args rules", () => {
  const c = cfg({
    Entrypoint: ["/app"],
    Cmd: ["--serve"],
    Env: ["A=1"],
    WorkingDir: "/srv",
    User: "app",
  });
  assert.deepEqual(imageProcess(c).args, ["/app", "--serve"]);
  assert.deepEqual(imageProcess(c, { args: ["--help"] }).args, ["/app", "--help"]);
  assert.deepEqual(imageProcess(c, { command: ["/bin/sh"] }).args, ["/bin/sh"]);
  assert.deepEqual(imageProcess(c, { command: ["/bin/sh"], args: ["-c", "x"] }).args, [
    "/bin/sh",
    "-c",
    "x",
  ]);
  const p = imageProcess(c, { env: ["A=2", "B=3"] });
  assert.deepEqual(p.env, [
    "A=2",
    "B=3",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  ]);
  assert.equal(p.cwd, "/srv");
  assert.equal(p.user, "app");
});

Deno.test("imageProcess() names what is missing", () => {
  assert.throws(
    () => imageProcess(cfg({})),
    (e: unknown) => e instanceof ValidationError && e.field === "command",
  );
  assert.throws(
    () => imageProcess(cfg({ Cmd: ["x"] }), { env: ["NOEQ"] }),
    /env: expected NAME=value/,
  );
});
