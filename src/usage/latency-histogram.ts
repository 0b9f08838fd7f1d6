/**
 * @module Latency histogram with log-spaced buckets: inclusive upper bounds in ms, then one open bucket
 * for everything slower. Fixed, so rollups from any preset, minute or hour add up column by column.
 */
export const LATENCY_BOUNDS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 30000, 60000] as const;
export const LATENCY_BUCKETS = LATENCY_BOUNDS_MS.length + 1;

/** What the stats response says about its percentiles. */
export const PERCENTILE_METHOD =
  `estimated from a latency histogram (bucket upper bounds ${LATENCY_BOUNDS_MS.join(", ")} ms, then one open bucket up to the slowest call) ` +
  "by linear interpolation within the bucket that holds the percentile; they cover calls that reached an upstream (ok, tool_error, upstream_error, timeout)";

/** Index of the bucket a latency falls into. */
export function latencyBucket(ms: number): number {
  const v = Number.isFinite(ms) && ms > 0 ? ms : 0;
  const i = LATENCY_BOUNDS_MS.findIndex((bound) => v <= bound);
  return i === -1 ? LATENCY_BOUNDS_MS.length : i;
}

/**
 * The `q` quantile (0 < q ≤ 1) of the latencies counted in `counts`, estimated by linear
 * interpolation within its bucket, or null when nothing was counted. `maxMs`, the slowest
 * latency seen, closes the open last bucket and caps every estimate.
 */
export function estimatePercentile(counts: readonly number[], q: number, maxMs: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const rank = Math.min(Math.max(q, 0), 1) * total;
  let before = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] ?? 0;
    if (c > 0 && before + c >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
      const upper = i < LATENCY_BOUNDS_MS.length ? LATENCY_BOUNDS_MS[i]! : Math.max(maxMs, lower);
      const value = lower + ((upper - lower) * Math.max(rank - before, 0)) / c;
      return Math.round(Math.min(value, Math.max(maxMs, 0)) * 10) / 10;
    }
    before += c;
  }
  return Math.round(Math.max(maxMs, 0) * 10) / 10;
}
