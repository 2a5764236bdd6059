/**
 * The `scheduler` program's scheduler flags: a bad profile file stops it
 * with an error naming the field, and nothing keeps running.
 */
import assert from "node:assert/strict";

async function run(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../sched/main.ts", import.meta.url).pathname, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
  };
}

Deno.test("the scheduler program refuses a bad --scheduler-config, naming the field", async () => {
  const home = await Deno.makeTempDir({ prefix: "tsk-sched-prog-" });
  try {
    const bad = `${home}/sched.yaml`;
    await Deno.writeTextFile(
      bad,
      "profiles:\n  - schedulerName: a\n    plugins:\n      sort: {}\n",
    );
    const r = await run(["--port", "0", "--data", `${home}/cp`, "--scheduler-config", bad], {
      TSK_HOME: home,
    });
    assert.equal(r.code, 1, r.text);
    assert.match(r.text, /profiles\[0\]\.plugins\.sort: unknown extension point/);
    const unknown = `${home}/unknown.yaml`;
    await Deno.writeTextFile(
      unknown,
      "profiles:\n  - plugins:\n      filter:\n        enabled: [{ name: Nope }]\n",
    );
    const r2 = await run(["--port", "0", "--data", `${home}/cp`, "--scheduler-config", unknown], {
      TSK_HOME: home,
    });
    assert.equal(r2.code, 1, r2.text);
    assert.match(r2.text, /unknown plugin Nope/);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
