/** @module Presets routes: create, list, read (with each server's health), change, delete. */
import { and, eq } from "drizzle-orm";
import type { Context } from "hono";
import type { z } from "zod";
import { getDb, isUniqueViolation } from "../db/client";
import { insertEvent } from "../db/events-repository";
import { attachedServers, findPreset, ownPresetsWithServers } from "../db/presets-repository";
import { presetMembers, presetServers, presets } from "../db/schema";
import type { AppEnv } from "../edge/app-env";
import { invalidatePresets, presetStub } from "../edge/preset-stub";
import { conflict, notFound } from "../shared/errors";
import { newId } from "../shared/ids";
import { publicUrl } from "../shared/public-url";
import { presetJson } from "./json-views";
import { assertNoNameClash } from "./naming-check";
import { defineRoute } from "./route";
import { CreatePresetBody, list, Preset, SlugParams, UpdatePresetBody } from "./schemas";

export async function findOwnPreset(c: Context<AppEnv>, slug: string) {
  const found = await findPreset(getDb(c.env.DB), c.get("userId"), slug);
  if (!found) throw notFound(`Preset '${slug}'`);
  return found;
}

/** The full JSON of a preset as GET /presets/:slug shows it, with each server's health from its Durable Object. */
export async function presetView(c: Context<AppEnv>, slug: string) {
  const { preset, handle } = await findOwnPreset(c, slug);
  return withHealth(c, { preset, handle, servers: await attachedServers(getDb(c.env.DB), preset.id) });
}

/** Every preset of the signed-in user as GET /presets lists it: two D1 queries, then one health RPC per preset with servers. */
export async function listPresetViews(c: Context<AppEnv>) {
  const rows = await ownPresetsWithServers(getDb(c.env.DB), c.get("userId"));
  return Promise.all(rows.map((r) => withHealth(c, r)));
}

type PresetWithServers = Awaited<ReturnType<typeof ownPresetsWithServers>>[number];

async function withHealth(c: Context<AppEnv>, { preset, handle, servers }: PresetWithServers) {
  const health = servers.length ? await presetStub(c.env, handle, preset.slug).health(servers.map((s) => s.serverId)) : {};
  const attached = servers.map((s) => ({ ...s, health: health[s.serverId]! }));
  return presetJson(preset, handle, publicUrl(c), attached);
}

/**
 * Creates a preset of the signed-in user with its `preset.created` event, as POST /presets does
 * (the web console calls it too). Throws 409 when the slug is taken.
 */
export async function createPreset(c: Context<AppEnv>, body: z.output<typeof CreatePresetBody>) {
  const db = getDb(c.env.DB);
  const ownerId = c.get("userId");
  if (await findPreset(db, ownerId, body.slug)) throw conflict(`You already have a preset '${body.slug}'.`);
  const now = Date.now();
  const row = {
    id: newId("prs", now),
    ownerId,
    slug: body.slug,
    name: body.name,
    description: body.description ?? null,
    visibility: body.visibility,
    status: "active" as const,
    rateLimit: body.rateLimit ?? null,
    toolLimits: body.toolLimits ?? null,
    alertThresholds: body.alerts ?? null,
    auditCalls: body.auditCalls ?? false,
    toolNaming: body.toolNaming ?? "prefixed",
    pinning: body.pinning ?? "on",
    newTools: body.newTools ?? "hold",
    auditArguments: body.auditArguments ?? false,
    createdAt: now,
    updatedAt: now,
  };
  try {
    await db.batch([
      db.insert(presets).values(row),
      insertEvent(db, { ownerId, presetId: row.id, actorId: ownerId, type: "preset.created", target: row.slug, payload: { visibility: row.visibility } }, now),
    ]);
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`You already have a preset '${body.slug}'.`);
    throw e;
  }
  const view = await presetView(c, row.slug);
  // A preset deleted and created again under the same slug reuses its Durable Object.
  await invalidatePresets(c.env, view.owner, [row.slug]);
  return view;
}

