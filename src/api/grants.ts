/**
 * @module OAuth grants routes: the grants a user gave to MCP clients, and the grants on an owner's
 * preset.
 */
import { and, desc, eq } from "drizzle-orm";
import type { Context } from "hono";
import { z } from "zod";
import { getDb } from "../db/client";
import { oauthClients, oauthGrants, users } from "../db/schema";
import type { AppEnv } from "../edge/app-env";
import { revokeGrant } from "../oauth/grants";
import { notFound } from "../shared/errors";
import { iso } from "./json-views";
import { findOwnPreset } from "./presets";
import { defineRoute } from "./route";
import { list, Slug } from "./schemas";

export const GrantJson = z.object({
  id: z.string(),
  client: z.object({ id: z.string(), name: z.string().nullable() }),
  user: z.object({ id: z.string(), handle: z.string() }),
  preset: z.object({ id: z.string(), url: z.string() }),
  scope: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
  revokedReason: z.string().nullable(),
});

const GrantParams = z.object({ id: z.string().min(1).max(64) });
const PresetGrantParams = z.object({ slug: Slug, id: z.string().min(1).max(64) });

async function listGrants(c: Context<AppEnv>, where: ReturnType<typeof eq>) {
  const rows = await getDb(c.env.DB)
    .select({ grant: oauthGrants, clientName: oauthClients.name, handle: users.handle })
    .from(oauthGrants)
    .leftJoin(oauthClients, eq(oauthClients.id, oauthGrants.clientId))
    .innerJoin(users, eq(users.id, oauthGrants.userId))
    .where(where)
    .orderBy(desc(oauthGrants.createdAt))
    .limit(500);
  return rows.map(({ grant: g, clientName, handle }) => ({
    id: g.id,
    client: { id: g.clientId, name: clientName },
    user: { id: g.userId, handle },
    preset: { id: g.presetId, url: g.resource },
    scope: g.scope,
    createdAt: iso(g.createdAt)!,
    revokedAt: iso(g.revokedAt),
    revokedReason: g.revokedReason,
  }));
}

/** The OAuth grants on one of the user's presets, newest first, as GET /presets/:slug/grants lists them (the console too). */
export async function presetGrants(c: Context<AppEnv>, slug: string) {
  const { preset } = await findOwnPreset(c, slug);
  return listGrants(c, eq(oauthGrants.presetId, preset.id));
}

/** Revokes a grant on one of the user's presets as DELETE /presets/:slug/grants/:id does (the console too); 404 when not on it. */
export async function revokePresetGrant(c: Context<AppEnv>, slug: string, id: string) {
  const { preset } = await findOwnPreset(c, slug);
  const grant = await getDb(c.env.DB)
    .select()
    .from(oauthGrants)
    .where(and(eq(oauthGrants.id, id), eq(oauthGrants.presetId, preset.id)))
    .get();
  if (!grant) throw notFound("Grant");
  await revokeGrant(c.env, grant, "revoked_by_owner", c.get("userId"), (p) => c.executionCtx.waitUntil(p));
}

export const grantRoutes = [
  defineRoute({
    method: "get",
    path: "/grants",
    tag: "OAuth grants",
    summary: "The OAuth grants you gave to MCP clients",
    auth: "user",
    responses: { 200: { description: "Grants, newest first", schema: list("grants", GrantJson) } },
    async handler(c) {
      return c.json({ grants: await listGrants(c, eq(oauthGrants.userId, c.get("userId"))) });
    },
  }),
  defineRoute({
    method: "delete",
    path: "/grants/:id",
    tag: "OAuth grants",
    summary: "Revoke one of your grants: its refresh and access tokens stop working at once",
    auth: "user",
    params: GrantParams,
    responses: { 204: { description: "Revoked" } },
    async handler(c, { params }) {
      const grant = await getDb(c.env.DB)
        .select()
        .from(oauthGrants)
        .where(and(eq(oauthGrants.id, params.id), eq(oauthGrants.userId, c.get("userId"))))
        .get();
      if (!grant) throw notFound("Grant");
      await revokeGrant(c.env, grant, "revoked_by_user", c.get("userId"), (p) => c.executionCtx.waitUntil(p));
      return c.body(null, 204);
    },
  }),
  defineRoute({
    method: "get",
    path: "/presets/:slug/grants",
    tag: "OAuth grants",
    summary: "The OAuth grants on one of your presets",
    auth: "user",
    params: z.object({ slug: Slug }),
    responses: { 200: { description: "Grants, newest first", schema: list("grants", GrantJson) } },
    async handler(c, { params }) {
      return c.json({ grants: await presetGrants(c, params.slug) });
    },
  }),
  defineRoute({
    method: "delete",
    path: "/presets/:slug/grants/:id",
    tag: "OAuth grants",
    summary: "Revoke a grant on one of your presets",
    auth: "user",
    params: PresetGrantParams,
    responses: { 204: { description: "Revoked" } },
    async handler(c, { params }) {
      await revokePresetGrant(c, params.slug, params.id);
      return c.body(null, 204);
    },
  }),
];
