/**
 * The scheduler: takes pods from the queue, runs each through its profile's
 * framework (preFilter → filter → postFilter | preScore → score → reserve),
 * assumes the decision in the snapshot at once and binds asynchronously in
 * batches. Informer events (node and pod adds, updates, deletes) keep the
 * snapshot current and requeue pods that a change could help.
 *
 * @module
 */
import type { SchedulerClient } from "./client.ts";
import { fitErrorMessage, Framework } from "./framework.ts";
import { SchedulerMetrics } from "./metrics.ts";
import type { ClusterEvent, Diagnosis } from "./plugin.ts";
import { newPodInfo, type PodInfo } from "./pod_info.ts";
import { defaultConfig, type SchedulerConfig } from "./profile.ts";
import { SchedulingQueue } from "./queue.ts";
import type { Registry } from "./registry.ts";
import { Snapshot } from "./snapshot.ts";
import type { Status } from "./status.ts";
import type { Node, Pod } from "./types.ts";

/** One structured log record. */
export type LogRecord = Record<string, unknown>;

/** Options for {@linkcode Scheduler}. */
export interface SchedulerOptions {
  /** Profiles and backoff. @default one default profile */
  config?: SchedulerConfig;
  /** Plugin factories; pass `inTreeRegistry()` plus your own. */
  registry: Registry;
  /** Receives one record per decision and per notable event. @default JSON lines on stdout */
  log?: (record: LogRecord) => void;
  /** Seed of the tie-breaking random generator. @default 1 */
  seed?: number;
  /** Record a `Scheduled` Event per bound pod (FailedScheduling is always recorded). @default true */
  recordScheduledEvents?: boolean;
  /** Resolves priority class names. @default the built-in classes */
  priorityOf?: (className: string) => number | undefined;
  /** Milliseconds of scheduling before yielding to the event loop. @default 5 */
  sliceMs?: number;
  /** The queue's clock for backoff, ms (tests pass a fake one). @default performance.now */
  now?: () => number;
}

function keyOf(pod: Pod): string {
  return `${pod.metadata.namespace ?? "default"}/${pod.metadata.name}`;
}

function isTerminal(pod: Pod): boolean {
  const p = pod.status?.phase;
  return p === "Succeeded" || p === "Failed";
}

/**
 * Writes JSON lines to stdout, buffered and flushed on the next timer tick,
 * so logging one line per decision stays cheap.
 *
 * @returns A log function.
 *
 * @example Log
 * ```ts
 * import { jsonLineLogger } from "./scheduler.ts";
 * const log = jsonLineLogger();
 * log({ msg: "hello" });
 * ```
 */
export function jsonLineLogger(): (record: LogRecord) => void {
  let buf: string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const enc = new TextEncoder();
  const flush = () => {
    timer = undefined;
    const text = buf.join("");
    buf = [];
    const bytes = enc.encode(text);
    let off = 0;
    while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
  };
  return (record) => {
    buf.push(JSON.stringify({ time: new Date().toISOString(), ...record }) + "\n");
    if (buf.length >= 1000) flush();
    else if (timer === undefined) timer = setTimeout(flush, 0);
  };
}

/**
 * The scheduler.
 *
 * @example Schedule a pod on a one-node cluster
 * ```ts
 * import { Scheduler } from "./scheduler.ts";
 * import { MemoryClient } from "./client.ts";
 * import { makeNode, makePod } from "./builders.ts";
 * import { inTreeRegistry } from "../plugins/registry.ts";
 * const client = new MemoryClient();
 * const s = new Scheduler(client, { registry: inTreeRegistry(), log: () => {} });
 * s.onNodeAdd(makeNode("n1"));
 * s.onPodAdd(makePod("p", { requests: { cpu: "1" } }));
 * await s.runUntilIdle();
 * client.calls[0]; // { kind: "bind", pod: "default/p", nodeName: "n1" }
 * ```
 */
