// Helpers of the image tests; the busybox image itself comes from @tsk/image/testing.
import { join } from "node:path";
import { imageProcess, type ImageStore, Snapshotter } from "@tsk/image";
import { createContainer, defaultSpec } from "@tsk/runtime";
export { busyboxImage } from "@tsk/image/testing";

/**
 * Runs an image from the store in a @tsk/runtime container on an overlay of
 * its layer snapshots, and returns what it printed.
 */
export async function runImage(
  store: ImageStore,
  image: string,
  args: string[] | undefined,
  dir: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const snaps = await Snapshotter.open(store, { root: join(dir, "snaps") });
  const id = `tsk-img-${crypto.randomUUID().slice(0, 8)}`;
  const rootfs = await snaps.prepare(id, image);
  const img = await store.image(image);
  const mnt = join(dir, `mnt-${id}`);
  await Deno.mkdir(mnt);
  const proc = imageProcess(img.config, args ? { command: args } : {});
  const spec = defaultSpec({ args: proc.args, readonly: false });
  spec.process.env = proc.env;
  spec.process.cwd = proc.cwd;
  spec.root.path = mnt;
  const container = await createContainer(id, {
    spec,
    root: join(dir, "state"),
    bundle: dir,
    rootfs,
    stdio: { stdout: "pipe", stderr: "pipe" },
  });
  try {
    await container.start();
    const [status, stdout, stderr] = await Promise.all([
      container.wait(),
      new Response(container.stdout).text(),
      new Response(container.stderr).text(),
    ]);
    return { code: status.exitCode, stdout, stderr };
  } finally {
    await container.delete({ force: true });
    await snaps.remove(id);
  }
}

/** Whether a command exists; in CI a missing peer fails the test instead of skipping it. */
export function requireTool(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    if (Deno.env.get("CI") === "true") {
      throw new Error(`Missing test peer: ${path} (see tools/deps.ts)`);
    }
    return false;
  }
}

export async function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string } = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", cwd: opts.cwd })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}): ${
        new TextDecoder().decode(out.stderr)
      }${text}`,
    );
  }
  return text;
}

export async function tempDir(prefix: string): Promise<string> {
  return await Deno.makeTempDir({ prefix: `tsk-${prefix}-` });
}
