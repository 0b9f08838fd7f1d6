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

const ATTACHED_COLUMNS = {
  presetId: presetServers.presetId,
  name: servers.name,
  serverId: servers.id,
  enabled: presetServers.enabled,
  tools: presetServers.tools,
  prompts: presetServers.prompts,
  resources: presetServers.resources,
  overrides: presetServers.overrides,
  sessionScope: presetServers.sessionScope,
};

type AttachedRow = Awaited<ReturnType<typeof attachedRowsOf>>[number];

/** Attachment rows of one preset, or of every preset of an owner (one query, no list of ids to bind). */
function attachedRowsOf(db: Db, of: { presetId: string } | { ownerId: string }) {
  const q = db.select(ATTACHED_COLUMNS).from(presetServers).innerJoin(servers, eq(servers.id, presetServers.serverId));
  if ("presetId" in of) return q.where(eq(presetServers.presetId, of.presetId)).orderBy(servers.name);
  return q.innerJoin(presets, eq(presets.id, presetServers.presetId)).where(eq(presets.ownerId, of.ownerId)).orderBy(servers.name);
}

function attachedOf({ presetId: _, ...r }: AttachedRow) {
  return { ...r, tools: r.tools ?? null, prompts: r.prompts ?? null, resources: r.resources ?? null, overrides: r.overrides ?? {} };
}

/** The servers attached to a preset, by server name. */
export async function attachedServers(db: Db, presetId: string) {
  return (await attachedRowsOf(db, { presetId })).map(attachedOf);
}

/** Every preset of `ownerId` by slug with its attached servers (by server name), in two queries. */
export async function ownPresetsWithServers(db: Db, ownerId: string) {
  const rows = await db
    .select({ preset: presets, handle: users.handle })
    .from(presets)
    .innerJoin(users, eq(users.id, presets.ownerId))
    .where(eq(presets.ownerId, ownerId))
    .orderBy(presets.slug);
  const attached = rows.length ? await attachedRowsOf(db, { ownerId }) : [];
  return rows.map((r) => ({ ...r, servers: attached.filter((a) => a.presetId === r.preset.id).map(attachedOf) }));
}

export async function listMembers(db: Db, presetId: string) {
  return db
    .select({ userId: presetMembers.userId, handle: users.handle, createdAt: presetMembers.createdAt })
    .from(presetMembers)
    .innerJoin(users, eq(users.id, presetMembers.userId))
    .where(eq(presetMembers.presetId, presetId))
    .orderBy(users.handle);
}
