/**
 * Building images from a Containerfile/Dockerfile: stages, a layer cache
 * keyed by the parent, the instruction and the content it copies, RUN steps
 * in `@tsk/runtime` containers, and per-step progress with CACHED markers.
 *
 * @module
 */
import { basename, join, posix, relative } from "node:path";
import { ImageError, NotFoundError, ValidationError } from "../errors.ts";
import type { ContainerConfig, History } from "../oci/config.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { DigestVerifier, sha256Digest } from "../oci/digest.ts";
import { layerCompression } from "../oci/media_types.ts";
import { hostPlatform } from "../oci/platform.ts";
import { parseReference } from "../oci/reference.ts";
import { commitImage, type ImageLayer } from "../commit.ts";
import { addTree, storeLayer, writeLayerTar } from "../layer/create.ts";
import { extractLayer } from "../layer/extract.ts";
import { readTar, TarWriter } from "../layer/tar.ts";
import { decompressStream } from "../layer/compression.ts";
import type { ImageStore } from "../store/image_store.ts";
import { Snapshotter } from "../snapshot.ts";
import { pullImage } from "../registry/pull.ts";
import type { Credentials } from "../registry/auth.ts";
import { DockerIgnore } from "./dockerignore.ts";
import {
  type Containerfile,
  expandVariables,
  type Instruction,
  parseContainerfile,
  parseKeyValues,
  type Stage,
} from "./dockerfile.ts";
import { type RunStep, runWithRuntime } from "./run_step.ts";

