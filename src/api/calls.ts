/** @module GET /presets/:slug/calls: the call log of a preset with auditCalls on. */
import type { Context } from "hono";
import { z } from "zod";
import { listCalls } from "../db/call-log-repository";
import { getDb } from "../db/client";
import type { AppEnv } from "../edge/app-env";
import { callJson } from "./json-views";
import { type ListQuery, listParams, listReply, readList } from "./list-output";
import { findOwnPreset } from "./presets";
import { defineRoute } from "./route";
import { SlugParams } from "./schemas";
import { CallLogEntry, CallsQuery } from "./usage-schemas";

export type CallsListQuery = ListQuery & { tool?: string; outcome?: string };

/** A page of a preset's call log matching the query's filters, newest first (the API's and the console's). */
export async function readCalls(c: Context<AppEnv>, presetId: string, query: CallsListQuery) {
  const p = listParams(query);
  const db = getDb(c.env.DB);
  const filter = { presetId, tool: query.tool, outcomes: query.outcome?.split(","), since: p.since, until: p.until };
  const { rows, next } = await readList(
    p.limit,
    p.after,
    (n, after) => listCalls(db, filter, n, after),
    (r) => ({ createdAt: r.call.createdAt, id: r.call.id }),
  );
  return { calls: rows.map((r) => callJson(r.call, r.handle)), next, ndjson: p.ndjson };
}

export const callRoutes = [
  defineRoute({
    method: "get",
    path: "/presets/:slug/calls",
    tag: "Events",
    summary: "The preset's call log (when auditCalls is on), newest first, filtered by tool, outcome and time; NDJSON with format=ndjson",
    auth: "user",
    params: SlugParams,
    query: CallsQuery,
    responses: {
      200: {
        description: "Calls; with format=ndjson, one call per line (application/x-ndjson) and the next cursor in X-Next-Cursor",
        schema: z.object({ calls: z.array(CallLogEntry), nextCursor: z.string().nullable() }),
      },
    },
    async handler(c, { params, query }) {
      const { preset } = await findOwnPreset(c, params.slug);
      const { calls, next, ndjson } = await readCalls(c, preset.id, query);
      return listReply(c, "calls", calls, next, ndjson);
    },
  }),
];
