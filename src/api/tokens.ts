/** @module API tokens routes: create (the secret shown once), list, revoke. */
import { desc, eq } from "drizzle-orm";
import { issueToken } from "../accounts/api-tokens";
import { getDb } from "../db/client";
import { insertEvent, revokeTokenWithEvent } from "../db/events-repository";
import { apiTokens } from "../db/schema";
import { announceTokenRevoked } from "../edge/preset-stub";
import { notFound } from "../shared/errors";
import { newId } from "../shared/ids";
import { tokenJson } from "./json-views";
import { defineRoute } from "./route";
import { CreatedToken, CreateTokenBody, list, Token, TokenParams } from "./schemas";

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
      return c.json({ id, name: body.name, scope: body.scope, token: issued.token }, 201);
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
      const rows = await getDb(c.env.DB)
        .select()
        .from(apiTokens)
        .where(eq(apiTokens.userId, c.get("userId")))
        .orderBy(desc(apiTokens.createdAt));
      return c.json({ tokens: rows.map(tokenJson) });
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
      if (!(await revokeTokenWithEvent(c.env.DB, params.id, c.get("userId")))) throw notFound("Token");
      await announceTokenRevoked(c.env, c.get("userId"));
      return c.body(null, 204);
    },
  }),
];
