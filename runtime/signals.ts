/**
 * Signal names and numbers (x86-64 and arm64 Linux share them).
 *
 * @module
 */
import { ConfigError } from "./errors.ts";

/** Linux signal numbers by name. */
export const SIGNALS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};

/**
 * Parses a signal given as `SIGTERM`, `TERM`, `term` or `15`.
 *
 * @param signal The signal.
 * @returns Its number.
 * @throws {ConfigError} For an unknown signal.
 *
 * @example Parse names and numbers
 * ```ts
 * import { signalNumber } from "@tsk/runtime";
 * console.log(signalNumber("KILL"), signalNumber(15)); // 9 15
 * ```
 */
export function signalNumber(signal: string | number): number {
  if (typeof signal === "number" || /^\d+$/.test(signal)) {
    const n = Number(signal);
    if (Number.isInteger(n) && n >= 1 && n <= 64) return n;
  } else {
    const up = signal.toUpperCase();
    const n = SIGNALS[up.startsWith("SIG") ? up : `SIG${up}`];
    if (n !== undefined) return n;
    const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(up);
    if (rt) return 34 + Number(rt[1] ?? 0);
  }
  throw new ConfigError("signal", `unknown signal ${signal}`);
}

/**
 * The name of a signal number (`9` → `SIGKILL`).
 *
 * @param n The number.
 * @returns Its name, or `SIG<n>` when it has none.
 *
 * @example Name a signal
 * ```ts
 * import { signalName } from "@tsk/runtime";
 * console.log(signalName(9)); // "SIGKILL"
 * ```
 */
export function signalName(n: number): string {
  return Object.entries(SIGNALS).find(([, v]) => v === n)?.[0] ?? `SIG${n}`;
}