export class Scheduler {
  /** The cluster view. */
  readonly snapshot: Snapshot = new Snapshot();
  /** Pods waiting. */
  readonly queue: SchedulingQueue;
  /** Metrics for `/metrics`. */
  readonly metrics: SchedulerMetrics = new SchedulerMetrics();
  /** Frameworks by scheduler name. */
  readonly profiles: ReadonlyMap<string, Framework>;

  #client: SchedulerClient;
  #log: (r: LogRecord) => void;
  #defaultProfile: string;
  #recordScheduled: boolean;
  #priorityOf?: (className: string) => number | undefined;
  #sliceMs: number;
  /** Pods assumed on a node while their binding is written. */
  #assumed = new Set<string>();
  #binds = new Set<Promise<void>>();
  #lastFailure = new Map<string, string>();
  #stopped = false;

  /**
   * Creates it.
   *
   * @param client Where decisions are written.
   * @param options Profiles, registry, logging.
   * @throws {SchedulerConfigError} On a bad profile.
   */
  constructor(client: SchedulerClient, options: SchedulerOptions) {
    this.#client = client;
    this.#log = options.log ?? jsonLineLogger();
    this.#recordScheduled = options.recordScheduledEvents ?? true;
    this.#priorityOf = options.priorityOf;
    this.#sliceMs = options.sliceMs ?? 5;
    const config = options.config ?? defaultConfig();
    const profiles = new Map<string, Framework>();
    for (const p of config.profiles) {
      profiles.set(
        p.schedulerName,
        new Framework(p, options.registry, { snapshot: this.snapshot, client }, {
          seed: options.seed,
        }),
      );
    }
    this.profiles = profiles;
    this.#defaultProfile = config.profiles[0].schedulerName;
    const pluginEvents = new Map<string, readonly ClusterEvent[]>();
    for (const fw of profiles.values()) {
      for (const [name, p] of fw.plugins) if (p.events) pluginEvents.set(name, p.events);
    }
    this.queue = new SchedulingQueue({
      initialBackoffMs: (config.podInitialBackoffSeconds ?? 1) * 1000,
      maxBackoffMs: (config.podMaxBackoffSeconds ?? 10) * 1000,
      pluginEvents,
      now: options.now,
    });
    this.metrics.queueDepth = () => this.queue.depth();
  }

  #profileOf(pod: Pod): Framework | undefined {
    return this.profiles.get(pod.spec.schedulerName ?? this.#defaultProfile);
  }

