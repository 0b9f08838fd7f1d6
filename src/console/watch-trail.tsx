/**
 * @module A preset's audit trail and call log pages (Watch), each with a GET filter form that works
 * without script and an "Older" link carrying the API's cursor; and the frame (heading and tabs) of the three Watch pages.
 */

import type { Child } from "hono/jsx";
import type { readCalls } from "../api/calls";
import type { readEvents } from "../api/events";
import { OUTCOMES } from "../usage/call-record";
import { Layout } from "./layout";
import type { SignedIn } from "./pages";

type EventRow = Awaited<ReturnType<typeof readEvents>>["events"][number];
type CallRow = Awaited<ReturnType<typeof readCalls>>["calls"][number];
/** The filter fields as the user typed them (echoed into the form and the links). */
export type Filters = Record<string, string>;

const TABS = [
  { key: "watch", path: "watch", label: "Dashboard" },
  { key: "events", path: "events", label: "Audit trail" },
  { key: "calls", path: "calls", label: "Call log" },
] as const;

/** A Watch page: its title, the way back to the preset, and the tabs with `current` marked. */
export function WatchFrame(props: { user: SignedIn; slug: string; title: string; current: (typeof TABS)[number]["key"]; children: Child }) {
  return (
    <Layout title={props.title} user={props.user}>
      <p>
        <a href={`/console/presets/${props.slug}`}>{`Back to ${props.slug}`}</a>
      </p>
      <h1>{props.title}</h1>
      <WatchNav slug={props.slug} current={props.current} />
      {props.children}
    </Layout>
  );
}

