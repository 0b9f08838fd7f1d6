import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { createSession } from "../../src/console/session-store";
import worker from "../../src/index";
import { retentionJobs, runBounded } from "../../src/jobs/retention";
import { HIST_COLUMNS, HOUR_MS, MINUTE_MS } from "../../src/usage/rollup";
import { createUser, unique } from "../helpers";

const DAY = 86_400_000;

/** Runs the worker's scheduled handler as the cron trigger would, at `now`. */
async function runCron(now: number, overrides: Partial<typeof env> = {}) {
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  const ctx = createExecutionContext();
  await worker.scheduled!(createScheduledController({ scheduledTime: now, cron: "17 * * * *" }), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  log.mockRestore();
}

const insertEvent = (owner: string, id: string, at: number) =>
  env.DB.prepare(
    "INSERT INTO events (id, owner_id, preset_id, actor_id, type, target, payload, created_at) VALUES (?, ?, NULL, NULL, 'token.created', NULL, '{}', ?)",
  )
    .bind(id, owner, at)
    .run();
const insertCall = (preset: string, id: string, at: number) =>
  env.DB.prepare(
    "INSERT INTO call_log (id, preset_id, tool, outcome, latency_ms, request_bytes, response_bytes, arguments_sha256, created_at) VALUES (?, ?, 'a__b', 'ok', 1, 1, 1, 'h', ?)",
  )
    .bind(id, preset, at)
    .run();
/** A rollup row of `calls` ok calls, each in histogram bucket h03. */
const insertRollup = (preset: string, start: number, size: number, tool: string, calls: number, latencyMax = 7) =>
  env.DB.prepare(
    `INSERT INTO usage_rollups (preset_id, bucket_start, bucket_size, tool, upstream, caller, calls, ok, latency_count, latency_sum, latency_max, h03)
     VALUES (?, ?, ?, ?, 'a', 'anonymous', ?, ?, ?, ?, ?, ?)`,
  )
    .bind(preset, start, size, tool, calls, calls, calls, calls * 7, latencyMax, calls)
    .run();
const insertFlush = (preset: string, id: string, at: number) =>
  env.DB.prepare("INSERT INTO usage_flushes (id, preset_id, created_at) VALUES (?, ?, ?)").bind(id, preset, at).run();

const ids = async (sql: string, ...params: unknown[]) =>
  (
    await env.DB.prepare(sql)
      .bind(...params)
      .all<{ id: string }>()
  ).results
    .map((r) => r.id)
    .sort();

describe("scheduled maintenance", () => {
  it("deletes events, call-log rows, rollups and flush markers past RETENTION_DAYS (default 90), and nothing newer", async () => {
    const now = Date.now();
    const owner = unique("owner");
    const preset = unique("prs");
    for (const [id, age] of [
      ["old", 91 * DAY],
      ["edge", 90 * DAY + 1_000],
      ["young", 89 * DAY],
      ["new", 0],
    ] as const) {
      await insertEvent(owner, `${owner}-${id}`, now - age);
      await insertCall(preset, `${preset}-${id}`, now - age);
    }
    await insertRollup(preset, now - (now % HOUR_MS) - 91 * DAY, HOUR_MS, "old", 1);
    await insertRollup(preset, now - (now % HOUR_MS) - 89 * DAY, HOUR_MS, "young", 1);
    await insertFlush(preset, `${preset}-f-old`, now - 8 * DAY);
    await insertFlush(preset, `${preset}-f-new`, now - DAY);

    await runCron(now);

    expect(await ids("SELECT id FROM events WHERE owner_id = ?", owner)).toEqual([`${owner}-new`, `${owner}-young`]);
    expect(await ids("SELECT id FROM call_log WHERE preset_id = ?", preset)).toEqual([`${preset}-new`, `${preset}-young`]);
    expect(await ids("SELECT tool AS id FROM usage_rollups WHERE preset_id = ?", preset)).toEqual(["young"]);
    expect(await ids("SELECT id FROM usage_flushes WHERE preset_id = ?", preset)).toEqual([`${preset}-f-new`]);
  });

  it("honours a shorter RETENTION_DAYS", async () => {
    const now = Date.now();
    const owner = unique("owner");
    await insertEvent(owner, `${owner}-31`, now - 31 * DAY);
    await insertEvent(owner, `${owner}-29`, now - 29 * DAY);
    await runCron(now, { RETENTION_DAYS: "30" });
    expect(await ids("SELECT id FROM events WHERE owner_id = ?", owner)).toEqual([`${owner}-29`]);
  });

  it("deletes console sessions past their absolute end and keeps live ones", async () => {
    const now = Date.now();
    const user = await createUser();
    const old = await createSession(env.DB, user.id, now - 8 * DAY);
    const live = await createSession(env.DB, user.id, now - DAY);
    await runCron(now);
    const left = await env.DB.prepare("SELECT id_hash FROM console_sessions WHERE user_id = ?").bind(user.id).all<{ id_hash: string }>();
    expect(left.results.map((r) => r.id_hash)).toEqual([live.session.idHash]);
    expect(old.session.idHash).not.toBe(live.session.idHash);
  });

  it("deletes in bounded batches: a run stops at its statement budget and the next one continues", async () => {
    const now = Date.now();
    const owner = unique("owner");
    const old = now - 200 * DAY;
    const rows = Array.from({ length: 1200 }, (_, i) =>
      env.DB.prepare("INSERT INTO events (id, owner_id, type, payload, created_at) VALUES (?, ?, 'token.created', '{}', ?)").bind(`${owner}-${i}`, owner, old),
    );
    await env.DB.batch(rows);
    const count = async () => (await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE owner_id = ?").bind(owner).first<{ n: number }>())!.n;
    const first = await runBounded(retentionJobs(env.DB, now, 90), 2);
    expect(first).toMatchObject({ statements: 2, finished: false });
    expect(first.rows.events).toBe(1000);
    expect(await count()).toBe(200);
    await runCron(now);
    expect(await count()).toBe(0);
  });

  it("compacts minute rollups older than 48 h into hour rollups, keeping every count", async () => {
    const now = Date.now();
    const preset = unique("prs");
    const hour = now - (now % HOUR_MS) - 3 * DAY;
    await insertRollup(preset, hour + 5 * MINUTE_MS, MINUTE_MS, "a__b", 2, 4);
    await insertRollup(preset, hour + 6 * MINUTE_MS, MINUTE_MS, "a__b", 3, 9);
    await insertRollup(preset, hour + 59 * MINUTE_MS, MINUTE_MS, "a__c", 1);
    await insertRollup(preset, hour + HOUR_MS + MINUTE_MS, MINUTE_MS, "a__b", 4);
    await insertRollup(preset, hour, HOUR_MS, "a__c", 10, 8); // an hour row that already exists: added to
    const fresh = now - (now % MINUTE_MS) - 60 * MINUTE_MS;
    await insertRollup(preset, fresh, MINUTE_MS, "a__b", 5);

    await runCron(now);

    const rows = (
      await env.DB.prepare(
        `SELECT bucket_start, bucket_size, tool, calls, ok, latency_count, latency_sum, latency_max, ${HIST_COLUMNS.join(", ")} FROM usage_rollups WHERE preset_id = ? ORDER BY bucket_start, tool`,
      )
        .bind(preset)
        .all<Record<string, number | string>>()
    ).results;
    expect(rows.map((r) => [r.bucket_start, r.bucket_size, r.tool, r.calls, r.ok, r.latency_count, r.latency_sum, r.latency_max, r.h03])).toEqual([
      [hour, HOUR_MS, "a__b", 5, 5, 5, 35, 9, 5],
      [hour, HOUR_MS, "a__c", 11, 11, 11, 77, 8, 11],
      [hour + HOUR_MS, HOUR_MS, "a__b", 4, 4, 4, 28, 7, 4],
      [fresh, MINUTE_MS, "a__b", 5, 5, 5, 35, 7, 5],
    ]);
    const total = (await env.DB.prepare("SELECT SUM(calls) AS n FROM usage_rollups WHERE preset_id = ?").bind(preset).first<{ n: number }>())!.n;
    expect(total).toBe(2 + 3 + 1 + 4 + 10 + 5);
  });
});
