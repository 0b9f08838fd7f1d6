/**
 * @module A preset object's usage recording: Analytics Engine points, rollups persisted then
 * flushed to D1 exactly once, the call log.
 */

import { isUniqueViolation } from "../db/client";
import { newId } from "../shared/ids";
import { writeCallLog } from "./call-log";
import type { CallRecord } from "./call-record";
import { callDataPoint, MetricsWriter } from "./metrics";
import { COUNT_COLUMNS, MINUTE_MS, mergeAssignments, mergeCounts, mergeUpsertSql, type RollupCounts, type RollupKey, rollupOf } from "./rollup";

/** Pending rollups are sent to D1 this long after the first of them was recorded. */
export const USAGE_FLUSH_DELAY_MS = 60_000;
/** After a failed flush, try again this much later. */
const FLUSH_RETRY_MS = 60_000;
/**
 * Rows per flush batch (two D1 statements: the rows travel as one JSON parameter, since D1 binds
 * at most 100 parameters per statement); one flush sends at most MAX_CHUNKS batches and leaves the
 * rest for an alarm a second later, so an alarm stays far below D1's queries-per-invocation limit.
 */
const FLUSH_CHUNK = 500;
const MAX_CHUNKS = 10;
/** flush_id of rows not yet claimed by a flush. */
const OPEN = "";
/** Its layout is preset/storage.ts's: a new count column needs a storage migration there. */
const PENDING = "usage_pending";
const PENDING_KEYS = ["flush_id", "preset_id", "bucket_start", "tool", "upstream", "caller"];
/** Adds a JSON array of pending rows (`[preset_id, bucket_start, tool, upstream, caller, ...counts]`) into D1's minute rollups. */
const D1_UPSERT = `INSERT INTO usage_rollups (preset_id, bucket_start, bucket_size, tool, upstream, caller, ${COUNT_COLUMNS.join(", ")})
  SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ${MINUTE_MS}, json_extract(value, '$[2]'), json_extract(value, '$[3]'),
    json_extract(value, '$[4]'), ${COUNT_COLUMNS.map((_, i) => `json_extract(value, '$[${i + 5}]')`).join(", ")}
  FROM json_each(?1) WHERE true
  ON CONFLICT (preset_id, bucket_start, bucket_size, tool, upstream, caller) DO UPDATE SET ${mergeAssignments()}`;

export interface UsageDeps {
  db: () => D1Database;
  /** The Analytics Engine binding, looked up at each write (it may be absent when self-hosting). */
  metrics: () => AnalyticsEngineDataset | undefined;
  /** Asks the Durable Object's alarm to run no later than `at`. */
  scheduleAlarm: (at: number) => void;
}

export interface CallLogSetting {
  /** presets.audit_calls */
  calls: boolean;
  /** presets.audit_arguments (only with `calls`) */
  arguments: boolean;
}

/**
 * Usage recording of one preset's Durable Object. Each tools/call becomes an Analytics Engine
 * data point, one increment of its minute's rollup, and (when the preset asks) a call-log row.
 *
 * Rollups are written to the object's SQLite storage in the same turn of the event loop as the
 * call they count (one upsert per changed rollup key, however many calls of that key completed in
 * the turn), so the object's output gate holds the reply until its count is durable: a crash
 * cannot lose a call the client saw answered. They are flushed to D1 by the object's alarm. A flush claims rows under a fresh flush id and sends them in one D1 batch with a
 * `usage_flushes` row of that id: a retry of a batch D1 had already committed fails on that
 * primary key and changes nothing, so every call is counted exactly once. Local rows are deleted
 * only after D1 has them.
 */
export class UsageRecorder {
  readonly #sql: SqlStorage;
  readonly #deps: UsageDeps;
  readonly #upsertPending: string;
  #flushDueAt: number | null = null;
  /** Calls of this turn not yet written to storage, by rollup key; written by a microtask at the end of the turn. */
  readonly #buffer = new Map<string, { key: RollupKey; counts: RollupCounts }>();
  #persistQueued = false;

  constructor(sql: SqlStorage, deps: UsageDeps) {
    this.#sql = sql;
    this.#deps = deps;
    this.#upsertPending = mergeUpsertSql(PENDING, PENDING_KEYS);
  }

