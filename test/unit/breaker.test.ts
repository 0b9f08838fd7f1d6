import { describe, expect, it } from "vitest";
import { type BreakerOptions, type BreakerSnapshot, CircuitBreaker, DEFAULT_BREAKER } from "../../src/policy/breaker";

const T0 = 1_700_000_000_000;
const COOLDOWN = 30_000;

/**
 * Records outcomes written as "S" (success) and "F" (failure), one per `stepMs` from `from`;
 * returns what each `record` returned and the time of the last call.
 */
const play = (breaker: CircuitBreaker, pattern: string, from = T0, stepMs = 100) => {
  const results = [...pattern].map((c, i) => breaker.record(c === "S", from + i * stepMs, c === "F" ? `boom ${i}` : undefined));
  return { results, last: from + (pattern.length - 1) * stepMs };
};

/** Opens a fresh default breaker with 5 failures in a row; returns it and the time it opened. */
const opened = () => {
  const breaker = new CircuitBreaker();
  const { last } = play(breaker, "FFFFF");
  expect(breaker.state).toBe("open");
  return { breaker, openedAt: last };
};

describe("CircuitBreaker defaults", () => {
  it("match the documented policy", () => {
    expect(DEFAULT_BREAKER).toEqual({ failureRatio: 0.5, minimumCalls: 10, consecutiveFailures: 5, windowMs: 60_000, cooldownMs: 30_000 });
    expect(new CircuitBreaker().options).toBe(DEFAULT_BREAKER);
  });
});

describe("CircuitBreaker: closed", () => {
  it("stays closed and admits every call under a steady stream of successes", () => {
    const breaker = new CircuitBreaker();
    for (let i = 0; i < 2_000; i++) {
      expect(breaker.admit(T0 + i * 10)).toEqual({ allowed: true, probe: false });
      expect(breaker.record(true, T0 + i * 10)).toBeNull();
    }
    expect(breaker.state).toBe("closed");
    expect(breaker.health(T0 + 20_000)).toBe("ok");
    expect(breaker.snapshot()).toMatchObject({ opens: 0, lastError: null, lastSuccessAt: T0 + 19_990 });
  });

  it("stays closed after 4 consecutive failures and opens on the 5th", () => {
    const breaker = new CircuitBreaker();
    const { results, last } = play(breaker, "FFFFF");
    expect(results).toEqual([null, null, null, null, "open"]);
    expect(breaker.state).toBe("open");
    expect(breaker.snapshot()).toMatchObject({ opens: 1, retryAt: last + COOLDOWN });
  });

  it("keeps admitting after 4 consecutive failures", () => {
    const breaker = new CircuitBreaker();
    const { last } = play(breaker, "FFFF");
    expect(breaker.state).toBe("closed");
    expect(breaker.admit(last + 1)).toEqual({ allowed: true, probe: false });
  });

  it("resets the consecutive count on a success (an isError tool reply counts as one)", () => {
    const breaker = new CircuitBreaker();
    const { results, last } = play(breaker, "FFFFSFFFF");
    expect(results.every((r) => r === null)).toBe(true);
    expect(breaker.state).toBe("closed");
    expect(breaker.record(false, last + 100)).toBe("open");
  });

  it("opens on the failure ratio once 10 calls are in the window", () => {
    const breaker = new CircuitBreaker();
    // Never two failures in a row, so only the ratio rule can open it.
    const { results } = play(breaker, "SFSFSFSFSF");
    expect(results.slice(0, 9).every((r) => r === null)).toBe(true);
    expect(results[9]).toBe("open");
    expect(breaker.snapshot().opens).toBe(1);
  });

  it("stays closed with 5 failures in 9 calls: too few calls for the ratio rule", () => {
    const breaker = new CircuitBreaker();
    const { results, last } = play(breaker, "FSFSFSFSF");
    expect(results.every((r) => r === null)).toBe(true);
    expect(breaker.state).toBe("closed");
    // The 10th call brings it to 5 of 10, which is the threshold: even a success then opens it.
    expect(breaker.record(true, last + 100)).toBe("open");
  });

  it("stays closed below the ratio and opens at exactly the ratio", () => {
    const breaker = new CircuitBreaker();
    // Every prefix of 10+ calls stays under 50%: 4/10, 5/11, …, 9/20, 10/21.
    const { results, last } = play(breaker, "SSFSFSFSFSFSFSFSFSFSF");
    expect(results.every((r) => r === null)).toBe(true);
    expect(breaker.state).toBe("closed");
    expect(breaker.record(false, last + 100)).toBe("open"); // 11 of 22
  });

  it("does not count failures older than the window towards the ratio", () => {
    const inWindow = new CircuitBreaker();
    play(inWindow, "SFSFSFSF", T0, 0);
    expect(play(inWindow, "SF", T0 + 59_999, 0).results).toEqual([null, "open"]);

    const aged = new CircuitBreaker();
    play(aged, "SFSFSFSF", T0, 0);
    // At T0 + 60 s the first eight are exactly one window old and no longer count.
    expect(play(aged, "SFSFSFSF", T0 + 60_000, 0).results.every((r) => r === null)).toBe(true);
    expect(aged.state).toBe("closed");
    expect(aged.snapshot().outcomes).toHaveLength(8);
  });

  it("reports degraded while a failure is in the window and ok once it has aged out", () => {
    const breaker = new CircuitBreaker();
    breaker.record(true, T0);
    expect(breaker.health(T0)).toBe("ok");
    breaker.record(false, T0 + 1_000, "timeout");
    expect(breaker.health(T0 + 1_000)).toBe("degraded");
    breaker.record(true, T0 + 2_000);
    expect(breaker.health(T0 + 2_000)).toBe("degraded"); // a success does not hide it
    expect(breaker.health(T0 + 60_999)).toBe("degraded");
    expect(breaker.health(T0 + 61_000)).toBe("ok");
  });
});

