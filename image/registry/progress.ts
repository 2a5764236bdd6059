/**
 * Progress of transfers, and a renderer that draws one bar per blob on a
 * terminal or prints a line per change of state elsewhere.
 *
 * @module
 */

/** One progress event of a blob transfer. */
export interface TransferProgress {
  /** The blob's digest. */
  digest: string;
  /** What is happening. */
  status: "waiting" | "exists" | "mounted" | "transferring" | "done";
  /** Bytes transferred so far. */
  current: number;
  /** The blob's size. */
  total: number;
}

function human(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Returns a progress callback that renders bars. On a terminal the bars are
 * redrawn in place; otherwise a line is printed when a blob starts and ends.
 *
 * @param write Where to write text (e.g. standard error).
 * @param tty Whether to redraw in place.
 * @returns The callback to pass as `onProgress`.
 *
 * @example Print progress lines
 * ```ts
 * import { progressRenderer } from "@tsk/image";
 * const p = progressRenderer((s) => console.error(s.trimEnd()), false);
 * p({ digest: "sha256:" + "a".repeat(64), status: "done", current: 10, total: 10 });
 * ```
 */
export function progressRenderer(
  write: (text: string) => void,
  tty: boolean,
): (p: TransferProgress) => void {
  const rows = new Map<string, TransferProgress>();
  let drawn = 0;
  let last = 0;
  const line = (p: TransferProgress) => {
    const id = p.digest.replace(/^sha256:/, "").slice(0, 12);
    if (p.status === "transferring" && p.total > 0) {
      const width = 30;
      const fill = Math.min(width, Math.round((p.current / p.total) * width));
      return `${id}: [${"=".repeat(fill)}${" ".repeat(width - fill)}] ${human(p.current)}/${
        human(p.total)
      }`;
    }
    const word = {
      waiting: "Waiting",
      exists: "Already exists",
      mounted: "Mounted",
      transferring: "Transferring",
      done: "Done",
    }[p.status];
    return `${id}: ${word}${p.status === "done" ? ` (${human(p.total)})` : ""}`;
  };
  return (p) => {
    const prev = rows.get(p.digest);
    rows.set(p.digest, p);
    if (!tty) {
      if (!prev || prev.status !== p.status) write(`${line(p)}\n`);
      return;
    }
    const now = Date.now();
    if (p.status === "transferring" && prev?.status === "transferring" && now - last < 100) return;
    last = now;
    let out = drawn > 0 ? `\x1b[${drawn}A` : "";
    for (const r of rows.values()) out += `\x1b[2K${line(r)}\n`;
    drawn = rows.size;
    write(out);
  };
}
