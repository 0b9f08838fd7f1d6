import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Deadline } from "../../src/upstream/deadline";

const IDLE = 1_000;
const MAX = 10_000;

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("Deadline", () => {
  it("aborts with a TimeoutError after idleMs without a sign of life", () => {
    const deadline = new Deadline(IDLE, MAX);
    vi.advanceTimersByTime(IDLE - 1);
    expect(deadline.expired).toBe(false);
    vi.advanceTimersByTime(1);
    expect(deadline.expired).toBe(true);
    expect(deadline.signal.reason).toBeInstanceOf(DOMException);
    expect((deadline.signal.reason as DOMException).name).toBe("TimeoutError");
  });

  it("restarts the idle clock on touch()", () => {
    const deadline = new Deadline(IDLE, MAX);
    vi.advanceTimersByTime(900);
    deadline.touch();
    vi.advanceTimersByTime(900);
    expect(deadline.expired).toBe(false);
    vi.advanceTimersByTime(100);
    expect(deadline.expired).toBe(true);
  });

  it("stops the idle clock while held, and restarts it in full on release()", () => {
    const deadline = new Deadline(IDLE, MAX);
    vi.advanceTimersByTime(900);
    deadline.hold();
    vi.advanceTimersByTime(5 * IDLE);
    expect(deadline.expired).toBe(false);
    deadline.release();
    vi.advanceTimersByTime(IDLE - 1);
    expect(deadline.expired).toBe(false);
    vi.advanceTimersByTime(1);
    expect(deadline.expired).toBe(true);
  });

  it("counts holds: the clock restarts only when the last one is released", () => {
    const deadline = new Deadline(IDLE, MAX);
    deadline.hold();
    deadline.hold();
    deadline.release();
    vi.advanceTimersByTime(3 * IDLE);
    expect(deadline.expired).toBe(false);
    deadline.release();
    vi.advanceTimersByTime(IDLE);
    expect(deadline.expired).toBe(true);
  });

  it("ignores touch() while held (progress does not restart a stopped clock)", () => {
    const deadline = new Deadline(IDLE, MAX);
    deadline.hold();
    deadline.touch();
    vi.advanceTimersByTime(3 * IDLE);
    expect(deadline.expired).toBe(false);
  });

  it("ignores a release() without a hold", () => {
    const deadline = new Deadline(IDLE, MAX);
    deadline.release();
    vi.advanceTimersByTime(IDLE);
    expect(deadline.expired).toBe(true);
  });

  it("ends at maxMs however often it is touched", () => {
    const deadline = new Deadline(IDLE, MAX);
    for (let t = 0; t < MAX - 500; t += 500) {
      vi.advanceTimersByTime(500);
      deadline.touch();
    }
    expect(deadline.expired).toBe(false);
    vi.advanceTimersByTime(500);
    expect(deadline.expired).toBe(true);
  });

  it("ends at maxMs even while held (a client that never answers)", () => {
    const deadline = new Deadline(IDLE, MAX);
    deadline.hold();
    vi.advanceTimersByTime(MAX - 1);
    expect(deadline.expired).toBe(false);
    vi.advanceTimersByTime(1);
    expect(deadline.expired).toBe(true);
  });

  it("is fixed when maxMs <= idleMs: touch and hold change nothing", () => {
    const deadline = new Deadline(IDLE, IDLE);
    vi.advanceTimersByTime(900);
    deadline.touch();
    deadline.hold();
    vi.advanceTimersByTime(100);
    expect(deadline.expired).toBe(true);
  });

  it("never fires after clear(), and touch or release after it arm nothing", () => {
    const deadline = new Deadline(IDLE, MAX);
    deadline.hold();
    deadline.clear();
    deadline.release();
    deadline.touch();
    vi.advanceTimersByTime(2 * MAX);
    expect(deadline.expired).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("leaves no timer behind once expired", () => {
    const deadline = new Deadline(IDLE, MAX);
    vi.advanceTimersByTime(IDLE);
    expect(deadline.expired).toBe(true);
    deadline.touch();
    deadline.release();
    expect(vi.getTimerCount()).toBe(0);
  });
});

/** A clock whose timers fire only when told, as late as the test likes. */
function manualClock() {
  let now = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    clock: {
      now: () => now,
      setTimeout: (fn: () => void, ms: number) => {
        timers.set(++seq, { at: now + ms, fn });
        return seq;
      },
      clearTimeout: (handle: unknown) => void timers.delete(handle as number),
    },
    /** Moves time to `to` without firing anything (the object is stalled), then fires what is due. */
    stallUntil(to: number) {
      now = to;
      for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at <= now && timers.delete(id)) t.fn();
      }
    },
    pending: () => timers.size,
  };
}

