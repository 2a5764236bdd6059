import assert from "node:assert/strict";
import { formatReference, parseReference } from "./reference.ts";
import { ValidationError } from "../errors.ts";
import { formatPlatform, parsePlatform, platformMatches } from "./platform.ts";

Deno.test("parseReference() splits registry, repository, tag and digest", () => {
  const d = "sha256:" + "e".repeat(64);
  assert.deepEqual(parseReference("busybox"), { repository: "busybox" });
  assert.deepEqual(parseReference("localhost:5000/a/b:1.0"), {
    registry: "localhost:5000",
    repository: "a/b",
    tag: "1.0",
  });
  assert.deepEqual(parseReference(`127.0.0.1:5000/app@${d}`), {
    registry: "127.0.0.1:5000",
    repository: "app",
    digest: d,
  });
  assert.equal(formatReference(parseReference(`r.io/x/y:t@${d}`)), `r.io/x/y:t@${d}`);
});

Deno.test("parseReference() rejects malformed references, naming the part", () => {
  assert.throws(() => parseReference("Upper/case"), /reference repository: /);
  assert.throws(() => parseReference("app:bad tag"), /reference tag: /);
  assert.throws(() => parseReference("app@sha256:123"), /reference digest: expected sha256/);
  assert.throws(() => parseReference(""), ValidationError);
  assert.throws(() => parseReference("a//b"), ValidationError);
});

Deno.test("parsePlatform() and platformMatches() handle variants", () => {
  assert.equal(formatPlatform(parsePlatform("linux/arm64/v8")), "linux/arm64/v8");
  assert.throws(() => parsePlatform("linux"), /platform: expected os\/arch/);
  assert.ok(
    platformMatches(parsePlatform("linux/arm64/v8"), { os: "linux", architecture: "arm64" }),
  );
  assert.ok(
    !platformMatches(parsePlatform("linux/arm/v6"), {
      os: "linux",
      architecture: "arm",
      variant: "v7",
    }),
  );
  assert.ok(
    platformMatches(parsePlatform("linux/arm"), {
      os: "linux",
      architecture: "arm",
      variant: "v7",
    }),
  );
});
