import assert from "node:assert/strict";
import { expandVariables, parseContainerfile, parseKeyValues } from "./dockerfile.ts";
import { DockerIgnore } from "./dockerignore.ts";
import { ValidationError } from "../errors.ts";

Deno.test("parseContainerfile() joins continuations, drops comments and reads flags", () => {
  const f = parseContainerfile(`# syntax ignored
ARG BASE=busybox
FROM \${BASE} AS Build
# a comment
RUN echo one \\
  && echo two
COPY --from=build --chown=1:2 /a /b
CMD ["sh", "-c", "echo hi"]
ENTRYPOINT echo shell form
FROM scratch
COPY --from=build /x /x
`);
  assert.equal(f.globalArgs.length, 1);
  assert.equal(f.stages.length, 2);
  assert.equal(f.stages[0].name, "build");
  assert.equal(f.stages[0].from, "${BASE}");
  const [run, copy, cmd, ep] = f.stages[0].instructions;
  assert.equal(run.raw, "echo one   && echo two");
  assert.equal(run.line, 5);
  assert.deepEqual(copy.flags, { from: "build", chown: "1:2" });
  assert.equal(copy.raw, "/a /b");
  assert.deepEqual(cmd.json, ["sh", "-c", "echo hi"]);
  assert.equal(ep.json, undefined);
});

Deno.test("parseContainerfile() names the line of an error", () => {
  assert.throws(() => parseContainerfile("FROM a\nBOGUS x\n"), (e: unknown) => {
    assert.ok(e instanceof ValidationError);
    assert.equal(e.field, "line 2");
    assert.match(e.message, /unknown instruction BOGUS/);
    return true;
  });
  assert.throws(() => parseContainerfile("RUN x\n"), /line 1: RUN before FROM/);
  assert.throws(() => parseContainerfile("# only a comment\n"), /no FROM instruction/);
  assert.throws(() => parseContainerfile("FROM a AS x\nFROM b AS x\n"), /duplicate stage name x/);
});

Deno.test("parseContainerfile() honours the escape directive", () => {
  const f = parseContainerfile("# escape=`\nFROM a\nRUN dir c:\\ `\n  /w\n");
  assert.equal(f.stages[0].instructions[0].raw, "dir c:\\   /w");
});

Deno.test("expandVariables() handles braces, defaults and escapes", () => {
  const v = { A: "1", E: "" };
  assert.equal(
    expandVariables("$A ${A} ${B:-def} ${E:-x} ${A:+alt} ${B:+alt} \\$A", v),
    "1 1 def x alt  $A",
  );
});

Deno.test("parseKeyValues() reads quoted pairs and the legacy form", () => {
  assert.deepEqual(parseKeyValues('A=1 B="two words" C=a\\ b D', false), [
    ["A", "1"],
    ["B", "two words"],
    ["C", "a b"],
    ["D", undefined],
  ]);
  assert.deepEqual(parseKeyValues("NAME some value", true), [["NAME", "some value"]]);
});

Deno.test("DockerIgnore matches globs, ** and exceptions (last rule wins)", () => {
  const ig = new DockerIgnore("# comment\n*.log\n!keep.log\nbuild/\n**/tmp\nsecret?.txt\n");
  assert.ok(ig.ignores("a.log"));
  assert.ok(!ig.ignores("keep.log"));
  assert.ok(!ig.ignores("dir/a.log"), "* does not cross /");
  assert.ok(ig.ignores("build/x/y"));
  assert.ok(ig.ignores("a/b/tmp"));
  assert.ok(ig.ignores("tmp/file"));
  assert.ok(ig.ignores("secret1.txt"));
  assert.ok(!ig.ignores("secret12.txt"));
  assert.ok(!ig.ignores("src/main.ts"));
});
