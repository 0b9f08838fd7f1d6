/**
 * @module The worker's HTTP surface: the MCP endpoint, the management API under /api/v1, OAuth,
 * and health.
 */
import { Hono } from "hono";
import { adminRoutes } from "./api/admin";
import { callRoutes } from "./api/calls";
import { connectionRoutes } from "./api/connections";
import { driftRoutes } from "./api/drift";
import { eventRoutes } from "./api/events";
import { grantRoutes } from "./api/grants";
import { memberRoutes } from "./api/members";
import { mountRoutes } from "./api/mount";
import { buildOpenApi } from "./api/openapi";
import { presetServerRoutes } from "./api/preset-servers";
import { presetTransferRoutes } from "./api/preset-transfer";
import { presetRoutes } from "./api/presets";
import type { AnyRoute } from "./api/route";
import { serverHealthRoutes } from "./api/server-health";
import { serverRoutes } from "./api/servers";
import { statsRoutes } from "./api/stats";
import { tokenRoutes } from "./api/tokens";
import { userRoutes } from "./api/users";
import { webhookRoutes } from "./api/webhooks";
import { buildConsole } from "./console/routes";
import type { AppEnv } from "./edge/app-env";
import { mcpEndpoint } from "./edge/mcp-endpoint";
import { discardUnreadBody } from "./edge/request-body";
import { buildConnect } from "./oauth/connect-routes";
import { buildOAuth } from "./oauth/routes";
import { ApiError, errorBody } from "./shared/errors";
import { publicUrl } from "./shared/public-url";

/**
 * @module The worker's HTTP surface: the MCP endpoint, the management API, the OAuth server and
 * health, with the JSON answers for unknown routes and unhandled errors.
 */

export const apiRoutes: readonly AnyRoute[] = [
  ...userRoutes,
  ...tokenRoutes,
  ...serverRoutes,
  ...serverHealthRoutes,
  ...presetRoutes,
  ...presetServerRoutes,
  ...presetTransferRoutes,
  ...driftRoutes,
  ...memberRoutes,
  ...eventRoutes,
  ...callRoutes,
  ...statsRoutes,
  ...grantRoutes,
  ...connectionRoutes,
  ...webhookRoutes,
  ...adminRoutes,
];

function buildApi(): Hono<AppEnv> {
  const api = new Hono<AppEnv>();
  api.get("/openapi.json", (c) => c.json(buildOpenApi(apiRoutes, publicUrl(c))));
  mountRoutes(api, apiRoutes);
  return api;
}

/** The worker's HTTP surface: the MCP endpoint, the management API, and health. */
export function buildApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", discardUnreadBody);
  app.route("/", mcpEndpoint());
  app.get("/healthz", async (c) => {
    const ok = await c.env.DB.prepare("SELECT 1 AS ok")
      .first<{ ok: number }>()
      .then(
        (r) => r?.ok === 1,
        () => false,
      );
    return c.json({ status: ok ? "ok" : "degraded", database: ok ? "ok" : "unavailable" }, ok ? 200 : 503);
  });
  app.route("/api/v1", buildApi());
  app.route("/", buildOAuth());
  app.route("/", buildConnect());
  app.route("/", buildConsole());
  app.notFound((c) => c.json(errorBody("not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`), 404));
  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json(errorBody(err.code, err.message, err.field), err.status);
    console.error("unhandled error", c.req.method, c.req.path, err);
    return c.json(errorBody("internal_error", "Internal error."), 500);
  });
  return app;
}
