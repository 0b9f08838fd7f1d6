/**
 * @module GET /servers/:name/health: pings the upstream and reports its breaker in each preset
 * using it.
 */
import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { getDb } from "../db/client";
import { presetServers, presets, users } from "../db/schema";
import type { AppEnv } from "../edge/app-env";
import { presetStub } from "../edge/preset-stub";
import { UpstreamFailure } from "../upstream/client";
import { openHeaders } from "../upstream/header-secrets";
import { pingUpstream } from "../upstream/one-shot";
import { defineRoute } from "./route";
import { ServerParams } from "./schemas";
import { findOwnServer } from "./servers";
import { UpstreamHealthReport } from "./usage-schemas";

/**
 * Pings a server of the signed-in user through the gateway's MCP client and reads its breaker in
 * each preset using it, as GET /servers/:name/health reports it (the web console too). 404 when the
 * user has no such server; a failing upstream is a report, not an error.
 */
export async function serverHealth(c: Context<AppEnv>, name: string) {
  const row = await findOwnServer(c, name);
  const server = { id: row.id, name: row.name, url: row.url, headers: await openHeaders(c.env, row), timeoutMs: row.timeoutMs };
  const [ping, using] = await Promise.all([
    pingUpstream(server, { allowInsecure: c.env.ALLOW_INSECURE_UPSTREAMS === "true" }),
    getDb(c.env.DB)
      .select({ slug: presets.slug, handle: users.handle })
      .from(presetServers)
      .innerJoin(presets, eq(presets.id, presetServers.presetId))
      .innerJoin(users, eq(users.id, presets.ownerId))
      .where(eq(presetServers.serverId, row.id))
      .orderBy(presets.slug),
  ]);
  const breakers = await Promise.all(using.map(async (u) => ({ preset: u.slug, ...(await presetStub(c.env, u.handle, u.slug).health([row.id]))[row.id]! })));
  const failure = ping.failure;
  return {
    server: row.name,
    status: ping.ok ? ("ok" as const) : ("failing" as const),
    latencyMs: ping.latencyMs,
    connectMs: ping.connectMs,
    error: failure ? { code: failure instanceof UpstreamFailure ? `upstream_${failure.kind}` : "upstream_rpc_error", message: failure.message } : null,
    checkedAt: new Date().toISOString(),
    breakers,
  };
}

export const serverHealthRoutes = [
  defineRoute({
    method: "get",
    path: "/servers/:name/health",
    tag: "Servers",
    summary: "Pings the upstream through the gateway's MCP client; reports latency and its circuit breaker in each preset using it",
    auth: "user",
    params: ServerParams,
    responses: { 200: { description: "Health report (also when the upstream is failing)", schema: UpstreamHealthReport } },
    async handler(c, { params }) {
      return c.json(await serverHealth(c, params.name));
    },
  }),
];
