/**
 * @module The layout of a usage rollup: counts of tool calls per preset, time bucket, exposed tool,
 * upstream and caller, by outcome, with a latency histogram. Rollups of the same key merge by
 * adding columns (and taking the larger latency_max), so merging is order-free and the same SQL
 * serves the Durable Object's pending rows, the flush into D1 and the compaction into hours.
 */
import { type CallRecord, callerOf, LATENCY_OUTCOMES, OUTCOMES } from "./call-record";
import { LATENCY_BUCKETS, latencyBucket } from "./latency-histogram";

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

export const HIST_COLUMNS = Array.from({ length: LATENCY_BUCKETS }, (_, i) => `h${String(i).padStart(2, "0")}`);
/** Columns that add up when two rollups of the same key merge. */
export const SUM_COLUMNS: readonly string[] = ["calls", ...OUTCOMES, "latency_count", "latency_sum", "request_bytes", "response_bytes", ...HIST_COLUMNS];
export const MAX_COLUMN = "latency_max";
export const COUNT_COLUMNS: readonly string[] = [...SUM_COLUMNS, MAX_COLUMN];

export interface RollupKey {
  presetId: string;
  /** Start of the minute, ms since the epoch. */
  bucketStart: number;
  tool: string;
  /** '' when the call never resolved to an upstream. */
  upstream: string;
  /** User id or "anonymous". */
  caller: string;
}

/** Values of COUNT_COLUMNS, in that order. */
export type RollupCounts = number[];

/** The one-call rollup of a call: what it adds to its minute. */
export function rollupOf(r: CallRecord): { key: RollupKey; counts: RollupCounts } {
  const timed = LATENCY_OUTCOMES.has(r.outcome);
  const latency = Math.max(0, Math.round(r.latencyMs));
  const values: Record<string, number> = {
    calls: 1,
    [r.outcome]: 1,
    latency_count: timed ? 1 : 0,
    latency_sum: timed ? latency : 0,
    request_bytes: r.requestBytes,
    response_bytes: r.responseBytes,
    [MAX_COLUMN]: timed ? latency : 0,
  };
  if (timed) values[HIST_COLUMNS[latencyBucket(latency)]!] = 1;
  return {
    key: { presetId: r.presetId, bucketStart: r.at - (r.at % MINUTE_MS), tool: r.tool, upstream: r.upstream ?? "", caller: callerOf(r) },
    counts: COUNT_COLUMNS.map((c) => values[c] ?? 0),
  };
}

/** Adds `more` into `into` (same layout), as merging two rollups of one key does. */
export function mergeCounts(into: RollupCounts, more: RollupCounts): void {
  COUNT_COLUMNS.forEach((c, i) => {
    into[i] = c === MAX_COLUMN ? Math.max(into[i] ?? 0, more[i] ?? 0) : (into[i] ?? 0) + (more[i] ?? 0);
  });
}

/** `calls = calls + excluded.calls, …, latency_max = MAX(latency_max, excluded.latency_max)`. */
export function mergeAssignments(): string {
  return [...SUM_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`), `${MAX_COLUMN} = MAX(${MAX_COLUMN}, excluded.${MAX_COLUMN})`].join(", ");
}

/** An upsert that adds a rollup's counts to the row of its key (`keys` name the key columns, in bind order). */
export function mergeUpsertSql(table: string, keys: readonly string[]): string {
  const columns = [...keys, ...COUNT_COLUMNS];
  return `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})
    ON CONFLICT (${keys.join(", ")}) DO UPDATE SET ${mergeAssignments()}`;
}
