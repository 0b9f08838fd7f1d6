import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_POLICY, nextAttemptAt, retryDelaySeconds, retryPolicy } from "../../../src/alerts/retry-schedule";

describe("webhook retry schedule", () => {
  it("doubles from 30 s and stops growing at 1 h (without jitter: random 0.5)", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 9, 20].map((n) => retryDelaySeconds(n, DEFAULT_RETRY_POLICY, 0.5));
    expect(delays).toEqual([30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
  });

  it("jitters each delay by at most 20 % and never past the cap", () => {
    expect(retryDelaySeconds(1, DEFAULT_RETRY_POLICY, 0)).toBe(24);
    expect(retryDelaySeconds(1, DEFAULT_RETRY_POLICY, 0.999)).toBe(36);
    expect(retryDelaySeconds(12, DEFAULT_RETRY_POLICY, 0.999)).toBe(3600);
    expect(retryDelaySeconds(12, DEFAULT_RETRY_POLICY, 0)).toBe(2880);
    expect(retryDelaySeconds(1, { ...DEFAULT_RETRY_POLICY, baseSeconds: 1 }, 0)).toBe(1);
  });

  it("gives up once the next attempt would be more than 24 h after the delivery was created", () => {
    const created = 1_000_000;
    expect(nextAttemptAt(created, 1, created + 1000, DEFAULT_RETRY_POLICY, 0.5)).toBe(created + 31_000);
    const late = created + 86_400_000 - 10_000;
    expect(nextAttemptAt(created, 30, late, DEFAULT_RETRY_POLICY, 0.5)).toBeNull();
    expect(nextAttemptAt(created, 1, late, DEFAULT_RETRY_POLICY, 0)).toBeNull();
    expect(nextAttemptAt(created, 1, created + 86_400_000 - 30_000, DEFAULT_RETRY_POLICY, 0.5)).toBe(created + 86_400_000);
  });

  it("takes a base and a window from the environment, ignoring what is not a positive number", () => {
    expect(retryPolicy({})).toEqual(DEFAULT_RETRY_POLICY);
    expect(retryPolicy({ WEBHOOK_RETRY_BASE_SECONDS: "1", WEBHOOK_RETRY_WINDOW_SECONDS: "60" })).toEqual({
      ...DEFAULT_RETRY_POLICY,
      baseSeconds: 1,
      windowSeconds: 60,
    });
    expect(retryPolicy({ WEBHOOK_RETRY_BASE_SECONDS: "-3", WEBHOOK_RETRY_WINDOW_SECONDS: "soon" })).toEqual(DEFAULT_RETRY_POLICY);
  });
});
