import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { buildStats, statsRange } from "../../src/usage/stats";
import { readStats } from "../../src/usage/stats-query";
import { unique } from "../helpers";

describe("stats series from D1 rollups", () => {
  it("puts a minute bucket that falls inside a longer step into that step's slot", async () => {
    const presetId = unique("pr");
    const now = Date.UTC(2026, 4, 1, 12, 40, 30);
    const range = statsRange("24h", now);
    // 12:37 and 12:31 sit in the 12:30 step of 15 minutes; D1 binds numbers as REAL, so the slot must be cast.
    for (const [minute, calls] of [
      [37, 3],
      [31, 2],
    ] as const) {
      await env.DB.prepare(
        "INSERT INTO usage_rollups (preset_id, bucket_start, bucket_size, tool, upstream, caller, calls, ok) VALUES (?, ?, 60000, 't', '', 'c', ?, ?)",
      )
        .bind(presetId, Date.UTC(2026, 4, 1, 12, minute), calls, calls)
        .run();
    }
    const stats = buildStats("x/y", "24h", range, await readStats(env.DB, presetId, range));
    expect(stats.totals.calls).toBe(5);
    expect(stats.series.filter((p) => p.calls > 0)).toEqual([expect.objectContaining({ at: "2026-05-01T12:30:00.000Z", calls: 5 })]);
  });
});
