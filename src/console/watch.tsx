/**
 * @module The console's Watch pages of a preset: the dashboard (stats over a window), the audit
 * trail (with an NDJSON export) and the call log. They read through the API's own functions
 * (presetStats, readEvents/eventList, readCalls), so counts, filters and cursors are the API's.
 *
 * Routes (under /console): GET /presets/:slug/watch?window=1h|24h|7d|30d;
 * GET /presets/:slug/events?type&from&to&cursor; GET /presets/:slug/events.ndjson (same filters);
 * GET /presets/:slug/calls?tool&outcome&from&to&cursor. A query the schemas refuse is a 400 page
 * naming the field; someone else's preset is a 404 page.
 */
import { z } from "zod";
import { readCalls } from "../api/calls";
import { eventList, readEvents } from "../api/events";
import { findOwnPreset } from "../api/presets";
import { EventsQuery } from "../api/schemas";
import { presetStats } from "../api/stats";
import { CallsQuery, StatsQuery } from "../api/usage-schemas";
import { ApiError } from "../shared/errors";
import type { ConsoleContext, ConsoleKit, ConsolePages } from "./console-kit";
import { Layout } from "./layout";
import { MessagePage } from "./pages";
import { WatchPage } from "./watch-dashboard";
import { CallsPage, EventsPage, type Filters } from "./watch-trail";

const SLUG = /^[a-z0-9-]{1,50}$/;
/** Rows per list page (at most MAX_ROWS with ?limit=): a page stays small; "Older" pages through the rest. */
export const PAGE_ROWS = 50;
const MAX_ROWS = 100;

/** A form's empty field means "no filter". */
const blank = (v: unknown) => (v === "" ? undefined : v);

/**
 * A time from the filter form: a datetime-local value (no zone: read as UTC) or a full ISO 8601
 * time, normalised to the datetime-local form the input shows back.
 */
const withZone = (s: string) => (/(Z|[+-]\d{2}:\d{2})$/.test(s) ? s : `${s}Z`);
const FormTime = z.preprocess(
  blank,
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?$/, "must be a time such as 2026-05-01T09:00 (UTC)")
    .refine((s) => !Number.isNaN(Date.parse(withZone(s))), "is not a valid time")
    .transform((s) => new Date(withZone(s)).toISOString().slice(0, 19))
    .optional(),
);

const ListFields = {
  limit: z.preprocess(blank, z.coerce.number().int().min(1, "must be at least 1").max(MAX_ROWS, `must be at most ${MAX_ROWS}`).optional()),
  from: FormTime,
  to: FormTime,
  cursor: z.preprocess(blank, z.string().max(200).optional()),
};
const WatchQuery = z.object({ window: StatsQuery.shape.window });
const EventsForm = z.object({ ...ListFields, type: z.preprocess(blank, EventsQuery.shape.type) });
const CallsForm = z.object({ ...ListFields, tool: z.preprocess(blank, CallsQuery.shape.tool), outcome: z.preprocess(blank, CallsQuery.shape.outcome) });

function BadQueryPage(props: { user: ReturnType<ConsoleKit["signedIn"]>; back: string; message: string }) {
  return (
    <Layout title="Bad request" user={props.user}>
      <h1>Bad request</h1>
      <p class="alert" role="alert">
        {props.message}
      </p>
      <p>
        <a href={props.back}>Start over without filters</a>
      </p>
    </Layout>
  );
}

/** The echo of the parsed filters for the form and links, and the API's list query. */
function listQuery(q: { limit?: number; from?: string; to?: string; cursor?: string }) {
  return { limit: q.limit ?? PAGE_ROWS, cursor: q.cursor, since: q.from && `${q.from}Z`, until: q.to && `${q.to}Z` };
}
const echo = (q: Record<string, string | number | undefined>): Filters =>
  Object.fromEntries(Object.entries(q).flatMap(([k, v]) => (k === "cursor" || v === undefined ? [] : [[k, String(v)]])));