describe("CircuitBreaker: open and half-open", () => {
  it("refuses while open with retryAt = the time it opened + 30 s", () => {
    const { breaker, openedAt } = opened();
    for (const t of [openedAt, openedAt + 1, openedAt + 15_000, openedAt + COOLDOWN - 1]) {
      expect(breaker.admit(t)).toEqual({ allowed: false, retryAt: openedAt + COOLDOWN });
    }
    expect(breaker.state).toBe("open");
    expect(breaker.health(openedAt + 1)).toBe("open");
  });

  it("ignores outcomes recorded while open (calls admitted before it opened)", () => {
    const { breaker, openedAt } = opened();
    expect(breaker.record(true, openedAt + 10)).toBeNull();
    // Even five late failures in a row neither reopen it nor push its retry time back.
    expect(play(breaker, "FFFFF", openedAt + 20).results).toEqual([null, null, null, null, null]);
    expect(breaker.state).toBe("open");
    expect(breaker.snapshot()).toMatchObject({ opens: 1, retryAt: openedAt + COOLDOWN, outcomes: [] });
    expect(breaker.admit(openedAt + 100)).toEqual({ allowed: false, retryAt: openedAt + COOLDOWN });
  });

  it("admits exactly one probe once the cooldown ends and refuses concurrent calls", () => {
    const { breaker, openedAt } = opened();
    const at = openedAt + COOLDOWN;
    expect(breaker.admit(at)).toEqual({ allowed: true, probe: true });
    expect(breaker.state).toBe("half_open");
    for (const t of [at, at + 1, at + 500, at + 10_000]) {
      const admission = breaker.admit(t);
      expect(admission.allowed).toBe(false);
      if (!admission.allowed) expect(admission.retryAt).toBeGreaterThan(t);
    }
    expect(breaker.state).toBe("half_open");
  });

  it("admits the probe at any time after the cooldown, not only at its end", () => {
    const { breaker, openedAt } = opened();
    expect(breaker.admit(openedAt + 10 * COOLDOWN)).toEqual({ allowed: true, probe: true });
    expect(breaker.admit(openedAt + 10 * COOLDOWN).allowed).toBe(false);
  });

  it("closes when the probe succeeds and starts counting afresh", () => {
    const { breaker, openedAt } = opened();
    const at = openedAt + COOLDOWN;
    breaker.admit(at);
    expect(breaker.record(true, at + 50, undefined, true)).toBe("closed");
    expect(breaker.state).toBe("closed");
    expect(breaker.admit(at + 60)).toEqual({ allowed: true, probe: false });
    expect(breaker.admit(at + 61)).toEqual({ allowed: true, probe: false });
    expect(breaker.health(at + 60)).toBe("ok");
    expect(breaker.snapshot()).toMatchObject({ opens: 1, outcomes: [], lastSuccessAt: at + 50 });
    // The failures that opened it are forgotten: 4 more do not reopen it.
    expect(play(breaker, "FFFF", at + 100).results.every((r) => r === null)).toBe(true);
    expect(breaker.state).toBe("closed");
  });

  it("reopens when the probe fails, with a new retryAt and one more opening", () => {
    const { breaker, openedAt } = opened();
    const probeAt = openedAt + COOLDOWN + 5_000;
    expect(breaker.admit(probeAt)).toEqual({ allowed: true, probe: true });
    expect(breaker.record(false, probeAt + 700, "still down", true)).toBe("open");
    expect(breaker.state).toBe("open");
    expect(breaker.snapshot()).toMatchObject({ opens: 2, retryAt: probeAt + 700 + COOLDOWN, lastError: { message: "still down", at: probeAt + 700 } });
    expect(breaker.admit(probeAt + 700 + COOLDOWN - 1)).toEqual({ allowed: false, retryAt: probeAt + 700 + COOLDOWN });

    // The next cooldown ends with another single probe.
    expect(breaker.admit(probeAt + 700 + COOLDOWN)).toEqual({ allowed: true, probe: true });
    expect(breaker.admit(probeAt + 700 + COOLDOWN).allowed).toBe(false);
    expect(breaker.record(false, probeAt + 800 + COOLDOWN, undefined, true)).toBe("open");
    expect(breaker.snapshot().opens).toBe(3);
  });

  it("walks health through ok → degraded → open → degraded (half-open) → ok", () => {
    const breaker = new CircuitBreaker();
    expect(breaker.health(T0)).toBe("ok");
    breaker.record(false, T0, "e1");
    expect(breaker.health(T0)).toBe("degraded");
    play(breaker, "FFFF", T0 + 100);
    expect(breaker.health(T0 + 500)).toBe("open");
    const at = T0 + 400 + COOLDOWN;
    breaker.admit(at);
    expect(breaker.state).toBe("half_open");
    expect(breaker.health(at)).toBe("degraded");
    breaker.record(true, at + 10, undefined, true);
    expect(breaker.health(at + 10)).toBe("ok");
  });
});

