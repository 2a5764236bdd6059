// Field checks shared by the OCI document parsers. Each names the field it checks.
import { ValidationError } from "../errors.ts";

export type Json = Record<string, unknown>;

export function show(value: unknown): string {
  let s: string;
  try {
    s = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function object(value: unknown, field: string): Json {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ValidationError(field, `expected an object, got ${show(value)}`);
  }
  return value as Json;
}

export function string(value: unknown, field: string): string {
  if (typeof value !== "string") {
    throw new ValidationError(field, `expected a string, got ${show(value)}`);
  }
  return value;
}

export function optString(value: unknown, field: string): string | undefined {
  return value === undefined ? undefined : string(value, field);
}

export function nonEmpty(value: unknown, field: string): string {
  const s = string(value, field);
  if (s === "") throw new ValidationError(field, "expected a non-empty string");
  return s;
}

export function size(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError(field, `expected a non-negative integer, got ${show(value)}`);
  }
  return value;
}

export function array(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) {
    throw new ValidationError(field, `expected an array, got ${show(value)}`);
  }
  return value;
}

export function optStrings(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  return array(value, field).map((v, i) => string(v, `${field}[${i}]`));
}

export function optStringMap(value: unknown, field: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  const o = object(value, field);
  for (const [k, v] of Object.entries(o)) string(v, `${field}[${JSON.stringify(k)}]`);
  return o as Record<string, string>;
}

export function optSet(value: unknown, field: string): Record<string, object> | undefined {
  if (value === undefined || value === null) return undefined;
  const o = object(value, field);
  for (const [k, v] of Object.entries(o)) object(v, `${field}[${JSON.stringify(k)}]`);
  return o as Record<string, object>;
}

export function json(data: Uint8Array | string | unknown, what: string): unknown {
  if (typeof data === "string" || data instanceof Uint8Array) {
    const text = typeof data === "string" ? data : new TextDecoder().decode(data);
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new ValidationError(what, `expected JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  return data;
}

export function schemaVersion(value: unknown): void {
  if (value !== 2) {
    throw new ValidationError("schemaVersion", `expected 2, got ${show(value)}`);
  }
}
