/** @module The audit trail routes: a preset's events and an account's events, as JSON or NDJSON. */
import type { Context } from "hono";
import { z } from "zod";
import { getDb } from "../db/client";
import { type EventFilter, listEvents } from "../db/events-repository";
import type { AppEnv } from "../edge/app-env";
import { iso } from "./json-views";
import { type ListQuery, listParams, listReply, readList } from "./list-output";
import { findOwnPreset } from "./presets";
import { defineRoute } from "./route";
import { Event, EventsQuery, SlugParams } from "./schemas";

const EventPage = z.object({ events: z.array(Event), nextCursor: z.string().nullable() });
const NDJSON_NOTE = "; with format=ndjson, one event per line (application/x-ndjson) and the next cursor in X-Next-Cursor";

export type EventsListQuery = ListQuery & { type?: string };

/** A page of the events matching `scope` and the query's filters, newest first (the API's and the console's). */
export async function readEvents(c: Context<AppEnv>, scope: EventFilter, query: EventsListQuery) {
  const p = listParams(query);
  const filter: EventFilter = { ...scope, types: query.type?.split(","), since: p.since, until: p.until };
  const db = getDb(c.env.DB);
  const { rows, next } = await readList(
    p.limit,
    p.after,
    (n, after) => listEvents(db, filter, n, after),
    (r) => ({ createdAt: r.event.createdAt, id: r.event.id }),
  );
  const events = rows.map(({ event: e, actorHandle }) => ({
    id: e.id,
    presetId: e.presetId,
    type: e.type,
    actor: { id: e.actorId, handle: actorHandle },
    target: e.target,
    payload: e.payload,
    createdAt: iso(e.createdAt)!,
  }));
  return { events, next, ndjson: p.ndjson };
}

/** The events matching `scope` and the query's filters, as JSON or NDJSON. */
export async function eventList(c: Context<AppEnv>, scope: EventFilter, query: EventsListQuery): Promise<Response> {
  const { events, next, ndjson } = await readEvents(c, scope, query);
  return listReply(c, "events", events, next, ndjson);
}

export const eventRoutes = [
  defineRoute({
    method: "get",
    path: "/presets/:slug/events",
    tag: "Events",
    summary: "The preset's audit trail, newest first, filtered by type and time; NDJSON export with format=ndjson",
    auth: "user",
    params: SlugParams,
    query: EventsQuery,
    responses: { 200: { description: `Events${NDJSON_NOTE}`, schema: EventPage } },
    async handler(c, { params, query }) {
      const { preset } = await findOwnPreset(c, params.slug);
      return eventList(c, { presetId: preset.id }, query);
    },
  }),
  defineRoute({
    method: "get",
    path: "/events",
    tag: "Events",
    summary: "Your account's audit trail: token and OAuth grant events (presetId null) and every event of your presets",
    auth: "user",
    query: EventsQuery,
    responses: { 200: { description: `Events${NDJSON_NOTE}`, schema: EventPage } },
    async handler(c, { query }) {
      return eventList(c, { ownerId: c.get("userId") }, query);
    },
  }),
];
