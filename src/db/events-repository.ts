/**
 * @module The audit trail's table: inserting an event in the batch of the change it records, and
 * listing events.
 */
import { and, desc, eq, gte, inArray, lt, lte, or, type SQL, sql } from "drizzle-orm";
import { newId } from "../shared/ids";
import type { Db } from "./client";
import { events, users } from "./schema";

export type EventType =
  | "preset.created"
  | "preset.updated"
  | "preset.deleted"
  | "server.created"
  | "server.updated"
  | "server.deleted"
  | "server.attached"
  | "server.detached"
  | "tools.changed"
  | "member.added"
  | "member.removed"
  | "breaker.opened"
  | "breaker.half_open"
  | "breaker.closed"
  | "rate_limit.refused"
  | "grant.issued"
  | "grant.revoked"
  | "token.created"
  | "token.revoked"
  | "auth.failed"
  | "tool.refused"
  | "prompt.refused"
  | "tool.shadowed"
  | "credential.connected"
  | "credential.headers_set"
  | "credential.disconnected"
  | "tool.drifted"
  | "tool.added"
  | "tool.removed"
  | "drift.approved"
  | "drift.rejected"
  | "upstream.unreachable"
  | "error_rate.high"
  | "rate_limit.surge"
  | "webhook.created"
  | "webhook.updated"
  | "webhook.deleted";

export interface EventInput {
  ownerId: string;
  presetId: string | null;
  actorId: string | null;
  type: EventType;
  target?: string | null;
  /** Small and secret-free: names and ids, never header values or tokens. */
  payload?: Record<string, unknown>;
}

/** The insert of one audit event, to be put in the same D1 batch as the change it records. */
export function insertEvent(db: Db, e: EventInput, now = Date.now()) {
  return db.insert(events).values({
    id: newId("evt", now),
    ownerId: e.ownerId,
    presetId: e.presetId,
    actorId: e.actorId,
    type: e.type,
    target: e.target ?? null,
    payload: e.payload ?? {},
    createdAt: now,
  });
}

export interface EventCursor {
  createdAt: number;
  id: string;
}

/** Newest first; `after` continues from the last event of the previous page. */
export async function listPresetEvents(db: Db, presetId: string, limit: number, after?: EventCursor) {
  const where = after
    ? and(eq(events.presetId, presetId), or(lt(events.createdAt, after.createdAt), and(eq(events.createdAt, after.createdAt), lt(events.id, after.id))))
    : eq(events.presetId, presetId);
  return db
    .select({ event: events, actorHandle: users.handle })
    .from(events)
    .leftJoin(users, eq(users.id, events.actorId))
    .where(where)
    .orderBy(desc(events.createdAt), desc(events.id))
    .limit(limit);
}

export interface EventFilter {
  /** Events of this account: user-level ones (tokens, grants) and those of its presets. */
  ownerId?: string;
  /** Events of this preset. */
  presetId?: string;
  /** Exact types (`breaker.opened`) or prefixes (`breaker.*`); any of them matches. */
  types?: readonly string[];
  /** Inclusive bounds on the event time, ms. */
  since?: number;
  until?: number;
}

/** Newest first, filtered; `after` continues from the last event of the previous page. */
export async function listEvents(db: Db, filter: EventFilter, limit: number, after?: EventCursor) {
  const conditions: (SQL | undefined)[] = [
    filter.ownerId !== undefined ? eq(events.ownerId, filter.ownerId) : undefined,
    filter.presetId !== undefined ? eq(events.presetId, filter.presetId) : undefined,
    filter.since !== undefined ? gte(events.createdAt, filter.since) : undefined,
    filter.until !== undefined ? lte(events.createdAt, filter.until) : undefined,
    after ? or(lt(events.createdAt, after.createdAt), and(eq(events.createdAt, after.createdAt), lt(events.id, after.id))) : undefined,
  ];
  if (filter.types?.length) {
    const exact = filter.types.filter((t) => !t.endsWith(".*"));
    const prefixes = filter.types.filter((t) => t.endsWith(".*")).map((t) => t.slice(0, -1));
    conditions.push(or(exact.length ? inArray(events.type, exact) : undefined, ...prefixes.map((p) => sql`substr(${events.type}, 1, ${p.length}) = ${p}`)));
  }
  return db
    .select({ event: events, actorHandle: users.handle })
    .from(events)
    .leftJoin(users, eq(users.id, events.actorId))
    .where(and(...conditions))
    .orderBy(desc(events.createdAt), desc(events.id))
    .limit(limit);
}

/**
 * Deletes one of a user's API tokens and records `token.revoked` in the same D1 batch. The event
 * is inserted from the token's own row, so a token that is not (or no longer) there gets none,
 * even when two revocations race. Returns whether the token existed.
 */
export async function revokeTokenWithEvent(d1: D1Database, tokenId: string, userId: string, now = Date.now()): Promise<boolean> {
  const [, deleted] = await d1.batch([
    d1
      .prepare(
        `INSERT INTO events (id, owner_id, preset_id, actor_id, type, target, payload, created_at)
         SELECT ?1, user_id, NULL, user_id, 'token.revoked', name, json_object('tokenId', id, 'name', name), ?2
         FROM api_tokens WHERE id = ?3 AND user_id = ?4`,
      )
      .bind(newId("evt", now), now, tokenId, userId),
    d1.prepare("DELETE FROM api_tokens WHERE id = ? AND user_id = ?").bind(tokenId, userId),
  ]);
  return (deleted?.meta.changes ?? 0) > 0;
}
