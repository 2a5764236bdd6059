import assert from "node:assert/strict";
import { type CommandIo, main } from "@tsk/cli";
import type { Deployment, Pod } from "@tsk/api";
import { startTestControlPlane } from "./_control_plane.ts";

function io(env: Record<string, string>): CommandIo & { out_: string[]; err_: string[] } {
  const out_: string[] = [];
  const err_: string[] = [];
  return { out_, err_, out: (l) => out_.push(l), err: (l) => err_.push(l), env };
}

const MANIFESTS = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, labels: {app: web}}
data: {a: "1", b: "2"}
`;

Deno.test("tsk apply is idempotent, updates what changed and removes dropped fields", async () => {
  const t = await startTestControlPlane();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/app.yaml`, MANIFESTS);
    let c = io(t.env);
    assert.equal(await main(["apply", "-f", `${dir}/app.yaml`], c), 0, c.err_.join("\n"));
    assert.deepEqual(c.out_, [
      "deployment/web created",
      "service/web created",
      "configmap/cfg created",
    ]);
    c = io(t.env);
    assert.equal(await main(["apply", "-f", `${dir}/app.yaml`], c), 0);
    assert.deepEqual(c.out_, [
      "deployment/web unchanged",
      "service/web unchanged",
      "configmap/cfg unchanged",
    ]);
    await Deno.writeTextFile(
      `${dir}/app.yaml`,
      MANIFESTS.replace("replicas: 2", "replicas: 3").replace(', b: "2"', ""),
    );
    c = io(t.env);
    assert.equal(await main(["apply", "-f", dir], c), 0);
    assert.deepEqual(c.out_, [
      "deployment/web configured",
      "service/web unchanged",
      "configmap/cfg configured",
    ]);
    assert.equal((await t.admin.get<Deployment>("deployments", "web")).spec.replicas, 3);
    assert.deepEqual((await t.admin.get("configmaps", "cfg") as { data?: unknown }).data, {
      a: "1",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
    await t.stop();
  }
});

