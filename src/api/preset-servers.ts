/** @module Attaching servers to a preset and selecting their tools, prompts and resources. */
import { and, eq } from "drizzle-orm";
import type { Context } from "hono";
import type { z } from "zod";
import { getDb, isUniqueViolation } from "../db/client";
import { insertEvent } from "../db/events-repository";
import { DEFAULT_SESSION_SCOPE, presetServers } from "../db/schema";
import type { AppEnv } from "../edge/app-env";
import { invalidatePresets } from "../edge/preset-stub";
import { notFound } from "../shared/errors";
import { assertNoNameClash } from "./naming-check";
import { findOwnPreset, presetView } from "./presets";
import { defineRoute } from "./route";
import { AttachParams, AttachServerBody, Preset } from "./schemas";
import { findOwnServer } from "./servers";

const sameSelection = (a: string[] | null, b: string[] | null) =>
  a === b || (a !== null && b !== null && a.length === b.length && a.every((t, i) => t === b[i]));

/**
 * Attaches one of the signed-in user's servers to one of their presets, or changes its selection,
 * overrides and options, as PUT /presets/:slug/servers/:name does (the web console calls it too):
 * 409 on a tool name clash (nothing changed), `server.attached` / `tools.changed` events, the
 * preset's Durable Object told to reload. Returns whether the server was newly attached.
 */
export async function attachServer(c: Context<AppEnv>, slug: string, name: string, body: z.output<typeof AttachServerBody>): Promise<boolean> {
  const { preset, handle } = await findOwnPreset(c, slug);
  const server = await findOwnServer(c, name);
  const db = getDb(c.env.DB);
  const key = and(eq(presetServers.presetId, preset.id), eq(presetServers.serverId, server.id));
  const actor = { ownerId: preset.ownerId, presetId: preset.id, actorId: c.get("userId"), target: server.name };
  const change = async (): Promise<boolean> => {
    const current = await db.select().from(presetServers).where(key).get();
    const tools = body.tools === undefined ? (current?.tools ?? null) : body.tools;
    const prompts = body.prompts === undefined ? (current?.prompts ?? null) : body.prompts;
    const resources = body.resources === undefined ? (current?.resources ?? null) : body.resources;
    const enabled = body.enabled ?? current?.enabled ?? true;
    const overrides = body.overrides === undefined ? (current?.overrides ?? null) : body.overrides;
    const sessionScope = body.sessionScope ?? current?.sessionScope ?? DEFAULT_SESSION_SCOPE;
    await assertNoNameClash(c, preset.id, preset.toolNaming, { serverId: server.id, enabled, tools, overrides });
    const now = Date.now();
    if (!current) {
      await db.batch([
        db.insert(presetServers).values({
          presetId: preset.id,
          serverId: server.id,
          enabled,
          tools,
          prompts,
          resources,
          overrides,
          sessionScope,
          createdAt: now,
          updatedAt: now,
        }),
        insertEvent(db, { ...actor, type: "server.attached", payload: { server: server.name, enabled, tools, prompts, resources, sessionScope } }, now),
      ]);
      return true;
    }
    const before = {
      tools: current.tools ?? null,
      prompts: current.prompts ?? null,
      resources: current.resources ?? null,
      enabled: current.enabled,
      overrides: current.overrides ?? null,
      sessionScope: current.sessionScope,
    };
    const after = { tools, prompts, resources, enabled, overrides, sessionScope };
    const changed =
      !sameSelection(before.tools, tools) ||
      !sameSelection(before.prompts, prompts) ||
      !sameSelection(before.resources, resources) ||
      before.enabled !== enabled ||
      JSON.stringify(before.overrides) !== JSON.stringify(overrides) ||
      before.sessionScope !== sessionScope;
    if (changed) {
      await db.batch([
        db.update(presetServers).set({ tools, prompts, resources, enabled, overrides, sessionScope, updatedAt: now }).where(key),
        insertEvent(db, { ...actor, type: "tools.changed", payload: { server: server.name, before, after } }, now),
      ]);
    }
    return false;
  };
  let attached: boolean;
  try {
    attached = await change();
  } catch (e) {
    // A concurrent request attached it first: apply this one as a change instead.
    if (!isUniqueViolation(e)) throw e;
    attached = await change();
  }
  await invalidatePresets(c.env, handle, [preset.slug]);
  return attached;
}

/** Detaches a server from a preset as DELETE /presets/:slug/servers/:name does (404 if not attached). */
export async function detachServer(c: Context<AppEnv>, slug: string, name: string): Promise<void> {
  const { preset, handle } = await findOwnPreset(c, slug);
  const server = await findOwnServer(c, name);
  const db = getDb(c.env.DB);
  const key = and(eq(presetServers.presetId, preset.id), eq(presetServers.serverId, server.id));
  const current = await db.select({ presetId: presetServers.presetId }).from(presetServers).where(key).get();
  if (!current) throw notFound(`Server '${server.name}' on preset '${preset.slug}'`);
  await db.batch([
    db.delete(presetServers).where(key),
    insertEvent(db, {
      ownerId: preset.ownerId,
      presetId: preset.id,
      actorId: c.get("userId"),
      type: "server.detached",
      target: server.name,
      payload: { server: server.name },
    }),
  ]);
  await invalidatePresets(c.env, handle, [preset.slug]);
}

export const presetServerRoutes = [
  defineRoute({
    method: "put",
    path: "/presets/:slug/servers/:name",
    tag: "Presets",
    summary: "Attach one of your servers to a preset, or change its selection of tools, prompts and resources",
    auth: "user",
    params: AttachParams,
    body: AttachServerBody,
    responses: { 200: { description: "Selection changed", schema: Preset }, 201: { description: "Attached", schema: Preset } },
    async handler(c, { params, body }) {
      const attached = await attachServer(c, params.slug, params.name, body);
      return c.json(await presetView(c, params.slug), attached ? 201 : 200);
    },
  }),
  defineRoute({
    method: "delete",
    path: "/presets/:slug/servers/:name",
    tag: "Presets",
    summary: "Detach a server from a preset",
    auth: "user",
    params: AttachParams,
    responses: { 204: { description: "Detached" }, 404: { description: "Not attached" } },
    async handler(c, { params }) {
      await detachServer(c, params.slug, params.name);
      return c.body(null, 204);
    },
  }),
];
