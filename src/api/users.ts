/** @module Users routes: create (admin token only) and `me`. */
import { eq } from "drizzle-orm";
import { z } from "zod";
import { createUser } from "../accounts/users";
import { getDb } from "../db/client";
import { users } from "../db/schema";
import { notFound } from "../shared/errors";
import { userJson } from "./json-views";
import { defineRoute } from "./route";
import { CreatedUser, CreateUserBody, User } from "./schemas";

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
      const user = await getDb(c.env.DB)
        .select()
        .from(users)
        .where(eq(users.id, c.get("userId")))
        .get();
      if (!user) throw notFound("User");
      return c.json({ user: userJson(user) });
    },
  }),
];
