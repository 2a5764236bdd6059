// Helpers of the image tests; the busybox image itself comes from @tsk/image/testing.
export { busyboxImage } from "@tsk/image/testing";

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
