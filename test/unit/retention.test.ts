import { describe, expect, it, vi } from "vitest";
import { type BoundedJob, DEFAULT_RETENTION_DAYS, retentionDays, runBounded } from "../../src/jobs/retention";

/** A job over `rows` rows that handles up to `batch` per round, like a DELETE … LIMIT. */
const job = (name: string, rows: number, batch = 500, statements = 1) => {
  let left = rows;
  const rounds: number[] = [];
  const j: BoundedJob = {
    name,
    batch,
    statements,
    round: async () => {
      const n = Math.min(batch, left);
      left -= n;
      rounds.push(n);
      return n;
    },
  };
  return { job: j, rounds, left: () => left };
};

describe("bounded maintenance runs", () => {
  it("runs each job round by round until a round handles less than a batch", async () => {
    const events = job("events", 1200);
    const calls = job("calls", 0);
    const report = await runBounded([events.job, calls.job], 40);
    expect(events.rounds).toEqual([500, 500, 200]);
    expect(calls.rounds).toEqual([0]);
    expect(report).toEqual({ rows: { events: 1200, calls: 0 }, statements: 4, finished: true });
  });

  it("stops at the statement budget and leaves the rest for the next run", async () => {
    const events = job("events", 5000);
    const rollups = job("rollups", 10);
    const first = await runBounded([events.job, rollups.job], 3);
    expect(first).toEqual({ rows: { events: 1500 }, statements: 3, finished: false });
    expect(rollups.rounds).toEqual([]);
    expect(events.left()).toBe(3500);
    // Next runs carry on where this one stopped.
    while (!(await runBounded([events.job, rollups.job], 3)).finished);
    expect(events.left()).toBe(0);
    expect(rollups.left()).toBe(0);
  });

  it("counts a job's statements per round (a compaction round is two) and never exceeds the budget", async () => {
    const compaction = job("compaction", 2000, 500, 2);
    const report = await runBounded([compaction.job], 5);
    expect(report.statements).toBe(4);
    expect(compaction.rounds).toEqual([500, 500]);
    expect(report.finished).toBe(false);
  });

  it("re-runs a round that handled exactly a batch, so a full last round is followed by an empty one", async () => {
    const exact = job("exact", 1000);
    await runBounded([exact.job], 40);
    expect(exact.rounds).toEqual([500, 500, 0]);
  });
});

describe("RETENTION_DAYS", () => {
  it("reads whole days from 1 to 3650 and falls back to 90 otherwise", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    expect(retentionDays(undefined)).toBe(DEFAULT_RETENTION_DAYS);
    expect(retentionDays("")).toBe(90);
    expect(retentionDays("30")).toBe(30);
    expect(retentionDays(" 7 ")).toBe(7);
    for (const bad of ["0", "-1", "1.5", "ninety", "3651"]) expect(retentionDays(bad), bad).toBe(90);
    warn.mockRestore();
  });
});
