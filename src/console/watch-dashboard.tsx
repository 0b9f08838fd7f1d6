/**
 * @module The Watch dashboard of a preset (calls, errors, latency, outcomes, top tools and callers over
 * a window), from the same stats as GET /presets/:slug/stats.
 */
import type { presetStats } from "../api/stats";
import { OUTCOMES } from "../usage/call-record";
import { STATS_WINDOWS, type StatsWindow } from "../usage/stats";
import { Legend, TimeChart } from "./charts";
import type { SignedIn } from "./pages";
import { WatchFrame } from "./watch-trail";

export type Stats = Awaited<ReturnType<typeof presetStats>>;
type Usage = Stats["totals"];

/** Rows shown per table: the stats carry up to 1000 tools; the page stays small. */
const TOP_ROWS = 20;
const WINDOW_NAMES: Record<StatsWindow, string> = { "1h": "Last hour", "24h": "Last 24 hours", "7d": "Last 7 days", "30d": "Last 30 days" };
const STEP_NAMES: Record<StatsWindow, string> = { "1h": "minute", "24h": "15 minutes", "7d": "hour", "30d": "day" };

const pct = (n: number) => `${Math.round(n * 1000) / 10}%`;
const ms = (n: number | null) => (n === null ? "–" : `${n} ms`);

/** A bucket's time, as precise as the window's step needs (UTC). */
function when(window: StatsWindow, at: string): string {
  if (window === "30d") return at.slice(5, 10);
  if (window === "7d") return `${at.slice(5, 10)} ${at.slice(11, 16)}`;
  return at.slice(11, 16);
}

