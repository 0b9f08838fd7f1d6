/** @module The demo that `npm run dev` seeds: user `demo` and the public preset `demo/starter`. */
import { and, eq } from "drizzle-orm";
import { getDb, isUniqueViolation } from "../db/client";
import { insertEvent } from "../db/events-repository";
import { presetServers, presets, servers, users } from "../db/schema";
import { ApiError } from "../shared/errors";
import { newId } from "../shared/ids";
import { createUser } from "./users";

export const DEMO_HANDLE = "demo";
export const DEMO_SLUG = "starter";
export const DEMO_SERVER = "demo";

/**
 * What `npm run dev` seeds: user `demo`, server `demo` at `upstreamUrl`, and the public preset
 * `demo/starter` exposing every tool of it. Idempotent: running it again only re-points the
 * server at `upstreamUrl` (its port may differ between runs). The URL must already be checked.
 */
export async function seedDemo(d1: D1Database, upstreamUrl: string): Promise<SeedResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await seedOnce(d1, upstreamUrl);
    } catch (e) {
      // Seeds running at once: the loser's insert hit a UNIQUE constraint (on the user, the
      // server or the preset); what it wanted now exists, so look again.
      const raced = (e instanceof ApiError && e.status === 409) || isUniqueViolation(e);
      if (!raced || attempt >= 5) throw e;
    }
  }
}

interface SeedResult {
  user: typeof users.$inferSelect;
  created: boolean;
  token?: string;
}

async function seedOnce(d1: D1Database, upstreamUrl: string): Promise<SeedResult> {
  const db = getDb(d1);
  const now = Date.now();
  let created = false;
  let token: string | undefined;
  let user = await db.select().from(users).where(eq(users.handle, DEMO_HANDLE)).get();
  if (!user) {
    const made = await createUser(d1, DEMO_HANDLE, null, now);
    user = made.user;
    token = made.token;
    created = true;
  }
  let server = await db
    .select()
    .from(servers)
    .where(and(eq(servers.ownerId, user.id), eq(servers.name, DEMO_SERVER)))
    .get();
  if (!server) {
    server = {
      id: newId("srv", now),
      ownerId: user.id,
      name: DEMO_SERVER,
      url: upstreamUrl,
      headersEnc: null,
      headerNames: "[]",
      auth: "owner",
      userHeaders: "[]",
      timeoutMs: 30_000,
      createdAt: now,
      updatedAt: now,
    };
    await db.insert(servers).values(server);
  } else if (server.url !== upstreamUrl) {
    await db.update(servers).set({ url: upstreamUrl, updatedAt: now }).where(eq(servers.id, server.id));
  }
  let preset = await db
    .select()
    .from(presets)
    .where(and(eq(presets.ownerId, user.id), eq(presets.slug, DEMO_SLUG)))
    .get();
  if (!preset) {
    preset = {
      id: newId("prs", now),
      ownerId: user.id,
      slug: DEMO_SLUG,
      name: "Starter",
      description: "A demo preset served by mcpgate: every tool of the local demo upstream, prefixed demo__.",
      visibility: "public",
      status: "active",
      rateLimit: null,
      toolLimits: null,
      toolNaming: "prefixed",
      auditCalls: false,
      auditArguments: false,
      pinning: "on",
      newTools: "hold",
      alertThresholds: null,
      forkedFrom: null,
      createdAt: now,
      updatedAt: now,
    };
    await db.batch([
      db.insert(presets).values(preset),
      insertEvent(
        db,
        { ownerId: user.id, presetId: preset.id, actorId: user.id, type: "preset.created", target: DEMO_SLUG, payload: { visibility: "public", seeded: true } },
        now,
      ),
    ]);
    created = true;
  }
  const attached = await db
    .select()
    .from(presetServers)
    .where(and(eq(presetServers.presetId, preset.id), eq(presetServers.serverId, server.id)))
    .get();
  if (!attached) {
    await db.batch([
      db.insert(presetServers).values({ presetId: preset.id, serverId: server.id, enabled: true, tools: null, createdAt: now, updatedAt: now }),
      insertEvent(
        db,
        {
          ownerId: user.id,
          presetId: preset.id,
          actorId: user.id,
          type: "server.attached",
          target: DEMO_SERVER,
          payload: { server: DEMO_SERVER, tools: null },
        },
        now,
      ),
    ]);
  }
  return { user, created, token };
}
