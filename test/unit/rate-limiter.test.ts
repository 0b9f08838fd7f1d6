import { describe, expect, it } from "vitest";
import { type Limit, type LimitCheck, SlidingWindowLimiter } from "../../src/policy/rate-limiter";

const T0 = 1_700_000_000_000;
const MINUTE = 60_000;

const check = (key: string, requests: number, windowMs = MINUTE): LimitCheck => ({ key, limit: { requests, windowMs } });

/** Takes one hit against a single check. */
const hit = (limiter: SlidingWindowLimiter, c: LimitCheck, now: number) => {
  const { allowed, decisions } = limiter.take([c], now);
  expect(decisions).toHaveLength(1);
  const decision = decisions[0]!;
  expect(decision.allowed).toBe(allowed);
  return decision;
};

/** Takes `n` hits at `now` and returns how many were allowed. */
const burst = (limiter: SlidingWindowLimiter, checks: LimitCheck[], n: number, now: number) => {
  let allowed = 0;
  for (let i = 0; i < n; i++) if (limiter.take(checks, now).allowed) allowed++;
  return allowed;
};

describe("SlidingWindowLimiter: a single limit", () => {
  it("allows exactly `requests` hits, then refuses the next until the oldest leaves the window", () => {
    const limiter = new SlidingWindowLimiter();
    const c = check("p", 3);
    expect(hit(limiter, c, T0).allowed).toBe(true);
    expect(hit(limiter, c, T0 + 1_000).allowed).toBe(true);
    expect(hit(limiter, c, T0 + 2_000).allowed).toBe(true);

    const refused = hit(limiter, c, T0 + 5_000);
    expect(refused).toEqual({ allowed: false, limit: 3, remaining: 0, resetMs: MINUTE - 5_000, retryAfterMs: MINUTE - 5_000 });
  });

  it("counts `remaining` down to 0 and reports the limit on every decision", () => {
    const limiter = new SlidingWindowLimiter();
    const c = check("p", 4);
    const seen = [0, 1, 2, 3, 4].map((i) => hit(limiter, c, T0 + i));
    expect(seen.map((d) => d.remaining)).toEqual([3, 2, 1, 0, 0]);
    expect(seen.map((d) => d.allowed)).toEqual([true, true, true, true, false]);
    expect(seen.every((d) => d.limit === 4)).toBe(true);
    expect(seen.slice(0, 4).every((d) => d.retryAfterMs === 0)).toBe(true);
  });

  it("reports resetMs as the time until the oldest counted hit leaves the window", () => {
    const limiter = new SlidingWindowLimiter();
    const c = check("p", 5);
    expect(limiter.peek(c, T0).resetMs).toBe(MINUTE); // nothing counted yet: a whole window
    expect(hit(limiter, c, T0).resetMs).toBe(MINUTE);
    expect(hit(limiter, c, T0 + 10_000).resetMs).toBe(MINUTE - 10_000);
    expect(limiter.peek(c, T0 + 45_000).resetMs).toBe(MINUTE - 45_000);
    // Once the first hit has left, the second is the oldest.
    expect(limiter.peek(c, T0 + MINUTE).resetMs).toBe(10_000);
  });

  it("slides: hits spread over the window free one slot each, exactly when each leaves", () => {
    const limiter = new SlidingWindowLimiter();
    const c = check("p", 3);
    const times = [T0, T0 + 20_000, T0 + 40_000];
    for (const t of times) expect(hit(limiter, c, t).allowed).toBe(true);

    // A fixed window starting at T0 would reset everything at T0 + 60 s; a sliding one frees
    // only the first hit's slot then, and the second's 20 s later.
    const justBefore = hit(limiter, c, T0 + MINUTE - 1);
    expect(justBefore.allowed).toBe(false);
    expect(justBefore.retryAfterMs).toBe(1);

    const atBoundary = hit(limiter, c, T0 + MINUTE);
    expect(atBoundary.allowed).toBe(true);
    expect(atBoundary.remaining).toBe(0);

    const next = hit(limiter, c, T0 + MINUTE + 1);
    expect(next.allowed).toBe(false);
    expect(next.retryAfterMs).toBe(20_000 - 1); // the T0 + 20 s hit is now the oldest
    expect(hit(limiter, c, T0 + 20_000 + MINUTE - 1).allowed).toBe(false);
    expect(hit(limiter, c, T0 + 20_000 + MINUTE).allowed).toBe(true);
  });

  it("never allows more than `requests` in any window, even across a fixed-window boundary", () => {
    const limiter = new SlidingWindowLimiter();
    const c = check("p", 10);
    // 10 hits at the end of one minute, then a burst at the start of the next.
    expect(burst(limiter, [c], 10, T0 + MINUTE - 100)).toBe(10);
    expect(burst(limiter, [c], 10, T0 + MINUTE + 100)).toBe(0);
    expect(burst(limiter, [c], 10, T0 + 2 * MINUTE - 100)).toBe(10);
  });

  it("treats a refused hit as not counted, so retrying does not push the reset back", () => {
    const limiter = new SlidingWindowLimiter();
    const c = check("p", 2);
    hit(limiter, c, T0);
    hit(limiter, c, T0 + 1_000);
    for (let t = T0 + 2_000; t < T0 + MINUTE; t += 5_000) expect(hit(limiter, c, t).allowed).toBe(false);
    expect(hit(limiter, c, T0 + MINUTE).allowed).toBe(true);
  });

  it("with a limit of 1 allows one hit per window", () => {
    const limiter = new SlidingWindowLimiter();
    const c = check("p", 1, 1_000);
    expect(hit(limiter, c, T0)).toEqual({ allowed: true, limit: 1, remaining: 0, resetMs: 1_000, retryAfterMs: 0 });
    expect(hit(limiter, c, T0)).toMatchObject({ allowed: false, retryAfterMs: 1_000 });
    expect(hit(limiter, c, T0 + 999)).toMatchObject({ allowed: false, retryAfterMs: 1 });
    expect(hit(limiter, c, T0 + 1_000).allowed).toBe(true);
    expect(hit(limiter, c, T0 + 1_500).allowed).toBe(false);
  });

  it("allows exactly the limit out of a huge burst at one instant", () => {
    const limiter = new SlidingWindowLimiter();
    const c = check("p", 100);
    expect(burst(limiter, [c], 10_000, T0)).toBe(100);
    expect(limiter.export("p", MINUTE, T0)).toHaveLength(100);
    expect(limiter.peek(c, T0)).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: MINUTE });
  });

  it("allows exactly the limit out of a huge burst spread across one window", () => {
    const limiter = new SlidingWindowLimiter();
    const c = check("p", 100);
    let allowed = 0;
    for (let i = 0; i < 10_000; i++) if (hit(limiter, c, T0 + i * 5).allowed) allowed++; // 50 s
    expect(allowed).toBe(100);
  });

  it("peek reports the next decision without consuming a hit", () => {
    const limiter = new SlidingWindowLimiter();
    const c = check("p", 2);
    for (let i = 0; i < 5; i++) expect(limiter.peek(c, T0)).toMatchObject({ allowed: true, remaining: 2 });
    hit(limiter, c, T0);
    expect(limiter.peek(c, T0 + 1)).toMatchObject({ allowed: true, remaining: 1 });
    hit(limiter, c, T0 + 1);
    expect(limiter.peek(c, T0 + 2)).toEqual({ allowed: false, limit: 2, remaining: 0, resetMs: MINUTE - 2, retryAfterMs: MINUTE - 2 });
    expect(limiter.export("p", MINUTE, T0 + 2)).toEqual([T0, T0 + 1]);
  });

  it("keeps keys independent", () => {
    const limiter = new SlidingWindowLimiter();
    expect(burst(limiter, [check("a", 2)], 5, T0)).toBe(2);
    expect(burst(limiter, [check("b", 3)], 5, T0)).toBe(3);
    expect(limiter.peek(check("c", 1), T0).allowed).toBe(true);
    expect(limiter.export("a", MINUTE, T0)).toHaveLength(2);
    expect(limiter.export("b", MINUTE, T0)).toHaveLength(3);
    expect(limiter.size).toBe(2);
  });
});

