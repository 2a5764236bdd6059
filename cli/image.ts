/**
 * `tsk image`: build, pull, push, list, inspect, remove, tag, import,
 * export and prune images in the local store (`$TSK_HOME/image`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { tskHome } from "@tsk/api/home";
import {
  buildImage,
  type Credentials,
  exportLayout,
  formatPlatform,
  ImageStore,
  importLayout,
  loadCredentials,
  parsePlatform,
  parseReference,
  progressRenderer,
  pullImage,
  pushImage,
  Snapshotter,
} from "@tsk/image";
import { type Command, type CommandIo, UsageError } from "./command.ts";

interface Sub {
  usage: string;
  summary: string;
  options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;
  run(ctx: Ctx, values: Record<string, unknown>, positionals: string[]): Promise<number>;
}

interface Ctx {
  io: CommandIo;
  store(): Promise<ImageStore>;
}

function human(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function creds(value: unknown): Credentials | undefined {
  if (value === undefined) return undefined;
  const s = String(value);
  const i = s.indexOf(":");
  if (i <= 0) throw new UsageError(`--creds: expected USER:PASSWORD`);
  return { username: s.slice(0, i), password: s.slice(i + 1) };
}

/** SOURCE_DATE_EPOCH (reproducible builds): whole seconds since the epoch. */
function epochOf(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^\d+$/.test(value)) {
    throw new UsageError(
      `SOURCE_DATE_EPOCH: expected whole seconds since 1970, got ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}

/** Credentials for a reference's registry from the auth files (docker/podman login). */
function stored(ctx: Ctx, reference: string): Promise<Credentials | undefined> {
  const host = parseReference(reference).registry;
  return host ? loadCredentials(host, { env: ctx.io.env }) : Promise.resolve(undefined);
}

function args(n: [number, number], positionals: string[], usage: string): void {
  if (positionals.length < n[0] || positionals.length > n[1]) {
    throw new UsageError(
      `expected ${n[0] === n[1] ? n[0] : `${n[0]} to ${n[1]}`} argument(s); usage: ${usage}`,
    );
  }
}

function renderer(io: CommandIo) {
  const tty = io.env.TSK_PROGRESS !== "plain" && Deno.stderr.isTerminal();
  return progressRenderer((s) => io.err(s.replace(/\n$/, "")), tty);
}

const SUBS: Record<string, Sub> = {
  build: {
    usage:
      "tsk image build [-t NAME[:TAG]]... [-f FILE] [--build-arg K=V]... [--target STAGE] [--no-cache] [--creds HOST=USER:PASSWORD]... CONTEXT",
    summary: "build an image from a Containerfile or Dockerfile",
    options: {
      tag: { type: "string", short: "t", multiple: true },
      file: { type: "string", short: "f" },
      "build-arg": { type: "string", multiple: true },
      target: { type: "string" },
      "no-cache": { type: "boolean" },
      creds: { type: "string", multiple: true },
      quiet: { type: "boolean", short: "q" },
    },
    async run(ctx, v, p) {
      args([1, 1], p, this.usage);
      const buildArgs: Record<string, string> = {};
      for (const a of (v["build-arg"] as string[] | undefined) ?? []) {
        const i = a.indexOf("=");
        if (i <= 0) {
          throw new UsageError(`--build-arg: expected NAME=value, got ${JSON.stringify(a)}`);
        }
        buildArgs[a.slice(0, i)] = a.slice(i + 1);
      }
      // Credentials are scoped to one registry host each: a Containerfile names
      // its registries, and must not receive credentials meant for another.
      const credentials: Record<string, Credentials> = {};
      for (const c of (v.creds as string[] | undefined) ?? []) {
        const eq = c.indexOf("=");
        if (eq <= 0) throw new UsageError(`--creds: expected HOST=USER:PASSWORD for build`);
        credentials[c.slice(0, eq)] = creds(c.slice(eq + 1))!;
      }
      const quiet = v.quiet === true;
      const dec = new TextDecoder();
      let partial = "";
      const r = await buildImage(await ctx.store(), p[0], {
        file: v.file as string | undefined,
        tags: (v.tag as string[] | undefined) ?? [],
        buildArgs,
        target: v.target as string | undefined,
        noCache: v["no-cache"] === true,
        sourceDateEpoch: epochOf(ctx.io.env.SOURCE_DATE_EPOCH),
        credentials,
        findCredentials: (host) => loadCredentials(host, { env: ctx.io.env }),
        onProgress: quiet ? undefined : (l) => ctx.io.err(l),
        onOutput: quiet ? undefined : (chunk) => {
          partial += dec.decode(chunk, { stream: true });
          const lines = partial.split("\n");
          partial = lines.pop()!;
          for (const l of lines) ctx.io.err(`  | ${l}`);
        },
      });
      if (partial) ctx.io.err(`  | ${partial}`);
      ctx.io.out(r.descriptor.digest);
      return 0;
    },
  },
  pull: {
    usage:
      "tsk image pull [--platform OS/ARCH[/VARIANT]] [--creds USER:PASSWORD] [--plain-http] REGISTRY/REPO[:TAG|@DIGEST]",
    summary: "pull an image from a registry",
    options: {
      platform: { type: "string" },
      creds: { type: "string" },
      "plain-http": { type: "boolean" },
      quiet: { type: "boolean", short: "q" },
    },
    async run(ctx, v, p) {
      args([1, 1], p, this.usage);
      const r = await pullImage(await ctx.store(), p[0], {
        platform: v.platform ? parsePlatform(v.platform as string) : undefined,
        credentials: creds(v.creds) ?? await stored(ctx, p[0]),
        plainHttp: v["plain-http"] === true ? true : undefined,
        onProgress: v.quiet ? undefined : renderer(ctx.io),
      });
      ctx.io.err(`pulled ${r.name} (${human(r.bytes)} downloaded)`);
      ctx.io.out(r.descriptor.digest);
      return 0;
    },
  },
  push: {
    usage:
      "tsk image push [--creds USER:PASSWORD] [--chunk-size BYTES] [--mount-from REPO] [--plain-http] IMAGE [REGISTRY/REPO[:TAG]]",
    summary: "push an image to a registry",
    options: {
      creds: { type: "string" },
      "chunk-size": { type: "string" },
      "mount-from": { type: "string" },
      "plain-http": { type: "boolean" },
      quiet: { type: "boolean", short: "q" },
    },
    async run(ctx, v, p) {
      args([1, 2], p, this.usage);
      const dest = p[1] ?? p[0];
      if (!parseReference(dest, "destination").registry) {
        throw new UsageError(
          `destination ${JSON.stringify(dest)} names no registry; give REGISTRY/REPO[:TAG]`,
        );
      }
      const chunk = v["chunk-size"] === undefined ? undefined : Number(v["chunk-size"]);
      if (chunk !== undefined && !(Number.isSafeInteger(chunk) && chunk > 0)) {
        throw new UsageError(`--chunk-size: expected a positive number of bytes`);
      }
      const r = await pushImage(await ctx.store(), p[0], dest, {
        credentials: creds(v.creds) ?? await stored(ctx, dest),
        chunkSize: chunk,
        mountFrom: v["mount-from"] as string | undefined,
        plainHttp: v["plain-http"] === true ? true : undefined,
        onProgress: v.quiet ? undefined : renderer(ctx.io),
      });
      ctx.io.err(
        `pushed ${dest}: ${r.blobs.uploaded} uploaded (${
          human(r.bytes)
        }), ${r.blobs.mounted} mounted, ${r.blobs.exists} already there`,
      );
      ctx.io.out(r.digest);
      return 0;
    },
  },
  ls: {
    usage: "tsk image ls [--json]",
    summary: "list images",
    options: { json: { type: "boolean" } },
    async run(ctx, v, p) {
      args([0, 0], p, this.usage);
      const store = await ctx.store();
      const rows = [];
      for (const rec of await store.list()) {
        let size = rec.descriptor.size, created = "", platform = "";
        try {
          const img = await store.image(rec.descriptor);
          size = img.manifest.layers.reduce((n, l) => n + l.size, img.manifest.config.size);
          created = img.config.created ?? "";
          platform = formatPlatform({ os: img.config.os, architecture: img.config.architecture });
        } catch { /* an index for other platforms: show what we know */ }
        rows.push({ name: rec.name, id: rec.descriptor.digest, size, created, platform });
      }
      if (v.json) {
        for (const r of rows) ctx.io.out(JSON.stringify(r));
        return 0;
      }
      const w = Math.max(4, ...rows.map((r) => r.name.length));
      ctx.io.out(`${"NAME".padEnd(w)}  IMAGE ID      PLATFORM     SIZE        CREATED`);
      for (const r of rows) {
        ctx.io.out(
          `${r.name.padEnd(w)}  ${r.id.slice(7, 19)}  ${r.platform.padEnd(11)}  ${
            human(r.size).padEnd(10)
          }  ${r.created}`,
        );
      }
      return 0;
    },
  },
  inspect: {
    usage: "tsk image inspect IMAGE",
    summary: "print an image's manifest and config as JSON",
    options: {},
    async run(ctx, _v, p) {
      args([1, 1], p, this.usage);
      const store = await ctx.store();
      const img = await store.image(p[0]);
      const names = (await store.list()).filter((r) =>
        r.descriptor.digest === img.descriptor.digest
      ).map((r) => r.name);
      ctx.io.out(
        JSON.stringify(
          { names, descriptor: img.descriptor, manifest: img.manifest, config: img.config },
          null,
          2,
        ),
      );
      return 0;
    },
  },
  rm: {
    usage: "tsk image rm IMAGE...",
    summary: "remove image names (blobs go at the next prune)",
    options: {},
    async run(ctx, _v, p) {
      if (p.length === 0) throw new UsageError(`expected at least one image; usage: ${this.usage}`);
      const store = await ctx.store();
      for (const name of p) {
        const d = await store.untag(name);
        ctx.io.out(`Untagged: ${name} (${d.digest})`);
      }
      return 0;
    },
  },
  tag: {
    usage: "tsk image tag SOURCE TARGET",
    summary: "give an image another name",
    options: {},
    async run(ctx, _v, p) {
      args([2, 2], p, this.usage);
      const store = await ctx.store();
      ctx.io.out(await store.tag(p[1], await store.resolve(p[0])));
      return 0;
    },
  },
  import: {
    usage: "tsk image import DIR[:REF] [NAME]",
    summary: "import an image from an OCI layout directory",
    options: {},
    async run(ctx, _v, p) {
      args([1, 2], p, this.usage);
      let dir = p[0], refName: string | undefined;
      const colon = dir.lastIndexOf(":");
      if (colon > dir.lastIndexOf("/")) {
        refName = dir.slice(colon + 1);
        dir = dir.slice(0, colon);
      }
      const r = await importLayout(await ctx.store(), dir, { refName, name: p[1] });
      ctx.io.out(`${r.name} ${r.descriptor.digest}`);
      return 0;
    },
  },
  export: {
    usage: "tsk image export [--ref-name REF] IMAGE DIR",
    summary: "write an image to an OCI layout directory (skopeo oci:DIR:REF, umoci DIR:REF)",
    options: { "ref-name": { type: "string" } },
    async run(ctx, v, p) {
      args([2, 2], p, this.usage);
      const d = await exportLayout(await ctx.store(), p[0], p[1], {
        refName: v["ref-name"] as string | undefined,
      });
      ctx.io.out(`${p[1]}:${d.annotations?.["org.opencontainers.image.ref.name"]} ${d.digest}`);
      return 0;
    },
  },
  prune: {
    usage: "tsk image prune [--all]",
    summary: "remove unreferenced blobs and unused layer snapshots (--all: also the build cache)",
    options: { all: { type: "boolean", short: "a" } },
    async run(ctx, v, p) {
      args([0, 0], p, this.usage);
      const store = await ctx.store();
      const snaps = await Snapshotter.open(store, { root: join(store.root, "snapshots") });
      const layers = await snaps.gc({ all: v.all === true });
      const r = await store.gc({ gracePeriodMs: 0, dropBuildCache: v.all === true });
      ctx.io.out(
        `removed ${r.removed.length} blobs (${
          human(r.bytes)
        }) and ${layers.length} layer snapshots`,
      );
      return 0;
    },
  },
};

function help(): string {
  const w = Math.max(...Object.keys(SUBS).map((k) => k.length));
  return [
    "Usage: tsk image <command> [args...]",
    "",
    "Images live in $TSK_HOME/image (an OCI image layout).",
    "",
    "Commands:",
    ...Object.entries(SUBS).map(([k, s]) => `  ${k.padEnd(w)}  ${s.summary}`),
    "",
    "Run 'tsk image <command> --help' for its flags.",
  ].join("\n");
}

/** The `tsk image` command group. */
export const imageCommand: Command = {
  name: "image",
  summary: "build, pull, push and manage OCI images",
  async run(argv: string[], io: CommandIo): Promise<number> {
    const [name, ...rest] = argv;
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
      io.out(help());
      return name === undefined ? 2 : 0;
    }
    const sub = SUBS[name];
    if (!sub) {
      throw new UsageError(
        `unknown command ${JSON.stringify(name)}; run 'tsk image --help' for the list`,
      );
    }
    if (rest.includes("--help") || rest.includes("-h")) {
      io.out(`Usage: ${sub.usage}\n\n${sub.summary}`);
      return 0;
    }
    let parsed;
    try {
      parsed = parseArgs({
        args: rest,
        options: sub.options,
        allowPositionals: true,
        strict: true,
      });
    } catch (err) {
      throw new UsageError(`${name}: ${(err as Error).message}; usage: ${sub.usage}`, {
        cause: err,
      });
    }
    let store: ImageStore | undefined;
    const ctx: Ctx = {
      io,
      store: async () =>
        store ??= await ImageStore.open({ root: join(tskHome({ env: io.env }), "image") }),
    };
    return await sub.run(ctx, parsed.values as Record<string, unknown>, parsed.positionals);
  },
};
