/**
 * @module Mounts the route table on Hono: authentication (admin or user token), then params, query
 * and body validation.
 */
import type { Hono, MiddlewareHandler } from "hono";
import { resolveApiTokenScope } from "../accounts/api-tokens";
import { bearerToken, isAdminToken } from "../accounts/credentials";
import type { AppEnv } from "../edge/app-env";
import { ApiError, forbidden, unauthorized } from "../shared/errors";
import type { AnyRoute } from "./route";
import { parseWith, readJsonBody } from "./validation";

const requireAuth =
  (mode: "admin" | "user"): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (!token) throw unauthorized();
    if (mode === "admin") {
      if (!isAdminToken(token, c.env.ADMIN_TOKEN)) {
        throw forbidden("Only the admin token may do that.");
      }
      return next();
    }
    if (isAdminToken(token, c.env.ADMIN_TOKEN)) {
      throw forbidden("The admin token only creates users; use a user's API token here.");
    }
    const resolved = await resolveApiTokenScope(c.env.DB, token, (p) => c.executionCtx.waitUntil(p));
    if (!resolved) throw unauthorized("The bearer token is not valid.");
    if (resolved.scope !== "manage") {
      throw new ApiError(
        403,
        "insufficient_scope",
        "This API token has scope 'mcp': it works only on the MCP endpoints. Use a token with scope 'manage' for the management API.",
      );
    }
    c.set("userId", resolved.userId);
    return next();
  };

/** Registers each route with its auth and validation, in the order: auth, params, query, body. */
export function mountRoutes(app: Hono<AppEnv>, routes: readonly AnyRoute[]): void {
  for (const route of routes) {
    app.on(route.method.toUpperCase(), route.path, requireAuth(route.auth), async (c) => {
      const params = route.params ? parseWith(route.params, c.req.param(), "path") : undefined;
      const query = route.query ? parseWith(route.query, c.req.query(), "query") : undefined;
      const body = route.body ? await readJsonBody(c, route.body) : undefined;
      return route.handler(c, { params, query, body });
    });
  }
}
