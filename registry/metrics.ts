/**
 * Prometheus metrics: requests, bytes and latency per route, plus counters
 * for blobs, uploads and garbage collection.
 *
 * @module
 */

const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

/**
 * Counters kept in memory and rendered in the Prometheus text format.
 *
 * @example Count a request
 * ```ts
 * import { Metrics } from "@tsk/registry";
 * const m = new Metrics();
 * m.observe({ route: "manifests", method: "GET", status: 200, seconds: 0.001, bytesIn: 0, bytesOut: 512 });
 * console.log(m.render().includes("registry_http_requests_total"));
 * ```
 */
export class Metrics {
  #requests = new Map<string, number>();
  #bytesIn = new Map<string, number>();
  #bytesOut = new Map<string, number>();
  #latency = new Map<string, Histogram>();
  #counters = new Map<string, number>();

  /**
   * Records one request.
   *
   * @param r The route, method, status, duration and bytes.
   */
  observe(r: {
    route: string;
    method: string;
    status: number;
    seconds: number;
    bytesIn: number;
    bytesOut: number;
  }): void {
    const k = `route="${r.route}",method="${r.method}",status="${r.status}"`;
    this.#requests.set(k, (this.#requests.get(k) ?? 0) + 1);
    const rk = `route="${r.route}"`;
    this.#bytesIn.set(rk, (this.#bytesIn.get(rk) ?? 0) + r.bytesIn);
    this.#bytesOut.set(rk, (this.#bytesOut.get(rk) ?? 0) + r.bytesOut);
    let h = this.#latency.get(rk);
    if (!h) {
      h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.#latency.set(rk, h);
    }
    for (let i = 0; i < BUCKETS.length; i++) if (r.seconds <= BUCKETS[i]) h.counts[i]++;
    h.sum += r.seconds;
    h.count++;
  }

  /**
   * Adds to a plain counter (`registry_<name>_total`).
   *
   * @param name The counter's name.
   * @param by The increment.
   */
  count(name: string, by = 1): void {
    this.#counters.set(name, (this.#counters.get(name) ?? 0) + by);
  }

  /**
   * Renders every metric.
   *
   * @returns Prometheus text.
   */
  render(): string {
    const out: string[] = [];
    const family = (name: string, help: string, type: string, m: Map<string, number>) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [k, v] of m) out.push(`${name}{${k}} ${v}`);
    };
    family(
      "registry_http_requests_total",
      "HTTP requests by route, method and status.",
      "counter",
      this.#requests,
    );
    family(
      "registry_http_request_bytes_total",
      "Request body bytes by route.",
      "counter",
      this.#bytesIn,
    );
    family(
      "registry_http_response_bytes_total",
      "Response body bytes by route.",
      "counter",
      this.#bytesOut,
    );
    out.push(
      "# HELP registry_http_request_duration_seconds Request latency by route.",
      "# TYPE registry_http_request_duration_seconds histogram",
    );
    for (const [k, h] of this.#latency) {
      BUCKETS.forEach((b, i) =>
        out.push(`registry_http_request_duration_seconds_bucket{${k},le="${b}"} ${h.counts[i]}`)
      );
      out.push(`registry_http_request_duration_seconds_bucket{${k},le="+Inf"} ${h.count}`);
      out.push(`registry_http_request_duration_seconds_sum{${k}} ${h.sum}`);
      out.push(`registry_http_request_duration_seconds_count{${k}} ${h.count}`);
    }
    for (const [name, v] of this.#counters) {
      out.push(`# TYPE registry_${name}_total counter`, `registry_${name}_total ${v}`);
    }

    return out.join("\n") + "\n";
  }
}
