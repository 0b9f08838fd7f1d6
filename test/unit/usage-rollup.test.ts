import { describe, expect, it } from "vitest";
import type { CallOutcome, CallRecord } from "../../src/usage/call-record";
import { latencyBucket } from "../../src/usage/latency-histogram";
import { COUNT_COLUMNS, HIST_COLUMNS, MINUTE_MS, mergeCounts, rollupOf } from "../../src/usage/rollup";
import { buildStats, statsRange, usageOf } from "../../src/usage/stats";

const T = Date.UTC(2026, 4, 1, 10, 30, 20, 500);

const call = (outcome: CallOutcome, latencyMs = 40, over: Partial<CallRecord> = {}): CallRecord => ({
  presetId: "prs_1",
  preset: "alice/p",
  method: "tools/call",
  tool: "a__b",
  upstream: "a",
  userId: null,
  ip: "203.0.113.1",
  outcome,
  latencyMs,
  requestBytes: 10,
  responseBytes: 20,
  arguments: undefined,
  at: T,
  ...over,
});

/** Adds one-call rollups column by column, as the upserts do. */
const sum = (calls: CallRecord[]) => {
  const row: Record<string, number> = Object.fromEntries(COUNT_COLUMNS.map((c) => [c, 0]));
  for (const c of calls) {
    rollupOf(c).counts.forEach((v, i) => {
      const col = COUNT_COLUMNS[i]!;
      row[col] = col === "latency_max" ? Math.max(row[col]!, v) : row[col]! + v;
    });
  }
  return row;
};

describe("usage rollups", () => {
  it("keys a call by preset, minute, tool, upstream and caller (user id or anonymous, never the address)", () => {
    expect(rollupOf(call("ok")).key).toEqual({ presetId: "prs_1", bucketStart: T - (T % MINUTE_MS), tool: "a__b", upstream: "a", caller: "anonymous" });
    expect(rollupOf(call("denied", 0, { upstream: null, userId: "usr_9" })).key).toMatchObject({ upstream: "", caller: "usr_9" });
  });

  it("counts the outcome and, for calls that reached an upstream, the latency bucket", () => {
    const row = sum([call("ok", 40), call("timeout", 1000), call("rate_limited", 0), call("denied", 0)]);
    expect(row).toMatchObject({
      calls: 4,
      ok: 1,
      timeout: 1,
      rate_limited: 1,
      denied: 1,
      latency_count: 2,
      latency_sum: 1040,
      latency_max: 1000,
      request_bytes: 40,
      response_bytes: 80,
    });
    expect(row[HIST_COLUMNS[latencyBucket(40)]!]).toBe(1);
    expect(row[HIST_COLUMNS[latencyBucket(1000)]!]).toBe(1);
    expect(HIST_COLUMNS.reduce((n, c) => n + row[c]!, 0)).toBe(2);
  });
});

describe("merging rollups", () => {
  it("adds every column but latency_max, which keeps the larger", () => {
    const into = rollupOf(call("ok", 40)).counts;
    mergeCounts(into, rollupOf(call("timeout", 1000)).counts);
    mergeCounts(into, rollupOf(call("ok", 3)).counts);
    const row = Object.fromEntries(COUNT_COLUMNS.map((c, i) => [c, into[i]]));
    expect(row).toEqual(sum([call("ok", 40), call("timeout", 1000), call("ok", 3)]));
    expect(row).toMatchObject({ calls: 3, ok: 2, timeout: 1, latency_sum: 1043, latency_max: 1000 });
  });
});

describe("stats", () => {
  it("covers each window with span/step buckets, the last one holding now", () => {
    for (const [window, points, step] of [
      ["1h", 60, 60_000],
      ["24h", 96, 900_000],
      ["7d", 168, 3_600_000],
      ["30d", 30, 86_400_000],
    ] as const) {
      const r = statsRange(window, T);
      expect(r.points).toBe(points);
      expect(r.stepMs).toBe(step);
      expect(r.from % step).toBe(0);
      expect(r.from + (points - 1) * step).toBeLessThanOrEqual(T);
      expect(r.from + points * step).toBeGreaterThan(T);
    }
  });

  it("counts errors as calls that did not end ok, and leaves latency null without timed calls", () => {
    const u = usageOf(sum([call("ok"), call("tool_error"), call("rate_limited", 0), call("denied", 0)]));
    expect(u).toMatchObject({ calls: 4, errors: 3, errorRate: 0.75, rateLimited: 1 });
    expect(usageOf({}).latencyMs).toEqual({ p50: null, p95: null, p99: null, mean: null, max: null });
    expect(usageOf({}).errorRate).toBe(0);
  });

  it("fills the series with zeros where no call was made", () => {
    const range = statsRange("1h", T);
    const stats = buildStats("alice/p", "1h", range, {
      totals: sum([call("ok")]),
      tools: [],
      upstreams: [],
      callers: [],
      callerCount: 1,
      series: [{ slot: 59, ...sum([call("ok")]) }],
    });
    expect(stats.series).toHaveLength(60);
    expect(stats.series.filter((s) => s.calls > 0)).toEqual([
      { at: new Date(range.from + 59 * 60_000).toISOString(), calls: 1, errors: 0, rateLimited: 0, p50: 35, p95: 40 },
    ]);
  });
});
