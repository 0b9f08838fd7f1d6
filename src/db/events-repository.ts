import { and, desc, eq, lt, or } from "drizzle-orm";
import { newId } from "../ids";
import type { Db } from "./client";
import { events, users } from "./schema";

export type EventType =
  | "preset.created"
  | "preset.updated"
  | "preset.deleted"
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
  | "grant.revoked";

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
    ? and(
        eq(events.presetId, presetId),
        or(lt(events.createdAt, after.createdAt), and(eq(events.createdAt, after.createdAt), lt(events.id, after.id))),
      )
    : eq(events.presetId, presetId);
  return db
    .select({ event: events, actorHandle: users.handle })
    .from(events)
    .leftJoin(users, eq(users.id, events.actorId))
    .where(where)
    .orderBy(desc(events.createdAt), desc(events.id))
    .limit(limit);
}
