/**
 * `exec`'s options: the flags as the command line takes them, what the
 * supervisor is sent, and the process they make. Shared by the direct path
 * (`_cli.ts`), the supervised one (`_supervisor_client.ts`) and the
 * supervisor; no library import.
 *
 * @module
 */
import type { Process } from "./spec/config.ts";
import type { FlagSpec, ParsedFlags } from "./_flags.ts";
import { resolve } from "./_path.ts";

/** `exec`'s options that shape the process, as the command line gives them. */
export interface ExecArgs {
  /** `--process FILE`: the whole process (absolute path). */
  processFile?: string;
  /** The command after the id, when there is no `--process`. */
  args: string[];
  /** `--env K=V`, appended to the container's environment. */
  env: string[];
  /** `--cwd`. */
  cwd?: string;
  /** `--user UID[:GID]`. */
  user?: string;
  /** `--no-new-privs`. */
  noNewPrivs?: boolean;
  /** `--tty`: a terminal (with `--console-socket`). */
  tty?: boolean;
  /** `--cap CAP_X` (repeatable): added to the bounding, effective and permitted sets, as runc. */
  caps?: string[];
  /** `--additional-gids N` (repeatable): the process's supplementary groups. */
  additionalGids?: string[];
  /** `--ignore-paused`: exec into a paused container too (it runs once resumed). */
  ignorePaused?: boolean;
  /** `--cgroup [controller[,controller]:]path` (repeatable): an existing sub-cgroup. */
  cgroups?: string[];
  /** `--apparmor PROFILE`: the process's `apparmorProfile` (which the spec's check refuses). */
  apparmor?: string;
  /** `--process-label LABEL`: the process's `selinuxLabel` (which the spec's check refuses). */
  processLabel?: string;
}

/** `exec`'s flags (everything after the id is the command). */
export const EXEC_FLAGS: Record<string, FlagSpec> = {
  process: { type: "string", short: "p" },
  detach: { type: "boolean", short: "d" },
  "pid-file": { type: "string" },
  env: { type: "string", short: "e", multiple: true },
  cwd: { type: "string" },
  user: { type: "string", short: "u" },
  tty: { type: "boolean", short: "t" },
  "console-socket": { type: "string" },
  "no-new-privs": { type: "boolean" },
  cap: { type: "string", short: "c", multiple: true },
  "additional-gids": { type: "string", short: "g", multiple: true },
  "preserve-fds": { type: "string" },
  "ignore-paused": { type: "boolean" },
  cgroup: { type: "string", multiple: true },
  apparmor: { type: "string" },
  "process-label": { type: "string" },
};

/**
 * `exec`'s parsed flags as {@linkcode ExecArgs} (`--process` made absolute).
 *
 * @param values The flags.
 * @param positionals The id, then the command.
 * @returns What shapes the process.
 */
export function execArgs(values: ParsedFlags["values"], positionals: string[]): ExecArgs {
  const file = values.process as string | undefined;
  return {
    processFile: file === undefined ? undefined : resolve(Deno.cwd(), file),
    args: positionals.slice(1),
    env: (values.env as string[] | undefined) ?? [],
    cwd: values.cwd as string | undefined,
    user: values.user as string | undefined,
    noNewPrivs: values["no-new-privs"] === true,
    tty: values.tty === true,
    caps: (values.cap as string[] | undefined) ?? [],
    additionalGids: (values["additional-gids"] as string[] | undefined) ?? [],
    ignorePaused: values["ignore-paused"] === true,
    cgroups: (values.cgroup as string[] | undefined) ?? [],
    apparmor: values.apparmor as string | undefined,
    processLabel: values["process-label"] as string | undefined,
  };
}

/** A uid or gid given on the command line; an error naming the flag otherwise. */
function id(text: string, flag: string): number {
  const n = Number(text);
  if (text === "" || !Number.isInteger(n) || n < 0) {
    throw new Error(`exec: ${flag}: expected a number, got ${JSON.stringify(text)}`);
  }
  return n;
}

/**
 * The process `exec` runs: `--process FILE` as it is, or the container's own
 * process with the command, environment, working directory and user given
 * (as runc's exec).
 *
 * @param base The container's `process`.
 * @param a The options given.
 * @returns The process to run.
 */
export function execProcess(base: Process, a: ExecArgs): Process {
  if (a.processFile !== undefined) {
    try {
      return JSON.parse(Deno.readTextFileSync(a.processFile)) as Process;
    } catch (e) {
      throw new Error(`exec: --process ${a.processFile}: ${(e as Error).message}`);
    }
  }
  const process = structuredClone(base);
  process.args = a.args;
  process.env = [...(process.env ?? []), ...a.env];
  if (a.cwd !== undefined) process.cwd = a.cwd;
  if (a.user !== undefined) {
    const [uid, gid] = a.user.split(":");
    process.user = { uid: id(uid, "--user"), gid: id(gid ?? "0", "--user") };
  }
  if (a.additionalGids?.length) {
    process.user.additionalGids = a.additionalGids.map((g) => id(g, "--additional-gids"));
  }
  if (a.caps?.length) {
    const c = process.capabilities ??= {};
    for (const set of ["bounding", "effective", "permitted"] as const) {
      c[set] = [...new Set([...(c[set] ?? []), ...a.caps])];
    }
  }
  if (a.noNewPrivs) process.noNewPrivileges = true;
  // As runc: an empty value leaves the process's own.
  if (a.apparmor) process.apparmorProfile = a.apparmor;
  if (a.processLabel) process.selinuxLabel = a.processLabel;
  process.terminal = a.tty === true;
  return process;
}