describe("CircuitBreaker: probes that misbehave", () => {
  it("ignores a slow call admitted before it opened: only the probe's outcome decides", () => {
    const { breaker, openedAt } = opened();
    const at = openedAt + COOLDOWN;
    expect(breaker.admit(at)).toEqual({ allowed: true, probe: true });
    expect(breaker.record(true, at + 5)).toBeNull(); // a late success of an older call
    expect(breaker.state).toBe("half_open");
    expect(breaker.record(false, at + 10, "probe failed", true)).toBe("open");
  });

  it("lets another probe through when the probe ends without an outcome (released)", () => {
    const { breaker, openedAt } = opened();
    const at = openedAt + COOLDOWN;
    expect(breaker.admit(at)).toEqual({ allowed: true, probe: true });
    expect(breaker.admit(at + 1).allowed).toBe(false);
    breaker.release(false); // not the probe: changes nothing
    expect(breaker.admit(at + 2).allowed).toBe(false);
    breaker.release(true);
    expect(breaker.admit(at + 3)).toEqual({ allowed: true, probe: true });
  });

  it("frees the probe slot after a cooldown when the probe never reports", () => {
    const { breaker, openedAt } = opened();
    const at = openedAt + COOLDOWN;
    breaker.admit(at);
    expect(breaker.admit(at + COOLDOWN - 1).allowed).toBe(false);
    expect(breaker.admit(at + COOLDOWN)).toEqual({ allowed: true, probe: true });
  });

  it("ends a streak of failures on a success, not when the window moves on", () => {
    const breaker = new CircuitBreaker();
    play(breaker, "FFFF", T0);
    expect(breaker.record(false, T0 + 61_000)).toBe("open");
    const other = new CircuitBreaker();
    play(other, "FFFFS", T0);
    expect(other.record(false, T0 + 61_000)).toBeNull();
  });

  it("reports degraded, not open, once the cooldown has ended and a probe is due", () => {
    const { breaker, openedAt } = opened();
    expect(breaker.health(openedAt + COOLDOWN - 1)).toBe("open");
    expect(breaker.health(openedAt + COOLDOWN)).toBe("degraded");
  });
});

