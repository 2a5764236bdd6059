// `tsk image pull` and `push` through the command line, against docker-registry.
import assert from "node:assert/strict";
import { join } from "node:path";
import { main } from "@tsk/cli";
import type { CommandIo } from "@tsk/cli";
import { ImageStore } from "@tsk/image";
import { busyboxImage, requireTool, tempDir } from "./_image_fixture.ts";
import { PASSWORD, REGISTRY_BIN, startRegistry, USER } from "@tsk/image/testing";

function capture(home: string): CommandIo & { lines: string[]; errs: string[] } {
  const lines: string[] = [];
  const errs: string[] = [];
  return {
    lines,
    errs,
    out: (l) => lines.push(l),
    err: (l) => errs.push(l),
    env: { TSK_HOME: home, TSK_PROGRESS: "plain" },
  };
}

Deno.test({
  name: "tsk image push and pull against a token-protected docker-registry",
  ignore: !requireTool(REGISTRY_BIN),
  async fn() {
    const reg = await startRegistry({ token: true });
    const dir = await tempDir("cli-reg");
    try {
      const homeA = join(dir, "a"), homeB = join(dir, "b");
      const store = await ImageStore.open({ root: join(homeA, "image") });
      const m = await busyboxImage(store, "busybox:latest");
      let io = capture(homeA);
      assert.equal(await main(["image", "push", "busybox", `${reg.host}/lib/busybox:1`], io), 1);
      assert.match(io.errs.join("\n"), /HTTP 401|refused/);
      io = capture(homeA);
      const creds = `${USER}:${PASSWORD}`;
      assert.equal(
        await main([
          "image",
          "push",
          "--creds",
          creds,
          "--chunk-size",
          "500000",
          "busybox",
          `${reg.host}/lib/busybox:1`,
        ], io),
        0,
        io.errs.join("\n"),
      );
      assert.equal(io.lines[0], m.digest);
      assert.ok(io.errs.some((l) => /: Done \(/.test(l)), io.errs.join("\n"));
      assert.match(io.errs.at(-1)!, /pushed .*: 2 uploaded/);
      const ref = `${reg.host}/lib/busybox:1`;
      io = capture(homeB);
      assert.equal(await main(["image", "pull", ref], io), 1, "anonymous pulls are refused");
      // No --creds: the credentials come from $TSK_HOME/auth.json, as after a docker login.
      await Deno.mkdir(homeB, { recursive: true });
      await Deno.writeTextFile(
        join(homeB, "auth.json"),
        JSON.stringify({ auths: { [reg.host]: { auth: btoa(creds) } } }),
      );
      io = capture(homeB);
      assert.equal(await main(["image", "pull", ref], io), 0, io.errs.join("\n"));
      assert.equal(io.lines[0], m.digest);
      io = capture(homeB);
      assert.equal(await main(["image", "ls", "--json"], io), 0);
      assert.equal(JSON.parse(io.lines[0]).name, `${reg.host}/lib/busybox:1`);
      // A build whose FROM is on the protected registry, with credentials scoped to it.
      const ctx = join(dir, "ctx");
      await Deno.mkdir(ctx);
      await Deno.writeTextFile(
        join(ctx, "Containerfile"),
        `FROM ${reg.host}/lib/busybox:1\nENV A=1\n`,
      );
      io = capture(join(dir, "c"));
      assert.equal(await main(["image", "build", "-t", "c", ctx], io), 1);
      assert.match(io.errs.join("\n"), /401|refused/);
      io = capture(join(dir, "c"));
      assert.equal(
        await main(["image", "build", "--creds", `${reg.host}=${creds}`, "-t", "c", ctx], io),
        0,
        io.errs.join("\n"),
      );
    } finally {
      await reg.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