/** Registers the Watch pages on the console's authenticated pages app. */
export function mountWatchPages(pages: ConsolePages, kit: ConsoleKit): void {
  const own = async (c: ConsoleContext) => {
    const slug = c.req.param("slug") ?? "";
    if (!SLUG.test(slug)) return undefined;
    return findOwnPreset(kit.asApp(c), slug).catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 404) return undefined;
      throw e;
    });
  };
  const notFound = (c: ConsoleContext) =>
    kit.render(c, <MessagePage title="Not found" message={`You have no preset '${c.req.param("slug")}'.`} user={kit.signedIn(c)} />, 404);
  const bad = (c: ConsoleContext, back: string, message: string) => kit.render(c, <BadQueryPage user={kit.signedIn(c)} back={back} message={message} />, 400);
  /** The query parsed by `schema`, or the 400 page naming the first refused field. */
  const parse = <S extends z.ZodType>(c: ConsoleContext, schema: S, back: string) => {
    const parsed = schema.safeParse(c.req.query());
    if (parsed.success) return { data: parsed.data as z.output<S> };
    const issue = parsed.error.issues[0];
    return { page: bad(c, back, `${String(issue?.path[0] ?? "query")}: ${issue?.message ?? "is not valid"}`) };
  };
  /** A 400 ApiError of the shared list code (a stale cursor) as the 400 page; anything else is rethrown. */
  const listError = (c: ConsoleContext, back: string, e: unknown) => {
    if (e instanceof ApiError && e.status === 400) return bad(c, back, e.message);
    throw e;
  };

  pages.get("/presets/:slug/watch", async (c) => {
    const found = await own(c);
    if (!found) return notFound(c);
    const slug = found.preset.slug;
    const q = parse(c, WatchQuery, `/console/presets/${slug}/watch`);
    if (q.page) return q.page;
    const window = q.data.window ?? "24h";
    return kit.render(c, <WatchPage user={kit.signedIn(c)} slug={slug} window={window} stats={await presetStats(kit.asApp(c), slug, window)} />);
  });

  pages.get("/presets/:slug/events", async (c) => {
    const found = await own(c);
    if (!found) return notFound(c);
    const back = `/console/presets/${found.preset.slug}/events`;
    const q = parse(c, EventsForm, back);
    if (q.page) return q.page;
    try {
      const { events, next } = await readEvents(kit.asApp(c), { presetId: found.preset.id }, { ...listQuery(q.data), type: q.data.type });
      const props = { user: kit.signedIn(c), slug: found.preset.slug, filters: echo(q.data), events, next, paged: !!q.data.cursor };
      return kit.render(c, <EventsPage {...props} />);
    } catch (e) {
      return listError(c, back, e);
    }
  });

  // The export is the API's own NDJSON reply (GET /presets/:slug/events?format=ndjson), authorized
  // by the console session and offered as a download.
  pages.get("/presets/:slug/events.ndjson", async (c) => {
    const found = await own(c);
    if (!found) return notFound(c);
    const back = `/console/presets/${found.preset.slug}/events`;
    const q = parse(c, EventsForm, back);
    if (q.page) return q.page;
    try {
      const query = { ...listQuery(q.data), limit: undefined, format: "ndjson" as const, type: q.data.type };
      const res = await eventList(kit.asApp(c), { presetId: found.preset.id }, query);
      res.headers.set("content-disposition", `attachment; filename="${found.preset.slug}-events.ndjson"`);
      return res;
    } catch (e) {
      return listError(c, back, e);
    }
  });

  pages.get("/presets/:slug/calls", async (c) => {
    const found = await own(c);
    if (!found) return notFound(c);
    const back = `/console/presets/${found.preset.slug}/calls`;
    const q = parse(c, CallsForm, back);
    if (q.page) return q.page;
    try {
      const { calls, next } = await readCalls(kit.asApp(c), found.preset.id, { ...listQuery(q.data), tool: q.data.tool, outcome: q.data.outcome });
      const props = { user: kit.signedIn(c), slug: found.preset.slug, auditCalls: found.preset.auditCalls, filters: echo(q.data), calls, next };
      return kit.render(c, <CallsPage {...props} paged={!!q.data.cursor} />);
    } catch (e) {
      return listError(c, back, e);
    }
  });
}
