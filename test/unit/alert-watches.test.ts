import { describe, expect, it } from "vitest";
import { UpstreamFailure } from "../../src/upstream/client";
import { ReachabilityWatch, reachOf } from "../../src/upstream/reachability";
import { ALERT_COOLDOWN_MS, AlertLatch, KEYS_PER_SLOT, SlidingTally } from "../../src/usage/alert-window";
import type { CallOutcome } from "../../src/usage/call-record";
import { ErrorRateWatch, SurgeWatch } from "../../src/usage/threshold-watches";

const MIN = 60_000;

describe("sliding tally", () => {
  it("counts events and hits over its window and forgets what left it", () => {
    const t = new SlidingTally(5 * MIN);
    t.add(0, 1, 1, "a");
    t.add(MIN, 2, 0);
    expect(t.totals(2 * MIN)).toEqual({ total: 3, hits: 1 });
    expect(t.totals(5 * MIN + 1)).toEqual({ total: 2, hits: 0 }); // the first slot left the window
    expect(t.totals(6 * MIN + 10_000)).toEqual({ total: 0, hits: 0 });
    expect(t.totals(100 * MIN)).toEqual({ total: 0, hits: 0 });
  });

  it("names the top keys by hits and tallies a bounded number of keys per slot", () => {
    const t = new SlidingTally(5 * MIN);
    for (let i = 0; i < 3; i++) t.add(0, 1, 1, "b");
    t.add(0, 1, 1, "a");
    for (let i = 0; i < KEYS_PER_SLOT + 5; i++) t.add(1, 1, 1, `k${i}`);
    expect(t.top(2, 2)).toEqual([
      { key: "b", hits: 3 },
      { key: "a", hits: 1 },
    ]);
    expect(t.top(2, 1000).length).toBe(KEYS_PER_SLOT); // the keys past the bound counted, not named
    expect(t.totals(2).hits).toBe(4 + KEYS_PER_SLOT + 5);
  });

  it("does not go back when the clock does", () => {
    const t = new SlidingTally(MIN);
    t.add(10 * MIN, 1, 1);
    t.add(9 * MIN, 1, 0);
    expect(t.totals(10 * MIN)).toEqual({ total: 2, hits: 1 });
  });
});

describe("alert latch", () => {
  it("raises once per crossing, again after falling clear, and after the cool-down while still above", () => {
    const l = new AlertLatch(1000);
    expect(l.update(0, false, true)).toBe(false);
    expect(l.update(1, true, false)).toBe(true);
    expect(l.update(2, true, false)).toBe(false);
    expect(l.update(3, false, false)).toBe(false); // below the threshold, not clear of it: stays raised
    expect(l.update(4, true, false)).toBe(false);
    expect(l.update(5, false, true)).toBe(false); // clear: re-armed
    expect(l.update(6, true, false)).toBe(true);
    expect(l.update(1005, true, false)).toBe(false);
    expect(l.update(1006, true, false)).toBe(true); // still above an hour later (here 1 s)
  });
});

describe("error rate watch", () => {
  const setting = { threshold: 0.5, windowMinutes: 1, minCalls: 4 };
  const feed = (w: ErrorRateWatch, at: number, outcomes: CallOutcome[]) =>
    outcomes.map((o, i) => w.record(at + i, o, "alpha", o === "ok" ? "alpha__echo" : "alpha__fail")).filter((p) => p !== null);

  it("waits for minCalls, then raises once when the failed share reaches the threshold", () => {
    const w = new ErrorRateWatch(setting);
    expect(feed(w, 0, ["timeout", "upstream_error", "breaker_open"])).toEqual([]); // 3 of 3, but fewer than minCalls
    const raised = feed(w, 10, ["ok", "upstream_error", "upstream_error"]);
    expect(raised).toEqual([
      {
        calls: 4,
        errors: 3,
        rate: 0.75,
        threshold: 0.5,
        windowMinutes: 1,
        minCalls: 4,
        topUpstreams: [{ upstream: "alpha", errors: 3 }],
        topTools: [{ tool: "alpha__fail", errors: 3 }],
      },
    ]);
    expect(feed(w, 20, ["upstream_error", "upstream_error", "ok"])).toEqual([]); // still raised
  });

  it("does not count tool errors as failures, nor refused, denied or cancelled calls as calls", () => {
    const w = new ErrorRateWatch({ threshold: 0.5, windowMinutes: 1, minCalls: 1 });
    expect(feed(w, 0, ["tool_error", "tool_error", "rate_limited", "denied", "cancelled"])).toEqual([]);
    expect(feed(w, 10, ["upstream_error"])).toEqual([]); // 1 of 3
    expect(feed(w, 20, ["timeout"])).toHaveLength(1); // 2 of 4
  });

  it("raises again only after the rate fell below half the threshold", () => {
    const w = new ErrorRateWatch(setting);
    expect(feed(w, 0, ["timeout", "timeout", "timeout", "timeout"])).toHaveLength(1);
    expect(feed(w, 10, ["ok", "ok", "ok", "ok"])).toEqual([]); // 4 of 8: at the threshold, not clear
    expect(feed(w, 20, ["timeout"])).toEqual([]);
    expect(feed(w, 30, Array<CallOutcome>(12).fill("ok"))).toEqual([]); // 5 of 17: clear, re-armed
    expect(feed(w, 50, Array<CallOutcome>(12).fill("timeout"))).toHaveLength(1);
  });

  it("forgets calls that left the window, and raises again an hour later if still above", () => {
    const w = new ErrorRateWatch(setting);
    expect(feed(w, 0, ["timeout", "timeout", "timeout"])).toEqual([]);
    expect(feed(w, 2 * MIN, ["timeout"])).toEqual([]); // the first three expired: 1 call, below minCalls
    expect(feed(w, 2 * MIN + 10, ["timeout", "timeout", "timeout"])).toHaveLength(1);
    expect(feed(w, 30 * MIN, ["timeout", "timeout", "timeout", "timeout"])).toEqual([]);
    expect(feed(w, 3 * MIN + ALERT_COOLDOWN_MS, ["timeout", "timeout", "timeout", "timeout"])).toHaveLength(1);
  });
});

