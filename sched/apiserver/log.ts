/**
 * Structured logs: one JSON object per line (DESIGN.md, "What every
 * program has").
 *
 * @module
 */

/** Where the control plane writes its events. */
export interface Logger {
  /** Logs an event with fields. */
  info(msg: string, fields?: Record<string, unknown>): void;
  /** Logs a problem with fields. */
  warn(msg: string, fields?: Record<string, unknown>): void;
  /** Logs a failure with fields. */
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Options of {@linkcode jsonLogger}. */
export interface JsonLoggerOptions {
  /** Receives each line. @default console.log */
  write?: (line: string) => void;
  /** A component name added to every line. @default "scheduler" */
  component?: string;
}

/**
 * A logger that writes one JSON object per line.
 *
 * @param options Sink and component.
 * @returns The logger.
 *
 * @example Log an event
 * ```ts
 * import { jsonLogger } from "@tsk/sched";
 * jsonLogger().info("listening", { port: 6443 });
 * ```
 */
export function jsonLogger(options: JsonLoggerOptions = {}): Logger {
  const write = options.write ?? ((l: string) => console.log(l));
  const component = options.component ?? "scheduler";
  const line = (level: string, msg: string, fields?: Record<string, unknown>) =>
    write(JSON.stringify({ ts: new Date().toISOString(), level, component, msg, ...fields }));
  return {
    info: (m, f) => line("info", m, f),
    warn: (m, f) => line("warn", m, f),
    error: (m, f) => line("error", m, f),
  };
}

/** A logger that drops everything, for tests. */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
