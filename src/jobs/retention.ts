/**
 * @module Retention: events, call-log rows and usage rollups older than RETENTION_DAYS are deleted by the
 * scheduled handler (and OAuth clients that got no grant within 24 h), in bounded batches (rows chosen by rowid, LIMIT DELETE_BATCH) and within a
 * fixed budget of D1 statements per run, so one run never exceeds Workers' limits; what is left
 * over is deleted by the next run.
 */
import { DELIVERIES_KEPT_PER_WEBHOOK, DELIVERY_RETENTION_DAYS } from "../alerts/webhook-store";

export const DEFAULT_RETENTION_DAYS = 90;
const MAX_RETENTION_DAYS = 3650;
export const DELETE_BATCH = 500;
/** D1 statements one run may issue (Workers Free allows 50 D1 queries per invocation). */
export const STATEMENTS_PER_RUN = 40;
/** Markers of applied usage flushes only guard retries, which happen within minutes. */
const FLUSH_MARKER_MS = 7 * 86_400_000;
/** OAuth clients (registered or metadata documents) that got no grant within this go. */
export const UNUSED_CLIENT_MS = 86_400_000;
/** A used refresh token's sealed reply is kept this long (the grace window is 10 s). */
const SEALED_REPLY_MS = 60_000;
/** Remembered metadata-document failures are answered from storage for 60 s, then refetched. */
const CIMD_FAILURE_MS = 60_000;

/** RETENTION_DAYS as a whole number of days (1 to 3650), or the default for anything else. */
export function retentionDays(value: string | undefined): number {
  if (value === undefined || value.trim() === "") return DEFAULT_RETENTION_DAYS;
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1 || days > MAX_RETENTION_DAYS) {
    console.warn(`RETENTION_DAYS=${JSON.stringify(value)} is not a whole number of days from 1 to ${MAX_RETENTION_DAYS}; using ${DEFAULT_RETENTION_DAYS}`);
    return DEFAULT_RETENTION_DAYS;
  }
  return days;
}

/** A job done in rounds: each round handles at most `batch` rows and issues `statements` D1 statements. */
export interface BoundedJob {
  name: string;
  batch: number;
  statements: number;
  /** Runs one round; resolves to the number of rows it handled. */
  round: () => Promise<number>;
}

export interface RunReport {
  /** Rows handled per job. */
  rows: Record<string, number>;
  statements: number;
  /** False when the budget ran out before every job was done. */
  finished: boolean;
}

/**
 * Runs the jobs in order, each round by round until a round handles fewer rows than its batch
 * (nothing left), never issuing more than `budget` statements in all.
 */
export async function runBounded(jobs: readonly BoundedJob[], budget: number): Promise<RunReport> {
  const report: RunReport = { rows: {}, statements: 0, finished: true };
  for (const job of jobs) {
    report.rows[job.name] = 0;
    for (;;) {
      if (report.statements + job.statements > budget) {
        report.finished = false;
        return report;
      }
      report.statements += job.statements;
      const handled = await job.round();
      report.rows[job.name]! += handled;
      if (handled < job.batch) break;
    }
  }
  return report;
}

/** Deletes up to DELETE_BATCH rows of `table` matching `where` (bound to `params`) per round. */
function deleteJob(d1: D1Database, name: string, table: string, where: string, ...params: unknown[]): BoundedJob {
  const sql = `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${where} LIMIT ${DELETE_BATCH})`;
  return {
    name,
    batch: DELETE_BATCH,
    statements: 1,
    round: async () =>
      (
        await d1
          .prepare(sql)
          .bind(...params)
          .run()
      ).meta.changes,
  };
}

/**
 * Clears the sealed reply a used refresh token keeps for its grace window (src/oauth/grants.ts),
 * once that window is long over: only hashes of live refresh tokens stay in storage.
 */
function clearSealedRefreshReplies(d1: D1Database, before: number): BoundedJob {
  const sql = `UPDATE oauth_refresh_tokens SET successor_sealed = NULL WHERE rowid IN
    (SELECT rowid FROM oauth_refresh_tokens WHERE successor_sealed IS NOT NULL AND used_at < ? LIMIT ${DELETE_BATCH})`;
  return { name: "sealedRefreshReplies", batch: DELETE_BATCH, statements: 1, round: async () => (await d1.prepare(sql).bind(before).run()).meta.changes };
}

/** The retention jobs as of `now`: everything strictly older than `days` days goes. */
export function retentionJobs(d1: D1Database, now: number, days: number): BoundedJob[] {
  const cutoff = now - days * 86_400_000;
  return [
    deleteJob(d1, "events", "events", "created_at < ?", cutoff),
    deleteJob(d1, "callLog", "call_log", "created_at < ?", cutoff),
    deleteJob(d1, "usageRollups", "usage_rollups", "bucket_size IN (60000, 3600000) AND bucket_start < ?", cutoff),
    deleteJob(d1, "usageFlushes", "usage_flushes", "created_at < ?", now - Math.min(FLUSH_MARKER_MS, days * 86_400_000)),
    deleteJob(
      d1,
      "unusedClients",
      "oauth_clients",
      "created_at < ? AND NOT EXISTS (SELECT 1 FROM oauth_grants WHERE oauth_grants.client_id = oauth_clients.id)",
      now - UNUSED_CLIENT_MS,
    ),
    clearSealedRefreshReplies(d1, now - SEALED_REPLY_MS),
    // A session idle too long is refused at once (console/session-store.ts); its row goes here at its absolute end (≤ 7 days).
    deleteJob(d1, "consoleSessions", "console_sessions", "expires_at <= ?", now),
    deleteJob(d1, "cimdFailures", "oauth_cimd_failures", "failed_at < ?", now - CIMD_FAILURE_MS),
    deleteJob(d1, "webhookDeliveries", "webhook_deliveries", "created_at < ?", now - Math.min(DELIVERY_RETENTION_DAYS, days) * 86_400_000),
    deleteJob(
      d1,
      "excessDeliveries",
      "webhook_deliveries",
      `rowid IN (SELECT rowid FROM (SELECT rowid, ROW_NUMBER() OVER (PARTITION BY webhook_id ORDER BY created_at DESC, id DESC) AS n
        FROM webhook_deliveries) WHERE n > ${DELIVERIES_KEPT_PER_WEBHOOK})`,
    ),
  ];
}
