/**
 * @module A consumer's own upstream credentials (per-user OAuth connections and bring-your-own
 * header values): list them (never a secret), set header values, disconnect (with a best-effort
 * RFC 7009 revocation at the upstream's authorization server).
 */

import { type ConnectTarget, findConnectTarget } from "../credentials/connect-target";
import { deleteCredentials, listCredentials, openOAuth, saveUserHeaders } from "../credentials/credential-store";
import { guardOptions } from "../credentials/guarded-fetch";
import { findClient } from "../credentials/registration";
import { revokeToken } from "../credentials/tokens";
import { checkUserHeaders } from "../credentials/user-headers";
import { getDb } from "../db/client";
import { insertEvent } from "../db/events-repository";
import { announceCredentialsChanged, type Env } from "../edge/preset-stub";
import { decideAccess } from "../policy/access";
import type { Bindings } from "../shared/bindings";
import { ApiError, invalidField, notFound } from "../shared/errors";
import { Connection, ConnectionParams, SetConnectionHeadersBody } from "./connection-schemas";
import { iso } from "./json-views";
import { defineRoute } from "./route";
import { list } from "./schemas";

type Listed = Awaited<ReturnType<typeof listCredentials>>[number];

function connectionJson(r: Listed) {
  return {
    server: r.server,
    owner: r.owner,
    kind: r.kind,
    connectedAt: iso(r.createdAt)!,
    updatedAt: iso(r.updatedAt)!,
    expiresAt: iso(r.expiresAt),
    scope: r.scope,
    issuer: r.issuer,
    headerNames: JSON.parse(r.headerNames) as string[],
  };
}

/** Revokes the tokens of deleted oauth rows at their authorization server, best effort. */
/**
 * After a consumer's credentials for a preset server changed: the presets using the server forget
 * what they resolved for the consumer, and the change is audited (names only, never a value).
 */
async function credentialsChanged(
  env: Env,
  target: ConnectTarget,
  userId: string,
  type: "credential.headers_set" | "credential.disconnected",
  payload: Record<string, unknown>,
): Promise<void> {
  await announceCredentialsChanged(env, target.server.id, userId);
  await insertEvent(getDb(env.DB), {
    ownerId: target.preset.ownerId,
    presetId: target.preset.id,
    actorId: userId,
    type,
    target: target.server.name,
    payload: { serverId: target.server.id, ...payload },
  }).run();
}

async function revokeAll(env: Bindings, serverId: string, rows: Awaited<ReturnType<typeof deleteCredentials>>): Promise<void> {
  for (const row of rows) {
    if (row.kind !== "oauth" || !row.issuer) continue;
    try {
      const client = await findClient(env, serverId, row.issuer);
      if (!client?.revocationEndpoint) continue;
      const secret = await openOAuth(env, row);
      if (secret.refreshToken) await revokeToken(client, secret.refreshToken, "refresh_token", guardOptions(env));
      await revokeToken(client, secret.accessToken, "access_token", guardOptions(env));
    } catch (e) {
      console.warn("upstream revocation skipped", e instanceof Error ? e.message : e);
    }
  }
}

export const connectionRoutes = [
  defineRoute({
    method: "get",
    path: "/connections",
    tag: "Connections",
    summary: "Your own upstream credentials (OAuth connections and per-user headers), never their values",
    auth: "user",
    responses: { 200: { description: "Your connections", schema: list("connections", Connection) } },
    async handler(c) {
      const rows = await listCredentials(c.env, c.get("userId"));
      return c.json({ connections: rows.map(connectionJson) });
    },
  }),
  defineRoute({
    method: "put",
    path: "/connections/:user/:slug/:server",
    tag: "Connections",
    summary: "Set your values for a preset server's per-user headers (bring your own key)",
    auth: "user",
    params: ConnectionParams,
    body: SetConnectionHeadersBody,
    responses: {
      200: { description: "Saved", schema: Connection },
      403: { description: "No access to the preset" },
      404: { description: "No such preset server taking per-user credentials" },
    },
    async handler(c, { params, body }) {
      const userId = c.get("userId");
      const target = await findConnectTarget(c.env, params.user, params.slug, params.server);
      if (!target) throw notFound(`A server '${params.server}' taking per-user credentials in ${params.user}/${params.slug}`);
      if (decideAccess(target.preset, userId) !== "allow") throw new ApiError(403, "forbidden", "Your account has no access to this preset.");
      const check = checkUserHeaders(target.server.userHeaders, body.headers);
      if (!check.ok) throw invalidField(check.field, check.problem);
      const now = Date.now();
      await saveUserHeaders(c.env, userId, target.server.id, target.server.url, check.headers, now);
      await credentialsChanged(c.env, target, userId, "credential.headers_set", { headerNames: Object.keys(check.headers) });
      const row = (await listCredentials(c.env, userId)).find((r) => r.kind === "headers" && r.server === target.server.name && r.owner === params.user);
      return c.json(connectionJson(row!));
    },
  }),
  defineRoute({
    method: "delete",
    path: "/connections/:user/:slug/:server",
    tag: "Connections",
    summary: "Disconnect: delete your credentials for a preset server (OAuth tokens are also revoked at the upstream when it supports RFC 7009)",
    auth: "user",
    params: ConnectionParams,
    responses: { 204: { description: "Deleted" }, 404: { description: "You have no credentials for this server" } },
    async handler(c, { params }) {
      const userId = c.get("userId");
      const target = await findConnectTarget(c.env, params.user, params.slug, params.server);
      const rows = target ? await deleteCredentials(c.env, userId, target.server.id) : [];
      if (!target || rows.length === 0) throw notFound(`Your credentials for '${params.server}' in ${params.user}/${params.slug}`);
      await credentialsChanged(c.env, target, userId, "credential.disconnected", { kinds: rows.map((r) => r.kind) });
      c.executionCtx.waitUntil(revokeAll(c.env, target.server.id, rows));
      return c.body(null, 204);
    },
  }),
];
