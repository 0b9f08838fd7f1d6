/** @module Upstream servers routes: register, list, read, change, delete, and the live tool list. */
import { and, eq } from "drizzle-orm";
import type { Context } from "hono";
import { z } from "zod";
import { getDb, isUniqueViolation } from "../db/client";
import { insertEvent } from "../db/events-repository";
import { presetServers, presets, type ServerAuth, servers, upstreamCredentials, users } from "../db/schema";
import type { AppEnv } from "../edge/app-env";
import { invalidatePresets } from "../edge/preset-stub";
import { ApiError, conflict, invalidField, notFound } from "../shared/errors";
import { newId } from "../shared/ids";
import { checkUpstreamUrl } from "../shared/url-guard";
import { type ConnectOptions, UpstreamFailure, type UpstreamServer } from "../upstream/client";
import { openHeaders, sealHeaders } from "../upstream/header-secrets";
import { fetchUpstreamItems, fetchUpstreamTools } from "../upstream/one-shot";
import { serverJson } from "./json-views";
import { defineRoute } from "./route";
import { CreateServerBody, list, Server, type ServerHeaders, ServerParams, UpdateServerBody, UpstreamToolList } from "./schemas";

export const DEFAULT_TIMEOUT_MS = 30_000;

/** Set on a PATCH answer whose URL change dropped the stored headers: their names, comma-separated. */
export const DROPPED_HEADERS_HEADER = "Mcpgate-Dropped-Headers";

const UpdatedServer = Server.extend({
  droppedHeaders: z
    .array(z.string())
    .optional()
    .describe("Present when the url moved to another origin without new headers: the stored headers were deleted, not sent there."),
});

/** What an audit event may say about a server: where it points and which headers it has, never their values. */
export function serverAudit(row: { id: string; name: string; url: string; headerNames: string; auth: ServerAuth; userHeaders: string }) {
  return {
    serverId: row.id,
    name: row.name,
    origin: new URL(row.url).origin,
    headerNames: JSON.parse(row.headerNames) as string[],
    auth: row.auth,
    userHeaders: JSON.parse(row.userHeaders) as string[],
  };
}

/**
 * Splits a headers body into the owner's secret values and the names left to each consumer. With
 * `auth: "oauth"` the upstream's Authorization belongs to the consumer's token, so no header may
 * take it.
 */
function splitHeaders(headers: z.output<typeof ServerHeaders>, auth: ServerAuth) {
  const owner: Record<string, string> = {};
  const perUser: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (auth === "oauth" && name.toLowerCase() === "authorization") {
      throw invalidField(`headers.${name}`, 'is set by each consumer\'s OAuth token when auth is "oauth"');
    }
    if (typeof value === "string") owner[name] = value;
    else perUser.push(name);
  }
  return { owner, userHeaders: JSON.stringify(perUser) };
}

function assertUpstreamUrl(c: Context<AppEnv>, url: string): string {
  const check = checkUpstreamUrl(url, { allowInsecure: c.env.ALLOW_INSECURE_UPSTREAMS === "true" });
  if (!check.ok) throw invalidField("url", check.reason);
  return check.url.toString();
}

export async function findOwnServer(c: Context<AppEnv>, name: string) {
  const row = await getDb(c.env.DB)
    .select()
    .from(servers)
    .where(and(eq(servers.ownerId, c.get("userId")), eq(servers.name, name)))
    .get();
  if (!row) throw notFound(`Server '${name}'`);
  return row;
}

/** Slugs of the owner's presets a server is attached to, and the owner's handle. */
async function presetsUsing(c: Context<AppEnv>, serverId: string) {
  const rows = await getDb(c.env.DB)
    .select({ slug: presets.slug, handle: users.handle })
    .from(presetServers)
    .innerJoin(presets, eq(presets.id, presetServers.presetId))
    .innerJoin(users, eq(users.id, presets.ownerId))
    .where(eq(presetServers.serverId, serverId));
  return rows;
}

/**
 * A server's live tool list, fetched through the gateway's MCP client as GET /servers/:name/tools
 * shows it (the web console too); 502/504 when the upstream cannot be listed.
 */
export function liveTools(c: Context<AppEnv>, row: Awaited<ReturnType<typeof findOwnServer>>) {
  return askUpstream(c, row, fetchUpstreamTools);
}

/** A server's live prompts, resources and resource templates, fetched like liveTools (the web console's curation). */
export function liveItems(c: Context<AppEnv>, row: Awaited<ReturnType<typeof findOwnServer>>) {
  return askUpstream(c, row, fetchUpstreamItems);
}

