/**
 * JSON logs, one object a line, written in batches so that logging every
 * request does not cost a write per request.
 *
 * @module
 */

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Options for {@linkcode Logger}. */
export interface LoggerOptions {
  /**
   * The lowest level written.
   * @default "info"
   */
  level?: LogLevel;
  /**
   * Where lines go.
   * @default Deno.stderr
   */
  sink?: { writeSync(p: Uint8Array): number };
  /**
   * `json` (one object a line) or `text` (`time level msg key=value`).
   * @default "text" when stderr is a terminal, else "json"
   */
  format?: "json" | "text";
}

/**
 * A JSON-lines logger.
 *
 * @example Log an event
 * ```ts
 * import { Logger } from "@tsk/registry";
 * const log = new Logger({ level: "info" });
 * log.info("listening", { port: 5000 });
 * log.flush();
 * ```
 */
export class Logger {
  #level: number;
  #sink: { writeSync(p: Uint8Array): number };
  #buf: string[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #enc = new TextEncoder();
  #text: boolean;

  /**
   * Makes a logger.
   *
   * @param options Level and sink.
   */
  constructor(options: LoggerOptions = {}) {
    this.#level = RANK[options.level ?? "info"];
    this.#sink = options.sink ?? Deno.stderr;
    this.#text =
      (options.format ?? (Deno.stderr.isTerminal() && !options.sink ? "text" : "json")) ===
        "text";
  }

  /**
   * Writes one event.
   *
   * @param level The level.
   * @param msg The event name.
   * @param fields More fields.
   * @param force Write it whatever the level (start-up and shutdown events).
   */
  log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}, force = false): void {
    if (!force && RANK[level] < this.#level) return;
    const time = new Date().toISOString();
    this.#buf.push(
      this.#text
        ? [
          time,
          level.toUpperCase().padEnd(5),
          msg,
          ...Object.entries(fields).map(([k, v]) =>
            `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
          ),
        ].join(" ")
        : JSON.stringify({ time, level, msg, ...fields }),
    );
    if (this.#buf.length >= 256) this.flush();
    else if (this.#timer === undefined) {
      const t = setTimeout(() => this.flush(), 50);
      Deno.unrefTimer(t);
      this.#timer = t;
    }
  }

  /**
   * Writes an info event.
   *
   * @param msg The event name.
   * @param fields More fields.
   */
  info(msg: string, fields?: Record<string, unknown>): void {
    this.log("info", msg, fields);
  }

  /**
   * Writes a warning.
   *
   * @param msg The event name.
   * @param fields More fields.
   */
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log("warn", msg, fields);
  }

  /**
   * Writes an error.
   *
   * @param msg The event name.
   * @param fields More fields.
   */
  error(msg: string, fields?: Record<string, unknown>): void {
    this.log("error", msg, fields);
  }

  /** Writes out everything buffered. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#buf.length === 0) return;
    const data = this.#enc.encode(this.#buf.join("\n") + "\n");
    this.#buf = [];
    let n = 0;
    while (n < data.byteLength) n += this.#sink.writeSync(data.subarray(n));
  }
}
