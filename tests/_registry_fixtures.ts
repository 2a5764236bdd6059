/**
 * Fixtures for the registry tests: OCI layouts built by hand, a registry
 * process on loopback, raw HTTP helpers.
 *
 * @module
 */
import { gzipSync } from "node:zlib";
import { join } from "node:path";

export const CI = Deno.env.get("CI") === "true";

export { sha256Digest as sha256 } from "@tsk/image";
import { sha256Digest as sha256 } from "@tsk/image";

export const enc = new TextEncoder();

/** Whether a program is on PATH. */
export async function have(cmd: string): Promise<boolean> {
  const r = await new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
    .output();
  return r.success;
}

/** Runs a command, failing with its output when it fails. */
export async function run(
  cmd: string,
  args: string[],
  env?: Record<string, string>,
): Promise<string> {
  const r = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", env }).output();
  const out = new TextDecoder().decode(r.stdout);
  if (!r.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${r.code}): ${new TextDecoder().decode(r.stderr)}${out}`,
    );
  }
  return out;
}

/** An image written as an OCI layout. */
export interface Layout {
  dir: string;
  manifestDigest: string;
  manifest: Uint8Array;
  blobs: Map<string, Uint8Array>;
}

/** A tar (via the tar program) of a directory holding `files`. */
export async function tarOf(files: Record<string, Uint8Array | string>): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "tsk-reg-tar-" });
  try {
    for (const [path, data] of Object.entries(files)) {
      await Deno.mkdir(join(dir, path, ".."), { recursive: true });
      await Deno.writeFile(join(dir, path), typeof data === "string" ? enc.encode(data) : data, {
        mode: 0o755,
      });
    }
    const out = await new Deno.Command("tar", {
      args: ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-C", dir, "-cf", "-", "."],
      stdout: "piped",
    }).output();
    return out.stdout;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Writes an OCI layout whose image holds the given layers (gzip tars of the
 * file maps), tagged `tag`.
 */
export async function buildLayout(
  dir: string,
  layers: Record<string, Uint8Array | string>[],
  tag = "latest",
): Promise<Layout> {
  const blobs = new Map<string, Uint8Array>();
  await Deno.mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  const put = async (data: Uint8Array) => {
    const d = sha256(data);
    blobs.set(d, data);
    await Deno.writeFile(join(dir, "blobs", "sha256", d.slice(7)), data);
    return d;
  };
  const layerDescs = [];
  const diffIds = [];
  for (const files of layers) {
    const tar = await tarOf(files);
    diffIds.push(sha256(tar));
    const gz = new Uint8Array(gzipSync(tar));
    layerDescs.push({
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      digest: await put(gz),
      size: gz.byteLength,
    });
  }
  const config = enc.encode(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: { Cmd: ["/bin/busybox", "sh"] },
    rootfs: { type: "layers", diff_ids: diffIds },
  }));
  const configDigest = await put(config);
  const manifest = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: configDigest,
      size: config.byteLength,
    },
    layers: layerDescs,
  }));
  const manifestDigest = await put(manifest);
  await Deno.writeTextFile(
    join(dir, "oci-layout"),
    JSON.stringify({ imageLayoutVersion: "1.0.0" }),
  );
  await Deno.writeTextFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: manifestDigest,
        size: manifest.byteLength,
        annotations: { "org.opencontainers.image.ref.name": tag },
      }],
    }),
  );
  return { dir, manifestDigest, manifest, blobs };
}

/** A registry process started with `deno task registry`-equivalent flags. */
export interface RegistryProcess {
  url: string;
  host: string;
  port: number;
  data: string;
  child: Deno.ChildProcess;
  logs: () => string;
  stop: () => Promise<void>;
}

const MAIN = new URL("../registry/main.ts", import.meta.url).pathname;

/** Starts the registry program on a free loopback port. */
export async function startRegistry(data: string, extra: string[] = []): Promise<RegistryProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--port", "0", "--data", data, ...extra],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  let text = "";
  const dec = new TextDecoder();
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const c of s) text += dec.decode(c, { stream: true });
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const deadline = Date.now() + 20_000;
  let url = "";
  while (Date.now() < deadline) {
    const m = /"msg":"listening","url":"([^"]+)"/.exec(text);
    if (m) {
      url = m[1];
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!url) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await pumps;
    throw new Error(`registry did not start: ${text}`);
  }
  const u = new URL(url);
  return {
    url,
    host: u.host,
    port: Number(u.port),
    data,
    child,
    logs: () => text,
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await pumps;
    },
  };
}