describe("SlidingWindowLimiter: several checks in one take", () => {
  const preset = (requests: number): LimitCheck => check("preset", requests);
  const tool = (name: string, requests: number): LimitCheck => check(`preset:tool:${name}`, requests);

  it("counts one hit against every check when all allow", () => {
    const limiter = new SlidingWindowLimiter();
    const { allowed, decisions } = limiter.take([preset(10), tool("search", 3)], T0);
    expect(allowed).toBe(true);
    expect(decisions.map((d) => [d.limit, d.remaining])).toEqual([
      [10, 9],
      [3, 2],
    ]);
    expect(limiter.export("preset", MINUTE, T0)).toEqual([T0]);
    expect(limiter.export("preset:tool:search", MINUTE, T0)).toEqual([T0]);
  });

  it("does not consume the preset-wide count when the tool limit refuses", () => {
    const limiter = new SlidingWindowLimiter();
    expect(burst(limiter, [preset(10), tool("search", 2)], 5, T0)).toBe(2);
    // Three refusals by the tool limit left the preset-wide count at 2.
    expect(limiter.export("preset", MINUTE, T0)).toEqual([T0, T0]);
    const { allowed, decisions } = limiter.take([preset(10), tool("search", 2)], T0);
    expect(allowed).toBe(false);
    expect(decisions[0]).toMatchObject({ allowed: true, remaining: 8 });
    expect(decisions[1]).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: MINUTE });
    // Other tools still have the whole preset-wide remainder.
    expect(burst(limiter, [preset(10), tool("fetch", 100)], 20, T0)).toBe(8);
  });

  it("does not consume the tool count when the preset-wide limit refuses", () => {
    const limiter = new SlidingWindowLimiter();
    expect(burst(limiter, [preset(3), tool("fetch", 100)], 3, T0)).toBe(3);
    expect(burst(limiter, [preset(3), tool("search", 5)], 4, T0 + 1)).toBe(0);
    expect(limiter.export("preset:tool:search", MINUTE, T0 + 1)).toEqual([]);
    expect(limiter.peek(tool("search", 5), T0 + 1).remaining).toBe(5);

    // Once the preset-wide window frees up, the tool has its full allowance.
    expect(burst(limiter, [preset(10), tool("search", 5)], 10, T0 + MINUTE)).toBe(5);
  });

  it("refuses when either check refuses, regardless of order, with each check's retry time", () => {
    const limiter = new SlidingWindowLimiter();
    limiter.take([check("a", 1)], T0);
    limiter.take([check("b", 1, 10_000)], T0 + 1_000);
    for (const order of [
      [check("a", 1), check("b", 1, 10_000)],
      [check("b", 1, 10_000), check("a", 1)],
    ]) {
      const { allowed, decisions } = limiter.take(order, T0 + 2_000);
      expect(allowed).toBe(false);
      const retryByKey = Object.fromEntries(decisions.map((d, i) => [order[i]!.key, d.retryAfterMs]));
      expect(retryByKey).toEqual({ a: MINUTE - 2_000, b: 9_000 });
    }
    expect(limiter.export("a", MINUTE, T0 + 2_000)).toEqual([T0]);
    expect(limiter.export("b", 10_000, T0 + 2_000)).toEqual([T0 + 1_000]);
  });

  it("allows an empty list of checks without counting anything", () => {
    const limiter = new SlidingWindowLimiter();
    expect(limiter.take([], T0)).toEqual({ allowed: true, decisions: [] });
    expect(limiter.size).toBe(0);
  });
});

