import assert from "node:assert/strict";
import { inTreeRegistry } from "../plugins/registry.ts";
import { MemoryClient } from "./client.ts";
import { Framework } from "./framework.ts";
import { parseConfig } from "./profile.ts";
import { SchedulerConfigError } from "./registry.ts";
import { Snapshot } from "./snapshot.ts";

const deps = () => ({ snapshot: new Snapshot(), client: new MemoryClient() });

Deno.test("the default profile uses the design's weights", () => {
  const fw = new Framework({ schedulerName: "default-scheduler" }, inTreeRegistry(), deps());
  assert.equal(fw.weightOf("NodeResourcesBalancedAllocation"), 30);
  assert.equal(fw.weightOf("ImageLocality"), 20);
  assert.equal(fw.weightOf("InterPodAffinity"), 25);
  assert.equal(fw.weightOf("NodeAffinity"), 25);
  assert.equal(fw.weightOf("TaintToleration"), 3);
  assert.equal(fw.weightOf("PodTopologySpread"), 2);
  assert.equal(fw.weightOf("NodeResourcesFit"), 1);
  assert.deepEqual(fw.pluginsAt("postFilter").map((p) => p.name), ["DefaultPreemption"]);
  assert.deepEqual(fw.pluginsAt("bind").map((p) => p.name), ["DefaultBinder"]);
});

Deno.test("a YAML profile changes weights, disables plugins and passes args", () => {
  const cfg = parseConfig(`
profiles:
  - schedulerName: default-scheduler
  - schedulerName: packer
    plugins:
      score:
        disabled: [{ name: NodeResourcesBalancedAllocation }]
        enabled: [{ name: ImageLocality, weight: 5 }]
      postFilter:
        disabled: [{ name: "*" }]
    pluginConfig:
      - name: NodeResourcesFit
        args: { scoringStrategy: { type: MostAllocated } }
`);
  assert.equal(cfg.profiles.length, 2);
  const fw = new Framework(cfg.profiles[1], inTreeRegistry(), deps());
  assert.equal(fw.weightOf("NodeResourcesBalancedAllocation"), 0);
  assert.equal(fw.weightOf("ImageLocality"), 5);
  assert.equal(fw.pluginsAt("postFilter").length, 0);
  assert.ok(
    fw.pluginsAt("filter").some((p) => p.name === "NodeResourcesBalancedAllocation") === false,
  );
});

Deno.test("configuration errors name the field", () => {
  const bad: [string, RegExp][] = [
    ["profiles: {}", /^profiles: expected a non-empty list/],
    [
      "profiles: [{ schedulerName: a }, { schedulerName: a }]",
      /profiles\[1\]\.schedulerName: duplicate/,
    ],
    [
      "profiles: [{ plugins: { sort: {} } }]",
      /profiles\[0\]\.plugins\.sort: unknown extension point/,
    ],
    [
      "profiles: [{ plugins: { score: { enabled: [{ name: ImageLocality, weight: 500 }] } } }]",
      /profiles\[0\]\.plugins\.score\.enabled\[0\]\.weight: expected an integer from 0 to 100/,
    ],
    ["percentageOfNodesToScore: 10", /^percentageOfNodesToScore: tsk scores every feasible node/],
    ["podMaxBackoffSeconds: -1", /^podMaxBackoffSeconds: expected a positive number/],
    ["profiles: [", /^config: invalid YAML/],
  ];
  for (const [text, re] of bad) {
    assert.throws(
      () => parseConfig(text),
      (e: Error) => e instanceof SchedulerConfigError && re.test(e.message),
      text,
    );
  }
});

Deno.test("unknown plugins, misplaced plugins and args for disabled plugins are refused", () => {
  const build = (yaml: string) =>
    new Framework(parseConfig(yaml).profiles[0], inTreeRegistry(), deps());
  assert.throws(
    () => build("profiles: [{ plugins: { filter: { enabled: [{ name: Nope }] } } }]"),
    /unknown plugin Nope/,
  );
  assert.throws(
    () => build("profiles: [{ plugins: { filter: { enabled: [{ name: ImageLocality }] } } }]"),
    /plugins\.filter\.enabled: plugin ImageLocality does not implement filter/,
  );
  assert.throws(
    () =>
      build(
        "profiles: [{ plugins: { multiPoint: { disabled: [{ name: ImageLocality }] } }, pluginConfig: [{ name: ImageLocality, args: {} }] }]",
      ),
    /pluginConfig: plugin ImageLocality is not enabled/,
  );
});

Deno.test("registering a plugin name twice is an error", () => {
  const r = inTreeRegistry();
  assert.throws(
    () => r.register("NodeResourcesFit", () => ({ name: "NodeResourcesFit" })),
    /already registered/,
  );
});
