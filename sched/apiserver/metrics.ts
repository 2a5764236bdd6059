/**
 * A small Prometheus registry: counters, gauges and histograms with labels,
 * rendered in the text exposition format for `/metrics`.
 *
 * @module
 */

/** Label names to values. */
export type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) =>
    `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
  );
  return parts.length ? `{${parts.join(",")}}` : "";
}

interface Series {
  labels: Labels;
  value: number;
  buckets?: number[];
  sum?: number;
  count?: number;
}

interface Family {
  type: "counter" | "gauge" | "histogram";
  help: string;
  series: Map<string, Series>;
  buckets?: number[];
  read?: () => number;
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

/** A counter family. */
export interface Counter {
  /** Adds `by` (default 1) to the series with these labels. */
  inc(labels?: Labels, by?: number): void;
}

/** A gauge family. */
export interface Gauge {
  /** Sets the series with these labels. */
  set(labels: Labels, value: number): void;
}

/** A histogram family. */
export interface Histogram {
  /** Records an observation in the series with these labels. */
  observe(labels: Labels, value: number): void;
}

/**
 * A registry of metric families.
 *
 * @example Count and render
 * ```ts
 * import { MetricsRegistry } from "@tsk/sched";
 * const m = new MetricsRegistry();
 * m.counter("requests_total", "Requests served.").inc({ code: "200" });
 * console.log(m.render());
 * ```
 */
export class MetricsRegistry {
  #families = new Map<string, Family>();

  #family(name: string, type: Family["type"], help: string): Family {
    let f = this.#families.get(name);
    if (!f) {
      f = { type, help, series: new Map() };
      this.#families.set(name, f);
    } else if (f.type !== type) {
      throw new Error(`metrics: ${name} is a ${f.type}, not a ${type}`);
    }
    return f;
  }

  /**
   * Registers (or finds) a counter.
   * @param name The metric name, e.g. `apiserver_request_total`.
   * @param help One line of help.
   * @returns The counter.
   */
  counter(name: string, help: string): Counter {
    const f = this.#family(name, "counter", help);
    return {
      inc(labels = {}, by = 1) {
        const key = labelText(labels);
        const s = f.series.get(key);
        if (s) s.value += by;
        else f.series.set(key, { labels, value: by });
      },
    };
  }

  /**
   * Registers (or finds) a gauge; with `read`, its value is read when rendering.
   * @param name The metric name.
   * @param help One line of help.
   * @param read Returns the unlabelled value at render time.
   * @returns The gauge.
   */
  gauge(name: string, help: string, read?: () => number): Gauge {
    const f = this.#family(name, "gauge", help);
    if (read) f.read = read;
    return { set: (labels, value) => void f.series.set(labelText(labels), { labels, value }) };
  }

  /**
   * Registers (or finds) a histogram with {@linkcode LATENCY_BUCKETS}.
   * @param name The metric name.
   * @param help One line of help.
   * @returns The histogram.
   */
  histogram(name: string, help: string): Histogram {
    const f = this.#family(name, "histogram", help);
    f.buckets ??= [...LATENCY_BUCKETS];
    const buckets = f.buckets;
    return {
      observe(labels, value) {
        const key = labelText(labels);
        let s = f.series.get(key);
        if (!s) {
          s = { labels, value: 0, buckets: buckets.map(() => 0), sum: 0, count: 0 };
          f.series.set(key, s);
        }
        for (let i = 0; i < buckets.length; i++) if (value <= buckets[i]) s.buckets![i]++;
        s.sum! += value;
        s.count!++;
      },
    };
  }

  /**
   * Renders every family in the Prometheus text format.
   * @returns The text.
   */
  render(): string {
    const out: string[] = [];
    for (const [name, f] of this.#families) {
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      if (f.read) out.push(`${name} ${f.read()}`);
      for (const s of f.series.values()) {
        if (f.type !== "histogram") {
          out.push(`${name}${labelText(s.labels)} ${s.value}`);
          continue;
        }
        f.buckets!.forEach((b, i) => {
          out.push(`${name}_bucket${labelText({ ...s.labels, le: String(b) })} ${s.buckets![i]}`);
        });
        out.push(`${name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.count}`);
        out.push(`${name}_sum${labelText(s.labels)} ${s.sum}`);
        out.push(`${name}_count${labelText(s.labels)} ${s.count}`);
      }
    }
    return out.join("\n") + "\n";
  }
}
