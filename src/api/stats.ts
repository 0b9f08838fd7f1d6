/** @module GET /presets/:slug/stats: an owner's usage stats of a preset from D1 rollups. */

import type { Context } from "hono";
import type { AppEnv } from "../edge/app-env";
import { presetStub } from "../edge/preset-stub";
import { buildStats, type StatsWindow, statsRange } from "../usage/stats";
import { readStats } from "../usage/stats-query";
import { findOwnPreset } from "./presets";
import { defineRoute } from "./route";
import { SlugParams } from "./schemas";
import { PresetStats, StatsQuery } from "./usage-schemas";

/** The stats of the caller's own preset over `window` (the API's and the console's dashboard). */
export async function presetStats(c: Context<AppEnv>, slug: string, window: StatsWindow) {
  const { preset, handle } = await findOwnPreset(c, slug);
  // The preset's object holds up to a minute of calls not yet in D1: flush them so the counts are exact.
  await presetStub(c.env, handle, preset.slug)
    .flushUsage()
    .catch((e: unknown) => console.error("usage flush before stats failed", e));
  const range = statsRange(window, Date.now());
  return buildStats(`${handle}/${preset.slug}`, window, range, await readStats(c.env.DB, preset.id, range));
}

export const statsRoutes = [
  defineRoute({
    method: "get",
    path: "/presets/:slug/stats",
    tag: "Stats",
    summary: "Tool-call stats of your preset: totals, per tool, upstream and caller, and a time series",
    auth: "user",
    params: SlugParams,
    query: StatsQuery,
    responses: { 200: { description: "Exact counts; latency percentiles estimated from histogram buckets", schema: PresetStats } },
    async handler(c, { params, query }) {
      return c.json(await presetStats(c, params.slug, query.window ?? "24h"));
    },
  }),
];
