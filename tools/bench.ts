/**
 * Runs one benchmark: `deno task bench <name>` runs `bench/<name>.ts`.
 *
 * @module
 */
const name = Deno.args[0];
if (!name || !/^[a-z0-9_-]+$/.test(name)) {
  console.error("usage: deno task bench <name>   (runs bench/<name>.ts)");
  Deno.exit(2);
}
const url = new URL(`../bench/${name}.ts`, import.meta.url);
try {
  await Deno.stat(url);
} catch {
  console.error(`bench: no benchmark named ${name}: expected bench/${name}.ts`);
  Deno.exit(2);
}
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", url.pathname, ...Deno.args.slice(1)],
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
Deno.exit((await child.status).code);