async function askUpstream<T>(
  c: Context<AppEnv>,
  row: Awaited<ReturnType<typeof findOwnServer>>,
  ask: (server: UpstreamServer, opts: ConnectOptions) => Promise<T>,
): Promise<T> {
  try {
    return await ask(
      { id: row.id, name: row.name, url: row.url, headers: await openHeaders(c.env, row), timeoutMs: row.timeoutMs },
      { allowInsecure: c.env.ALLOW_INSECURE_UPSTREAMS === "true" },
    );
  } catch (e) {
    if (e instanceof UpstreamFailure) throw new ApiError(e.kind === "timeout" ? 504 : 502, `upstream_${e.kind}`, e.message);
    throw e;
  }
}

/**
 * Registers a server of the signed-in user with its `server.created` event, as POST /servers does
 * (the web console calls it too). Throws 400 on a refused URL or header, 409 when the name is taken.
 */
export async function registerServer(c: Context<AppEnv>, body: z.output<typeof CreateServerBody>) {
  const url = assertUpstreamUrl(c, body.url);
  const db = getDb(c.env.DB);
  const ownerId = c.get("userId");
  const taken = await db
    .select({ id: servers.id })
    .from(servers)
    .where(and(eq(servers.ownerId, ownerId), eq(servers.name, body.name)))
    .get();
  if (taken) throw conflict(`You already have a server named '${body.name}'.`);
  const now = Date.now();
  const id = newId("srv", now);
  const auth = body.auth ?? "owner";
  const { owner, userHeaders } = splitHeaders(body.headers ?? {}, auth);
  const row = {
    id,
    ownerId,
    name: body.name,
    url,
    ...(await sealHeaders(c.env, id, owner)),
    auth,
    userHeaders,
    timeoutMs: body.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    createdAt: now,
    updatedAt: now,
  };
  try {
    await db.batch([
      db.insert(servers).values(row),
      insertEvent(db, { ownerId, presetId: null, actorId: ownerId, type: "server.created", target: row.name, payload: serverAudit(row) }, now),
    ]);
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`You already have a server named '${body.name}'.`);
    throw e;
  }
  return row;
}

/**
 * Changes a server as PATCH /servers/:name does (the console calls it too): `server.updated` event,
 * presets using it invalidated. `dropped`: the stored header names deleted because the URL moved to
 * another origin without new headers.
 */
export async function updateServer(c: Context<AppEnv>, name: string, body: z.output<typeof UpdateServerBody>) {
  const current = await findOwnServer(c, name);
  const db = getDb(c.env.DB);
  if (body.name && body.name !== current.name) {
    const taken = await db
      .select({ id: servers.id })
      .from(servers)
      .where(and(eq(servers.ownerId, current.ownerId), eq(servers.name, body.name)))
      .get();
    if (taken) throw conflict(`You already have a server named '${body.name}'.`);
  }
  const url = body.url !== undefined ? assertUpstreamUrl(c, body.url) : current.url;
  // The stored headers were given for the old origin: never send them to another one unless
  // the owner supplies them again in the same request.
  const storedNames = JSON.parse(current.headerNames) as string[];
  const dropped = new URL(url).origin !== new URL(current.url).origin && body.headers === undefined ? storedNames : [];
  const auth = body.auth ?? current.auth;
  let split: ReturnType<typeof splitHeaders> | undefined;
  if (body.headers !== undefined) split = splitHeaders(body.headers, auth);
  else if (dropped.length > 0) split = { owner: {}, userHeaders: current.userHeaders };
  else if (auth === "oauth" && storedNames.some((n) => n.toLowerCase() === "authorization")) {
    throw invalidField("auth", 'cannot be "oauth" while the server has an owner Authorization header; send headers without it');
  }
  const now = Date.now();
  const next = {
    ...current,
    name: body.name ?? current.name,
    url,
    auth,
    timeoutMs: body.timeoutMs ?? current.timeoutMs,
    ...(split !== undefined ? { ...(await sealHeaders(c.env, current.id, split.owner)), userHeaders: split.userHeaders } : {}),
    updatedAt: now,
  };
  const changed: string[] = (["name", "url", "timeoutMs", "auth", "userHeaders"] as const).filter((k) => next[k] !== current[k]);
  if (split !== undefined) changed.push("headers");
  const payload = {
    ...serverAudit(next),
    changed,
    ...(next.url !== current.url ? { previousOrigin: new URL(current.url).origin } : {}),
    ...(dropped.length > 0 ? { droppedHeaders: dropped } : {}),
  };
  try {
    await db.batch([
      db.update(servers).set(next).where(eq(servers.id, current.id)),
      insertEvent(db, { ownerId: current.ownerId, presetId: null, actorId: c.get("userId"), type: "server.updated", target: next.name, payload }, now),
    ]);
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`You already have a server named '${next.name}'.`);
    throw e;
  }
  const using = await presetsUsing(c, current.id);
  if (using[0])
    await invalidatePresets(
      c.env,
      using[0].handle,
      using.map((u) => u.slug),
    );
  return { row: next, dropped };
}

