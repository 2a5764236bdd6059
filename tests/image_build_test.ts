// Builds from Containerfiles: the layer cache, .dockerignore, multi-stage
// COPY --from, and RUN steps executed in real @tsk/runtime containers.
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildImage, exportLayout, ImageStore, pushImage, Snapshotter } from "@tsk/image";
import { REGISTRY_BIN, startRegistry } from "@tsk/image/testing";
import { busyboxImage, requireTool, run, runImage, tempDir } from "./_image_fixture.ts";

const isRoot = Deno.uid() === 0;

async function setup(files: Record<string, string>) {
  const dir = await tempDir("build");
  const ctx = join(dir, "ctx");
  for (const [name, content] of Object.entries(files)) {
    await Deno.mkdir(join(ctx, name, ".."), { recursive: true });
    await Deno.writeTextFile(join(ctx, name), content);
  }
  const store = await ImageStore.open({ root: join(dir, "store") });
  return { dir, ctx, store };
}

Deno.test("build without RUN: config, .dockerignore, and a cache that follows content", async () => {
  const { dir, ctx, store } = await setup({
    "Containerfile": `ARG VERSION=1
FROM scratch
ARG VERSION
ENV APP_VERSION=\${VERSION} HOME=/app
WORKDIR /app
COPY a.txt b.txt ./
COPY --chmod=700 src/ /app/src/
ADD data.tar.gz /data
LABEL org.example.v="\${VERSION}"
EXPOSE 8080 53/udp
USER 1000:1000
ENTRYPOINT ["/bin/app"]
CMD --serve
`,
    "a.txt": "a\n",
    "b.txt": "b\n",
    "src/main.txt": "main\n",
    "src/debug.log": "noise\n",
    "src/keep.log": "kept\n",
    "src/docs/a.md": "a\n",
    "src/docs/keep.md": "keep\n",
    ".dockerignore": "**/*.log\n!src/keep.log\nsrc/docs\n!src/docs/keep.md\n",
  });
  try {
    // A tar.gz for ADD to unpack.
    await Deno.mkdir(join(dir, "tarsrc"));
    await Deno.writeTextFile(join(dir, "tarsrc/inside.txt"), "from tar\n");
    const tar = await new Deno.Command("tar", {
      args: ["-czf", join(ctx, "data.tar.gz"), "-C", join(dir, "tarsrc"), "."],
    }).output();
    assert.ok(tar.success);
    const lines: string[] = [];
    const first = await buildImage(store, ctx, {
      tags: ["app:1"],
      buildArgs: { VERSION: "2" },
      onProgress: (l) => lines.push(l),
    });
    assert.deepEqual(first.tags, ["app:1"]);
    const img = await store.image("app:1");
    const c = img.config.config!;
    assert.deepEqual(c.Env, ["APP_VERSION=2", "HOME=/app"]);
    assert.equal(c.WorkingDir, "/app");
    assert.deepEqual(c.Labels, { "org.example.v": "2" });
    assert.deepEqual(c.ExposedPorts, { "8080/tcp": {}, "53/udp": {} });
    assert.equal(c.User, "1000:1000");
    assert.deepEqual(c.Entrypoint, ["/bin/app"]);
    assert.deepEqual(c.Cmd, ["/bin/sh", "-c", "--serve"]);
    assert.equal(img.manifest.layers.length, 3);
    assert.ok(lines.some((l) => /^\[5\/12\] COPY a.txt b.txt \.\/$/.test(l)), lines.join("\n"));
    // What the layers hold.
    const snaps = await Snapshotter.open(store, { root: join(dir, "snaps") });
    const { lowerDirs } = await snaps.layers("app:1");
    const files = async (d: string) => {
      const out: string[] = [];
      const walk = async (p: string, rel: string) => {
        for await (const e of Deno.readDir(p)) {
          const r = rel ? `${rel}/${e.name}` : e.name;
          out.push(r);
          if (e.isDirectory) await walk(join(p, e.name), r);
        }
      };
      await walk(d, "");
      return out.sort();
    };
    assert.deepEqual(await files(lowerDirs[2]), ["app", "app/a.txt", "app/b.txt"]);
    assert.deepEqual(await files(lowerDirs[1]), [
      "app",
      "app/src",
      "app/src/docs",
      "app/src/docs/keep.md",
      "app/src/keep.log",
      "app/src/main.txt",
    ]);
    assert.deepEqual(await files(lowerDirs[0]), ["data", "data/inside.txt"]);
    assert.equal((await Deno.stat(join(lowerDirs[1], "app/src/main.txt"))).mode! & 0o777, 0o700);
    // Nothing changed: every layer step is a cache hit and the layers are identical.
    const again = await buildImage(store, ctx, { buildArgs: { VERSION: "2" } });
    const layerSteps = again.steps.filter((s) => s.layer);
    assert.equal(layerSteps.length, 3);
    assert.ok(layerSteps.every((s) => s.cached));
    assert.equal(
      again.descriptor.digest,
      first.descriptor.digest,
      "a fully cached build is the same image",
    );
    // Touching a file keeps the cache; changing its content rebuilds from that step.
    await Deno.utime(join(ctx, "a.txt"), new Date(), new Date(Date.now() + 5000));
    assert.ok(
      (await buildImage(store, ctx, { buildArgs: { VERSION: "2" } })).steps.filter((s) => s.layer)
        .every((s) => s.cached),
    );
    await Deno.writeTextFile(join(ctx, "src/main.txt"), "changed\n");
    const changed = await buildImage(store, ctx, { buildArgs: { VERSION: "2" } });
    assert.deepEqual(changed.steps.filter((s) => s.layer).map((s) => s.cached), [
      true,
      false,
      false,
    ]);
    // An ignored file may change freely.
    await Deno.writeTextFile(join(ctx, "src/debug.log"), "more noise\n");
    assert.ok(
      (await buildImage(store, ctx, { buildArgs: { VERSION: "2" } })).steps.filter((s) => s.layer)
        .every((s) => s.cached),
    );
    // A different build arg changes the key chain from the ARG on.
    const other = await buildImage(store, ctx, { buildArgs: { VERSION: "3" } });
    assert.ok(other.steps.filter((s) => s.layer).every((s) => !s.cached));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("COPY resolves symlinks inside the context only, and --chown takes names", async () => {
  const { dir, ctx, store } = await setup({
    "real/f.txt": "in context\n",
    "etc/passwd": "root:x:0:0::/:/bin/sh\napp:x:1500:1600::/:/bin/sh\n",
    "etc/group": "root:x:0:\nstaff:x:1700:\n",
  });
  try {
    await Deno.symlink("real", join(ctx, "alias"));
    await Deno.symlink("/etc", join(ctx, "hostetc"));
    await Deno.writeTextFile(
      join(ctx, "Containerfile"),
      "FROM scratch\nCOPY etc /etc/\nCOPY --chown=app alias/f.txt /a.txt\nCOPY --chown=app:staff real/f.txt /b.txt\n",
    );
    const r = await buildImage(store, ctx, { tags: ["links"] });
    const snaps = await Snapshotter.open(store, { root: join(dir, "snaps") });
    const { lowerDirs } = await snaps.layers("links");
    assert.equal(await Deno.readTextFile(join(lowerDirs[1], "a.txt")), "in context\n");
    const a = await Deno.stat(join(lowerDirs[1], "a.txt"));
    assert.deepEqual([a.uid, a.gid], [1500, 1500]);
    const b = await Deno.stat(join(lowerDirs[0], "b.txt"));
    assert.deepEqual([b.uid, b.gid], [1500, 1700]);
    assert.equal(r.steps.filter((s) => s.layer).length, 3);
    // hostetc -> /etc resolves to <context>/etc, never the host's /etc.
    await Deno.writeTextFile(
      join(ctx, "Containerfile"),
      "FROM scratch\nCOPY hostetc/hostname /x\n",
    );
    await assert.rejects(
      buildImage(store, ctx),
      /COPY hostetc\/hostname: not found in the build context/,
    );
    await Deno.writeTextFile(
      join(ctx, "Containerfile"),
      "FROM scratch\nCOPY --chown=nobody f /x\n",
    );
    await assert.rejects(buildImage(store, ctx), /no user nobody in \/etc\/passwd/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("build errors name the step", async () => {
  const { dir, ctx, store } = await setup({
    "Dockerfile": "FROM scratch\nCOPY missing.txt /\n",
    "Other": "FROM scratch\nCOPY secret.key /\n",
    "secret.key": "k",
    ".dockerignore": "*.key\n",
  });
  try {
    await assert.rejects(
      buildImage(store, ctx),
      /line 2: COPY missing.txt: not found in the build context/,
    );
    await assert.rejects(buildImage(store, ctx, { file: "Other" }), /excluded by \.dockerignore/);
    await assert.rejects(buildImage(store, ctx, { file: "Nope" }), /Cannot read/);
    assert.deepEqual(await store.list(), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "multi-stage build whose RUN steps execute in @tsk/runtime, and the result runs",
  ignore: !isRoot || !requireTool("/bin/busybox"),
  async fn() {
    const { dir, ctx, store } = await setup({
      "Containerfile": `FROM busybox:latest AS build
ARG GREETING=hello
WORKDIR /work
COPY msg.txt .
RUN echo "$GREETING from $(cat msg.txt) as $(id -u)" > out.txt && rm /usr/bin/wc && mkdir -p /gone && rm -r /gone
RUN ["/bin/sh", "-c", "echo exec form >> /work/out.txt"]
RUN test ! -e /usr/bin/wc && test ! -e /gone && test -e /bin/cat
RUN rm -rf /etc && mkdir /etc && echo new > /etc/only
RUN test "$(ls /etc)" = only

FROM busybox:latest
COPY --from=build /work/out.txt /out.txt
RUN echo 'app:x:1234:1234::/:/bin/sh' >> /etc/passwd
USER app
RUN id -u > /tmp/uid
CMD ["/bin/sh", "-c", "cat /out.txt /tmp/uid; test -e /usr/bin/wc && echo wc-present"]
`,
      "msg.txt": "the context",
    });
    try {
      await busyboxImage(store, "busybox:latest");
      const out: string[] = [];
      const progress: string[] = [];
      await buildImage(store, ctx, {
        tags: ["multi:1"],
        onProgress: (l) => progress.push(l),
        onOutput: (c) => out.push(new TextDecoder().decode(c)),
      });
      assert.ok(progress.at(-1)?.startsWith("=> sha256:"), progress.join("\n"));
      const img = await store.image("multi:1");
      assert.equal(img.manifest.layers.length, 1 + 3);
      const history = img.config.history ?? [];
      assert.equal(history.filter((h) => !h.empty_layer).length, img.manifest.layers.length);
      assert.equal(history[0].created_by, "tsk", "the base image's history is kept");
      // The built image runs under @tsk/runtime, from snapshots.
      const result = await runImage(store, "multi:1", undefined, dir);
      assert.equal(
        result.stdout,
        "hello from the context as 0\nexec form\n1234\nwc-present\n",
        result.stderr,
      );
      // Rebuild: every step is cached, and nothing runs.
      let ran = 0;
      const again = await buildImage(store, ctx, { run: () => Promise.resolve(++ran) });
      assert.equal(ran, 0);
      assert.ok(again.steps.filter((s) => s.layer).every((s) => s.cached));
      assert.deepEqual((await store.image(again.descriptor)).manifest.layers, img.manifest.layers);
      // The first stage's RUN layers carry whiteouts that umoci applies.
      if (requireTool("/usr/bin/umoci")) {
        await buildImage(store, ctx, { target: "build", tags: ["stage1:1"] });
        await exportLayout(store, "stage1:1", join(dir, "layout"));
        await run("umoci", ["unpack", "--image", `${join(dir, "layout")}:1`, join(dir, "bundle")]);
        const root = join(dir, "bundle/rootfs");
        await assert.rejects(Deno.lstat(join(root, "usr/bin/wc")), Deno.errors.NotFound);
        await assert.rejects(Deno.lstat(join(root, "gone")), Deno.errors.NotFound);
        assert.ok((await Deno.lstat(join(root, "usr/bin/tr"))).isSymlink);
        // An opaque directory (rm -rf /etc && mkdir /etc) hides the base's /etc.
        assert.deepEqual([...Deno.readDirSync(join(root, "etc"))].map((e) => e.name), ["only"]);
        assert.equal(
          await Deno.readTextFile(join(root, "work/out.txt")),
          "hello from the context as 0\nexec form\n",
        );
      }
      // A failing RUN names the step.
      await Deno.writeTextFile(join(ctx, "Fail"), "FROM busybox:latest\nRUN exit 3\n");
      await assert.rejects(
        buildImage(store, ctx, { file: "Fail" }),
        /line 2: RUN exit 3: exit code 3/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "FROM a registry reference pulls the base image",
  ignore: !requireTool(REGISTRY_BIN),
  async fn() {
    const reg = await startRegistry();
    const { dir, ctx, store } = await setup({ "f.txt": "f\n" });
    try {
      const src = await ImageStore.open({ root: join(dir, "src") });
      const base = await busyboxImage(src, "busybox:latest");
      await pushImage(src, "busybox", `${reg.host}/lib/busybox:1`);
      await Deno.writeTextFile(
        join(ctx, "Containerfile"),
        `FROM ${reg.host}/lib/busybox:1\nCOPY f.txt /\n`,
      );
      const lines: string[] = [];
      const r = await buildImage(store, ctx, {
        tags: ["on-top"],
        onProgress: (l) => lines.push(l),
      });
      assert.ok(lines.includes(`pulling ${reg.host}/lib/busybox:1`), lines.join("\n"));
      assert.equal((await store.resolve(`${reg.host}/lib/busybox:1`)).digest, base.digest);
      const img = await store.image(r.descriptor);
      assert.equal(img.manifest.layers.length, 2);
      // A FROM that names no registry and is not local is an error that says so.
      await Deno.writeTextFile(join(ctx, "Containerfile"), "FROM nowhere/base:1\n");
      await assert.rejects(buildImage(store, ctx), /FROM nowhere\/base:1: not in the local store/);
    } finally {
      await reg.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
