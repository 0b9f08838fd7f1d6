import { eq } from "drizzle-orm";
import { z } from "zod";
import { getDb, isUniqueViolation } from "../db/client";
import { insertEvent } from "../db/events-repository";
import { apiTokens, users } from "../db/schema";
import { conflict, notFound } from "../shared/errors";
import { newId } from "../shared/ids";
import { issueToken } from "../accounts/api-tokens";
import { userJson } from "./json-views";
import { defineRoute } from "./route";
import { CreatedUser, CreateUserBody, User } from "./schemas";

/** Creates a user and their first API token in one batch; the token is returned once. */
export async function createUser(d1: D1Database, handle: string, email: string | null, now = Date.now()) {
  const db = getDb(d1);
  const existing = await db.select({ id: users.id }).from(users).where(eq(users.handle, handle)).get();
  if (existing) throw conflict(`The handle '${handle}' is taken.`);
  const user = { id: newId("usr", now), handle, email, createdAt: now };
  const issued = await issueToken();
  const tokenId = newId("tok", now);
  try {
    await db.batch([
      db.insert(users).values(user),
      db.insert(apiTokens).values({
        id: tokenId,
        userId: user.id,
        name: "default",
        tokenHash: issued.hash,
        prefix: issued.prefix,
        createdAt: now,
      }),
      insertEvent(db, { ownerId: user.id, presetId: null, actorId: null, type: "token.created", target: "default", payload: { tokenId, name: "default" } }, now),
    ]);
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`The handle '${handle}' is taken.`);
    throw e;
  }
  return { user, token: issued.token };
}

export const userRoutes = [
  defineRoute({
    method: "post",
    path: "/users",
    tag: "Users",
    summary: "Create a user (admin token only); returns the user's first API token once",
    auth: "admin",
    body: CreateUserBody,
    responses: { 201: { description: "Created", schema: CreatedUser }, 409: { description: "Handle taken" } },
    async handler(c, { body }) {
      const { user, token } = await createUser(c.env.DB, body.handle, body.email ?? null);
      return c.json({ user: userJson(user), token }, 201);
    },
  }),
  defineRoute({
    method: "get",
    path: "/me",
    tag: "Users",
    summary: "The user the token belongs to",
    auth: "user",
    responses: { 200: { description: "The user", schema: z.object({ user: User }) } },
    async handler(c) {
      const user = await getDb(c.env.DB).select().from(users).where(eq(users.id, c.get("userId"))).get();
      if (!user) throw notFound("User");
      return c.json({ user: userJson(user) });
    },
  }),
];
