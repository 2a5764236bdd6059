// Test helpers for the cgroup managers: a fake cgroup tree in a temporary
// directory (a test double of cgroupfs, which cannot be mounted per test) and
// real processes that wait on stdin until they have been moved into a cgroup.
import type { CgroupFs } from "./host.ts";
import { denoCgroupFs } from "./host.ts";

/**
 * The real filesystem, except that rmdir removes the regular files a fake
 * cgroup directory holds (cgroupfs removes its control files itself) and
 * refuses, like the kernel, while cgroup.procs lists a process.
 */
export const fakeTreeFs: CgroupFs = {
  ...denoCgroupFs,
  async rmdir(path) {
    const procs = await Deno.readTextFile(`${path}/cgroup.procs`).catch(() => "");
    if (procs.trim() !== "") throw new Deno.errors.Busy(`${path} is busy`);
    for await (const e of Deno.readDir(path)) {
      if (e.isDirectory) throw new Deno.errors.Busy(`${path} has children`);
    }
    await Deno.remove(path, { recursive: true });
  },
};

/** Writes a set of files (relative path → content) under `dir`. */
export async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const path = `${dir}/${rel}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, content);
  }
}

/** Whether the tests may use the real kernel's cgroups here (root). */
export const realKernel = Deno.uid() === 0;
/** Real-kernel tests are ignored outside CI when not root; in CI they must run. */
export const ignoreReal = !realKernel && Deno.env.get("CI") !== "true";

/** A unique cgroup path for one test. */
export function uniquePath(topic: string): string {
  return `/tsk-test/${topic}-${crypto.randomUUID().slice(0, 8)}`;
}

/** A busybox shell that runs `script` once it reads a line on stdin. */
export interface WaitingProcess {
  /** The process. */
  child: Deno.ChildProcess;
  /** Lets the script run. */
  go(): Promise<void>;
  /** Waits for exit and returns status and output. */
  done(): Promise<{ status: Deno.CommandStatus; stdout: string; stderr: string }>;
}

/** Starts `busybox sh -c "read x; <script>"`. */
export function spawnWaiting(script: string): WaitingProcess {
  const child = new Deno.Command("/bin/busybox", {
    args: ["sh", "-c", `read x; ${script}`],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const text = async (s: ReadableStream<Uint8Array>) => {
    let t = "";
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) t += chunk;
    return t;
  };
  const out = Promise.all([child.status, text(child.stdout), text(child.stderr)]);
  return {
    child,
    async go() {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode("go\n"));
      await w.close();
    },
    async done() {
      const [status, stdout, stderr] = await out;
      return { status, stdout, stderr };
    },
  };
}