describe("SlidingWindowLimiter: persistence", () => {
  it("exports only the hits still inside the window, oldest first", () => {
    const limiter = new SlidingWindowLimiter();
    const c = check("p", 10);
    for (const t of [T0, T0 + 10_000, T0 + 30_000]) hit(limiter, c, t);
    expect(limiter.export("p", MINUTE, T0 + 30_000)).toEqual([T0, T0 + 10_000, T0 + 30_000]);
    expect(limiter.export("p", MINUTE, T0 + MINUTE)).toEqual([T0 + 10_000, T0 + 30_000]);
    expect(limiter.export("p", MINUTE, T0 + 30_000 + MINUTE)).toEqual([]);
    expect(limiter.export("never-seen", MINUTE, T0)).toEqual([]);
  });

  it("returns a copy from export, not the live state", () => {
    const limiter = new SlidingWindowLimiter();
    hit(limiter, check("p", 2), T0);
    limiter.export("p", MINUTE, T0).push(T0, T0);
    expect(limiter.peek(check("p", 2), T0).remaining).toBe(1);
  });

  it("restores a window that refuses what the original would, and frees at the same instant", () => {
    const original = new SlidingWindowLimiter();
    const c = check("p", 3);
    for (const t of [T0, T0 + 15_000, T0 + 30_000]) hit(original, c, t);

    const restored = new SlidingWindowLimiter();
    restored.import("p", original.export("p", MINUTE, T0 + 40_000));

    // Time only moves forward: the limiter prunes as it reads.
    for (const t of [T0 + 40_000, T0 + MINUTE - 1, T0 + MINUTE, T0 + MINUTE + 1, T0 + 15_000 + MINUTE]) {
      const expected = original.take([c], t);
      expect(restored.take([c], t)).toEqual(expected);
    }
    expect(restored.export("p", MINUTE, T0 + 15_000 + MINUTE)).toEqual([T0 + 30_000, T0 + MINUTE, T0 + 15_000 + MINUTE]);
  });

  it("a restored limiter refuses until the original's oldest hit leaves the window", () => {
    const original = new SlidingWindowLimiter();
    const c = check("p", 3);
    for (const t of [T0, T0 + 15_000, T0 + 30_000]) hit(original, c, t);
    const restored = new SlidingWindowLimiter();
    restored.import("p", original.export("p", MINUTE, T0 + 40_000));

    expect(hit(restored, c, T0 + 40_000)).toMatchObject({ allowed: false, retryAfterMs: 20_000 });
    expect(hit(restored, c, T0 + MINUTE - 1)).toMatchObject({ allowed: false, retryAfterMs: 1 });
    expect(hit(restored, c, T0 + MINUTE)).toMatchObject({ allowed: true, remaining: 0 });
    expect(hit(restored, c, T0 + MINUTE + 1)).toMatchObject({ allowed: false, retryAfterMs: 15_000 - 1 });
  });

  it("ignores non-finite values on import and sorts the rest", () => {
    const limiter = new SlidingWindowLimiter();
    limiter.import("p", [T0 + 20_000, Number.NaN, T0, Number.POSITIVE_INFINITY, T0 + 10_000, Number.NEGATIVE_INFINITY]);
    expect(limiter.export("p", MINUTE, T0 + 20_000)).toEqual([T0, T0 + 10_000, T0 + 20_000]);
    // Sorted, so the oldest really is T0: the next slot of a limit of 3 frees at T0 + 60 s.
    expect(limiter.peek(check("p", 3), T0 + 20_000)).toMatchObject({ allowed: false, retryAfterMs: MINUTE - 20_000 });
  });

  it("creates no key when importing nothing usable", () => {
    const limiter = new SlidingWindowLimiter();
    limiter.import("p", []);
    limiter.import("q", [Number.NaN]);
    expect(limiter.size).toBe(0);
    expect(limiter.peek(check("q", 1), T0).allowed).toBe(true);
  });

  it("honours an imported history longer than a since-lowered limit", () => {
    const limiter = new SlidingWindowLimiter();
    limiter.import("p", [T0, T0 + 1_000, T0 + 2_000, T0 + 3_000, T0 + 4_000]);
    // 5 hits against a limit of 3: two must leave before a slot frees, so the third oldest decides.
    expect(limiter.peek(check("p", 3), T0 + 5_000)).toMatchObject({ allowed: false, retryAfterMs: MINUTE - 3_000 });
    expect(limiter.peek(check("p", 3), T0 + 2_000 + MINUTE).allowed).toBe(true);
  });

  it("does not alias the imported array", () => {
    const limiter = new SlidingWindowLimiter();
    const hits = [T0];
    limiter.import("p", hits);
    hits.push(T0, T0, T0);
    expect(limiter.peek(check("p", 2), T0).remaining).toBe(1);
  });
});

