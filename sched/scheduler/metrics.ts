/**
 * The scheduler's metrics, named as kube-scheduler's, rendered in the
 * Prometheus text format for the program's `/metrics`:
 * `scheduler_schedule_attempts_total{result,profile}`,
 * `scheduler_pod_scheduling_duration_seconds` (queued → bound, histogram),
 * `scheduler_scheduling_attempt_duration_seconds` (one cycle, histogram),
 * `scheduler_pending_pods{queue}`, `scheduler_preemption_victims_total`.
 *
 * @module
 */

/** Histogram buckets in seconds: 1 ms to about 16 s, doubling. */
export const SCHEDULING_LATENCY_BUCKETS: readonly number[] = Array.from(
  { length: 15 },
  (_, i) => 0.001 * 2 ** i,
);

/** A histogram with fixed buckets that can also estimate quantiles (the benchmark reads p50/p99). */
export class LatencyHistogram {
  /** Upper bounds. */
  readonly buckets: readonly number[];
  /** Count per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  /** Sum of observations. */
  sum = 0;
  /** Number of observations. */
  count = 0;

  /**
   * Creates it.
   *
   * @param buckets Upper bounds, ascending.
   */
  constructor(buckets: readonly number[] = SCHEDULING_LATENCY_BUCKETS) {
    this.buckets = buckets;
    this.counts = new Float64Array(buckets.length + 1);
  }

  /**
   * Records one value.
   *
   * @param v The value (seconds).
   */
  observe(v: number): void {
    let i = 0;
    while (i < this.buckets.length && v > this.buckets[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }

  /**
   * Estimates a quantile from the buckets (linear within a bucket), as
   * Prometheus' histogram_quantile does.
   *
   * @param q 0..1.
   * @returns The estimate in the observations' unit.
   */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = q * this.count;
    let cum = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const prev = cum;
      cum += this.counts[i];
      if (cum >= rank) {
        const lo = i === 0 ? 0 : this.buckets[i - 1];
        const hi = i < this.buckets.length
          ? this.buckets[i]
          : this.buckets[this.buckets.length - 1];
        return this.counts[i] === 0 ? hi : lo + (hi - lo) * (rank - prev) / this.counts[i];
      }
    }
    return this.buckets[this.buckets.length - 1];
  }

  /**
   * Renders the Prometheus lines of this histogram.
   *
   * @param name Metric name.
   * @param labels Extra labels, already formatted (`a="b"`), or "".
   * @returns The lines.
   */
  render(name: string, labels = ""): string[] {
    const sep = labels ? `${labels},` : "";
    const out: string[] = [];
    let cum = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cum += this.counts[i];
      out.push(`${name}_bucket{${sep}le="${this.buckets[i]}"} ${cum}`);
    }
    cum += this.counts[this.buckets.length];
    out.push(`${name}_bucket{${sep}le="+Inf"} ${cum}`);
    const l = labels ? `{${labels}}` : "";
    out.push(`${name}_sum${l} ${this.sum}`, `${name}_count${l} ${this.count}`);
    return out;
  }
}

/** Outcomes of a scheduling attempt. */
export type AttemptResult = "scheduled" | "unschedulable" | "error";

/**
 * The scheduler's metrics.
 *
 * @example Count an attempt and render
 * ```ts
 * import { SchedulerMetrics } from "./metrics.ts";
 * const m = new SchedulerMetrics();
 * m.attempt("default-scheduler", "scheduled", 0.0004);
 * m.render().includes('scheduler_schedule_attempts_total{result="scheduled",profile="default-scheduler"} 1');
 * // true
 * ```
 */
export class SchedulerMetrics {
  /** Attempts by `profile\u0000result`. */
  readonly attempts = new Map<string, number>();
  /** Queued → bound latency. */
  readonly e2e: LatencyHistogram = new LatencyHistogram();
  /** Duration of one scheduling cycle (filter + score + reserve). */
  readonly attemptDuration: LatencyHistogram = new LatencyHistogram(
    Array.from({ length: 15 }, (_, i) => 0.00001 * 2 ** i),
  );
  /** Pods evicted by preemption. */
  preemptionVictims = 0;
  /** Preemption attempts. */
  preemptionAttempts = 0;
  /** Bindings that failed. */
  bindErrors = 0;
  /** Reads the queue depth at render time. */
  queueDepth?: () => { active: number; backoff: number; unschedulable: number };

  /**
   * Counts one attempt.
   *
   * @param profile Scheduler name of the profile.
   * @param result Outcome.
   * @param seconds Duration of the cycle.
   */
  attempt(profile: string, result: AttemptResult, seconds: number): void {
    const k = `${profile}\u0000${result}`;
    this.attempts.set(k, (this.attempts.get(k) ?? 0) + 1);
    this.attemptDuration.observe(seconds);
  }

  /**
   * Attempts with a given result, over all profiles.
   *
   * @param result Outcome.
   * @returns The count.
   */
  attemptsWith(result: AttemptResult): number {
    let n = 0;
    for (const [k, v] of this.attempts) if (k.endsWith(`\u0000${result}`)) n += v;
    return n;
  }

  /**
   * Renders every metric in the Prometheus text format.
   *
   * @returns The exposition text.
   */
  render(): string {
    const out: string[] = [
      "# HELP scheduler_schedule_attempts_total Scheduling attempts by result.",
      "# TYPE scheduler_schedule_attempts_total counter",
    ];
    for (const [k, v] of this.attempts) {
      const [profile, result] = k.split("\u0000");
      out.push(
        `scheduler_schedule_attempts_total{result="${result}",profile="${esc(profile)}"} ${v}`,
      );
    }
    out.push(
      "# HELP scheduler_pod_scheduling_duration_seconds Time from first queued to bound in the store.",
      "# TYPE scheduler_pod_scheduling_duration_seconds histogram",
      ...this.e2e.render("scheduler_pod_scheduling_duration_seconds"),
      "# HELP scheduler_scheduling_attempt_duration_seconds Duration of one scheduling cycle.",
      "# TYPE scheduler_scheduling_attempt_duration_seconds histogram",
      ...this.attemptDuration.render("scheduler_scheduling_attempt_duration_seconds"),
      "# HELP scheduler_preemption_attempts_total Preemption attempts.",
      "# TYPE scheduler_preemption_attempts_total counter",
      `scheduler_preemption_attempts_total ${this.preemptionAttempts}`,
      "# HELP scheduler_preemption_victims_total Pods evicted by preemption.",
      "# TYPE scheduler_preemption_victims_total counter",
      `scheduler_preemption_victims_total ${this.preemptionVictims}`,
      "# HELP scheduler_binding_errors_total Bindings the store refused.",
      "# TYPE scheduler_binding_errors_total counter",
      `scheduler_binding_errors_total ${this.bindErrors}`,
    );
    if (this.queueDepth) {
      const d = this.queueDepth();
      out.push(
        "# HELP scheduler_pending_pods Pods waiting, by queue.",
        "# TYPE scheduler_pending_pods gauge",
        `scheduler_pending_pods{queue="active"} ${d.active}`,
        `scheduler_pending_pods{queue="backoff"} ${d.backoff}`,
        `scheduler_pending_pods{queue="unschedulable"} ${d.unschedulable}`,
      );
    }
    return out.join("\n") + "\n";
  }
}

function esc(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
