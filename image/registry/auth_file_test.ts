import assert from "node:assert/strict";
import { join } from "node:path";
import { authFiles, loadCredentials } from "./auth_file.ts";
import { ValidationError } from "../errors.ts";

Deno.test("loadCredentials() reads Docker and Podman auth files, first match wins", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsk-auth-" });
  try {
    const env = {
      TSK_HOME: join(dir, "tsk"),
      HOME: join(dir, "home"),
      XDG_RUNTIME_DIR: join(dir, "run"),
      REGISTRY_AUTH_FILE: join(dir, "explicit.json"),
    };
    assert.deepEqual(authFiles({ env }), [
      join(dir, "explicit.json"),
      join(dir, "tsk", "auth.json"),
      join(dir, "run", "containers", "auth.json"),
      join(dir, "home", ".docker", "config.json"),
    ]);
    assert.equal(await loadCredentials("reg.example", { env }), undefined);
    await Deno.mkdir(join(dir, "home", ".docker"), { recursive: true });
    await Deno.writeTextFile(
      join(dir, "home", ".docker", "config.json"),
      JSON.stringify({
        auths: { "https://reg.example/v1/": { auth: btoa("docker:pw:with:colons") } },
      }),
    );
    assert.deepEqual(await loadCredentials("reg.example", { env }), {
      username: "docker",
      password: "pw:with:colons",
    });
    await Deno.mkdir(join(dir, "tsk"), { recursive: true });
    await Deno.writeTextFile(
      join(dir, "tsk", "auth.json"),
      JSON.stringify({ auths: { "reg.example": { username: "tsk", password: "p" } } }),
    );
    assert.equal((await loadCredentials("reg.example", { env }))?.username, "tsk");
    assert.equal(await loadCredentials("other.example:5000", { env }), undefined);
    await Deno.writeTextFile(
      join(dir, "explicit.json"),
      JSON.stringify({ auths: { "reg.example": { auth: "!!" } } }),
    );
    await assert.rejects(
      loadCredentials("reg.example", { env }),
      (e: unknown) =>
        e instanceof ValidationError && e.message.includes('auths["reg.example"].auth'),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