function WatchNav(props: { slug: string; current: (typeof TABS)[number]["key"] }) {
  return (
    <nav aria-label="Watch" class="tabs">
      <ul>
        {TABS.map((t) => (
          <li>
            <a href={`/console/presets/${props.slug}/${t.path}`} aria-current={t.key === props.current ? "page" : undefined}>
              {t.label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** `path` with the non-empty filters (and `extra`) as its query. */
export function withQuery(path: string, filters: Filters, extra: Filters = {}): string {
  const q = new URLSearchParams(Object.entries({ ...filters, ...extra }).filter(([, v]) => v !== ""));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

const utc = (iso: string) => iso.slice(0, 19).replace("T", " ");

function TimeFields(props: { filters: Filters }) {
  return (
    <>
      <div>
        <label for="from">
          From (UTC)<span class="hint">e.g. 2026-05-01T09:00</span>
        </label>
        <input id="from" name="from" type="datetime-local" step="1" value={props.filters.from ?? ""} />
      </div>
      <div>
        <label for="to">
          To (UTC)<span class="hint">inclusive</span>
        </label>
        <input id="to" name="to" type="datetime-local" step="1" value={props.filters.to ?? ""} />
      </div>
    </>
  );
}

function Pager(props: { base: string; filters: Filters; next: string | null; paged: boolean }) {
  if (!props.next && !props.paged) return null;
  return (
    <nav aria-label="Pages" class="row pager">
      {props.paged ? <a href={withQuery(props.base, props.filters)}>Newest</a> : null}
      {props.next ? (
        <a href={withQuery(props.base, props.filters, { cursor: props.next })} rel="next">
          Older
        </a>
      ) : null}
    </nav>
  );
}

export interface EventsPageProps {
  user: SignedIn;
  slug: string;
  filters: Filters;
  events: EventRow[];
  next: string | null;
  paged: boolean;
}

/** Up to ~160 characters of an event's payload: enough to recognise it; the export has it all. */
function payloadText(p: unknown): string {
  const s = JSON.stringify(p ?? {});
  return s.length > 160 ? `${s.slice(0, 159)}…` : s;
}

export function EventsPage(props: EventsPageProps) {
  const base = `/console/presets/${props.slug}/events`;
  return (
    <WatchFrame user={props.user} slug={props.slug} title={`Audit trail of ${props.slug}`} current="events">
      <form class="filters" method="get" action={base}>
        <div>
          <label for="type">
            Type<span class="hint">e.g. breaker.* or server.attached,tools.changed</span>
          </label>
          <input id="type" name="type" type="text" value={props.filters.type ?? ""} autocomplete="off" spellcheck={false} />
        </div>
        <TimeFields filters={props.filters} />
        <div class="row">
          <button type="submit">Filter</button>
          <a href={base}>Clear</a>
        </div>
      </form>
      <p>
        <a href={withQuery(`${base}.ndjson`, props.filters)} download={`${props.slug}-events.ndjson`}>
          Export these events as NDJSON
        </a>{" "}
        <span class="muted">(up to 1000, newest first)</span>
      </p>
      {props.events.length === 0 ? (
        <p>No events match.</p>
      ) : (
        <section class="table-wrap" tabindex={0} aria-label="Events">
          <table id="events">
            <caption class="visually-hidden">Events, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time (UTC)</th>
                <th scope="col">Type</th>
                <th scope="col">By</th>
                <th scope="col">Target</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {props.events.map((e) => (
                <tr data-type={e.type}>
                  <td>{utc(e.createdAt)}</td>
                  <th scope="row">{e.type}</th>
                  <td>{e.actor.handle ?? e.actor.id ?? "gateway"}</td>
                  <td>{e.target ?? ""}</td>
                  <td>
                    <code class="payload">{payloadText(e.payload)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      <Pager base={base} filters={props.filters} next={props.next} paged={props.paged} />
    </WatchFrame>
  );
}

export interface CallsPageProps {
  user: SignedIn;
  slug: string;
  auditCalls: boolean;
  filters: Filters;
  calls: CallRow[];
  next: string | null;
  paged: boolean;
}

export function CallsPage(props: CallsPageProps) {
  const base = `/console/presets/${props.slug}/calls`;
  return (
    <WatchFrame user={props.user} slug={props.slug} title={`Call log of ${props.slug}`} current="calls">
      {props.auditCalls ? null : (
        <p class="notice" id="calls-off">
          {"Call logging is off for this preset: new calls are counted on the dashboard but not logged one by one. Turn it on with "}
          <a href={`/console/presets/${props.slug}/settings#auditCalls`}>Log every tool call in the preset's settings</a>.
        </p>
      )}
      <form class="filters" method="get" action={base}>
        <div>
          <label for="tool">Tool</label>
          <input id="tool" name="tool" type="text" value={props.filters.tool ?? ""} autocomplete="off" spellcheck={false} />
        </div>
        <div>
          <label for="outcome">Outcome</label>
          <select id="outcome" name="outcome">
            <option value="">any</option>
            {OUTCOMES.map((o) => (
              <option value={o} selected={props.filters.outcome === o}>
                {o.replace("_", " ")}
              </option>
            ))}
          </select>
        </div>
        <TimeFields filters={props.filters} />
        <div class="row">
          <button type="submit">Filter</button>
          <a href={base}>Clear</a>
        </div>
      </form>
      {props.calls.length === 0 ? (
        <p>No logged calls match.</p>
      ) : (
        <section class="table-wrap" tabindex={0} aria-label="Calls">
          <table id="calls">
            <caption class="visually-hidden">Calls, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time (UTC)</th>
                <th scope="col">Tool</th>
                <th scope="col">Outcome</th>
                <th scope="col">Caller</th>
                <th scope="col" class="num">
                  Latency
                </th>
              </tr>
            </thead>
            <tbody>
              {props.calls.map((r) => (
                <tr data-outcome={r.outcome}>
                  <td>{utc(r.createdAt)}</td>
                  <th scope="row">
                    <code>{r.tool}</code>
                  </th>
                  <td>{r.outcome.replace("_", " ")}</td>
                  <td>{r.caller.handle ?? r.caller.ip ?? "anonymous"}</td>
                  <td class="num">{r.latencyMs === null ? "–" : `${r.latencyMs} ms`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      <Pager base={base} filters={props.filters} next={props.next} paged={props.paged} />
    </WatchFrame>
  );
}
