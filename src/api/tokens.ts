/** @module API tokens routes: create (the secret shown once), list, revoke. */
import { desc, eq } from "drizzle-orm";
import type { Context } from "hono";
import type { z } from "zod";
import { issueToken } from "../accounts/api-tokens";
import { getDb } from "../db/client";
import { insertEvent, revokeTokenWithEvent } from "../db/events-repository";
import { apiTokens } from "../db/schema";
import type { AppEnv } from "../edge/app-env";
import { announceTokenRevoked } from "../edge/preset-stub";
import { notFound } from "../shared/errors";
import { newId } from "../shared/ids";
import { tokenJson } from "./json-views";
import { defineRoute } from "./route";
import { CreatedToken, CreateTokenBody, list, Token, TokenParams } from "./schemas";

/** Creates an API token with its `token.created` event, as POST /tokens does (the console calls it too); the secret is in the answer only. */
export async function createToken(c: Context<AppEnv>, body: z.output<typeof CreateTokenBody>) {
  const now = Date.now();
  const issued = await issueToken();
  const id = newId("tok", now);
  const userId = c.get("userId");
  const db = getDb(c.env.DB);
  await db.batch([
    db.insert(apiTokens).values({ id, userId, name: body.name, tokenHash: issued.hash, prefix: issued.prefix, scope: body.scope, createdAt: now }),
    insertEvent(
      db,
      {
        ownerId: userId,
        presetId: null,
        actorId: userId,
        type: "token.created",
        target: body.name,
        payload: { tokenId: id, name: body.name, scope: body.scope },
      },
      now,
    ),
  ]);
  return { id, name: body.name, scope: body.scope, token: issued.token };
}

/** Revokes one of the signed-in user's tokens, as DELETE /tokens/:id does; 404 when it is not theirs. */
export async function revokeToken(c: Context<AppEnv>, id: string) {
  if (!(await revokeTokenWithEvent(c.env.DB, id, c.get("userId")))) throw notFound("Token");
  await announceTokenRevoked(c.env, c.get("userId"));
}

/** The signed-in user's tokens, newest first, as GET /tokens lists them. */
export async function listTokens(c: Context<AppEnv>) {
  const rows = await getDb(c.env.DB)
    .select()
    .from(apiTokens)
    .where(eq(apiTokens.userId, c.get("userId")))
    .orderBy(desc(apiTokens.createdAt));
  return rows.map(tokenJson);
}

export const tokenRoutes = [
  defineRoute({
    method: "post",
    path: "/tokens",
    tag: "Tokens",
    summary: "Create an API token (scope manage or mcp); the secret is returned once",
    auth: "user",
    body: CreateTokenBody,
    responses: { 201: { description: "Created", schema: CreatedToken } },
    async handler(c, { body }) {
      return c.json(await createToken(c, body), 201);
    },
  }),
  defineRoute({
    method: "get",
    path: "/tokens",
    tag: "Tokens",
    summary: "List your API tokens (never their secrets)",
    auth: "user",
    responses: { 200: { description: "Tokens", schema: list("tokens", Token) } },
    async handler(c) {
      return c.json({ tokens: await listTokens(c) });
    },
  }),
  defineRoute({
    method: "delete",
    path: "/tokens/:id",
    tag: "Tokens",
    summary: "Revoke an API token; it stops working at once",
    auth: "user",
    params: TokenParams,
    responses: { 204: { description: "Revoked" }, 404: { description: "No such token of yours" } },
    async handler(c, { params }) {
      await revokeToken(c, params.id);
      return c.body(null, 204);
    },
  }),
];
