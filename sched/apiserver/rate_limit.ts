/**
 * Per-client rate limits: a token bucket per user (or per address for
 * anonymous callers). A caller over its limit gets 429 with Retry-After.
 *
 * @module
 */

/** Options of {@linkcode RateLimiter}. */
export interface RateLimitOptions {
  /** Requests per second each client may sustain; 0 disables limits. @default 5000 */
  qps?: number;
  /** Requests a client may make in a burst. @default 2 * qps */
  burst?: number;
  /** The clock in milliseconds. @default performance.now */
  now?: () => number;
}

/**
 * Token buckets keyed by client.
 *
 * @example Allow a burst of 2
 * ```ts
 * import { RateLimiter } from "@tsk/sched";
 * const rl = new RateLimiter({ qps: 1, burst: 2 });
 * console.log(rl.take("a"), rl.take("a"), rl.take("a") > 0); // 0 0 true
 * ```
 */
export class RateLimiter {
  /** Requests per second per client. */
  readonly qps: number;
  /** The burst per client. */
  readonly burst: number;
  #now: () => number;
  #buckets = new Map<string, { tokens: number; at: number }>();

  /**
   * Creates a limiter.
   * @param options Rate, burst, clock.
   */
  constructor(options: RateLimitOptions = {}) {
    this.qps = options.qps ?? 5000;
    this.burst = options.burst ?? Math.max(1, this.qps * 2);
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Takes one token for a client.
   * @param key The client (user name or address).
   * @returns 0 when allowed, else the seconds to wait.
   */
  take(key: string): number {
    if (this.qps <= 0) return 0;
    const now = this.#now();
    let b = this.#buckets.get(key);
    if (!b) {
      if (this.#buckets.size > 10000) this.#sweep(now);
      b = { tokens: this.burst, at: now };
      this.#buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.qps);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.qps));
  }

  #sweep(now: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.qps >= this.burst) this.#buckets.delete(k);
    }
  }
}