describe("CircuitBreaker: snapshot and restore", () => {
  it("restores an open breaker that still refuses until its cooldown ends", () => {
    const { breaker, openedAt } = opened();
    const restored = new CircuitBreaker(DEFAULT_BREAKER, breaker.snapshot());
    expect(restored.state).toBe("open");
    expect(restored.admit(openedAt + COOLDOWN - 1)).toEqual({ allowed: false, retryAt: openedAt + COOLDOWN });
    expect(restored.health(openedAt + 1)).toBe("open");
    expect(restored.admit(openedAt + COOLDOWN)).toEqual({ allowed: true, probe: true });
    expect(restored.record(true, openedAt + COOLDOWN + 1, undefined, true)).toBe("closed");
  });

  it("round-trips every field, including through JSON storage", () => {
    const breaker = new CircuitBreaker();
    play(breaker, "SFFSFF", T0);
    const snap = breaker.snapshot();
    expect(snap).toEqual({
      state: "closed",
      retryAt: 0,
      outcomes: [
        [T0, 1],
        [T0 + 100, 0],
        [T0 + 200, 0],
        [T0 + 300, 1],
        [T0 + 400, 0],
        [T0 + 500, 0],
      ],
      opens: 0,
      lastError: { message: "boom 5", at: T0 + 500 },
      lastSuccessAt: T0 + 300,
    });
    const restored = new CircuitBreaker(DEFAULT_BREAKER, JSON.parse(JSON.stringify(snap)) as BreakerSnapshot);
    expect(restored.snapshot()).toEqual(snap);
    // The restored outcomes carry on: three more failures make five in a row.
    expect(play(restored, "FFF", T0 + 600).results).toEqual([null, null, "open"]);
    expect(restored.snapshot().opens).toBe(1);
  });

  it("keeps the opens counter across restores", () => {
    const { breaker, openedAt } = opened();
    breaker.admit(openedAt + COOLDOWN);
    breaker.record(false, openedAt + COOLDOWN, undefined, true);
    const restored = new CircuitBreaker(DEFAULT_BREAKER, breaker.snapshot());
    expect(restored.snapshot().opens).toBe(2);
    restored.admit(openedAt + 2 * COOLDOWN);
    restored.record(false, openedAt + 2 * COOLDOWN, undefined, true);
    expect(restored.snapshot().opens).toBe(3);
  });

  it("hands out copies: changing a snapshot changes neither breaker", () => {
    const breaker = new CircuitBreaker();
    play(breaker, "FFFF");
    const snap = breaker.snapshot();
    const restored = new CircuitBreaker(DEFAULT_BREAKER, snap);
    snap.state = "open";
    snap.outcomes.length = 0;
    breaker.snapshot().outcomes.push([T0, 1]);
    for (const b of [breaker, restored]) {
      expect(b.state).toBe("closed");
      expect(b.snapshot().outcomes).toHaveLength(4);
      expect(b.record(false, T0 + 1_000)).toBe("open");
    }
  });
});