Deno.test("tsk apply shows the server's field path for a bad manifest and stores nothing", async () => {
  const t = await startTestControlPlane();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/bad.yaml`,
      "apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers:\n  - name: c\n    image: busybox\n    resources: {limits: {memory: 12XB}}\n",
    );
    const c = io(t.env);
    assert.equal(await main(["apply", "-f", `${dir}/bad.yaml`], c), 1);
    assert.match(
      c.err_.join("\n"),
      /spec\.containers\[0\]\.resources\.limits\.memory: expected a quantity like 512Mi/,
    );
    assert.equal((await t.admin.list("pods")).items.length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await t.stop();
  }
});

Deno.test("tsk get prints tables, YAML and JSON, filters by label, and names missing objects", async () => {
  const t = await startTestControlPlane();
  try {
    for (const [name, app] of [["a", "web"], ["b", "db"]]) {
      await t.admin.create<Pod>({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, labels: { app } },
        spec: { containers: [{ name: "c", image: "busybox" }] },
      });
    }
    let c = io(t.env);
    assert.equal(await main(["get", "pods"], c), 0);
    assert.match(c.out_[0], /^NAME\s+READY\s+STATUS\s+RESTARTS\s+NODE\s+AGE$/);
    assert.match(c.out_[1], /^a\s+0\/1\s+Pending\s+0\s+<none>\s+\d+s$/);
    c = io(t.env);
    assert.equal(await main(["get", "po", "-l", "app=db", "-o", "name"], c), 0);
    assert.deepEqual(c.out_, ["pod/b"]);
    c = io(t.env);
    assert.equal(await main(["get", "pod/a", "-o", "json"], c), 0);
    assert.equal(JSON.parse(c.out_.join("\n")).metadata.name, "a");
    c = io(t.env);
    assert.equal(await main(["get", "pods", "a", "-o", "yaml"], c), 0);
    assert.match(c.out_.join("\n"), /^apiVersion: v1\nkind: Pod/);
    c = io(t.env);
    assert.equal(await main(["get", "pods,ns", "-o", "name"], c), 0);
    assert.deepEqual(c.out_, ["pod/a", "pod/b", "namespace/default", "namespace/tsk-system"]);
    c = io(t.env);
    assert.equal(await main(["get", "ns"], c), 0);
    assert.match(c.out_.join("\n"), /default\s+Active/);
    c = io(t.env);
    assert.equal(await main(["get", "pods", "-A"], c), 0);
    assert.match(c.out_[0], /^NAMESPACE\s+NAME/);
    c = io(t.env);
    assert.equal(await main(["get", "pod", "nope"], c), 1);
    assert.match(c.err_.join("\n"), /pods "nope" not found/);
    c = io(t.env);
    assert.equal(await main(["get", "widgets"], c), 2);
    assert.match(c.err_.join("\n"), /unknown resource type "widgets"/);
  } finally {
    await t.stop();
  }
});

Deno.test("tsk get -w prints changes as they happen", async () => {
  const t = await startTestControlPlane();
  try {
    const lines: string[] = [];
    const c: CommandIo = { out: (l) => lines.push(l), err: () => {}, env: t.env };
    const running = main(["get", "configmaps", "-w", "-o", "name"], c);
    await new Promise((r) => setTimeout(r, 200));
    await t.admin.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "w1" } });
    const deadline = Date.now() + 10000;
    while (!lines.includes("configmap/w1") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(lines.includes("configmap/w1"), lines.join("\n"));
    // Stopping the server ends the watch and the command.
    await t.cp.close();
    await running.catch(() => {});
  } finally {
    await t.stop();
  }
});

Deno.test("tsk scale, patch, describe and delete work on the server's objects", async () => {
  const t = await startTestControlPlane();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/app.yaml`, MANIFESTS);
    assert.equal(await main(["apply", "-f", `${dir}/app.yaml`], io(t.env)), 0);
    let c = io(t.env);
    assert.equal(await main(["scale", "deploy/web", "--replicas", "5"], c), 0);
    assert.deepEqual(c.out_, ["deployment/web scaled to 5"]);
    assert.equal((await t.admin.get<Deployment>("deployments", "web")).spec.replicas, 5);
    c = io(t.env);
    assert.equal(await main(["scale", "svc", "web", "--replicas", "2"], c), 2);
    c = io(t.env);
    assert.equal(await main(["patch", "cm", "cfg", "-p", '{"data":{"c":"3","a":null}}'], c), 0);
    assert.deepEqual((await t.admin.get("configmaps", "cfg") as { data?: unknown }).data, {
      b: "2",
      c: "3",
    });
    c = io(t.env);
    assert.equal(await main(["patch", "deploy", "web", "-p", "spec: {replicas: -1}"], c), 1);
    assert.match(c.err_.join("\n"), /spec\.replicas: expected a non-negative integer/);
    c = io(t.env);
    assert.equal(await main(["describe", "deployment", "web"], c), 0);
    const text = c.out_.join("\n");
    assert.match(text, /^Name:\s+web$/m);
    assert.match(text, /^Namespace:\s+default$/m);
    assert.match(text, /replicas: 5/);
    assert.match(text, /^Events:\n {2}<none>/m);
    c = io(t.env);
    assert.equal(await main(["delete", "-l", "app=web", "configmaps"], c), 0);
    assert.deepEqual(c.out_, ["configmap/cfg deleted"]);
    c = io(t.env);
    assert.equal(await main(["delete", "-f", `${dir}/app.yaml`, "--ignore-not-found"], c), 0);
    assert.deepEqual(c.out_, ["deployment/web deleted", "service/web deleted"]);
    c = io(t.env);
    assert.equal(await main(["delete", "pods"], c), 2);
    assert.match(c.err_.join("\n"), /refusing to delete every pod/);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await t.stop();
  }
});

Deno.test("every command answers --help, and a missing config says how to fix it", async () => {
  for (const name of ["apply", "get", "describe", "delete", "scale", "patch"]) {
    const c = io({});
    assert.equal(await main([name, "--help"], c), 0, name);
    assert.match(c.out_.join("\n"), new RegExp(`^Usage: tsk ${name}`), name);
  }
  const home = await Deno.makeTempDir();
  try {
    const c = io({ TSK_HOME: home });
    assert.equal(await main(["get", "pods"], c), 1);
    assert.match(
      c.err_.join("\n"),
      /config: not found: start the control plane .* or pass --server/,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("--server and TSK_SERVER override the config's server URL", async () => {
  const t = await startTestControlPlane();
  try {
    const c = io({ ...t.env, TSK_SERVER: "https://127.0.0.1:1" });
    assert.equal(await main(["get", "pods"], c), 1);
    assert.match(c.err_.join("\n"), /Cannot reach the API server at https:\/\/127\.0\.0\.1:1/);
    const d = io({ ...t.env, TSK_SERVER: "https://127.0.0.1:1" });
    assert.equal(await main(["get", "ns", "--server", t.cp.url], d), 0);
  } finally {
    await t.stop();
  }
});
