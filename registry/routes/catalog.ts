/**
 * `/v2/_catalog` with `n` (capped) and `last` pagination.
 *
 * @module
 */
import type { RegistryContext } from "../context.ts";
import { nextLink, pageSize } from "../_http.ts";

/**
 * Lists repositories in lexical order.
 *
 * @param ctx The registry.
 * @param req The request.
 * @returns `{"repositories"}`, with a `Link` header when more follow.
 */
export function listCatalog(ctx: RegistryContext, req: Request): Response {
  const url = new URL(req.url);
  const n = pageSize(url.searchParams.get("n") ?? undefined, ctx.settings.maxPageSize);
  const last = url.searchParams.get("last") ?? "";
  const repos = n === 0 ? [] : ctx.meta.listRepos(n + 1, last);
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (repos.length > n) {
    repos.length = n;
    headers["Link"] = nextLink("/v2/_catalog", n, repos[n - 1]);
  }
  return new Response(JSON.stringify({ repositories: repos }), { status: 200, headers });
}
