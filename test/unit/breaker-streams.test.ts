import { describe, expect, it } from "vitest";
import { type BreakerSnapshot, CircuitBreaker, DEFAULT_BREAKER } from "../../src/policy/breaker";

const T0 = 1_700_000_000_000;

/** A seeded PRNG (mulberry32): the same stream on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Call {
  start: number;
  end: number;
  ok: boolean;
}

/**
 * `clients` callers, each calling again as soon as its call ends: ~80 ms per answer, so 8 of them
 * make ~100 calls/s. `fate(start, random)` says how a call ends: ok, failing fast (an HTTP 500 in
 * ~5 ms) or hanging until the 300 ms timeout.
 */
function stream(count: number, seed: number, fate: (start: number, random: () => number) => "ok" | "error" | "hang", clients = 8): Call[] {
  const random = prng(seed);
  const free = Array.from({ length: clients }, (_, i) => T0 + i * 10);
  const calls: Call[] = [];
  for (let i = 0; i < count; i++) {
    const c = free.indexOf(Math.min(...free));
    const start = free[c]!;
    const how = fate(start, random);
    const took = how === "ok" ? 60 + Math.floor(random() * 40) : how === "error" ? 5 : 300;
    calls.push({ start, end: start + took, ok: how === "ok" });
    free[c] = start + took;
  }
  return calls.sort((a, b) => a.end - b.end);
}

/** Feeds the calls to the breaker in the order they end; returns when it opened (or null). */
function replay(breaker: CircuitBreaker, calls: Call[]): number | null {
  for (const call of calls) {
    if (breaker.record(call.ok, call.end, call.ok ? undefined : "boom", false, call.start) === "open") return call.end;
  }
  return null;
}

/** 5 % HTTP 500, 2 % hangs, each call on its own. */
const independent = (_start: number, random: () => number) => {
  const r = random();
  return r < 0.05 ? "error" : r < 0.07 ? "hang" : "ok";
};

describe("CircuitBreaker under a stream of calls", () => {
  it("never opens on 10,000 calls at ~100 calls/s with 7 % independent failures, on any of 20 seeds", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const calls = stream(10_000, seed, independent);
      expect(calls.filter((c) => !c.ok).length).toBeGreaterThan(500);
      expect(replay(new CircuitBreaker(), calls), `seed ${seed}`).toBeNull();
    }
  });

  it("does not open when the calls in flight during a stall all fail together, every 20 s, on top of 7 % independent failures", () => {
    // Each stall fails the 8 calls in flight at once: overlapping failures, one step of a streak.
    const stalls = (start: number, random: () => number) => {
      const sinceStall = (start - T0 - 10_000) % 20_000;
      return sinceStall >= 0 && sinceStall < 80 ? "hang" : independent(start, random);
    };
    const calls = stream(10_000, 7, stalls);
    expect(calls.filter((c) => c.start >= T0 + 10_000 && c.start < T0 + 10_080 && !c.ok).length).toBeGreaterThanOrEqual(5);
    expect(replay(new CircuitBreaker(), calls)).toBeNull();
  });

  it("counts 5 overlapping failures as one step of a streak", () => {
    const breaker = new CircuitBreaker();
    // Five calls started within 2 ms, all ending within 11 ms of each other.
    for (let i = 0; i < 5; i++) expect(breaker.record(false, T0 + 1_030 + i * 2, "timeout", false, T0 + i / 2)).toBeNull();
    expect(breaker.state).toBe("closed");
    // Four more failures, each started after the previous one ended, make five steps.
    let at = T0 + 1_050;
    for (let i = 0; i < 3; i++, at += 400) expect(breaker.record(false, at + 300, "timeout", false, at)).toBeNull();
    expect(breaker.record(false, at + 300, "timeout", false, at)).toBe("open");
  });

  it("opens within 3 s when a busy upstream dies, its calls hanging to the timeout", () => {
    const diesAt = T0 + 60_000;
    const calls = stream(12_000, 3, (start, random) => (start >= diesAt ? "hang" : independent(start, random)));
    const breaker = new CircuitBreaker();
    const openedAt = replay(breaker, calls);
    expect(openedAt).not.toBeNull();
    expect(openedAt! - diesAt).toBeLessThan(3_000);
  });

  it("opens within a second when a busy upstream refuses every connection", () => {
    const diesAt = T0 + 60_000;
    const calls = stream(12_000, 4, (start, random) => (start >= diesAt ? "error" : independent(start, random)));
    const openedAt = replay(new CircuitBreaker(), calls);
    expect(openedAt).not.toBeNull();
    expect(openedAt! - diesAt).toBeLessThan(1_000);
  });

  it("opens at low volume (3 calls a minute, each failing) on the fifth failure", () => {
    const breaker = new CircuitBreaker();
    const results = [0, 1, 2, 3, 4].map((i) => breaker.record(false, T0 + i * 20_000 + 300, "refused", false, T0 + i * 20_000));
    expect(results).toEqual([null, null, null, null, "open"]);
  });
});

describe("CircuitBreaker: snapshots persisted by earlier versions", () => {
  it("loads an old snapshot and carries its trailing failures on as a streak", () => {
    const old: BreakerSnapshot = JSON.parse(
      JSON.stringify({
        state: "closed",
        retryAt: 0,
        outcomes: [
          [T0, 1],
          [T0 + 100, 0],
          [T0 + 200, 0],
          [T0 + 300, 0],
          [T0 + 400, 0],
        ],
        opens: 2,
        lastError: { message: "HTTP 500", at: T0 + 400 },
        lastSuccessAt: T0,
      }),
    );
    const breaker = new CircuitBreaker(DEFAULT_BREAKER, old);
    expect(breaker.snapshot()).toEqual(old);
    expect(breaker.record(false, T0 + 900, "HTTP 500", false, T0 + 500)).toBe("open");
    expect(breaker.snapshot().opens).toBe(3);
  });

  it("loads an old open snapshot that still refuses until its retry time", () => {
    const old = { state: "open", retryAt: T0 + 30_000, outcomes: [], opens: 1, lastError: { message: "x", at: T0 }, lastSuccessAt: null } as BreakerSnapshot;
    const breaker = new CircuitBreaker(DEFAULT_BREAKER, old);
    expect(breaker.admit(T0 + 29_999)).toEqual({ allowed: false, retryAt: T0 + 30_000 });
    expect(breaker.admit(T0 + 30_000)).toEqual({ allowed: true, probe: true });
  });
});
