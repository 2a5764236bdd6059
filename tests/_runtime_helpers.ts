/**
 * Shared fixtures of the runtime's end-to-end tests: one busybox root
 * filesystem per test file, a bundle per container, and a capture helper.
 *
 * @module
 */
import { posix } from "node:path";
import {
  createContainer,
  type CreateContainerOptions,
  defaultSpec,
  type ExitStatus,
  type Spec,
} from "@tsk/runtime";
import { busyboxRootfs } from "@tsk/runtime/testing";

/**
 * Registers a test of real containers: skipped only when `ignore` says so
 * (`requireRoot()` fails loudly under CI=true instead), and without Deno's
 * resource and op sanitizers: the test cleans up its processes, mounts and
 * cgroups itself, and a supervisor it starts outlives its ops.
 */
export function containerTest(
  name: string,
  fn: () => Promise<void>,
  options: { ignore: boolean },
): void {
  Deno.test({ name, ignore: options.ignore, sanitizeResources: false, sanitizeOps: false, fn });
}

/** A temporary directory tree for one test file. */
export interface Fixture {
  /** Temporary base directory. */
  base: string;
  /** Shared busybox rootfs (read-only use). */
  rootfs: string;
  /** State root for containers of this file. */
  root: string;
  /** Removes everything. */
  cleanup(): Promise<void>;
}

/** Creates the fixture: temp dir, busybox rootfs, state root. */
export async function fixture(): Promise<Fixture> {
  const base = await Deno.makeTempDir({ prefix: "tsk-runtime-test-" });
  const rootfs = await busyboxRootfs(posix.join(base, "rootfs"));
  const root = posix.join(base, "state");
  return {
    base,
    rootfs,
    root,
    async cleanup() {
      await Deno.remove(base, { recursive: true }).catch(() => {});
    },
  };
}

/** A unique container id. */
export function uid(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** A default spec running `sh -c script` on the fixture's rootfs. */
export function shSpec(fx: Fixture, script: string, edit?: (s: Spec) => void): Spec {
  const spec = defaultSpec({ args: ["sh", "-c", script] });
  spec.root.path = fx.rootfs;
  edit?.(spec);
  return spec;
}

/** What {@linkcode capture} returns. */
export interface Captured {
  /** How the container ended. */
  status: ExitStatus;
  /** Everything it wrote to stdout. */
  stdout: string;
  /** Everything it wrote to stderr. */
  stderr: string;
}

async function text(s: ReadableStream<Uint8Array> | null): Promise<string> {
  if (s === null) return "";
  return await new Response(s).text();
}

/** Runs a container to completion, capturing stdout and stderr, and deletes it. */
export async function capture(
  fx: Fixture,
  spec: Spec,
  options: Partial<CreateContainerOptions> & {
    during?: (c: Awaited<ReturnType<typeof createContainer>>) => Promise<void>;
  } = {},
): Promise<Captured> {
  const c = await createContainer(uid("t"), {
    root: fx.root,
    bundle: fx.base,
    spec,
    stdio: { stdout: "pipe", stderr: "pipe" },
    ...options,
  });
  try {
    const out = text(c.stdout), err = text(c.stderr);
    await c.start();
    if (options.during) await options.during(c);
    const status = await c.wait();
    return { status, stdout: await out, stderr: await err };
  } finally {
    await c.delete({ force: true });
  }
}

/** cgroup directories named `name` anywhere under /sys/fs/cgroup's hierarchies. */
export function cgroupDirsNamed(parent: string): string[] {
  const out: string[] = [];
  for (const h of Deno.readDirSync("/sys/fs/cgroup")) {
    const dir = posix.join("/sys/fs/cgroup", h.name, parent);
    try {
      for (const e of Deno.readDirSync(dir)) if (e.isDirectory) out.push(posix.join(dir, e.name));
    } catch { /* no such parent */ }
  }
  return out;
}

/**
 * Stops the supervisor of a state root, if one runs (SIGTERM, then SIGKILL
 * after 5 s), and waits until it is gone: tests must not leave daemons.
 */
export async function stopSupervisor(root: string): Promise<void> {
  // Twice: one that was waiting for the root's lock may take over.
  for (let round = 0; round < 2; round++) {
    let pid: number;
    try {
      pid = Number(Deno.readTextFileSync(posix.join(root, ".supervisor", "pid")).trim());
    } catch {
      return;
    }
    if (!(pid > 0)) return;
    try {
      // A stale pid file must not make us signal an unrelated process.
      if (!Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes("supervisor")) return;
    } catch {
      return;
    }
    const alive = () => {
      try {
        return !/\) [ZX] /.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
      } catch {
        return false;
      }
    };
    try {
      Deno.kill(pid, "SIGTERM");
    } catch {
      return;
    }
    for (let i = 0; i < 500 && alive(); i++) {
      if (i === 250) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** tsk-runtime's entry point. */
/**
 * Whether `program --version` runs: a peer (podman, dockerd) is installed.
 * Tests that need one skip without it outside CI and fail in CI.
 */
export function hasProgram(program: string): boolean {
  try {
    return new Deno.Command(program, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

export const RUNTIME_MAIN = new URL("../runtime/main.ts", import.meta.url).pathname;

/** The command line of tsk-runtime on state root `root`, as `deno task tsk-runtime` runs it. */
export function runtimeArgv(root: string): string[] {
  return [Deno.execPath(), "run", "-A", "--no-config", "--no-lock", RUNTIME_MAIN, "--root", root];
}

/** What a command printed, and its exit code. */
export interface CommandResult {
  /** Exit code. */
  code: number;
  /** Its standard output. */
  stdout: string;
  /** Its standard error. */
  stderr: string;
}

/**
 * Runs a command with stdout and stderr in files: a created container keeps
 * the creator's stdio open (as under runc), so pipes would never reach EOF.
 */
export async function runToFiles(argv: string[]): Promise<CommandResult> {
  const dir = await Deno.makeTempDir({ prefix: "tsk-runtime-out-" });
  try {
    const { code } = await new Deno.Command("sh", {
      args: ["-c", `exec "$@" >${dir}/out 2>${dir}/err`, "sh", ...argv],
      stdin: "null",
    }).output();
    return {
      code,
      stdout: await Deno.readTextFile(`${dir}/out`),
      stderr: await Deno.readTextFile(`${dir}/err`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
