/**
 * @module Compacts minute usage rollups older than 48 h into hour rollups, in bounded batches (a
 * job of the cron run).
 */

import { HOUR_MS, MAX_COLUMN, MINUTE_MS, mergeAssignments, SUM_COLUMNS } from "../usage/rollup";
import type { BoundedJob } from "./retention";

/** Minute rollups older than this are merged into hour rollups. */
export const COMPACT_AFTER_MS = 48 * HOUR_MS;
const COMPACT_BATCH = 500;

/**
 * Merges minute rollups older than COMPACT_AFTER_MS into hour rollups, COMPACT_BATCH minute rows
 * per round. Each round is one D1 batch (a transaction): the upsert adds the chosen minute rows
 * into their hours, the delete removes exactly those rows (same rowid selection, nothing else
 * writes between), so every call is counted once whether a round runs or not.
 */
export function compactionJob(d1: D1Database, now: number): BoundedJob {
  const chosen = `SELECT rowid FROM usage_rollups WHERE bucket_size = ${MINUTE_MS} AND bucket_start < ?1 ORDER BY rowid LIMIT ${COMPACT_BATCH}`;
  const hour = `bucket_start - (bucket_start % ${HOUR_MS})`;
  const sums = SUM_COLUMNS.map((c) => `SUM(${c})`).join(", ");
  const merge = `INSERT INTO usage_rollups (preset_id, bucket_start, bucket_size, tool, upstream, caller, ${SUM_COLUMNS.join(", ")}, ${MAX_COLUMN})
    SELECT preset_id, ${hour}, ${HOUR_MS}, tool, upstream, caller, ${sums}, MAX(${MAX_COLUMN})
    FROM usage_rollups WHERE rowid IN (${chosen})
    GROUP BY preset_id, ${hour}, tool, upstream, caller
    ON CONFLICT (preset_id, bucket_start, bucket_size, tool, upstream, caller) DO UPDATE SET ${mergeAssignments()}`;
  const remove = `DELETE FROM usage_rollups WHERE rowid IN (${chosen})`;
  const cutoff = now - COMPACT_AFTER_MS;
  return {
    name: "compactedMinutes",
    batch: COMPACT_BATCH,
    statements: 2,
    round: async () => {
      const [, removed] = await d1.batch([d1.prepare(merge).bind(cutoff), d1.prepare(remove).bind(cutoff)]);
      return removed?.meta.changes ?? 0;
    },
  };
}