/** Deletes a server no preset uses, as DELETE /servers/:name does (the console calls it too); 409 while attached. */
export async function deleteServer(c: Context<AppEnv>, name: string) {
  const row = await findOwnServer(c, name);
  const using = await presetsUsing(c, row.id);
  if (using.length > 0) {
    throw conflict(`Server '${row.name}' is attached to presets ${using.map((u) => `'${u.slug}'`).join(", ")}; detach it first.`);
  }
  const db = getDb(c.env.DB);
  const now = Date.now();
  await db.batch([
    db.delete(upstreamCredentials).where(eq(upstreamCredentials.serverId, row.id)),
    db.delete(servers).where(eq(servers.id, row.id)),
    insertEvent(
      db,
      { ownerId: row.ownerId, presetId: null, actorId: c.get("userId"), type: "server.deleted", target: row.name, payload: serverAudit(row) },
      now,
    ),
  ]);
}

export const serverRoutes = [
  defineRoute({
    method: "post",
    path: "/servers",
    tag: "Servers",
    summary: "Register an upstream MCP server",
    auth: "user",
    body: CreateServerBody,
    responses: { 201: { description: "Created", schema: Server }, 409: { description: "Name taken" } },
    async handler(c, { body }) {
      return c.json(serverJson(await registerServer(c, body)), 201);
    },
  }),
  defineRoute({
    method: "get",
    path: "/servers",
    tag: "Servers",
    summary: "List your servers",
    auth: "user",
    responses: { 200: { description: "Servers", schema: list("servers", Server) } },
    async handler(c) {
      const rows = await getDb(c.env.DB)
        .select()
        .from(servers)
        .where(eq(servers.ownerId, c.get("userId")))
        .orderBy(servers.name);
      return c.json({ servers: rows.map(serverJson) });
    },
  }),
  defineRoute({
    method: "get",
    path: "/servers/:name",
    tag: "Servers",
    summary: "One of your servers (header values masked)",
    auth: "user",
    params: ServerParams,
    responses: { 200: { description: "The server", schema: Server }, 404: { description: "Not found" } },
    async handler(c, { params }) {
      return c.json(serverJson(await findOwnServer(c, params.name)));
    },
  }),
  defineRoute({
    method: "patch",
    path: "/servers/:name",
    tag: "Servers",
    summary: "Change a server; presets using it pick up the change at once",
    auth: "user",
    params: ServerParams,
    body: UpdateServerBody,
    responses: { 200: { description: "Updated", schema: UpdatedServer }, 409: { description: "Name taken" } },
    async handler(c, { params, body }) {
      const { row, dropped } = await updateServer(c, params.name, body);
      if (dropped.length === 0) return c.json(serverJson(row));
      c.header(DROPPED_HEADERS_HEADER, dropped.join(", "));
      return c.json({ ...serverJson(row), droppedHeaders: dropped });
    },
  }),
  defineRoute({
    method: "delete",
    path: "/servers/:name",
    tag: "Servers",
    summary: "Delete a server that no preset uses",
    auth: "user",
    params: ServerParams,
    responses: { 204: { description: "Deleted" }, 409: { description: "Still attached to presets" } },
    async handler(c, { params }) {
      await deleteServer(c, params.name);
      return c.body(null, 204);
    },
  }),
  defineRoute({
    method: "get",
    path: "/servers/:name/tools",
    tag: "Servers",
    summary: "The upstream's live tool list, fetched through the gateway's MCP client",
    auth: "user",
    params: ServerParams,
    responses: { 200: { description: "Tools", schema: UpstreamToolList }, 502: { description: "Upstream failed" } },
    async handler(c, { params }) {
      const row = await findOwnServer(c, params.name);
      return c.json({ server: row.name, tools: await liveTools(c, row) });
    },
  }),
];
