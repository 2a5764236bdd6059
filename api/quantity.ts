/**
 * Resource quantities as Kubernetes writes them: `500m` (milli), `2`,
 * `1.5`, `1Gi` (binary suffixes Ki Mi Gi Ti Pi Ei), `1G` (decimal suffixes
 * n u m k M G T P E) and `1e3` (decimal exponent). Parsed exactly with
 * bigint arithmetic into integer milli-units; fractions below a milli-unit
 * round up, as Kubernetes' `MilliValue()` does.
 *
 * @module
 */

/** Raised for a string that is not a quantity; the caller prefixes the field path. */
export class QuantityError extends Error {
  /** Creates the error. @param message What was expected and what was found. @param options A cause. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "QuantityError";
  }
}

const QUANTITY_RE =
  /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d{1,3}))?$/;

const BINARY: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const DECIMAL: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  "": 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

/**
 * Parses a quantity into exact integer milli-units (`"500m"` → 500n,
 * `"1Gi"` → 1073741824000n), rounding a fraction of a milli-unit up.
 *
 * @param text The quantity; a number is accepted as its decimal form.
 * @returns Milli-units as a bigint.
 * @throws {QuantityError} When the text is not a quantity.
 *
 * @example Parse CPU and memory
 * ```ts
 * import { parseQuantity } from "@tsk/api";
 * console.log(parseQuantity("500m")); // 500n
 * console.log(parseQuantity("1Ki")); // 1024000n
 * ```
 */
export function parseQuantity(text: string | number): bigint {
  const s = typeof text === "number" ? String(text) : text;
  const m = typeof s === "string" ? QUANTITY_RE.exec(s.trim()) : null;
  if (!m || s.trim() === "") {
    throw new QuantityError(
      `expected a quantity like 500m, 2, 512Mi or 1e3, got ${JSON.stringify(text)}`,
    );
  }
  const [, sign, number, suffix, exponent] = m;
  const [intPart, fracPart = ""] = number.split(".");
  let num = BigInt((intPart || "0") + fracPart) * 1000n;
  let den = 10n ** BigInt(fracPart.length);
  if (suffix !== undefined && suffix in BINARY) {
    num *= 1024n ** BigInt(BINARY[suffix]);
  } else {
    const e = exponent !== undefined ? Number(exponent) : DECIMAL[suffix ?? ""];
    if (e >= 0) num *= 10n ** BigInt(e);
    else den *= 10n ** BigInt(-e);
  }
  let milli = (num + den - 1n) / den;
  if (sign === "-") milli = -(num / den);
  return milli;
}

/**
 * Tells whether a string is a quantity.
 *
 * @param text The candidate.
 * @returns True when {@linkcode parseQuantity} accepts it.
 *
 * @example Check
 * ```ts
 * import { isQuantity } from "@tsk/api";
 * console.log(isQuantity("1Gi"), isQuantity("1GB")); // true false
 * ```
 */
export function isQuantity(text: unknown): boolean {
  if (typeof text !== "string" && typeof text !== "number") return false;
  try {
    parseQuantity(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses a CPU quantity into millicores as a number (`"1.5"` → 1500).
 *
 * @param text The quantity.
 * @returns Millicores, rounded up.
 * @throws {QuantityError} When the text is not a quantity.
 *
 * @example Millicores
 * ```ts
 * import { cpuMillis } from "@tsk/api";
 * console.log(cpuMillis("250m") + cpuMillis("1")); // 1250
 * ```
 */
export function cpuMillis(text: string | number): number {
  return Number(parseQuantity(text));
}

/**
 * Parses a memory (or storage) quantity into bytes as a number, rounding a
 * fraction of a byte up (`"1Gi"` → 1073741824, `"1.5k"` → 1500).
 *
 * @param text The quantity.
 * @returns Bytes.
 * @throws {QuantityError} When the text is not a quantity.
 *
 * @example Bytes
 * ```ts
 * import { memoryBytes } from "@tsk/api";
 * console.log(memoryBytes("512Mi")); // 536870912
 * ```
 */
export function memoryBytes(text: string | number): number {
  const milli = parseQuantity(text);
  const bytes = milli >= 0n ? (milli + 999n) / 1000n : milli / 1000n;
  return Number(bytes);
}

/** Options of {@linkcode formatQuantity}. */
export interface FormatQuantityOptions {
  /**
   * Use binary suffixes (Ki, Mi, ...) when the value is an exact multiple.
   * @default false
   */
  binary?: boolean;
}

/**
 * Formats milli-units back into the shortest exact quantity string.
 *
 * @param milli Milli-units.
 * @param options Whether to prefer binary suffixes.
 * @returns A quantity string such as `500m`, `2` or `1Gi`.
 *
 * @example Format
 * ```ts
 * import { formatQuantity } from "@tsk/api";
 * console.log(formatQuantity(1500n)); // "1500m"
 * console.log(formatQuantity(1073741824000n, { binary: true })); // "1Gi"
 * ```
 */
export function formatQuantity(milli: bigint, options: FormatQuantityOptions = {}): string {
  if (milli % 1000n !== 0n) return `${milli}m`;
  const units = milli / 1000n;
  if (options.binary && units !== 0n) {
    for (const [suffix, power] of Object.entries(BINARY).reverse()) {
      const m = 1024n ** BigInt(power);
      if (units % m === 0n) return `${units / m}${suffix}`;
    }
  }
  if (!options.binary && units !== 0n) {
    for (const suffix of ["E", "P", "T", "G", "M", "k"]) {
      const m = 10n ** BigInt(DECIMAL[suffix]);
      if (units % m === 0n) return `${units / m}${suffix}`;
    }
  }
  return `${units}`;
}
