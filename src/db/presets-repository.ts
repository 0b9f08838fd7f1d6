/**
 * @module Queries on presets of the management API: by slug, their attached servers, their
 * members.
 */
import { and, eq } from "drizzle-orm";
import type { Db } from "./client";
import { presetMembers, presetServers, presets, servers, users } from "./schema";

/** A preset of `ownerId` by slug, with the owner's handle. */
export async function findPreset(db: Db, ownerId: string, slug: string) {
  return db
    .select({ preset: presets, handle: users.handle })
    .from(presets)
    .innerJoin(users, eq(users.id, presets.ownerId))
    .where(and(eq(presets.ownerId, ownerId), eq(presets.slug, slug)))
    .get();
}

/** The servers attached to a preset, by server name. */
export async function attachedServers(db: Db, presetId: string) {
  const rows = await db
    .select({
      name: servers.name,
      serverId: servers.id,
      enabled: presetServers.enabled,
      tools: presetServers.tools,
      prompts: presetServers.prompts,
      resources: presetServers.resources,
      overrides: presetServers.overrides,
      sessionScope: presetServers.sessionScope,
    })
    .from(presetServers)
    .innerJoin(servers, eq(servers.id, presetServers.serverId))
    .where(eq(presetServers.presetId, presetId))
    .orderBy(servers.name);
  return rows.map((r) => ({ ...r, tools: r.tools ?? null, prompts: r.prompts ?? null, resources: r.resources ?? null, overrides: r.overrides ?? {} }));
}

export async function listMembers(db: Db, presetId: string) {
  return db
    .select({ userId: presetMembers.userId, handle: users.handle, createdAt: presetMembers.createdAt })
    .from(presetMembers)
    .innerJoin(users, eq(users.id, presetMembers.userId))
    .where(eq(presetMembers.presetId, presetId))
    .orderBy(users.handle);
}
