/**
 * @module When a failed webhook delivery is tried again: exponential backoff from a base delay
 * (30 s, 1 min, 2 min, 4 min, ... at most 1 h), each delay jittered by ±20 % so that receivers
 * coming back are not hit by every retry at once, until the retry window (24 h after the delivery
 * was created) is over; then the delivery has failed for good. Pure: the clock and the randomness
 * are passed in.
 */

export interface RetryPolicy {
  /** The delay after the first failed attempt, in seconds. */
  baseSeconds: number;
  /** The longest delay between two attempts, in seconds. */
  maxDelaySeconds: number;
  /** How long after its creation a delivery is still tried, in seconds. */
  windowSeconds: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseSeconds: 30, maxDelaySeconds: 3600, windowSeconds: 86_400 };

/** The delay before attempt `attempts + 1`, after `attempts` failed ones (at least 1), in whole seconds. */
export function retryDelaySeconds(attempts: number, policy: RetryPolicy, random: number = Math.random()): number {
  const exponent = Math.min(Math.max(attempts, 1) - 1, 30);
  const plain = Math.min(policy.baseSeconds * 2 ** exponent, policy.maxDelaySeconds);
  const jittered = plain * (0.8 + 0.4 * random);
  return Math.max(1, Math.round(Math.min(jittered, policy.maxDelaySeconds)));
}

/**
 * When to try a delivery created at `createdAt` again after `attempts` failed attempts, as of
 * `now` (all in ms); null when that would be past its retry window.
 */
export function nextAttemptAt(createdAt: number, attempts: number, now: number, policy: RetryPolicy, random: number = Math.random()): number | null {
  const at = now + retryDelaySeconds(attempts, policy, random) * 1000;
  return at > createdAt + policy.windowSeconds * 1000 ? null : at;
}

/** The policy with overrides from the environment (tests shorten it); anything not a positive number is ignored. */
export function retryPolicy(env: { WEBHOOK_RETRY_BASE_SECONDS?: string; WEBHOOK_RETRY_WINDOW_SECONDS?: string }): RetryPolicy {
  const positive = (v: string | undefined, fallback: number) => {
    const n = Number(v);
    return v !== undefined && v.trim() !== "" && Number.isFinite(n) && n > 0 ? n : fallback;
  };
  return {
    ...DEFAULT_RETRY_POLICY,
    baseSeconds: positive(env.WEBHOOK_RETRY_BASE_SECONDS, DEFAULT_RETRY_POLICY.baseSeconds),
    windowSeconds: positive(env.WEBHOOK_RETRY_WINDOW_SECONDS, DEFAULT_RETRY_POLICY.windowSeconds),
  };
}
