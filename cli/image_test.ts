import assert from "node:assert/strict";
import { join } from "node:path";
import { main } from "./main.ts";
import type { CommandIo } from "./command.ts";

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

async function withHome(fn: (home: string, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "tsk-cli-image-" });
  try {
    await fn(join(dir, "home"), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("tsk image: --help on the group and each command", async () => {
  await withHome(async (home) => {
    const io = capture(home);
    assert.equal(await main(["image", "--help"], io), 0);
    assert.match(io.lines.join("\n"), /Usage: tsk image <command>/);
    for (
      const sub of [
        "build",
        "pull",
        "push",
        "ls",
        "inspect",
        "rm",
        "tag",
        "import",
        "export",
        "prune",
      ]
    ) {
      const s = capture(home);
      assert.equal(await main(["image", sub, "--help"], s), 0, sub);
      assert.match(s.lines[0], new RegExp(`^Usage: tsk image ${sub}`));
    }
  });
});

Deno.test("tsk image: usage errors exit 2 and name the problem", async () => {
  await withHome(async (home) => {
    let io = capture(home);
    assert.equal(await main(["image", "bogus"], io), 2);
    assert.match(io.errs[0], /unknown command "bogus"/);
    io = capture(home);
    assert.equal(await main(["image", "build", "--nope", "."], io), 2);
    assert.match(io.errs[0], /--nope/);
    io = capture(home);
    assert.equal(await main(["image", "tag", "only-one"], io), 2);
    assert.match(io.errs[0], /expected 2 argument/);
    io = capture(home);
    assert.equal(await main(["image", "push", "app"], io), 2);
    assert.match(io.errs[0], /names no registry/);
    io = capture(home);
    assert.equal(await main(["image", "inspect", "missing"], io), 1);
    assert.match(io.errs[0], /No such image: missing:latest/);
  });
});

Deno.test("tsk image: build, ls, inspect, tag, export, import, rm, prune", async () => {
  await withHome(async (home, dir) => {
    const ctx = join(dir, "ctx");
    await Deno.mkdir(ctx);
    await Deno.writeTextFile(
      join(ctx, "Dockerfile"),
      'FROM scratch\nCOPY hello.txt /\nCMD ["/hello"]\n',
    );
    await Deno.writeTextFile(join(ctx, "Other.file"), "FROM scratch\nCOPY hello.txt /other.txt\n");
    await Deno.writeTextFile(join(ctx, "hello.txt"), "hello\n");
    let io = capture(home);
    assert.equal(await main(["image", "build", "-t", "hello:1", ctx], io), 0, io.errs.join("\n"));
    const digest = io.lines[0];
    assert.match(digest, /^sha256:[a-f0-9]{64}$/);
    assert.ok(io.errs.some((l) => l.startsWith("[2/3] COPY hello.txt /")), io.errs.join("\n"));
    io = capture(home);
    assert.equal(await main(["image", "build", "-t", "hello:1", ctx], io), 0);
    assert.ok(io.errs.some((l) => l.endsWith("COPY hello.txt /  CACHED")), io.errs.join("\n"));
    io = capture(home);
    assert.equal(await main(["image", "build", "-f", "Other.file", "-t", "other", ctx], io), 0);
    io = capture(home);
    assert.equal(await main(["image", "tag", "hello:1", "localhost:5000/team/hello:2"], io), 0);
    io = capture(home);
    assert.equal(await main(["image", "ls"], io), 0);
    assert.match(io.lines[0], /^NAME\s+IMAGE ID/);
    assert.deepEqual(io.lines.slice(1).map((l) => l.split(/\s+/)[0]), [
      "hello:1",
      "localhost:5000/team/hello:2",
      "other:latest",
    ]);
    io = capture(home);
    assert.equal(await main(["image", "inspect", "hello:1"], io), 0);
    const info = JSON.parse(io.lines.join("\n"));
    assert.equal(info.descriptor.digest, digest);
    assert.deepEqual(info.config.config.Cmd, ["/hello"]);
    assert.deepEqual(info.names, ["hello:1", "localhost:5000/team/hello:2"]);
    // export writes an OCI layout that skopeo reads (when installed).
    const layout = join(dir, "layout");
    io = capture(home);
    assert.equal(await main(["image", "export", "hello:1", layout], io), 0);
    assert.equal(io.lines[0], `${layout}:1 ${digest}`);
    const sk = await new Deno.Command("skopeo", {
      args: ["inspect", `oci:${layout}:1`],
      stdout: "piped",
      stderr: "piped",
    })
      .output().catch(() => null);
    if (sk) {
      assert.ok(sk.success, new TextDecoder().decode(sk.stderr));
      assert.equal(JSON.parse(new TextDecoder().decode(sk.stdout)).Digest, digest);
    }
    io = capture(home);
    assert.equal(await main(["image", "import", `${layout}:1`, "imported:x"], io), 0);
    assert.equal(io.lines[0], `imported:x ${digest}`);
    // rm untags; prune then frees the blobs only "other" used.
    io = capture(home);
    assert.equal(await main(["image", "rm", "other"], io), 0);
    io = capture(home);
    assert.equal(await main(["image", "prune"], io), 0);
    assert.match(io.lines[0], /^removed [1-9]\d* blobs/);
    io = capture(home);
    assert.equal(await main(["image", "inspect", "imported:x"], io), 0);
    io = capture(home);
    assert.equal(await main(["image", "prune", "--all"], io), 0);
    io = capture(home);
    assert.equal(
      await main(["image", "inspect", "hello:1"], io),
      0,
      "tagged images survive prune --all",
    );
  });
});

Deno.test("tsk image build with SOURCE_DATE_EPOCH is reproducible across stores", async () => {
  await withHome(async (_home, dir) => {
    const ctx = join(dir, "ctx");
    await Deno.mkdir(join(ctx, "sub"), { recursive: true });
    await Deno.writeTextFile(join(ctx, "Dockerfile"), "FROM scratch\nCOPY . /app/\nENV A=1\n");
    await Deno.writeTextFile(join(ctx, "sub/x.txt"), "x\n");
    const digests = [];
    for (const h of ["h1", "h2"]) {
      const io = capture(join(dir, h));
      io.env.SOURCE_DATE_EPOCH = "1700000000";
      assert.equal(await main(["image", "build", "-q", ctx], io), 0, io.errs.join("\n"));
      digests.push(io.lines[0]);
      await Deno.utime(join(ctx, "sub/x.txt"), new Date(), new Date()); // mtimes do not leak in
    }
    assert.equal(digests[0], digests[1]);
    const io = capture(join(dir, "h3"));
    io.env.SOURCE_DATE_EPOCH = "yesterday";
    assert.equal(await main(["image", "build", ctx], io), 2);
    assert.match(io.errs[0], /SOURCE_DATE_EPOCH: expected whole seconds/);
  });
});