describe("rate-limit surge watch", () => {
  it("raises once when refusals reach the threshold, naming the top callers, and re-arms below half", () => {
    const w = new SurgeWatch({ threshold: 6, windowMinutes: 1 });
    const callers = ["user:a", "user:a", "user:a", "ip:1", "user:b", "user:a"];
    const raised = callers.map((c, i) => w.refused(i, c)).filter((p) => p !== null);
    expect(raised).toEqual([
      {
        refusals: 6,
        threshold: 6,
        windowMinutes: 1,
        topCallers: [
          { caller: "user:a", refusals: 4 },
          { caller: "ip:1", refusals: 1 },
          { caller: "user:b", refusals: 1 },
        ],
      },
    ]);
    expect(w.refused(10, "user:a")).toBeNull(); // still raised
    expect(w.refused(5 * MIN, "user:a")).toBeNull(); // the window emptied: 1 refusal, clear
    const again = [1, 2, 3, 4, 5].map((i) => w.refused(5 * MIN + i, "user:c")).filter((p) => p !== null);
    expect(again).toHaveLength(1);
    expect(again[0]).toMatchObject({
      refusals: 6,
      topCallers: [
        { caller: "user:c", refusals: 5 },
        { caller: "user:a", refusals: 1 },
      ],
    });
  });

  it("raises nothing below the threshold", () => {
    const w = new SurgeWatch({ threshold: 50, windowMinutes: 5 });
    for (let i = 0; i < 49; i++) expect(w.refused(i * 1000, `user:${i % 7}`)).toBeNull();
  });

  it("keeps at most five callers however many there are", () => {
    const w = new SurgeWatch({ threshold: 20, windowMinutes: 5 });
    const raised = Array.from({ length: 20 }, (_, i) => w.refused(i, `ip:${i}`)).find((p) => p !== null);
    expect(raised?.topCallers).toHaveLength(5);
  });
});

describe("reachability", () => {
  const failure = (kind: ConstructorParameters<typeof UpstreamFailure>[1], status?: number) => new UpstreamFailure("s", kind, "m", status);

  it("counts connection failures and gateway statuses as unreachable, answers as reached, the rest as nothing", () => {
    expect(reachOf(failure("unreachable"))).toBe("unreachable");
    expect(reachOf(failure("http_error", 502))).toBe("unreachable");
    expect(reachOf(failure("http_error", 504))).toBe("unreachable");
    expect(reachOf(failure("http_error", 500))).toBe("reached");
    expect(reachOf(failure("bad_response"))).toBe("reached");
    expect(reachOf(null)).toBe("reached");
    for (const kind of ["timeout", "cancelled", "breaker_open", "blocked", "sessions_full"] as const) expect(reachOf(failure(kind))).toBeNull();
  });

  it("announces after N failures in a row, once, and again only after the upstream answered", () => {
    const w = new ReachabilityWatch();
    expect(w.observe("s1", "unreachable", 3)).toEqual({});
    expect(w.observe("s1", null, 3)).toEqual({}); // a timeout neither breaks nor extends the run
    expect(w.observe("s1", "unreachable", 3)).toEqual({});
    expect(w.observe("s1", "unreachable", 3)).toEqual({ announce: 3 });
    expect(w.observe("s1", "unreachable", 3)).toEqual({});
    expect(w.observe("s2", "unreachable", 1)).toEqual({ announce: 1 });
    expect(w.observe("s1", "reached", 3)).toEqual({ recovered: true });
    expect(w.observe("s1", "unreachable", 3)).toEqual({});
    expect(w.observe("s1", "reached", 3)).toEqual({}); // never announced: nothing recovered
  });

  it("does not announce again an upstream announced before a restart, and forgets servers that left", () => {
    const w = new ReachabilityWatch(["s1", "gone"]);
    expect(w.observe("s1", "unreachable", 1)).toEqual({});
    expect(w.retain(new Set(["s1"]))).toEqual(["gone"]);
    expect(w.observe("s1", "reached", 1)).toEqual({ recovered: true });
  });
});
