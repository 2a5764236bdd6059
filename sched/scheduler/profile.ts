/**
 * Scheduler configuration: profiles (which plugins run at which extension
 * point, with which weights and args), read from YAML in the shape of
 * Kubernetes' KubeSchedulerConfiguration so existing files carry over.
 *
 * @module
 */
import { parse } from "yaml";
import { SchedulerConfigError } from "./registry.ts";

/** The extension points a profile configures. */
export type ExtensionPoint =
  | "preFilter"
  | "filter"
  | "postFilter"
  | "preScore"
  | "score"
  | "reserve"
  | "bind";

/** Every configurable extension point, in cycle order. */
export const EXTENSION_POINTS: readonly ExtensionPoint[] = [
  "preFilter",
  "filter",
  "postFilter",
  "preScore",
  "score",
  "reserve",
  "bind",
];

/** A plugin named in a plugin set. */
export interface PluginRef {
  /** Plugin name; "*" in `disabled` means every plugin. */
  name: string;
  /** Score weight (score and multiPoint only). */
  weight?: number;
}

/** Plugins enabled and disabled at one point. */
export interface PluginSet {
  /** Added, in order. */
  enabled?: PluginRef[];
  /** Removed; `{ name: "*" }` removes the defaults. */
  disabled?: PluginRef[];
}

/** One profile. */
export interface ProfileConfig {
  /** Pods whose `spec.schedulerName` equals this use the profile. */
  schedulerName: string;
  /** Plugin sets: `multiPoint` enables a plugin at every point it implements. */
  plugins?: Partial<Record<ExtensionPoint | "multiPoint", PluginSet>>;
  /** Args by plugin name. */
  pluginConfig?: { name: string; args?: Record<string, unknown> }[];
}

/** The whole configuration. */
export interface SchedulerConfig {
  /** Profiles; the first is the default for pods that name no scheduler. */
  profiles: ProfileConfig[];
  /** Backoff of the first retry of an unschedulable pod, in seconds. @default 1 */
  podInitialBackoffSeconds?: number;
  /** Largest backoff, in seconds. @default 10 */
  podMaxBackoffSeconds?: number;
}

/** The default scheduler name. */
export const DEFAULT_SCHEDULER_NAME = "default-scheduler";

/**
 * The default plugins with their score weights: Kubernetes' defaults, except
 * the weights tsk's design sets (balanced allocation 30, image locality 20,
 * inter-pod affinity 25, node affinity 25).
 */
export const DEFAULT_PLUGINS: readonly Required<PluginRef>[] = Object.freeze([
  { name: "NodeUnschedulable", weight: 1 },
  { name: "NodeName", weight: 1 },
  { name: "TaintToleration", weight: 3 },
  { name: "NodeAffinity", weight: 25 },
  { name: "NodePorts", weight: 1 },
  { name: "NodeResourcesFit", weight: 1 },
  { name: "PodTopologySpread", weight: 2 },
  { name: "InterPodAffinity", weight: 25 },
  { name: "DefaultPreemption", weight: 1 },
  { name: "NodeResourcesBalancedAllocation", weight: 30 },
  { name: "ImageLocality", weight: 20 },
  { name: "DefaultBinder", weight: 1 },
]);

/**
 * The default configuration: one profile, "default-scheduler", with the
 * default plugins.
 *
 * @returns A fresh configuration.
 *
 * @example Default profile name
 * ```ts
 * import { defaultConfig } from "./profile.ts";
 * defaultConfig().profiles[0].schedulerName; // "default-scheduler"
 * ```
 */
export function defaultConfig(): SchedulerConfig {
  return { profiles: [{ schedulerName: DEFAULT_SCHEDULER_NAME }] };
}

function fail(msg: string): never {
  throw new SchedulerConfigError(msg);
}

function checkRefs(v: unknown, field: string): PluginRef[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(`${field}: expected a list of {name, weight}`);
  return v.map((r, i) => {
    const f = `${field}[${i}]`;
    if (typeof r !== "object" || r === null) fail(`${f}: expected {name, weight}`);
    const { name, weight } = r as Record<string, unknown>;
    if (typeof name !== "string" || name === "") fail(`${f}.name: expected a plugin name`);
    if (
      weight !== undefined &&
      (typeof weight !== "number" || !Number.isInteger(weight) || weight < 0 || weight > 100)
    ) {
      fail(`${f}.weight: expected an integer from 0 to 100, got ${JSON.stringify(weight)}`);
    }
    return weight === undefined ? { name } : { name, weight: weight as number };
  });
}

