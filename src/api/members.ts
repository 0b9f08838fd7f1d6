/** @module Members of an invite-only preset: invite by handle, list, remove. */
import { and, eq } from "drizzle-orm";
import type { Context } from "hono";
import { raiseAlert } from "../alerts/alert";
import { getDb, isUniqueViolation } from "../db/client";
import { insertEvent } from "../db/events-repository";
import { listMembers } from "../db/presets-repository";
import { presetMembers, users } from "../db/schema";
import type { AppEnv } from "../edge/app-env";
import { invalidatePresets } from "../edge/preset-stub";
import { conflict, invalidField, notFound } from "../shared/errors";
import { iso } from "./json-views";
import { findOwnPreset } from "./presets";
import { defineRoute } from "./route";
import { AddMemberBody, list, Member, MemberParams, SlugParams } from "./schemas";

/** Grants a user access to a preset as POST /presets/:slug/members does (the console calls it too): `member.added` event, member.joined alert. */
export async function addMember(c: Context<AppEnv>, slug: string, memberHandle: string) {
  const { preset, handle } = await findOwnPreset(c, slug);
  const db = getDb(c.env.DB);
  const user = await db.select().from(users).where(eq(users.handle, memberHandle)).get();
  if (!user) throw notFound(`User '${memberHandle}'`);
  if (user.id === preset.ownerId) throw invalidField("handle", "the owner always has access to their presets");
  const now = Date.now();
  try {
    await db.batch([
      db.insert(presetMembers).values({ presetId: preset.id, userId: user.id, addedBy: c.get("userId"), createdAt: now }),
      insertEvent(
        db,
        { ownerId: preset.ownerId, presetId: preset.id, actorId: c.get("userId"), type: "member.added", target: user.handle, payload: { userId: user.id } },
        now,
      ),
    ]);
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`'${user.handle}' is already a member of '${preset.slug}'.`);
    throw e;
  }
  c.executionCtx.waitUntil(
    raiseAlert(c.env, {
      type: "member.joined",
      ownerId: preset.ownerId,
      presetId: preset.id,
      preset: `${handle}/${preset.slug}`,
      target: user.handle,
      data: { userId: user.id, handle: user.handle },
      at: now,
    }),
  );
  await invalidatePresets(c.env, handle, [preset.slug]);
  return { userId: user.id, handle: user.handle, addedAt: iso(now)! };
}

/** Revokes a member's access as DELETE /presets/:slug/members/:handle does (the console calls it too): `member.removed` event. */
export async function removeMember(c: Context<AppEnv>, slug: string, memberHandle: string) {
  const { preset, handle } = await findOwnPreset(c, slug);
  const db = getDb(c.env.DB);
  const user = await db.select({ id: users.id }).from(users).where(eq(users.handle, memberHandle)).get();
  const key = user && and(eq(presetMembers.presetId, preset.id), eq(presetMembers.userId, user.id));
  const member = key && (await db.select({ userId: presetMembers.userId }).from(presetMembers).where(key).get());
  if (!user || !key || !member) throw notFound(`Member '${memberHandle}' of '${preset.slug}'`);
  await db.batch([
    db.delete(presetMembers).where(key),
    insertEvent(db, {
      ownerId: preset.ownerId,
      presetId: preset.id,
      actorId: c.get("userId"),
      type: "member.removed",
      target: memberHandle,
      payload: { userId: user.id },
    }),
  ]);
  await invalidatePresets(c.env, handle, [preset.slug]);
}

export const memberRoutes = [
  defineRoute({
    method: "post",
    path: "/presets/:slug/members",
    tag: "Members",
    summary: "Grant a user access to an invite_only preset",
    auth: "user",
    params: SlugParams,
    body: AddMemberBody,
    responses: { 201: { description: "Added", schema: Member }, 404: { description: "No such user" }, 409: { description: "Already a member" } },
    async handler(c, { params, body }) {
      return c.json(await addMember(c, params.slug, body.handle), 201);
    },
  }),
  defineRoute({
    method: "get",
    path: "/presets/:slug/members",
    tag: "Members",
    summary: "List a preset's members",
    auth: "user",
    params: SlugParams,
    responses: { 200: { description: "Members", schema: list("members", Member) } },
    async handler(c, { params }) {
      const { preset } = await findOwnPreset(c, params.slug);
      const rows = await listMembers(getDb(c.env.DB), preset.id);
      return c.json({ members: rows.map((m) => ({ userId: m.userId, handle: m.handle, addedAt: iso(m.createdAt)! })) });
    },
  }),
  defineRoute({
    method: "delete",
    path: "/presets/:slug/members/:handle",
    tag: "Members",
    summary: "Revoke a member's access; it ends at their next request",
    auth: "user",
    params: MemberParams,
    responses: { 204: { description: "Removed" }, 404: { description: "Not a member" } },
    async handler(c, { params }) {
      await removeMember(c, params.slug, params.handle);
      return c.body(null, 204);
    },
  }),
];
