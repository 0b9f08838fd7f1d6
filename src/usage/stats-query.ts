/** @module Reads a preset's stats aggregates from D1's usage rollups in one batch. */
import { MAX_COLUMN, SUM_COLUMNS } from "./rollup";
import type { AggregateRow, StatsRange, StatsRows } from "./stats";

/** Most callers listed by name in stats; callerCount says how many there were. */
export const TOP_CALLERS = 20;
const MAX_TOOLS = 1000;

const AGGREGATES = [...SUM_COLUMNS.map((c) => `SUM(r.${c}) AS ${c}`), `MAX(r.${MAX_COLUMN}) AS ${MAX_COLUMN}`].join(", ");
const IN_RANGE = "r.preset_id = ?1 AND r.bucket_start >= ?2 AND r.bucket_start <= ?3";
/**
 * A rollup's series bucket, with ?2 the range's start and ?4 its step. D1 binds JS numbers as
 * REAL: without the cast a minute bucket inside a longer step gets a fractional slot and drops
 * out of the series.
 */
const SLOT = "CAST((r.bucket_start - ?2) / ?4 AS INTEGER)";

/**
 * Every aggregate of a preset's stats in one D1 batch: totals, per tool, per upstream, the top
 * callers (with handles), how many callers there were, and the series by step.
 */
export async function readStats(d1: D1Database, presetId: string, range: StatsRange): Promise<StatsRows> {
  const q = (sql: string, ...extra: unknown[]) => d1.prepare(sql).bind(presetId, range.from, range.to, ...extra);
  const [totals, tools, upstreams, callers, count, series] = await d1.batch<AggregateRow>([
    q(`SELECT ${AGGREGATES} FROM usage_rollups r WHERE ${IN_RANGE}`),
    q(`SELECT r.tool, NULLIF(r.upstream, '') AS upstream, ${AGGREGATES} FROM usage_rollups r WHERE ${IN_RANGE}
       GROUP BY r.tool, r.upstream ORDER BY calls DESC, r.tool LIMIT ${MAX_TOOLS}`),
    q(`SELECT r.upstream, ${AGGREGATES} FROM usage_rollups r WHERE ${IN_RANGE} AND r.upstream != ''
       GROUP BY r.upstream ORDER BY calls DESC, r.upstream`),
    q(`SELECT r.caller, u.handle, ${AGGREGATES} FROM usage_rollups r LEFT JOIN users u ON u.id = r.caller WHERE ${IN_RANGE}
       GROUP BY r.caller ORDER BY calls DESC, r.caller LIMIT ${TOP_CALLERS}`),
    q(`SELECT COUNT(DISTINCT r.caller) AS n FROM usage_rollups r WHERE ${IN_RANGE}`),
    q(`SELECT ${SLOT} AS slot, ${AGGREGATES} FROM usage_rollups r WHERE ${IN_RANGE} GROUP BY slot`, range.stepMs),
  ]);
  return {
    totals: totals?.results[0],
    tools: tools?.results ?? [],
    upstreams: upstreams?.results ?? [],
    callers: callers?.results ?? [],
    callerCount: Number(count?.results[0]?.n ?? 0),
    series: series?.results ?? [],
  };
}

/**
 * The series rows (with `slot`) of every preset of `ownerId` over `range`, by preset id, in one
 * query: the console's presets list draws a sparkline per preset without a batch per preset.
 */
export async function readOwnerSeries(d1: D1Database, ownerId: string, range: StatsRange): Promise<Map<string, AggregateRow[]>> {
  const { results } = await d1
    .prepare(
      `SELECT r.preset_id, ${SLOT} AS slot, ${AGGREGATES} FROM usage_rollups r JOIN presets p ON p.id = r.preset_id
       WHERE p.owner_id = ?1 AND r.bucket_start >= ?2 AND r.bucket_start <= ?3 GROUP BY r.preset_id, slot`,
    )
    .bind(ownerId, range.from, range.to, range.stepMs)
    .all<AggregateRow>();
  const byPreset = new Map<string, AggregateRow[]>();
  for (const row of results) {
    const id = String(row.preset_id);
    const rows = byPreset.get(id) ?? [];
    rows.push(row);
    byPreset.set(id, rows);
  }
  return byPreset;
}
