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
