/** @module The call log's table: one row per logged tools/call (rows are built by usage/call-log.ts). */
import { and, desc, eq, gte, inArray, lt, lte, or, type SQL } from "drizzle-orm";
import type { Db } from "./client";
import type { EventCursor } from "./events-repository";
import { callLog, users } from "./schema";

export type CallLogRow = typeof callLog.$inferInsert;

export async function insertCallLog(db: Db, row: CallLogRow): Promise<void> {
  await db.insert(callLog).values(row).run();
}

export interface CallFilter {
  presetId: string;
  tool?: string;
  outcomes?: readonly string[];
  since?: number;
  until?: number;
}

/** Newest first; `after` continues from the last row of the previous page. */
export async function listCalls(db: Db, f: CallFilter, limit: number, after?: EventCursor) {
  const conditions: (SQL | undefined)[] = [
    eq(callLog.presetId, f.presetId),
    f.tool !== undefined ? eq(callLog.tool, f.tool) : undefined,
    f.outcomes?.length ? inArray(callLog.outcome, [...f.outcomes]) : undefined,
    f.since !== undefined ? gte(callLog.createdAt, f.since) : undefined,
    f.until !== undefined ? lte(callLog.createdAt, f.until) : undefined,
    after ? or(lt(callLog.createdAt, after.createdAt), and(eq(callLog.createdAt, after.createdAt), lt(callLog.id, after.id))) : undefined,
  ];
  return db
    .select({ call: callLog, handle: users.handle })
    .from(callLog)
    .leftJoin(users, eq(users.id, callLog.userId))
    .where(and(...conditions))
    .orderBy(desc(callLog.createdAt), desc(callLog.id))
    .limit(limit);
}