  /** The metrics writer of one invocation (Analytics Engine counts its writes per invocation). */
  metricsWriter(): MetricsWriter {
    return new MetricsWriter(this.#deps.metrics);
  }

  /** Records one call. Never throws: recording must not change the reply. */
  record(r: CallRecord, metrics: MetricsWriter, log: CallLogSetting): void {
    metrics.write(callDataPoint(r));
    try {
      const { key, counts } = rollupOf(r);
      const id = JSON.stringify([key.presetId, key.bucketStart, key.tool, key.upstream, key.caller]);
      const buffered = this.#buffer.get(id);
      if (buffered) mergeCounts(buffered.counts, counts);
      else this.#buffer.set(id, { key, counts });
      if (!this.#persistQueued) {
        this.#persistQueued = true;
        queueMicrotask(() => this.#persist());
      }
      if (this.#flushDueAt === null) this.#scheduleFlush(r.at + USAGE_FLUSH_DELAY_MS);
    } catch (e) {
      console.error("usage rollup not recorded", e);
    }
    if (log.calls) {
      writeCallLog(this.#deps.db(), r, log.arguments).catch((e: unknown) => console.error("call log row not written", e));
    }
  }

  get pending(): boolean {
    return this.#buffer.size > 0 || this.#sql.exec(`SELECT 1 FROM ${PENDING} LIMIT 1`).toArray().length > 0;
  }

  /** Writes buffered calls into the pending rollups in storage. */
  #persist(): void {
    this.#persistQueued = false;
    try {
      for (const [id, { key, counts }] of this.#buffer) {
        this.#sql.exec(this.#upsertPending, OPEN, key.presetId, key.bucketStart, key.tool, key.upstream, key.caller, ...counts);
        this.#buffer.delete(id);
      }
    } catch (e) {
      console.error("usage rollups not persisted", e);
    }
  }

  /**
   * Sends pending rollups to D1. Returns whether rows remain (more than one flush's worth, or D1
   * failed); then the next flush is already scheduled.
   */
  async flush(now = Date.now()): Promise<boolean> {
    this.#flushDueAt = null;
    this.#persist();
    const tried = new Set<string>();
    for (let chunk = 0; chunk < MAX_CHUNKS; chunk++) {
      const flushId = this.#nextFlushId(tried);
      if (!flushId) return false;
      tried.add(flushId);
      const rows = [
        ...this.#sql
          .exec(`SELECT preset_id, bucket_start, tool, upstream, caller, ${COUNT_COLUMNS.join(", ")} FROM ${PENDING} WHERE flush_id = ?`, flushId)
          .raw(),
      ];
      if (rows.length === 0) continue;
      try {
        await this.#send(flushId, rows, now);
      } catch (e) {
        if (!isUniqueViolation(e)) {
          console.error("usage flush failed; retrying later", e);
          this.#scheduleFlush(Date.now() + FLUSH_RETRY_MS);
          return true;
        }
        // D1 already has this flush (an earlier attempt committed): the local rows are done.
      }
      this.#sql.exec(`DELETE FROM ${PENDING} WHERE flush_id = ?`, flushId);
    }
    const remaining = this.pending;
    if (remaining) this.#scheduleFlush(Date.now() + 1_000);
    return remaining;
  }

  /** A claimed flush not yet tried in this run (left over by a failed or interrupted flush), else a new claim. */
  #nextFlushId(tried: Set<string>): string | null {
    const claimed = this.#sql.exec<{ flush_id: string }>(`SELECT DISTINCT flush_id FROM ${PENDING} WHERE flush_id != ?`, OPEN).toArray();
    const leftover = claimed.find((r) => !tried.has(r.flush_id));
    if (leftover) return leftover.flush_id;
    const flushId = newId("flu");
    const claimedRows = this.#sql.exec(
      `UPDATE ${PENDING} SET flush_id = ? WHERE rowid IN (SELECT rowid FROM ${PENDING} WHERE flush_id = ? LIMIT ?)`,
      flushId,
      OPEN,
      FLUSH_CHUNK,
    ).rowsWritten;
    return claimedRows > 0 ? flushId : null;
  }

  async #send(flushId: string, rows: SqlStorageValue[][], now: number): Promise<void> {
    const db = this.#deps.db();
    const marker = db.prepare("INSERT INTO usage_flushes (id, preset_id, created_at) VALUES (?, ?, ?)").bind(flushId, rows[0]![0]!, now);
    await db.batch([marker, db.prepare(D1_UPSERT).bind(JSON.stringify(rows))]);
  }

  #scheduleFlush(at: number): void {
    if (this.#flushDueAt !== null && this.#flushDueAt <= at) return;
    this.#flushDueAt = at;
    this.#deps.scheduleAlarm(at);
  }
}
