/**
 * `deno task demo`: builds a busybox bundle under `$TSK_HOME/demo` (Debian's
 * busybox-static is installed when missing, saying so) and runs it with
 * `tsk-runtime run`, printing what the container sees.
 *
 * @module
 */
import { tskHome } from "@tsk/api/home";
import { posix } from "node:path";
import { busyboxBundle } from "./testing.ts";
import { DEFAULT_SECCOMP_PROFILE } from "./seccomp/default_profile.ts";

const SCRIPT = [
  'echo "hostname:   $(hostname)"',
  'echo "id:         $(id)"',
  'echo "my pid:     $$ (PID 1 of its own namespace)"',
  'echo "processes:  $(ps -o pid= | wc -l) visible"',
  'echo "root fs:    $(ls / | tr "\\n" " ")"',
  'echo "/dev:       $(ls /dev | tr "\\n" " ")"',
  'echo "CapEff:     $(grep CapEff /proc/self/status | cut -f2)"',
  'echo "seccomp:    $(grep Seccomp: /proc/self/status | cut -f2) (2 = filter)"',
  'echo "no_new_privs: $(grep NoNewPrivs: /proc/self/status | cut -f2)"',
  'touch /probe 2>/dev/null && echo "root fs writable" || echo "root fs read-only"',
].join("; ");

/**
 * Builds the demo bundle and runs it; returns the container's exit code.
 *
 * @returns The exit code of `tsk-runtime run`.
 */
export async function demo(): Promise<number> {
  if (Deno.uid() !== 0) {
    console.error("demo: containers need root; run it as root (sudo -E deno task demo)");
    return 1;
  }
  const home = tskHome();
  const bundle = posix.join(home, "demo", "busybox-bundle");
  console.log(`demo: building a busybox bundle in ${bundle}`);
  await busyboxBundle(bundle, {
    args: ["sh", "-c", SCRIPT],
    edit: (spec) => {
      spec.hostname = "tsk-demo";
      spec.linux!.seccomp = structuredClone(DEFAULT_SECCOMP_PROFILE);
    },
  });
  const id = `demo-${crypto.randomUUID().slice(0, 8)}`;
  const main = new URL("./main.ts", import.meta.url).pathname;
  const args = [
    "run",
    "-A",
    main,
    "--root",
    posix.join(home, "runtime"),
    "run",
    "--bundle",
    bundle,
    id,
  ];
  console.log(`demo: tsk-runtime run --bundle ${bundle} ${id}\n`);
  const status = await new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  console.log(`\ndemo: container ${id} exited with status ${status.code} and was deleted`);
  return status.code;
}

if (import.meta.main) Deno.exit(await demo());
