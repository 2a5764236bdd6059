/**
 * Checks that dependencies point one way (DESIGN.md): cli → sched / agent /
 * registry → image / net / mesh → runtime → api. A package reaches another
 * only through `@tsk/<name>` (its mod.ts or a named export), never through a
 * relative path into the other folder, and `_`-prefixed files are imported
 * only from their own folder.
 *
 * @module
 */
import { dirname, join, relative, resolve } from "node:path";

/** Rank of each package: a package may import only packages of lower rank. */
const RANK: Record<string, number> = {
  api: 0,
  runtime: 1,
  image: 2,
  net: 2,
  mesh: 2,
  registry: 3,
  sched: 3,
  agent: 3,
  cli: 4,
};

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const problems: string[] = [];

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.isDirectory) yield* walk(p);
    else if (e.isFile && (p.endsWith(".ts") || p.endsWith(".tsx"))) yield p;
  }
}

const importRe =
  /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

for await (const file of walk(root)) {
  const rel = relative(root, file);
  const pkg = rel.split("/")[0];
  // Imports inside JSDoc examples and comments do not count.
  const text = (await Deno.readTextFile(file)).replace(/\/\*[\s\S]*?\*\//g, "");
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2];
    if (spec.startsWith("@tsk/")) {
      const target = spec.slice(5).split("/")[0];
      if (!(target in RANK)) problems.push(`${rel}: imports unknown package ${spec}`);
      else if (pkg in RANK && RANK[target] >= RANK[pkg] && target !== pkg) {
        problems.push(`${rel}: ${pkg} may not import ${spec} (dependencies point down)`);
      } else if (target === pkg) {
        problems.push(`${rel}: imports its own package through ${spec}; use a relative path`);
      }
    } else if (spec.startsWith(".")) {
      const target = relative(root, resolve(dirname(file), spec));
      const tpkg = target.split("/")[0];
      if (tpkg !== pkg && tpkg in RANK) {
        problems.push(`${rel}: reaches into ${tpkg}/ by path (${spec}); import @tsk/${tpkg}`);
      }
      const base = target.split("/").at(-1) ?? "";
      if (base.startsWith("_") && !dirname(target).startsWith(dirname(rel)) && tpkg !== pkg) {
        problems.push(`${rel}: imports private file ${target}`);
      }
    }
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  console.error(`layering: ${problems.length} problem(s)`);
  Deno.exit(1);
}
console.log("layering: ok");