describe("CircuitBreaker: custom options", () => {
  const options: BreakerOptions = { failureRatio: 0.25, minimumCalls: 4, consecutiveFailures: 2, windowMs: 1_000, cooldownMs: 5_000 };

  it("opens after the configured number of consecutive failures", () => {
    const breaker = new CircuitBreaker(options);
    expect(play(breaker, "FF").results).toEqual([null, "open"]);
    expect(breaker.snapshot().retryAt).toBe(T0 + 100 + 5_000);
  });

  it("opens at the configured ratio and minimum calls", () => {
    const breaker = new CircuitBreaker(options);
    expect(play(breaker, "SSSF").results).toEqual([null, null, null, "open"]); // 1 of 4 = 25%

    const under = new CircuitBreaker(options);
    expect(play(under, "SSSSF").results.every((r) => r === null)).toBe(true); // 1 of 5 = 20%
    expect(play(new CircuitBreaker(options), "SSF").results.every((r) => r === null)).toBe(true); // 3 calls
  });

  it("uses the configured window and cooldown", () => {
    const breaker = new CircuitBreaker(options);
    play(breaker, "SSSSF", T0 - 1_000, 0); // exactly one window before the next calls
    // Were the old calls still counted, the F would make 2 of 7 (≥ 25%) and open it.
    expect(play(breaker, "SFS", T0, 0).results).toEqual([null, null, null]);
    expect(breaker.snapshot().outcomes).toHaveLength(3);

    expect(breaker.record(false, T0 + 10)).toBe("open"); // 2 of 4
    expect(breaker.admit(T0 + 10 + 4_999)).toEqual({ allowed: false, retryAt: T0 + 10 + 5_000 });
    expect(breaker.admit(T0 + 10 + 5_000)).toEqual({ allowed: true, probe: true });
  });
});

describe("CircuitBreaker: last error and last success", () => {
  it("truncates the last error message to 300 characters", () => {
    const breaker = new CircuitBreaker();
    const long = "x".repeat(250) + "y".repeat(250);
    breaker.record(false, T0, long);
    expect(breaker.snapshot().lastError).toEqual({ message: long.slice(0, 300), at: T0 });
    expect(breaker.snapshot().lastError?.message).toHaveLength(300);
  });

  it("keeps a message of exactly 300 characters whole", () => {
    const breaker = new CircuitBreaker();
    const exact = `${"e".repeat(299)}!`;
    breaker.record(false, T0, exact);
    expect(breaker.snapshot().lastError?.message).toBe(exact);
  });

  it("records a generic message when no error is given", () => {
    const breaker = new CircuitBreaker();
    breaker.record(false, T0);
    expect(breaker.snapshot().lastError).toEqual({ message: "failure", at: T0 });
  });

  it("keeps the last error after later successes and tracks the last success separately", () => {
    const breaker = new CircuitBreaker();
    expect(breaker.snapshot()).toMatchObject({ lastError: null, lastSuccessAt: null });
    breaker.record(true, T0);
    breaker.record(false, T0 + 10, "first");
    breaker.record(false, T0 + 20, "second");
    breaker.record(true, T0 + 30);
    expect(breaker.snapshot()).toMatchObject({ lastError: { message: "second", at: T0 + 20 }, lastSuccessAt: T0 + 30 });
  });

  it("updates the last error and last success even for outcomes recorded while open", () => {
    const { breaker, openedAt } = opened();
    breaker.record(true, openedAt + 1);
    breaker.record(false, openedAt + 2, "late failure");
    expect(breaker.snapshot()).toMatchObject({ lastSuccessAt: openedAt + 1, lastError: { message: "late failure", at: openedAt + 2 } });
  });
});
