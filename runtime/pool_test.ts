import assert from "node:assert/strict";
import { ignoreReal, spawnWaiting, uniquePath } from "./cgroup/_testing.ts";
import { createCgroupManager } from "./cgroup/manager.ts";
import { removeOrphanPoolCgroups } from "./pool.ts";

Deno.test({
  name: "removeOrphanPoolCgroups removes only empty, old enough .pool-* cgroups",
  ignore: ignoreReal,
  async fn() {
    const parent = uniquePath("orphans");
    const orphan = await createCgroupManager(`${parent}/.pool-${crypto.randomUUID()}`);
    const live = await createCgroupManager(`${parent}/.pool-${crypto.randomUUID()}`);
    const other = await createCgroupManager(`${parent}/container-a`);
    const root = await createCgroupManager(parent);
    const sleeper = spawnWaiting("exit 0");
    try {
      for (const m of [orphan, live, other]) await m.create();
      // A live pool's cgroup holds its idle init.
      await live.apply(sleeper.child.pid);
      const exists = (m: { dirs(): Record<string, string> }) =>
        Object.values(m.dirs()).every((d) => {
          try {
            return Deno.statSync(d).isDirectory;
          } catch {
            return false;
          }
        });
      // Too young by default: a pool makes its cgroup just before it moves
      // the init in.
      assert.deepEqual(await removeOrphanPoolCgroups(parent), []);
      assert.ok(exists(orphan));
      assert.deepEqual(await removeOrphanPoolCgroups(parent, { minAgeMs: 0 }), [orphan.path]);
      assert.ok(!exists(orphan), "the orphan is gone from every hierarchy");
      assert.ok(exists(live), "a cgroup with a process stays");
      assert.ok(exists(other), "a container's cgroup stays");
    } finally {
      await sleeper.go();
      await sleeper.done();
      for (const m of [orphan, live, other, root]) await m.destroy().catch(() => {});
    }
  },
});

Deno.test({
  name: "removeOrphanPoolCgroups under a parent that does not exist removes nothing",
  ignore: ignoreReal,
  async fn() {
    assert.deepEqual(await removeOrphanPoolCgroups(uniquePath("none"), { minAgeMs: 0 }), []);
  },
});
