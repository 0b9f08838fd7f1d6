/**
 * @module Owners' stats from usage rollups: pure functions from aggregated rows (as D1 returns them) to
 * the API's JSON, with an injected clock for the window.
 */
import { OUTCOMES } from "./call-record";
import { estimatePercentile, PERCENTILE_METHOD } from "./latency-histogram";
import { HIST_COLUMNS, HOUR_MS, MINUTE_MS } from "./rollup";

export const STATS_WINDOWS = {
  "1h": { spanMs: HOUR_MS, stepMs: MINUTE_MS },
  "24h": { spanMs: 24 * HOUR_MS, stepMs: 15 * MINUTE_MS },
  "7d": { spanMs: 7 * 24 * HOUR_MS, stepMs: HOUR_MS },
  "30d": { spanMs: 30 * 24 * HOUR_MS, stepMs: 24 * HOUR_MS },
} as const;
export type StatsWindow = keyof typeof STATS_WINDOWS;

export interface StatsRange {
  /** Start of the first series bucket (aligned to the step, UTC). */
  from: number;
  /** Now: the last bucket is the current, partial one. */
  to: number;
  stepMs: number;
  points: number;
}

/** The window's series buckets: span/step of them, the last one holding `now`. */
export function statsRange(window: StatsWindow, now: number): StatsRange {
  const { spanMs, stepMs } = STATS_WINDOWS[window];
  const points = spanMs / stepMs;
  return { from: now - (now % stepMs) - (points - 1) * stepMs, to: now, stepMs, points };
}

/** A row of summed rollup columns (any may be null when no row matched). */
export type AggregateRow = Record<string, number | string | null>;

const num = (v: number | string | null | undefined) => (typeof v === "number" ? v : Number(v ?? 0) || 0);

export function latencyOf(row: AggregateRow) {
  const count = num(row.latency_count);
  if (count === 0) return { p50: null, p95: null, p99: null, mean: null, max: null };
  const hist = HIST_COLUMNS.map((c) => num(row[c]));
  const max = num(row.latency_max);
  return {
    p50: estimatePercentile(hist, 0.5, max),
    p95: estimatePercentile(hist, 0.95, max),
    p99: estimatePercentile(hist, 0.99, max),
    mean: Math.round((num(row.latency_sum) / count) * 10) / 10,
    max,
  };
}

/** Counts, error rate and latency of one aggregate. Errors are calls whose outcome is not `ok`. */
export function usageOf(row: AggregateRow) {
  const calls = num(row.calls);
  const outcomes = Object.fromEntries(OUTCOMES.map((o) => [o, num(row[o])])) as Record<(typeof OUTCOMES)[number], number>;
  const errors = calls - outcomes.ok;
  return {
    calls,
    errors,
    errorRate: calls === 0 ? 0 : Math.round((errors / calls) * 10_000) / 10_000,
    rateLimited: outcomes.rate_limited,
    outcomes,
    latencyMs: latencyOf(row),
    requestBytes: num(row.request_bytes),
    responseBytes: num(row.response_bytes),
  };
}

export interface StatsRows {
  totals: AggregateRow | undefined;
  tools: AggregateRow[];
  upstreams: AggregateRow[];
  callers: AggregateRow[];
  callerCount: number;
  /** With `slot`: the series bucket index from `from`. */
  series: AggregateRow[];
}

export function buildStats(preset: string, window: StatsWindow, range: StatsRange, rows: StatsRows) {
  const bySlot = new Map(rows.series.map((r) => [num(r.slot), r]));
  return {
    preset,
    window,
    from: new Date(range.from).toISOString(),
    to: new Date(range.to).toISOString(),
    bucketSeconds: range.stepMs / 1000,
    totals: usageOf(rows.totals ?? {}),
    tools: rows.tools.map((r) => ({ tool: String(r.tool), upstream: r.upstream ? String(r.upstream) : null, ...usageOf(r) })),
    upstreams: rows.upstreams.map((r) => ({ upstream: String(r.upstream), ...usageOf(r) })),
    callers: rows.callers.map((r) => ({ caller: String(r.caller), handle: typeof r.handle === "string" ? r.handle : null, ...usageOf(r) })),
    callerCount: rows.callerCount,
    series: Array.from({ length: range.points }, (_, slot) => {
      const r = bySlot.get(slot) ?? {};
      const u = usageOf(r);
      return {
        at: new Date(range.from + slot * range.stepMs).toISOString(),
        calls: u.calls,
        errors: u.errors,
        rateLimited: u.rateLimited,
        p50: u.latencyMs.p50,
        p95: u.latencyMs.p95,
      };
    }),
    percentiles: PERCENTILE_METHOD,
  };
}