/** A build failed: the message names the step. */
export class BuildError extends ImageError {
  /**
   * Creates a build error.
   *
   * @param message Names the step and what failed.
   * @param options The cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BuildError";
  }
}

/** Options for {@linkcode buildImage}. */
export interface BuildOptions {
  /**
   * The Containerfile, relative to the context or absolute.
   * @default `Containerfile` if present, else `Dockerfile`
   */
  file?: string;
  /**
   * Tag the result with these names.
   * @default []
   */
  tags?: string[];
  /**
   * `--build-arg` values.
   * @default {}
   */
  buildArgs?: Record<string, string>;
  /**
   * The stage to build.
   * @default the last stage
   */
  target?: string;
  /**
   * Ignore the layer cache (still fill it).
   * @default false
   */
  noCache?: boolean;
  /**
   * Receives one line per step (`[2/5] COPY . /app`, `CACHED`, ...).
   * @default undefined
   */
  onProgress?: (line: string) => void;
  /**
   * Receives RUN steps' output.
   * @default undefined
   */
  onOutput?: (chunk: Uint8Array, stream: "stdout" | "stderr") => void;
  /**
   * Executes RUN steps.
   * @default a `@tsk/runtime` container per step
   */
  run?: RunStep;
  /**
   * Where layer snapshots live.
   * @default `<store root>/snapshots`
   */
  snapshotRoot?: string;
  /**
   * Fixed time (seconds since the epoch) for created files and the image's
   * `created`, for reproducible builds (as SOURCE_DATE_EPOCH).
   * @default undefined (now, and the files' own mtimes)
   */
  sourceDateEpoch?: number;
  /**
   * Credentials for pulling base images, by registry host.
   * @default {}
   */
  credentials?: Record<string, Credentials>;
  /**
   * Looks up credentials for a registry host that `credentials` does not
   * name (e.g. `loadCredentials` over the auth files).
   * @default undefined (anonymous)
   */
  findCredentials?: (host: string) => Promise<Credentials | undefined>;
}

/** What one step did. */
export interface BuildStep {
  /** The stage index. */
  stage: number;
  /** The instruction as written. */
  text: string;
  /** Whether it was served from the cache (only for RUN, COPY, ADD). */
  cached: boolean;
  /** The layer it produced, if any. */
  layer?: Descriptor;
}

/** The outcome of a build. */
export interface BuildResult {
  /** The image manifest. */
  descriptor: Descriptor;
  /** The tags applied. */
  tags: string[];
  /** Every step. */
  steps: BuildStep[];
}

interface StageState {
  stage: Stage;
  layers: ImageLayer[];
  config: ContainerConfig;
  history: History[];
  key: string;
  args: Record<string, string>;
  shell: string[];
  flat?: string;
}

function envMap(env: string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env ?? []) {
    const i = e.indexOf("=");
    m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}

function envVars(state: StageState): Record<string, string> {
  return { ...state.args, ...Object.fromEntries(envMap(state.config.Env)) };
}

function chainKey(parent: string, ...parts: unknown[]): string {
  return sha256Digest(JSON.stringify([parent, ...parts]));
}

function splitWords(text: string): string[] {
  return text.trim().split(/\s+/).filter(Boolean);
}

function cleanRel(p: string): string {
  return posix.normalize("/" + p).slice(1).replace(/\/$/, "");
}

function hasGlob(s: string): boolean {
  return /[*?[]/.test(s);
}

function globRe(pattern: string): RegExp {
  let re = "";
  for (const c of pattern) {
    re += c === "*" ? "[^/]*" : c === "?" ? "[^/]" : c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/**
 * Resolves a relative path inside `root` as if `root` were `/`, following
 * symlinks but never out of `root`, as Docker resolves COPY sources. The
 * runtime owns this (it resolves mount destinations the same way); it loads
 * only when a build copies, so pull and push do not pay for it.
 */
async function resolveInRoot(root: string, rel: string): Promise<string> {
  const { secureJoin } = await import("@tsk/runtime");
  return secureJoin(root, rel);
}

/** Expands a source pattern inside `root` into relative paths (never escaping it). */
async function expandSources(root: string, pattern: string): Promise<string[]> {
  const rel = cleanRel(pattern);
  if (!hasGlob(rel)) return [rel];
  let candidates = [""];
  for (const seg of rel.split("/")) {
    const next: string[] = [];
    for (const c of candidates) {
      if (!hasGlob(seg)) {
        next.push(c ? `${c}/${seg}` : seg);
        continue;
      }
      const re = globRe(seg);
      try {
        for await (const e of Deno.readDir(await resolveInRoot(root, c))) {
          if (re.test(e.name)) next.push(c ? `${c}/${e.name}` : e.name);
        }
      } catch { /* not a directory */ }
    }
    candidates = next.sort();
  }
  return candidates;
}

async function lookupUser(dirs: string[], user: string): Promise<{ uid: number; gid: number }> {
  const [u, g] = user.split(":");
  const read = async (file: string) => {
    for (const d of dirs) {
      // Never follow a layer's symlinked /etc out of the layer.
      const etc = await Deno.lstat(join(d, "etc")).catch(() => null);
      if (etc?.isSymlink) return "";
      const st = await Deno.lstat(join(d, file)).catch(() => null);
      if (st?.isFile) return await Deno.readTextFile(join(d, file));
      if (st) return "";
    }
    return "";
  };
  let uid: number, gid: number | undefined;
  if (/^\d+$/.test(u)) uid = Number(u);
  else {
    const line = (await read("etc/passwd")).split("\n").find((l) => l.split(":")[0] === u);
    if (!line) throw new BuildError(`USER ${user}: no user ${u} in /etc/passwd`);
    uid = Number(line.split(":")[2]);
    gid = Number(line.split(":")[3]);
  }
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const line = (await read("etc/group")).split("\n").find((l) => l.split(":")[0] === g);
      if (!line) throw new BuildError(`USER ${user}: no group ${g} in /etc/group`);
      gid = Number(line.split(":")[2]);
    }
  }
  return { uid, gid: gid ?? uid };
}

/**
 * Builds an image from a context directory and a Containerfile.
 *
 * @param store The image store (results, cache and base images).
 * @param context The build context directory.
 * @param options File, tags, build args, target, progress, RUN executor.
 * @returns The manifest, tags and what each step did.
 * @throws {ValidationError} For a malformed Containerfile, naming the line.
 * @throws {BuildError} When a step fails, naming it.
 *
 * @example Build a context
 * ```ts ignore
 * import { buildImage, ImageStore } from "@tsk/image";
 * const store = await ImageStore.open();
 * const r = await buildImage(store, "./app", { tags: ["app:dev"], onProgress: console.log });
 * ```
 */
export async function buildImage(
  store: ImageStore,
  context: string,
  options: BuildOptions = {},
): Promise<BuildResult> {
  const progress = options.onProgress ?? (() => {});
  const fileName = options.file ??
    ((await Deno.stat(join(context, "Containerfile")).catch(() => null))
      ? "Containerfile"
      : "Dockerfile");
  const filePath = fileName.startsWith("/") ? fileName : join(context, fileName);
  let text: string;
  try {
    text = await Deno.readTextFile(filePath);
  } catch (err) {
    throw new NotFoundError(`Cannot read ${filePath}: ${(err as Error).message}`, { cause: err });
  }
  const file: Containerfile = parseContainerfile(text);
  const ignoreText = await Deno.readTextFile(join(context, ".dockerignore")).catch(() => "");
  const ignore = new DockerIgnore(ignoreText);
  const buildArgs = options.buildArgs ?? {};
  const globalArgs: Record<string, string> = {};
  for (const a of file.globalArgs) {
    for (const [k, v] of parseKeyValues(a.raw, false)) {
      globalArgs[k] = buildArgs[k] ?? (v !== undefined ? expandVariables(v, globalArgs) : "");
    }
  }
  const stageOf = (ref: string): Stage | undefined => {
    const lower = ref.toLowerCase();
    return file.stages.find((s) => s.name === lower) ??
      (/^\d+$/.test(ref) ? file.stages[Number(ref)] : undefined);
  };
  const target = options.target ? stageOf(options.target) : file.stages.at(-1)!;
  if (!target) {
    throw new ValidationError("target", `no stage named ${JSON.stringify(options.target)}`);
  }
  // Only the stages the target needs are built.
  const needed = new Set<number>();
  const need = (s: Stage) => {
    if (needed.has(s.index)) return;
    needed.add(s.index);
    const base = stageOf(expandVariables(s.from, globalArgs));
    if (base && base.index < s.index) need(base);
    for (const i of s.instructions) {
      if ((i.name === "COPY" || i.name === "ADD") && i.flags.from) {
        const src = stageOf(i.flags.from);
        if (src && src.index < s.index) need(src);
      }
    }
  };
  need(target);
  const stages = file.stages.filter((s) => needed.has(s.index));
  const total = stages.reduce((n, s) => n + 1 + s.instructions.length, 0);
  let stepNo = 0;
  const steps: BuildStep[] = [];
  const states = new Map<number, StageState>();
  const snaps = await Snapshotter.open(store, {
    root: options.snapshotRoot ?? join(store.root, "snapshots"),
  });
  const lease = await store.lease();
  const scratchRoot = await Deno.makeTempDir({ dir: store.root, prefix: ".build-" });
  const epoch = options.sourceDateEpoch;
  const created = epoch !== undefined
    ? new Date(epoch * 1000).toISOString()
    : new Date().toISOString();
  const run = options.run ?? runWithRuntime;

  const flatten = async (layers: ImageLayer[], name: string): Promise<string> => {
    const dir = join(scratchRoot, `flat-${name}-${crypto.randomUUID().slice(0, 8)}`);
    await Deno.mkdir(dir);
    for (const l of layers) {
      await extractLayer(await store.content.open(l.descriptor.digest), dir, {
        compression: layerCompression(l.descriptor.mediaType),
        whiteouts: "apply",
        diffId: l.diffId,
      });
    }
    return dir;
  };

  const resolveImage = async (
    ref: string,
  ): Promise<
    { layers: ImageLayer[]; config: ContainerConfig; history: History[]; key: string }
  > => {
    let img;
    try {
      img = await store.image(ref);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      const parsed = parseReference(ref, "FROM");
      if (!parsed.registry) {
        throw new BuildError(
          `FROM ${ref}: not in the local store, and the reference names no registry to pull from`,
          {
            cause: err,
          },
        );
      }
      progress(`pulling ${ref}`);
      const pulled = await pullImage(store, ref, {
        credentials: options.credentials?.[parsed.registry] ??
          await options.findCredentials?.(parsed.registry),
      });
      img = await store.image(pulled.descriptor);
    }
    const diffIds = img.config.rootfs.diff_ids;
    // Keep the base's history: tools expect one non-empty entry per layer.
    let history = structuredClone(img.config.history ?? []);
    if (history.filter((h) => !h.empty_layer).length !== diffIds.length) {
      history = diffIds.map(() => ({ created_by: `FROM ${ref}` }));
    }
    return {
      layers: img.manifest.layers.map((d, i) => ({ descriptor: d, diffId: diffIds[i] })),
      config: structuredClone(img.config.config ?? {}),
      history,
      key: img.descriptor.digest,
    };
  };

  const withCache = async (
    state: StageState,
    key: string,
    text: string,
    make: () => Promise<ImageLayer>,
  ): Promise<void> => {
    const hit = options.noCache ? undefined : await store.cacheGet(key);
    let layer: ImageLayer;
    let cached = false;
    if (hit?.layer && hit.diffId) {
      layer = { descriptor: hit.layer, diffId: hit.diffId };
      cached = true;
    } else {
      layer = await make();
      await store.cachePut(key, { layer: layer.descriptor, diffId: layer.diffId });
    }
    state.layers.push(layer);
    state.history.push({ created, created_by: text });
    state.key = key;
    steps.push({ stage: state.stage.index, text, cached, layer: layer.descriptor });
    progress(`[${stepNo}/${total}] ${text}${cached ? "  CACHED" : ""}`);
  };

  const meta = (state: StageState, text: string, changes: unknown) => {
    state.key = chainKey(state.key, text, changes);
    state.history.push({ created, created_by: text, empty_layer: true });
    steps.push({ stage: state.stage.index, text, cached: false });
    progress(`[${stepNo}/${total}] ${text}`);
  };

  try {
    for (const stage of stages) {
      stepNo++;
      const fromRef = expandVariables(stage.from, globalArgs);
      if (stage.platform) {
        const p = expandVariables(stage.platform, {
          ...globalArgs,
          BUILDPLATFORM: "",
          TARGETPLATFORM: "",
        });
        const host = hostPlatform();
        if (p && p !== `${host.os}/${host.architecture}` && !p.startsWith("$")) {
          throw new BuildError(
            `line ${stage.fromInstruction.line}: FROM --platform=${p}: only the host platform can be built`,
          );
        }
      }
      let state: StageState;
      const prior = stageOf(fromRef);
      if (fromRef === "scratch") {
        state = {
          stage,
          layers: [],
          config: {},
          history: [],
          key: "scratch",
          args: {},
          shell: ["/bin/sh", "-c"],
        };
      } else if (prior && prior.index < stage.index) {
        const p = states.get(prior.index)!;
        state = {
          stage,
          layers: [...p.layers],
          config: structuredClone(p.config),
          history: [...p.history],
          key: p.key,
          args: {},
          shell: [...p.shell],
        };
      } else {
        const base = await resolveImage(fromRef);
        state = {
          stage,
          layers: base.layers,
          config: base.config,
          history: base.history,
          key: base.key,
          args: {},
          shell: base.config.Shell ?? ["/bin/sh", "-c"],
        };
      }
      steps.push({ stage: stage.index, text: stage.fromInstruction.text, cached: false });
      progress(`[${stepNo}/${total}] ${stage.fromInstruction.text}`);
      states.set(stage.index, state);

      for (const ins of stage.instructions) {
        stepNo++;
        await step(state, ins);
      }
    }
    const final = states.get(target.index)!;
    // The key chain covers the base, every instruction and every copied byte:
    // the same key means the same image, so a fully cached build returns the
    // very same manifest (as Docker does) instead of a new creation time.
    const commitKey = chainKey(
      final.key,
      "commit",
      final.history.map((h) => h.created_by),
      epoch ?? null,
    );
    const cachedImage = options.noCache
      ? undefined
      : (await store.cacheGet(commitKey))?.meta?.manifest as
        | Descriptor
        | undefined;
    let descriptor: Descriptor;
    if (cachedImage && await store.content.has(cachedImage.digest)) {
      descriptor = cachedImage;
    } else {
      descriptor = await commitImage(store, final.layers, {
        config: final.config,
        history: final.history,
        created,
      });
      await store.cachePut(commitKey, { meta: { manifest: descriptor } });
    }
    const tags: string[] = [];
    for (const t of options.tags ?? []) tags.push(await store.tag(t, descriptor));
    progress(`=> ${descriptor.digest}${tags.length ? ` ${tags.join(" ")}` : ""}`);
    return { descriptor, tags, steps };
  } finally {
    await Deno.remove(scratchRoot, { recursive: true }).catch(() => {});
    await lease.release();
  }

  async function step(state: StageState, ins: Instruction): Promise<void> {
    const vars = envVars(state);
    const x = (s: string) => expandVariables(s, vars);
    const where = `line ${ins.line}`;
    switch (ins.name) {
      case "ENV": {
        const env = envMap(state.config.Env);
        const pairs = parseKeyValues(ins.raw, true);
        for (const [k, v] of pairs) {
          if (v === undefined) throw new ValidationError(where, `ENV ${k}: expected NAME=value`);
          env.set(k, x(v));
        }
        state.config.Env = [...env].map(([k, v]) => `${k}=${v}`);
        return meta(state, ins.text, state.config.Env);
      }
      case "ARG": {
        for (const [k, v] of parseKeyValues(ins.raw, false)) {
          state.args[k] = buildArgs[k] ?? globalArgs[k] ?? (v !== undefined ? x(v) : "");
        }
        return meta(state, ins.text, state.args);
      }
      case "LABEL":
      case "MAINTAINER": {
        state.config.Labels ??= {};
        const pairs: [string, string | undefined][] = ins.name === "MAINTAINER"
          ? [["maintainer", ins.raw]]
          : parseKeyValues(ins.raw, true);
        for (const [k, v] of pairs) state.config.Labels[x(k)] = x(v ?? "");
        return meta(state, ins.text, state.config.Labels);
      }
      case "EXPOSE": {
        state.config.ExposedPorts ??= {};
        for (const p of splitWords(x(ins.raw))) {
          if (!/^\d+(-\d+)?(\/(tcp|udp|sctp))?$/i.test(p)) {
            throw new ValidationError(
              where,
              `EXPOSE: expected PORT[/tcp|udp|sctp], got ${JSON.stringify(p)}`,
            );
          }
          state.config.ExposedPorts[p.includes("/") ? p.toLowerCase() : `${p}/tcp`] = {};
        }
        return meta(state, ins.text, state.config.ExposedPorts);
      }
      case "WORKDIR": {
        const dir = x(ins.raw.trim());
        state.config.WorkingDir = posix.resolve(state.config.WorkingDir || "/", dir);
        return meta(state, ins.text, state.config.WorkingDir);
      }
      case "USER":
        state.config.User = x(ins.raw.trim());
        return meta(state, ins.text, state.config.User);
      case "STOPSIGNAL":
        state.config.StopSignal = x(ins.raw.trim());
        return meta(state, ins.text, state.config.StopSignal);
      case "VOLUME": {
        state.config.Volumes ??= {};
        for (const v of ins.json ?? splitWords(x(ins.raw))) state.config.Volumes[v] = {};
        return meta(state, ins.text, state.config.Volumes);
      }
      case "SHELL":
        if (!ins.json || ins.json.length === 0) {
          throw new ValidationError(where, "SHELL: expected a JSON array");
        }
        state.shell = ins.json;
        state.config.Shell = ins.json;
        return meta(state, ins.text, ins.json);
      case "ENTRYPOINT":
        state.config.Entrypoint = ins.json ?? [...state.shell, ins.raw];
        // As Docker: a new ENTRYPOINT drops a CMD inherited from the base.
        if (
          !state.stage.instructions.slice(0, state.stage.instructions.indexOf(ins)).some((i) =>
            i.name === "CMD"
          )
        ) {
          delete state.config.Cmd;
        }
        return meta(state, ins.text, [state.config.Entrypoint, state.config.Cmd]);
      case "CMD":
        state.config.Cmd = ins.json ?? [...state.shell, ins.raw];
        return meta(state, ins.text, state.config.Cmd);
      case "COPY":
      case "ADD":
        return await copyStep(state, ins, x);
      case "RUN":
        return await runStep(state, ins);
      default:
        throw new BuildError(`${where}: ${ins.name} is not supported`);
    }
  }

  async function copyStep(
    state: StageState,
    ins: Instruction,
    x: (s: string) => string,
  ): Promise<void> {
    const where = `line ${ins.line}`;
    const words = ins.json ?? splitWords(ins.raw);
    if (words.length < 2) {
      throw new ValidationError(
        where,
        `${ins.name}: expected at least one source and a destination`,
      );
    }
    const srcs = words.slice(0, -1).map(x);
    const destRaw = x(words.at(-1)!);
    let chown: { uid: number; gid: number } | undefined;
    if (ins.flags.chown) {
      const spec = x(ins.flags.chown);
      if (!/^[^:\s]+(:[^:\s]+)?$/.test(spec)) {
        throw new ValidationError(
          where,
          `--chown: expected USER[:GROUP], got ${JSON.stringify(spec)}`,
        );
      }
      const m = /^(\d+)(?::(\d+))?$/.exec(spec);
      if (m) chown = { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) };
      else {
        // Names resolve through the stage's own /etc/passwd and /etc/group.
        const lowers = await snaps.lowerDirs(state.layers);
        chown = await lookupUser(lowers, spec);
        // As Docker: a user without a group gets the same numeric id as group.
        if (!spec.includes(":")) chown.gid = chown.uid;
      }
    }
    const chmod = ins.flags.chmod ? parseInt(ins.flags.chmod, 8) : undefined;
    if (ins.flags.chmod && (!/^[0-7]{3,4}$/.test(ins.flags.chmod))) {
      throw new ValidationError(
        where,
        `--chmod: expected octal such as 755, got ${JSON.stringify(ins.flags.chmod)}`,
      );
    }
    let root = context;
    let fromKey = "context";
    const useIgnore = !ins.flags.from;
    if (ins.flags.from) {
      const from = x(ins.flags.from);
      const s = stageOf(from);
      if (s && s.index < state.stage.index) {
        const st = states.get(s.index)!;
        st.flat ??= await flatten(st.layers, `stage${s.index}`);
        root = st.flat;
        fromKey = st.key;
      } else {
        const img = await resolveImage(from);
        root = await flatten(img.layers, "image");
        fromKey = img.key;
      }
    }
    const dest = posix.resolve(state.config.WorkingDir || "/", destRaw);
    const destIsDir = destRaw.endsWith("/") || /(^|\/)\.\.?$/.test(destRaw) || srcs.length > 1 ||
      srcs.some(hasGlob);
    const items: { rel: string; abs: string; st: Deno.FileInfo; destRel: string }[] = [];
    for (const src of srcs) {
      if (/^https?:\/\//.test(src)) {
        throw new BuildError(
          `${where}: ${ins.name} from a URL is not supported (no network in builds); put the file in the context`,
        );
      }
      const matches = await expandSources(root, src);
      if (matches.length === 0) {
        throw new BuildError(`${where}: ${ins.name} ${src}: no source files were specified`);
      }
      for (const rel of matches) {
        if (useIgnore && rel !== "" && ignore.ignores(rel)) {
          throw new BuildError(`${where}: ${ins.name} ${src}: ${rel} is excluded by .dockerignore`);
        }
        const abs = await resolveInRoot(root, rel);
        const resolvedRel = relative(root, abs);
        if (useIgnore && resolvedRel !== rel && resolvedRel !== "" && ignore.ignores(resolvedRel)) {
          throw new BuildError(
            `${where}: ${ins.name} ${src}: resolves to ${resolvedRel}, excluded by .dockerignore`,
          );
        }
        const st = await Deno.lstat(abs).catch(() => null);
        if (!st) {
          throw new BuildError(
            `${where}: ${ins.name} ${src}: not found in ${
              useIgnore ? "the build context" : "the source stage"
            }`,
          );
        }
        let destRel: string;
        if (st.isDirectory) destRel = cleanRel(dest);
        else if (destIsDir || dest.endsWith("/")) {
          destRel = cleanRel(posix.join(dest, basename(rel)));
        } else destRel = cleanRel(dest);
        items.push({ rel, abs, st, destRel });
      }
    }
    const isArchive = (p: string) => /\.(tar|tar\.gz|tgz|tar\.zst|tar\.xz)$/.test(p);
    const owner = chown ?? { uid: 0, gid: 0 };
    const writeTar = (mtime: number | undefined): ReadableStream<Uint8Array> => {
      const w = new TarWriter();
      (async () => {
        // Parent directories of every destination, root-owned 0755 as Docker makes them.
        const parents = new Set<string>();
        for (const it of items) {
          const parts = it.destRel.split("/").filter(Boolean);
          const upto = it.st.isDirectory ? parts.length : parts.length - 1;
          for (let i = 1; i <= upto; i++) parents.add(parts.slice(0, i).join("/"));
        }
        for (const p of [...parents].sort()) {
          await w.add({
            name: `${p}/`,
            type: "directory",
            mode: 0o755,
            mtime: mtime ?? 0,
            uid: 0,
            gid: 0,
          });
        }
        for (const it of items) {
          // An ignored directory is still walked when a `!` rule may bring
          // back something below it (its entry then comes along, as in Docker).
          const exclude = useIgnore
            ? (r: string, isDir: boolean) =>
              ignore.ignores(it.rel ? `${it.rel}/${r}` : r) && !(isDir && ignore.hasExceptions())
            : undefined;
          const prefix = it.destRel ? `${it.destRel}/` : "";
          if (it.st.isDirectory) {
            await addTree(w, it.abs, { prefix, exclude, owner, mtime, mode: chmod });
          } else if (ins.name === "ADD" && it.st.isFile && isArchive(it.rel)) {
            // ADD unpacks local archives into the destination directory.
            // As Docker: the destination of an unpacked archive is a directory.
            const dir = cleanRel(dest);
            const f = await Deno.open(it.abs);
            for await (const e of readTar(decompressStream(f.readable))) {
              const parts = e.name.split("/").filter((p) => p && p !== ".");
              if (parts.includes("..")) {
                throw new BuildError(
                  `${where}: ADD ${it.rel}: entry ${e.name} escapes the destination`,
                );
              }
              const name = [dir, ...parts].filter(Boolean).join("/") +
                (e.type === "directory" ? "/" : "");
              await w.add(
                { ...e, name, mtime: mtime ?? e.mtime },
                e.type === "file" ? e.body : undefined,
              );
            }
          } else if (it.st.isSymlink) {
            await w.add({
              name: it.destRel,
              type: "symlink",
              linkname: await Deno.readLink(it.abs),
              ...owner,
              mtime: mtime ?? 0,
            });
          } else if (it.st.isFile) {
            const f = await Deno.open(it.abs);
            await w.add({
              name: it.destRel,
              type: "file",
              mode: chmod ?? ((it.st.mode ?? 0o644) & 0o7777),
              size: it.st.size,
              ...owner,
              mtime: mtime ?? Math.floor((it.st.mtime?.getTime() ?? 0) / 1000),
            }, f.readable);
          }
        }
        await w.close();
      })().catch((err) => w.abort(err).catch(() => {}));
      return w.readable;
    };
    // The cache key hashes what would be copied with mtimes zeroed: touching a
    // file keeps the cache, changing its content or mode does not.
    const hasher = new DigestVerifier();
    for await (const chunk of writeTar(0)) hasher.update(chunk);
    const key = chainKey(state.key, x(ins.text), fromKey, hasher.digest(), chmod ?? null);
    await withCache(state, key, ins.text, async () => {
      const l = await storeLayer(writeTar(epoch), store.content);
      return { descriptor: l.descriptor, diffId: l.diffId };
    });
  }

  async function runStep(state: StageState, ins: Instruction): Promise<void> {
    const args = ins.json ?? [...state.shell, ins.raw];
    const env = envMap(state.config.Env);
    if (!env.has("PATH")) {
      env.set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    }
    const runEnv = [...Object.entries(state.args).filter(([k]) => !env.has(k)), ...env].map((
      [k, v],
    ) => `${k}=${v}`);
    const key = chainKey(
      state.key,
      ins.text,
      runEnv,
      state.config.WorkingDir ?? "/",
      state.config.User ?? "",
    );
    await withCache(state, key, ins.text, async () => {
      const lowerDirs = await snaps.lowerDirs(state.layers);
      const dir = join(scratchRoot, `run-${crypto.randomUUID().slice(0, 8)}`);
      const upperDir = join(dir, "upper"), workDir = join(dir, "work");
      await Deno.mkdir(upperDir, { recursive: true });
      await Deno.mkdir(workDir);
      if (lowerDirs.length === 0) {
        await Deno.mkdir(join(dir, "empty"));
        lowerDirs.push(join(dir, "empty"));
      }
      const cwd = state.config.WorkingDir || "/";
      if (cwd !== "/") {
        const present = await Promise.all(
          lowerDirs.map((d) => Deno.lstat(join(d, cwd)).then(() => true, () => false)),
        );
        if (!present.some(Boolean)) {
          await Deno.mkdir(join(upperDir, cwd), { recursive: true, mode: 0o755 });
        }
      }
      const { uid, gid } = state.config.User
        ? await lookupUser(lowerDirs, state.config.User)
        : { uid: 0, gid: 0 };
      let code: number | null;
      // Keep the tail of the output for the error message.
      let tail = "";
      const dec = new TextDecoder();
      const onOutput = (chunk: Uint8Array, stream: "stdout" | "stderr") => {
        tail = (tail + dec.decode(chunk, { stream: true })).slice(-2000);
        options.onOutput?.(chunk, stream);
      };
      try {
        code = await run({
          args,
          env: runEnv,
          cwd,
          uid,
          gid,
          lowerDirs,
          upperDir,
          workDir,
          scratch: dir,
          onOutput,
        });
      } catch (err) {
        throw new BuildError(
          `line ${ins.line}: ${ins.text}: cannot run: ${(err as Error).message}`,
          { cause: err },
        );
      }
      if (code !== 0) {
        throw new BuildError(
          `line ${ins.line}: ${ins.text}: exit code ${
            code === null ? "(killed by a signal)" : code
          }` +
            (tail.trim()
              ? `; output ends with:\n${tail.trimEnd().split("\n").slice(-10).join("\n")}`
              : ""),
        );
      }
      const l = await storeLayer(
        writeLayerTar(upperDir, {
          overlay: true,
          mtime: epoch,
        }),
        store.content,
      );
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      return { descriptor: l.descriptor, diffId: l.diffId };
    });
  }
}
