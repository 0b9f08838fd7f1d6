/** @module Paginated lists of the API (events, call log): cursors, limits, JSON or NDJSON output. */
import type { Context } from "hono";
import type { EventCursor } from "../db/events-repository";
import type { AppEnv } from "../edge/app-env";
import { decodeCursor, encodeCursor } from "../shared/cursor";
import { invalidField } from "../shared/errors";
import { NDJSON_TYPE, toNdjson } from "../shared/ndjson";

/** Query fields common to the event and call-log lists (see listQuery in schemas.ts). */
export interface ListQuery {
  limit?: number;
  cursor?: string;
  since?: string;
  until?: string;
  format?: "json" | "ndjson";
}

const isTimeCursor = (v: unknown): v is EventCursor =>
  !!v && typeof v === "object" && typeof (v as EventCursor).createdAt === "number" && typeof (v as EventCursor).id === "string";

/** Rows per D1 query when reading a long list, so no single result grows large. */
const READ_PAGE = 1000;

export function listParams(q: ListQuery) {
  const ndjson = q.format === "ndjson";
  const after = q.cursor ? decodeCursor(q.cursor, isTimeCursor) : undefined;
  if (after === null) throw invalidField("cursor", "is not a cursor this API issued");
  return {
    ndjson,
    limit: q.limit ?? (ndjson ? 1000 : 50),
    after,
    since: q.since ? Date.parse(q.since) : undefined,
    until: q.until ? Date.parse(q.until) : undefined,
  };
}

/**
 * Reads up to `limit` rows, newest first, in D1 queries of at most READ_PAGE rows. `next` is the
 * cursor after the last row when the limit may have cut the list (a full page: its next page
 * may be empty).
 */
export async function readList<R>(
  limit: number,
  after: EventCursor | undefined,
  fetchPage: (n: number, after: EventCursor | undefined) => Promise<R[]>,
  cursorOf: (row: R) => EventCursor,
): Promise<{ rows: R[]; next: string | null }> {
  const rows: R[] = [];
  let cursor = after;
  while (rows.length < limit) {
    const n = Math.min(READ_PAGE, limit - rows.length);
    const page = await fetchPage(n, cursor);
    rows.push(...page);
    if (page.length < n) return { rows, next: null };
    cursor = cursorOf(page.at(-1)!);
  }
  return { rows, next: cursor ? encodeCursor(cursor) : null };
}

/** `{ [key]: items, nextCursor }`, or NDJSON with the cursor in X-Next-Cursor. */
export function listReply(c: Context<AppEnv>, key: string, items: unknown[], next: string | null, ndjson: boolean): Response {
  if (!ndjson) return c.json({ [key]: items, nextCursor: next });
  const headers: Record<string, string> = { "content-type": NDJSON_TYPE };
  if (next) headers["x-next-cursor"] = next;
  return new Response(toNdjson(items), { status: 200, headers });
}