/** Changes a preset as PATCH /presets/:slug does (the console calls it too): `preset.updated` event, its DO told to reload. */
export async function updatePreset(c: Context<AppEnv>, slug: string, body: z.output<typeof UpdatePresetBody>) {
  const { preset, handle } = await findOwnPreset(c, slug);
  const db = getDb(c.env.DB);
  const now = Date.now();
  const changes = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
  // `alerts` is the alert_thresholds column: the detectors set, null for every detector at its default.
  const { alerts: _alerts, ...columns } = changes;
  const set = body.alerts === undefined ? columns : { ...columns, alertThresholds: body.alerts };
  if (body.toolNaming && body.toolNaming !== preset.toolNaming) await assertNoNameClash(c, preset.id, body.toolNaming);
  await db.batch([
    db
      .update(presets)
      .set({ ...set, updatedAt: now })
      .where(eq(presets.id, preset.id)),
    insertEvent(
      db,
      {
        ownerId: preset.ownerId,
        presetId: preset.id,
        actorId: c.get("userId"),
        type: "preset.updated",
        target: preset.slug,
        payload: { changed: Object.keys(changes) },
      },
      now,
    ),
  ]);
  await invalidatePresets(c.env, handle, [preset.slug]);
}

/** Deletes a preset as DELETE /presets/:slug does (the console calls it too); its URL stops answering at once. */
export async function deletePreset(c: Context<AppEnv>, slug: string) {
  const { preset, handle } = await findOwnPreset(c, slug);
  const db = getDb(c.env.DB);
  await db.batch([
    db.delete(presetServers).where(eq(presetServers.presetId, preset.id)),
    db.delete(presetMembers).where(eq(presetMembers.presetId, preset.id)),
    db.delete(presets).where(and(eq(presets.id, preset.id))),
    insertEvent(db, { ownerId: preset.ownerId, presetId: preset.id, actorId: c.get("userId"), type: "preset.deleted", target: preset.slug }),
  ]);
  await invalidatePresets(c.env, handle, [preset.slug]);
}

export const presetRoutes = [
  defineRoute({
    method: "post",
    path: "/presets",
    tag: "Presets",
    summary: "Create a preset: a virtual MCP server at /mcp/<you>/<slug>",
    auth: "user",
    body: CreatePresetBody,
    responses: { 201: { description: "Created", schema: Preset }, 409: { description: "Slug taken" } },
    async handler(c, { body }) {
      return c.json(await createPreset(c, body), 201);
    },
  }),
  defineRoute({
    method: "get",
    path: "/presets",
    tag: "Presets",
    summary: "List your presets",
    auth: "user",
    responses: { 200: { description: "Presets", schema: list("presets", Preset) } },
    async handler(c) {
      return c.json({ presets: await listPresetViews(c) });
    },
  }),
  defineRoute({
    method: "get",
    path: "/presets/:slug",
    tag: "Presets",
    summary: "One of your presets with its attached servers and tool selections",
    auth: "user",
    params: SlugParams,
    responses: { 200: { description: "The preset", schema: Preset }, 404: { description: "Not found" } },
    async handler(c, { params }) {
      return c.json(await presetView(c, params.slug));
    },
  }),
  defineRoute({
    method: "patch",
    path: "/presets/:slug",
    tag: "Presets",
    summary: "Change a preset's name, description, visibility, status, limits, audit or naming options",
    auth: "user",
    params: SlugParams,
    body: UpdatePresetBody,
    responses: { 200: { description: "Updated", schema: Preset } },
    async handler(c, { params, body }) {
      await updatePreset(c, params.slug, body);
      return c.json(await presetView(c, params.slug));
    },
  }),
  defineRoute({
    method: "delete",
    path: "/presets/:slug",
    tag: "Presets",
    summary: "Delete a preset; its URL stops answering at once",
    auth: "user",
    params: SlugParams,
    responses: { 204: { description: "Deleted" } },
    async handler(c, { params }) {
      await deletePreset(c, params.slug);
      return c.body(null, 204);
    },
  }),
];
