import { getDb } from "../db/client";
import { type EventCursor, listPresetEvents } from "../db/events-repository";
import { decodeCursor, encodeCursor } from "../cursor";
import { invalidField } from "../errors";
import { findOwnPreset } from "./presets";
import { iso } from "./present";
import { defineRoute } from "./route";
import { EventsQuery, Event, SlugParams } from "./schemas";
import { z } from "zod";

const isEventCursor = (v: unknown): v is EventCursor =>
  !!v && typeof v === "object" && typeof (v as EventCursor).createdAt === "number" && typeof (v as EventCursor).id === "string";

export const eventRoutes = [
  defineRoute({
    method: "get",
    path: "/presets/:slug/events",
    tag: "Events",
    summary: "The preset's audit trail, newest first",
    auth: "user",
    params: SlugParams,
    query: EventsQuery,
    responses: { 200: { description: "Events", schema: z.object({ events: z.array(Event), nextCursor: z.string().nullable() }) } },
    async handler(c, { params, query }) {
      const { preset } = await findOwnPreset(c, params.slug);
      const limit = query.limit ?? 50;
      const after = query.cursor ? decodeCursor(query.cursor, isEventCursor) : undefined;
      if (after === null) throw invalidField("cursor", "is not a cursor this API issued");
      const rows = await listPresetEvents(getDb(c.env.DB), preset.id, limit, after);
      const last = rows.at(-1);
      return c.json({
        events: rows.map(({ event: e, actorHandle }) => ({
          id: e.id,
          type: e.type,
          actor: { id: e.actorId, handle: actorHandle },
          target: e.target,
          payload: e.payload,
          createdAt: iso(e.createdAt)!,
        })),
        nextCursor: rows.length === limit && last ? encodeCursor({ createdAt: last.event.createdAt, id: last.event.id }) : null,
      });
    },
  }),
];
