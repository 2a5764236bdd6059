/**
 * A small Prometheus registry: counters, gauges and histograms with labels,
 * rendered in the text exposition format for `/metrics`.
 *
 * @module
 */

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) =>
    `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
  );
  return parts.length ? `{${parts.join(",")}}` : "";
}

interface Family {
  type: "counter" | "gauge" | "histogram";
  help: string;
  values: Map<
    string,
    { labels: Labels; value: number; buckets?: number[]; sum?: number; count?: number }
  >;
  buckets?: number[];
  collect?: () => number;
}

/** Default histogram buckets for request latency, in seconds. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
];

/**
 * A registry of metric families.
 *
 * @example Count and render
 * ```ts
 * import { MetricsRegistry } from "@tsk/sched";
 * const m = new MetricsRegistry();
 * m.inc("requests_total", "Requests served.", { code: "200" });
 * console.log(m.render());
 * ```
 */
export class MetricsRegistry {
  #families = new Map<string, Family>();

  #family(name: string, type: Family["type"], help: string, buckets?: readonly number[]): Family {
    let f = this.#families.get(name);
    if (!f) {
      f = { type, help, values: new Map(), buckets: buckets ? [...buckets] : undefined };
      this.#families.set(name, f);
    }
    return f;
  }

  /**
   * Adds to a counter.
   * @param name The metric name.
   * @param help One line of help.
   * @param labels Label values.
   * @param by The increment. @default 1
   */
  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const f = this.#family(name, "counter", help);
    const key = labelText(labels);
    const v = f.values.get(key);
    if (v) v.value += by;
    else f.values.set(key, { labels, value: by });
  }

  /**
   * Sets a gauge.
   * @param name The metric name.
   * @param help One line of help.
   * @param labels Label values.
   * @param value The value.
   */
  set(name: string, help: string, labels: Labels, value: number): void {
    const f = this.#family(name, "gauge", help);
    f.values.set(labelText(labels), { labels, value });
  }

  /**
   * Registers a gauge read when rendering.
   * @param name The metric name.
   * @param help One line of help.
   * @param collect Returns the value.
   */
  gaugeFn(name: string, help: string, collect: () => number): void {
    const f = this.#family(name, "gauge", help);
    f.collect = collect;
  }

  /**
   * Records an observation in a histogram.
   * @param name The metric name.
   * @param help One line of help.
   * @param labels Label values.
   * @param value The observation (seconds for latencies).
   */
  observe(name: string, help: string, labels: Labels, value: number): void {
    const f = this.#family(name, "histogram", help, LATENCY_BUCKETS);
    const key = labelText(labels);
    let v = f.values.get(key);
    if (!v) {
      v = { labels, value: 0, buckets: f.buckets!.map(() => 0), sum: 0, count: 0 };
      f.values.set(key, v);
    }
    for (let i = 0; i < f.buckets!.length; i++) if (value <= f.buckets![i]) v.buckets![i]++;
    v.sum! += value;
    v.count!++;
  }

  /**
   * Renders every family in the Prometheus text format.
   * @returns The text.
   */
  render(): string {
    const out: string[] = [];
    for (const [name, f] of this.#families) {
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      if (f.collect) out.push(`${name} ${f.collect()}`);
      for (const v of f.values.values()) {
        if (f.type !== "histogram") {
          out.push(`${name}${labelText(v.labels)} ${v.value}`);
          continue;
        }
        f.buckets!.forEach((b, i) => {
          out.push(`${name}_bucket${labelText({ ...v.labels, le: String(b) })} ${v.buckets![i]}`);
        });
        out.push(`${name}_bucket${labelText({ ...v.labels, le: "+Inf" })} ${v.count}`);
        out.push(`${name}_sum${labelText(v.labels)} ${v.sum}`);
        out.push(`${name}_count${labelText(v.labels)} ${v.count}`);
      }
    }
    return out.join("\n") + "\n";
  }
}