function WindowPicker(props: { slug: string; current: StatsWindow }) {
  return (
    <nav aria-label="Time window">
      <ul class="windows">
        {(Object.keys(STATS_WINDOWS) as StatsWindow[]).map((w) => (
          <li>
            <a href={`/console/presets/${props.slug}/watch?window=${w}`} aria-current={w === props.current ? "page" : undefined}>
              {WINDOW_NAMES[w]}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function UsageCells(props: { u: Usage }) {
  return (
    <>
      <td class="num">{props.u.calls}</td>
      <td class="num">{props.u.errors}</td>
      <td class="num">{ms(props.u.latencyMs.p95)}</td>
    </>
  );
}

function UsageTable(props: { id: string; first: string; rows: { name: string; extra?: string; u: Usage }[]; total: number }) {
  if (props.rows.length === 0) return <p class="muted">No calls in this window.</p>;
  return (
    <section class="table-wrap" tabindex={0} aria-labelledby={props.id}>
      <table aria-labelledby={props.id}>
        <thead>
          <tr>
            <th scope="col">{props.first}</th>
            <NumHeads names={["Calls", "Errors", "p95"]} />
          </tr>
        </thead>
        <tbody>
          {props.rows.slice(0, TOP_ROWS).map((r) => (
            <tr>
              <th scope="row">
                <code>{r.name}</code>
                {r.extra ? <span class="muted">{` ${r.extra}`}</span> : null}
              </th>
              <UsageCells u={r.u} />
            </tr>
          ))}
        </tbody>
      </table>
      {props.total > TOP_ROWS ? <p class="muted">{`and ${props.total - TOP_ROWS} more (the stats API lists them all)`}</p> : null}
    </section>
  );
}

/** Header cells of numeric columns (right-aligned). */
function NumHeads(props: { names: string[] }) {
  return (
    <>
      {props.names.map((n) => (
        <th scope="col" class="num">
          {n}
        </th>
      ))}
    </>
  );
}

/** The buckets with calls, as a table under the chart: the chart's data for anyone who cannot see it. */
function SeriesTable(props: { stats: Stats; window: StatsWindow }) {
  const rows = props.stats.series.filter((p) => p.calls > 0).slice(-100);
  if (rows.length === 0) return null;
  return (
    <details>
      <summary>Calls per {STEP_NAMES[props.window]} as a table</summary>
      <section class="table-wrap" tabindex={0} aria-label={`Calls per ${STEP_NAMES[props.window]}`}>
        <table>
          <thead>
            <tr>
              <th scope="col">From (UTC)</th>
              <NumHeads names={["Calls", "Errors", "p50", "p95"]} />
            </tr>
          </thead>
          <tbody>
            {rows.map((p) => (
              <tr>
                <th scope="row">{p.at.slice(0, 16).replace("T", " ")}</th>
                <td class="num">{p.calls}</td>
                <td class="num">{p.errors}</td>
                <td class="num">{ms(p.p50)}</td>
                <td class="num">{ms(p.p95)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </details>
  );
}

export function WatchPage(props: { user: SignedIn; slug: string; window: StatsWindow; stats: Stats }) {
  const { stats: s, window: w, slug } = props;
  const t = s.totals;
  const series = s.series;
  const xLabels = [when(w, series[0]?.at ?? s.from), when(w, series[Math.floor(series.length / 2)]?.at ?? s.from), "now"] as const;
  const peak = series.reduce((a, p) => (p.calls > a.calls ? p : a), { calls: 0, at: s.from });
  const span = `${WINDOW_NAMES[w].toLowerCase()} (${s.from.slice(0, 16).replace("T", " ")} to ${s.to.slice(0, 16).replace("T", " ")} UTC)`;
  const callSeries = [
    { label: "Calls", cls: "s-calls", values: series.map((p) => p.calls) },
    { label: "Errors", cls: "s-errors", values: series.map((p) => p.errors) },
  ];
  const latencySeries = [
    { label: "p50", cls: "s-p50", values: series.map((p) => p.p50) },
    { label: "p95", cls: "s-p95", values: series.map((p) => p.p95) },
  ];
  return (
    <WatchFrame user={props.user} slug={slug} title={`Watch ${slug}`} current="watch">
      <WindowPicker slug={slug} current={w} />
      <dl class="stats" aria-label={`Totals, ${WINDOW_NAMES[w].toLowerCase()}`}>
        <div>
          <dt>Calls</dt>
          <dd id="total-calls">{t.calls}</dd>
        </div>
        <div>
          <dt>Errors</dt>
          <dd id="total-errors">{`${t.errors} (${pct(t.errorRate)})`}</dd>
        </div>
        <div>
          <dt>Rate limited</dt>
          <dd>{t.rateLimited}</dd>
        </div>
        <div>
          <dt>Latency p50 / p95</dt>
          <dd>{`${ms(t.latencyMs.p50)} / ${ms(t.latencyMs.p95)}`}</dd>
        </div>
        <div>
          <dt>Callers</dt>
          <dd>{s.callerCount}</dd>
        </div>
      </dl>

      <h2 id="calls-heading">{`Calls and errors per ${STEP_NAMES[w]}`}</h2>
      <TimeChart
        id="calls-chart"
        kind="bars"
        title={`Calls and errors per ${STEP_NAMES[w]}, ${WINDOW_NAMES[w].toLowerCase()}`}
        desc={`${t.calls} calls and ${t.errors} errors in the ${span}.${peak.calls ? ` Busiest: ${peak.calls} calls from ${peak.at.slice(0, 16).replace("T", " ")} UTC.` : ""}`}
        series={callSeries}
        xLabels={xLabels}
        unit="calls"
      />
      <Legend series={callSeries} />
      <SeriesTable stats={s} window={w} />

      <h2 id="latency-heading">Latency</h2>
      <p>{`p50 ${ms(t.latencyMs.p50)}, p95 ${ms(t.latencyMs.p95)}, p99 ${ms(t.latencyMs.p99)}, max ${ms(t.latencyMs.max)} (estimated from histogram buckets).`}</p>
      {t.latencyMs.p50 === null ? null : (
        <>
          <TimeChart
            id="latency-chart"
            kind="lines"
            title={`Latency p50 and p95 per ${STEP_NAMES[w]}, ${WINDOW_NAMES[w].toLowerCase()}`}
            desc={`Over the ${span}: p50 ${ms(t.latencyMs.p50)}, p95 ${ms(t.latencyMs.p95)}; per bucket in the table above.`}
            series={latencySeries}
            xLabels={xLabels}
            unit="ms"
          />
          <Legend series={latencySeries} />
        </>
      )}

      <h2 id="outcomes-heading">Outcomes</h2>
      <section class="table-wrap" tabindex={0} aria-labelledby="outcomes-heading">
        <table aria-labelledby="outcomes-heading" id="outcomes">
          <thead>
            <tr>
              <th scope="col">Outcome</th>
              <NumHeads names={["Calls", "Share"]} />
            </tr>
          </thead>
          <tbody>
            {OUTCOMES.map((o) => (
              <tr class={t.outcomes[o] ? undefined : "muted"} data-outcome={o}>
                <th scope="row">{o.replace("_", " ")}</th>
                <td class="num">{t.outcomes[o]}</td>
                <td class="num">{t.calls ? pct(t.outcomes[o] / t.calls) : "–"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <h2 id="tools-heading">Top tools</h2>
      <UsageTable
        id="tools-heading"
        first="Tool"
        rows={s.tools.map((r) => ({ name: r.tool, extra: r.upstream ? `(${r.upstream})` : undefined, u: r }))}
        total={s.tools.length}
      />
      <h2 id="callers-heading">Top callers</h2>
      <UsageTable id="callers-heading" first="Caller" rows={s.callers.map((r) => ({ name: r.handle ?? r.caller, u: r }))} total={s.callerCount} />
      <h2 id="upstreams-heading">Upstreams</h2>
      <UsageTable id="upstreams-heading" first="Server" rows={s.upstreams.map((r) => ({ name: r.upstream, u: r }))} total={s.upstreams.length} />
    </WatchFrame>
  );
}
