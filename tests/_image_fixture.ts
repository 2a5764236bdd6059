// Test images built from Debian's busybox-static (no external registry is reachable).
import { join } from "node:path";
import { commitImage, createLayer, type Descriptor, type ImageStore } from "@tsk/image";

export const BUSYBOX = "/bin/busybox";
const APPLETS = [
  "sh",
  "echo",
  "cat",
  "ls",
  "true",
  "false",
  "env",
  "id",
  "mkdir",
  "rm",
  "touch",
  "sleep",
  "test",
  "wc",
  "grep",
  "uname",
];

/** Writes a minimal busybox root filesystem into `dir`. */
export async function busyboxRootfs(dir: string): Promise<void> {
  for (const d of ["bin", "etc", "tmp", "proc", "sys", "dev", "root"]) {
    await Deno.mkdir(join(dir, d), { recursive: true });
  }
  await Deno.chmod(join(dir, "tmp"), 0o1777);
  await Deno.copyFile(BUSYBOX, join(dir, "bin/busybox"));
  await Deno.chmod(join(dir, "bin/busybox"), 0o755);
  for (const a of APPLETS) await Deno.symlink("busybox", join(dir, "bin", a));
  await Deno.writeTextFile(
    join(dir, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
  );
  await Deno.writeTextFile(join(dir, "etc/group"), "root:x:0:\nnobody:x:65534:\n");
}

/** Builds a one-layer busybox image in the store and tags it. */
export async function busyboxImage(
  store: ImageStore,
  name = "busybox:latest",
): Promise<Descriptor> {
  const dir = await Deno.makeTempDir({ prefix: "tsk-bb-" });
  try {
    await busyboxRootfs(dir);
    const layer = await createLayer(dir, store.content, { mtime: 0, owner: { uid: 0, gid: 0 } });
    return await commitImage(store, [layer], {
      config: { Cmd: ["/bin/sh"], Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] },
      created: "2024-01-01T00:00:00Z",
      tag: name,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
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