/**
 * Validates a configuration object (parsed YAML or JSON).
 *
 * @param raw The object.
 * @returns The typed configuration.
 * @throws {SchedulerConfigError} Naming the bad field.
 *
 * @example Validate
 * ```ts
 * import { validateConfig } from "./profile.ts";
 * validateConfig({ profiles: [{ schedulerName: "a" }] }).profiles.length; // 1
 * ```
 */
export function validateConfig(raw: unknown): SchedulerConfig {
  if (typeof raw !== "object" || raw === null) fail("config: expected a mapping");
  const r = raw as Record<string, unknown>;
  if (
    r.percentageOfNodesToScore !== undefined && r.percentageOfNodesToScore !== 100 &&
    r.percentageOfNodesToScore !== 0
  ) {
    fail(
      "percentageOfNodesToScore: tsk scores every feasible node; remove the field or set it to 100",
    );
  }
  for (const k of ["podInitialBackoffSeconds", "podMaxBackoffSeconds"]) {
    const v = r[k];
    if (v !== undefined && (typeof v !== "number" || !(v > 0))) {
      fail(`${k}: expected a positive number of seconds, got ${JSON.stringify(v)}`);
    }
  }
  const profilesRaw = r.profiles ?? [{ schedulerName: DEFAULT_SCHEDULER_NAME }];
  if (!Array.isArray(profilesRaw) || profilesRaw.length === 0) {
    fail("profiles: expected a non-empty list");
  }
  const seen = new Set<string>();
  const profiles = profilesRaw.map((p, i): ProfileConfig => {
    const f = `profiles[${i}]`;
    if (typeof p !== "object" || p === null) fail(`${f}: expected a mapping`);
    const pr = p as Record<string, unknown>;
    const schedulerName = pr.schedulerName ?? DEFAULT_SCHEDULER_NAME;
    if (typeof schedulerName !== "string" || schedulerName === "") {
      fail(`${f}.schedulerName: expected a non-empty string`);
    }
    if (seen.has(schedulerName)) fail(`${f}.schedulerName: duplicate profile ${schedulerName}`);
    seen.add(schedulerName);
    const plugins: ProfileConfig["plugins"] = {};
    if (pr.plugins !== undefined) {
      if (typeof pr.plugins !== "object" || pr.plugins === null) {
        fail(`${f}.plugins: expected a mapping of extension points`);
      }
      for (const [point, set] of Object.entries(pr.plugins)) {
        if (point !== "multiPoint" && !EXTENSION_POINTS.includes(point as ExtensionPoint)) {
          fail(
            `${f}.plugins.${point}: unknown extension point: expected multiPoint or one of ${
              EXTENSION_POINTS.join(", ")
            }`,
          );
        }
        const s = (set ?? {}) as Record<string, unknown>;
        plugins[point as ExtensionPoint] = {
          enabled: checkRefs(s.enabled, `${f}.plugins.${point}.enabled`),
          disabled: checkRefs(s.disabled, `${f}.plugins.${point}.disabled`),
        };
      }
    }
    const pluginConfig = pr.pluginConfig === undefined ? [] : pr.pluginConfig;
    if (!Array.isArray(pluginConfig)) fail(`${f}.pluginConfig: expected a list of {name, args}`);
    const pc = pluginConfig.map((c, j) => {
      const cf = `${f}.pluginConfig[${j}]`;
      const cr = c as Record<string, unknown>;
      if (typeof cr?.name !== "string") fail(`${cf}.name: expected a plugin name`);
      if (cr.args !== undefined && (typeof cr.args !== "object" || cr.args === null)) {
        fail(`${cf}.args: expected a mapping`);
      }
      return { name: cr.name, args: (cr.args ?? {}) as Record<string, unknown> };
    });
    return { schedulerName, plugins, pluginConfig: pc };
  });
  return {
    profiles,
    podInitialBackoffSeconds: r.podInitialBackoffSeconds as number | undefined,
    podMaxBackoffSeconds: r.podMaxBackoffSeconds as number | undefined,
  };
}

/**
 * Parses a YAML configuration.
 *
 * @param text YAML text.
 * @returns The configuration.
 * @throws {SchedulerConfigError} On YAML syntax errors or bad fields.
 *
 * @example Change a weight
 * ```ts
 * import { parseConfig } from "./profile.ts";
 * const cfg = parseConfig(`
 * profiles:
 *   - schedulerName: default-scheduler
 *     plugins:
 *       score:
 *         enabled: [{ name: ImageLocality, weight: 5 }]
 * `);
 * cfg.profiles[0].plugins?.score?.enabled?.[0].weight; // 5
 * ```
 */
export function parseConfig(text: string): SchedulerConfig {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    throw new SchedulerConfigError(`config: invalid YAML: ${(e as Error).message}`, { cause: e });
  }
  return validateConfig(raw ?? {});
}