describe("SlidingWindowLimiter: prune and size", () => {
  it("drops only keys whose newest hit is older than the window and returns them", () => {
    const limiter = new SlidingWindowLimiter();
    const limit: Limit = { requests: 10, windowMs: MINUTE };
    limiter.take([{ key: "idle", limit }], T0);
    limiter.take([{ key: "busy", limit }], T0); // old hit, but a recent one too
    limiter.take([{ key: "busy", limit }], T0 + 50_000);
    limiter.take([{ key: "recent", limit }], T0 + 30_000);
    expect(limiter.size).toBe(3);

    expect(limiter.prune(MINUTE, T0 + MINUTE)).toEqual(["idle"]);
    expect(limiter.size).toBe(2);
    expect(limiter.export("busy", MINUTE * 10, T0 + MINUTE)).toEqual([T0, T0 + 50_000]);

    expect(limiter.prune(MINUTE, T0 + 30_000 + MINUTE - 1)).toEqual([]);
    expect(limiter.prune(MINUTE, T0 + 30_000 + MINUTE)).toEqual(["recent"]);
    expect(limiter.prune(MINUTE, T0 + 50_000 + MINUTE)).toEqual(["busy"]);
    expect(limiter.size).toBe(0);
  });

  it("keeps limits working after a prune: a pruned key starts from a full allowance", () => {
    const limiter = new SlidingWindowLimiter();
    const c = check("p", 2);
    burst(limiter, [c], 2, T0);
    limiter.prune(MINUTE, T0 + MINUTE);
    expect(hit(limiter, c, T0 + MINUTE)).toMatchObject({ allowed: true, remaining: 1 });
  });

  it("forgets a key once all its hits have left the window", () => {
    const limiter = new SlidingWindowLimiter();
    hit(limiter, check("p", 2), T0);
    expect(limiter.size).toBe(1);
    limiter.peek(check("p", 2), T0 + MINUTE);
    expect(limiter.size).toBe(0);
  });
});