  #event(e: ClusterEvent): void {
    this.queue.onEvent(e);
  }

  // ------------------------------------------------------------ informer events

  /**
   * A node appeared.
   *
   * @param node The node.
   */
  onNodeAdd(node: Node): void {
    try {
      this.snapshot.addNode(node);
    } catch (e) {
      this.#log({
        level: "error",
        msg: "ignoring node",
        node: node.metadata.name,
        error: String(e),
      });
      return;
    }
    this.#event("NodeAdd");
  }

  /**
   * A node changed.
   *
   * @param node The new object.
   */
  onNodeUpdate(node: Node): void {
    try {
      const r = this.snapshot.updateNode(node);
      if (r === "unchanged") return;
      if (r === "unknown") this.snapshot.addNode(node);
    } catch (e) {
      this.#log({
        level: "error",
        msg: "ignoring node update",
        node: node.metadata.name,
        error: String(e),
      });
      return;
    }
    this.#event("NodeUpdate");
  }

  /**
   * A node went away.
   *
   * @param node The node.
   */
  onNodeDelete(node: Node): void {
    this.snapshot.removeNode(node.metadata.name ?? "");
  }

  /**
   * A pod appeared: bound pods go into the snapshot, pending pods of one of
   * our profiles into the queue.
   *
   * @param pod The pod.
   */
  onPodAdd(pod: Pod): void {
    const key = keyOf(pod);
    if (pod.spec.nodeName) {
      if (isTerminal(pod)) return;
      if (this.#assumed.has(key) && this.snapshot.pods.has(key)) {
        this.#assumed.delete(key); // our binding, seen by a relist
        this.snapshot.pods.get(key)!.pod = pod;
        return;
      }
      const pi = this.#podInfo(pod);
      if (!pi) return;
      this.snapshot.addPod(pi, pod.spec.nodeName);
      this.queue.delete(key);
      this.#event("AssignedPodAdd");
      return;
    }
    if (!this.#profileOf(pod) || pod.metadata.deletionTimestamp || isTerminal(pod)) return;
    if (this.#assumed.has(key)) return; // our binding is on its way
    const pi = this.#podInfo(pod);
    if (pi) this.queue.add(pi);
  }

  #podInfo(pod: Pod): PodInfo | undefined {
    try {
      return newPodInfo(pod, { priorityOf: this.#priorityOf });
    } catch (e) {
      this.#log({ level: "error", msg: "ignoring pod", pod: keyOf(pod), error: String(e) });
      return undefined;
    }
  }

  /**
   * A pod changed.
   *
   * @param pod The new object.
   */
  onPodUpdate(pod: Pod): void {
    const key = keyOf(pod);
    if (pod.spec.nodeName) {
      const placed = this.snapshot.pods.get(key);
      if (isTerminal(pod)) {
        if (placed) this.#removePlaced(key);
        return;
      }
      if (placed && this.#assumed.has(key) && placed.pod.spec.nodeName !== pod.spec.nodeName) {
        // Our own binding, confirmed by the store: from now on the pod is like any bound pod.
        this.#assumed.delete(key);
        placed.pod = pod;
        return;
      }
      if (placed) {
        const labelsChanged = JSON.stringify(placed.pod.metadata.labels ?? {}) !==
          JSON.stringify(pod.metadata.labels ?? {});
        if (!labelsChanged && placed.pod.spec.nodeName === pod.spec.nodeName) {
          placed.pod = pod;
          return;
        }
      }
      const pi = this.#podInfo(pod);
      if (!pi) return;
      this.snapshot.addPod(pi, pod.spec.nodeName);
      this.queue.delete(key);
      this.#event("AssignedPodUpdate");
      return;
    }
    this.onPodAdd(pod);
  }

  #removePlaced(key: string): void {
    this.#assumed.delete(key);
    if (this.snapshot.removePod(key)) this.#event("AssignedPodDelete");
  }

  /**
   * A pod went away.
   *
   * @param pod The pod.
   */
  onPodDelete(pod: Pod): void {
    const key = keyOf(pod);
    this.queue.delete(key);
    this.#lastFailure.delete(key);
    this.snapshot.clearNomination(key);
    this.#removePlaced(key);
  }

  // ------------------------------------------------------------ the loop

  /**
   * Runs one scheduling cycle for a popped pod. Binding continues in the
   * background (see {@linkcode Scheduler.drain}).
   *
   * @param pi The pod.
   * @returns Resolves when the cycle (not the binding) is over.
   */
  async scheduleOne(pi: PodInfo): Promise<void> {
    const fw = this.#profileOf(pi.pod);
    if (!fw) {
      this.queue.done(pi.key);
      return;
    }
    const t0 = performance.now();
    const state = fw.newCycleState();
    const pre = fw.runPreFilters(state, pi);
    if (pre.code === "Error") return this.#error(fw, pi, pre, t0);
    if (pre.code !== "Success") {
      const diagnosis: Diagnosis = {
        rejected: [],
        nodeCount: this.snapshot.count,
        preFilterStatus: pre,
      };
      return await this.#unschedulable(fw, pi, state, diagnosis, t0);
    }
    const { nodes, diagnosis } = fw.findFeasible(state, pi);
    if (nodes.length === 0) {
      for (let i = 0; i < diagnosis.nodeCount; i++) {
        if (diagnosis.rejected[i]?.code === "Error") {
          return this.#error(fw, pi, diagnosis.rejected[i]!, t0);
        }
      }
      return await this.#unschedulable(fw, pi, state, diagnosis, t0);
    }
    const feasible = nodes.length;
    const { slot, score } = fw.scoreAndSelect(state, pi, nodes);
    const node = this.snapshot.nodes[slot];
    const nodeName = node.name;
    // Assume: later cycles see the pod on the node before the binding lands.
    this.snapshot.clearNomination(pi.key);
    this.snapshot.addPod(pi, nodeName);
    this.#assumed.add(pi.key);
    const r = fw.runReserve(state, pi, nodeName);
    if (r.code !== "Success") {
      this.#assumed.delete(pi.key);
      this.snapshot.removePod(pi.key);
      return this.#error(fw, pi, r, t0);
    }
    const cycle = (performance.now() - t0) / 1000;
    this.metrics.attempt(fw.schedulerName, "scheduled", cycle);
    this.queue.done(pi.key);
    this.#log({
      level: "info",
      msg: "scheduled",
      pod: pi.key,
      node: nodeName,
      profile: fw.schedulerName,
      feasibleNodes: feasible,
      evaluatedNodes: this.snapshot.count,
      score: Math.round(score * 100) / 100,
      attempts: pi.attempts,
      cycleMicros: Math.round(cycle * 1e6),
    });
    const b = this.#bind(fw, pi, state, nodeName);
    this.#binds.add(b);
    b.finally(() => this.#binds.delete(b));
  }

  async #bind(
    fw: Framework,
    pi: PodInfo,
    state: ReturnType<Framework["newCycleState"]>,
    nodeName: string,
  ): Promise<void> {
    const s = await fw.runBind(state, pi, nodeName);
    if (s.code === "Success") {
      this.metrics.e2e.observe((performance.now() - pi.initialQueuedAt) / 1000);
      this.#lastFailure.delete(pi.key);
      if (this.#recordScheduled) {
        this.#client.recordEvent({
          pod: pi.pod,
          type: "Normal",
          reason: "Scheduled",
          message: `Successfully assigned ${pi.key} to ${nodeName}`,
        }).catch((e) => this.#log({ level: "warn", msg: "event not recorded", error: String(e) }));
      }
      return;
    }
    // The store refused: forget the assumption and retry after backoff.
    this.metrics.bindErrors++;
    fw.runUnreserve(state, pi, nodeName);
    const stillWanted = this.#assumed.delete(pi.key); // false: deleted meanwhile
    if (this.snapshot.pods.get(pi.key) === pi) this.snapshot.removePod(pi.key);
    this.#log({
      level: "warn",
      msg: "binding failed",
      pod: pi.key,
      node: nodeName,
      error: s.reasons.join("; "),
    });
    if (stillWanted && !/not found|already bound/i.test(s.reasons.join(" "))) {
      this.queue.addBackoff(pi);
    }
    this.#event("AssignedPodDelete");
  }

  #error(fw: Framework, pi: PodInfo, s: Status, t0: number): void {
    this.metrics.attempt(fw.schedulerName, "error", (performance.now() - t0) / 1000);
    this.#log({
      level: "error",
      msg: "scheduling error",
      pod: pi.key,
      plugin: s.plugin,
      error: s.reasons.join("; "),
    });
    this.queue.addBackoff(pi);
  }

  async #unschedulable(
    fw: Framework,
    pi: PodInfo,
    state: ReturnType<Framework["newCycleState"]>,
    diagnosis: Diagnosis,
    t0: number,
  ): Promise<void> {
    const message = fitErrorMessage(diagnosis);
    pi.unschedulablePlugins = new Set();
    if (diagnosis.preFilterStatus?.plugin) {
      pi.unschedulablePlugins.add(diagnosis.preFilterStatus.plugin);
    }
    for (let i = 0; i < diagnosis.nodeCount; i++) {
      const p = diagnosis.rejected[i]?.plugin;
      if (p) pi.unschedulablePlugins.add(p);
    }
    let nominated: string | undefined;
    let preemptionNote = "";
    if (!diagnosis.preFilterStatus && fw.pluginsAt("postFilter").length > 0) {
      this.metrics.preemptionAttempts++;
      const r = await fw.runPostFilters(state, pi, diagnosis);
      if (r.status.code === "Success" && r.nominatedNodeName) {
        nominated = r.nominatedNodeName;
        this.snapshot.nominate(pi, nominated);
        this.metrics.preemptionVictims += r.victims?.length ?? 0;
        this.#log({
          level: "info",
          msg: "preempted",
          pod: pi.key,
          node: nominated,
          victims: (r.victims ?? []).map((v) => v.key),
        });
      } else if (r.status.reasons.length > 0) {
        preemptionNote = ` ${r.status.reasons.join(", ")}.`;
      }
    }
    const full = message + preemptionNote;
    this.metrics.attempt(fw.schedulerName, "unschedulable", (performance.now() - t0) / 1000);
    this.#log({
      level: "info",
      msg: "unschedulable",
      pod: pi.key,
      profile: fw.schedulerName,
      reason: full,
      nominatedNode: nominated,
      attempts: pi.attempts,
    });
    this.queue.addUnschedulable(pi);
    if (this.#lastFailure.get(pi.key) === full && !nominated) return;
    this.#lastFailure.set(pi.key, full);
    try {
      await this.#client.updatePodStatus(pi.pod, {
        condition: {
          type: "PodScheduled",
          status: "False",
          reason: "Unschedulable",
          message: full,
          lastTransitionTime: new Date().toISOString(),
        },
        nominatedNodeName: nominated,
      });
      await this.#client.recordEvent({
        pod: pi.pod,
        type: "Warning",
        reason: "FailedScheduling",
        message: full,
      });
    } catch (e) {
      this.#log({ level: "warn", msg: "status not written", pod: pi.key, error: String(e) });
    }
  }

  /**
   * Schedules until nothing is ready (unschedulable and backing-off pods
   * remain queued) and every binding is written. For tests and benchmarks.
   *
   * @returns Resolves when idle.
   */
  async runUntilIdle(): Promise<void> {
    let slice = performance.now();
    for (;;) {
      const pi = this.queue.pop();
      if (!pi) {
        if (this.#binds.size === 0) return;
        await this.drain();
        continue;
      }
      await this.scheduleOne(pi);
      if (performance.now() - slice > this.#sliceMs) {
        await new Promise((r) => setTimeout(r, 0));
        slice = performance.now();
      }
    }
  }

  /**
   * Waits until every binding in flight is written.
   *
   * @returns Resolves when none is in flight.
   */
  async drain(): Promise<void> {
    while (this.#binds.size > 0) await Promise.all([...this.#binds]);
  }

  /**
   * Schedules until stopped, waiting for pods when the queue is empty.
   *
   * @param signal Stops the loop; in-flight bindings are written before it resolves.
   * @returns Resolves after a clean stop.
   */
  async run(signal?: AbortSignal): Promise<void> {
    const stop = () => this.stop();
    signal?.addEventListener("abort", stop, { once: true });
    let slice = performance.now();
    try {
      while (!this.#stopped) {
        const pi = await this.queue.popWait();
        if (!pi) break;
        await this.scheduleOne(pi);
        if (performance.now() - slice > this.#sliceMs) {
          await new Promise((r) => setTimeout(r, 0));
          slice = performance.now();
        }
      }
    } finally {
      signal?.removeEventListener("abort", stop);
      await this.drain();
    }
  }

  /** Stops `run` after the current cycle. */
  stop(): void {
    this.#stopped = true;
    this.queue.close();
  }
}
