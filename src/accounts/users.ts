/** @module Users: created by the admin token (the API) or by the demo seed. */
import { eq } from "drizzle-orm";
import { getDb, isUniqueViolation } from "../db/client";
import { insertEvent } from "../db/events-repository";
import { apiTokens, users } from "../db/schema";
import { conflict } from "../shared/errors";
import { newId } from "../shared/ids";
import { issueToken } from "./api-tokens";

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
      insertEvent(
        db,
        { ownerId: user.id, presetId: null, actorId: null, type: "token.created", target: "default", payload: { tokenId, name: "default" } },
        now,
      ),
    ]);
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`The handle '${handle}' is taken.`);
    throw e;
  }
  return { user, token: issued.token };
}
