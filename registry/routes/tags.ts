/**
 * `/v2/<name>/tags/list` with `n` and `last` pagination.
 *
 * @module
 */
import type { RegistryContext } from "../context.ts";
import { RegistryError } from "../errors.ts";
import { nextLink, pageSize } from "../_http.ts";

/**
 * Lists a repository's tags in lexical order.
 *
 * @param ctx The registry.
 * @param req The request.
 * @param name The repository.
 * @returns `{"name","tags"}`, with a `Link` header when more follow.
 */
export function listTags(ctx: RegistryContext, req: Request, name: string): Response {
  if (!ctx.meta.repoExists(name)) {
    throw new RegistryError("NAME_UNKNOWN", `name: no repository ${name}`, { detail: { name } });
  }
  const url = new URL(req.url);
  const n = pageSize(url.searchParams.get("n") ?? undefined, ctx.settings.maxPageSize);
  const last = url.searchParams.get("last") ?? "";
  const tags = n === 0 ? [] : ctx.meta.listTags(name, n + 1, last);
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (tags.length > n) {
    tags.length = n;
    headers["Link"] = nextLink(`/v2/${name}/tags/list`, n, tags[n - 1]);
  }
  return new Response(JSON.stringify({ name, tags }), { status: 200, headers });
}