describe("Deadline: the clock starts when the request is sent", () => {
  it("does not run its idle clock before start(), deferred", () => {
    const m = manualClock();
    const deadline = new Deadline(300, 300, { deferred: true, clock: m.clock });
    m.stallUntil(5_000); // queueing and the session's set-up took 5 s
    expect(deadline.expired).toBe(false);
    deadline.start();
    m.stallUntil(5_299);
    expect(deadline.expired).toBe(false);
    m.stallUntil(5_300);
    expect(deadline.expired).toBe(true);
    expect(deadline.stalled).toBe(false);
  });

  it("restarts the idle clock when a second request is sent (after the session was re-initialized)", () => {
    const m = manualClock();
    const deadline = new Deadline(300, 300, { deferred: true, clock: m.clock });
    deadline.start();
    m.stallUntil(200);
    deadline.start();
    m.stallUntil(450);
    expect(deadline.expired).toBe(false);
    m.stallUntil(500);
    expect(deadline.expired).toBe(true);
  });

  it("keeps the hard cap from construction, even before start()", () => {
    const m = manualClock();
    const deadline = new Deadline(300, 1_000, { deferred: true, clock: m.clock });
    m.stallUntil(1_000);
    expect(deadline.expired).toBe(true);
  });
});

describe("Deadline: a late timer is the gateway's stall", () => {
  it("marks a timeout whose timer fired 700 ms late as stalled", () => {
    const m = manualClock();
    const deadline = new Deadline(300, 300, { clock: m.clock });
    m.stallUntil(1_000);
    expect(deadline.expired).toBe(true);
    expect(deadline.stalled).toBe(true);
    expect((deadline.signal.reason as DOMException).name).toBe("TimeoutError");
  });

  it("does not mark a timer late by at most max(50 ms, 20 % of the timeout)", () => {
    for (const [timeout, lateness] of [
      [300, 50],
      [1_000, 200],
    ] as const) {
      const m = manualClock();
      const deadline = new Deadline(timeout, timeout, { clock: m.clock });
      m.stallUntil(timeout + lateness);
      expect(deadline.expired).toBe(true);
      expect(deadline.stalled).toBe(false);
    }
  });

  it("marks one just past that lateness as stalled", () => {
    const m = manualClock();
    const deadline = new Deadline(1_000, 1_000, { clock: m.clock });
    m.stallUntil(1_201);
    expect(deadline.stalled).toBe(true);
  });

  it("measures lateness from the last restart of the idle clock", () => {
    const m = manualClock();
    const deadline = new Deadline(300, 10_000, { clock: m.clock });
    m.stallUntil(250);
    deadline.touch();
    m.stallUntil(560);
    expect(deadline.expired).toBe(true);
    expect(deadline.stalled).toBe(false);
  });
});

describe("requestFailure: whose timeout it is", () => {
  it("answers a stalled deadline's timeout as a timeout the upstream's breaker is not told of", async () => {
    const { requestFailure } = await import("../../src/upstream/call");
    const { UpstreamFailure } = await import("../../src/upstream/client");
    const late = manualClock();
    const stalled = new Deadline(300, 300, { clock: late.clock });
    late.stallUntil(1_030);
    const blamed = requestFailure("up", stalled.signal.reason, { timeoutMs: 300 }, stalled) as InstanceType<typeof UpstreamFailure>;
    expect(blamed.kind).toBe("timeout");
    expect(blamed.countsAgainstUpstream).toBe(false);

    const onTime = manualClock();
    const slow = new Deadline(300, 300, { clock: onTime.clock });
    onTime.stallUntil(300);
    const upstreams = requestFailure("up", slow.signal.reason, { timeoutMs: 300 }, slow) as InstanceType<typeof UpstreamFailure>;
    expect(upstreams.kind).toBe("timeout");
    expect(upstreams.countsAgainstUpstream).toBe(true);
  });
});
