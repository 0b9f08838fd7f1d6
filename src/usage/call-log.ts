import { and, desc, eq, gte, inArray, lt, lte, or, type SQL } from "drizzle-orm";
import type { CallRecord } from "./call-record";
import { getDb, type Db } from "../db/client";
import type { EventCursor } from "../db/events-repository";
import { callLog, users } from "../db/schema";
import { sha256Hex } from "../shared/crypto";
import { newId } from "../shared/ids";

/**
 * The optional per-preset call log: who called which tool, when, how it ended, how long it took,
 * and the SHA-256 of its arguments, so an owner can match a call to known input without storing
 * it. The arguments themselves are kept only when the owner opts in, cut to this many characters.
 */
export const MAX_LOGGED_ARGUMENT_CHARS = 8192;

/** The arguments as hashed and logged: their JSON as received, `{}` when absent. */
export const argumentsJson = (args: unknown) => (args === undefined ? "{}" : JSON.stringify(args));

export async function insertCallLog(d1: D1Database, r: CallRecord, withArguments: boolean): Promise<void> {
  const json = argumentsJson(r.arguments);
  const truncated = withArguments && json.length > MAX_LOGGED_ARGUMENT_CHARS;
  await getDb(d1)
    .insert(callLog)
    .values({
      id: newId("call", r.at),
      presetId: r.presetId,
      userId: r.userId,
      clientIp: r.userId ? null : r.ip,
      tool: r.tool,
      upstream: r.upstream,
      outcome: r.outcome,
      latencyMs: Math.round(r.latencyMs),
      requestBytes: r.requestBytes,
      responseBytes: r.responseBytes,
      argumentsSha256: await sha256Hex(json),
      arguments: withArguments ? json.slice(0, MAX_LOGGED_ARGUMENT_CHARS) : null,
      argumentsTruncated: truncated,
      createdAt: r.at,
    })
    .run();
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

/** A call-log row as the API shows it; truncated arguments are shown as the text that was kept. */
export function callJson(row: typeof callLog.$inferSelect, handle: string | null) {
  let args: unknown = null;
  if (row.arguments !== null) {
    try {
      args = row.argumentsTruncated ? row.arguments : JSON.parse(row.arguments);
    } catch {
      args = row.arguments;
    }
  }
  return {
    id: row.id,
    tool: row.tool,
    upstream: row.upstream,
    caller: { userId: row.userId, handle, ip: row.clientIp },
    outcome: row.outcome,
    latencyMs: row.latencyMs,
    requestBytes: row.requestBytes,
    responseBytes: row.responseBytes,
    argumentsSha256: row.argumentsSha256,
    arguments: args,
    argumentsTruncated: row.argumentsTruncated,
    createdAt: new Date(row.createdAt).toISOString(),
  };
}
