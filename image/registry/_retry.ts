// Retries of transfers that failed for a reason that may pass: a dropped
// connection, a 5xx or 429 answer. A digest mismatch, a 4xx or bad input is
// final: trying again would only fetch the same wrong thing.
import { DigestMismatchError, RegistryError, ValidationError } from "../errors.ts";

export function isTransient(err: unknown): boolean {
  if (err instanceof DigestMismatchError || err instanceof ValidationError) return false;
  if (err instanceof RegistryError) {
    return err.status === undefined || err.status >= 500 || err.status === 429;
  }
  return err instanceof TypeError || err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.ConnectionAborted || err instanceof Deno.errors.UnexpectedEof ||
    err instanceof Deno.errors.BrokenPipe || err instanceof Deno.errors.Interrupted;
}

export async function retrying<T>(
  fn: () => Promise<T>,
  attempts = 3,
  delayMs = 200,
): Promise<T> {
  for (let i = 1;; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || !isTransient(err)) throw err;
      await new Promise((r) => setTimeout(r, delayMs * 2 ** (i - 1)));
    }
  }
}
