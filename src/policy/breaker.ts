/**
 * @module A circuit breaker per upstream: closed → open → half-open → closed. Pure: every method takes
 * `now`, and `snapshot()`/`restore()` let the Durable Object persist it.
 *
 * Opens when, within `windowMs`, at least `minimumCalls` calls saw a failure ratio of at least
 * `failureRatio`, or on a streak of failures with no success between them. A failure adds a step
 * to the streak only if its call started after the streak's previous failure ended: calls that
 * were in flight together and failed together (a stall, one network blip) are one step, not
 * several. At low volume (fewer than `minimumCalls` calls in the window) `consecutiveFailures`
 * steps open it, however far apart they are (a
 * success is what ends a streak, not the window: an upstream called thrice a minute that fails
 * every time must open too); at volume, where a short run of independent failures is mere chance, the
 * failure ratio governs and the streak must be twice as long (a dead upstream still opens within
 * a few call durations, without waiting for the window's successes to be outnumbered). Stays open for
 * `cooldownMs`, then lets one probe through: only the probe's outcome decides (its success closes
 * the breaker, its failure opens it again); a probe that ends without an outcome (cancelled) is
 * released, and a probe that never reports frees its slot after `cooldownMs`.
 */
export interface BreakerOptions {
  failureRatio: number;
  minimumCalls: number;
  consecutiveFailures: number;
  windowMs: number;
  cooldownMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = {
  failureRatio: 0.5,
  minimumCalls: 10,
  consecutiveFailures: 5,
  windowMs: 60_000,
  cooldownMs: 30_000,
};

export type BreakerState = "closed" | "open" | "half_open";

export interface BreakerSnapshot {
  state: BreakerState;
  /** When an open breaker lets its probe through. */
  retryAt: number;
  outcomes: [at: number, ok: 0 | 1][];
  opens: number;
  lastError: { message: string; at: number } | null;
  lastSuccessAt: number | null;
}

export type Admission = { allowed: true; probe: boolean } | { allowed: false; retryAt: number };

/** A half-open breaker refuses others while its probe runs; they may retry this soon. */
const PROBE_WAIT_MS = 1_000;
const MAX_OUTCOMES = 1_000;

export class CircuitBreaker {
  #s: BreakerSnapshot;
  /** When the probe in flight was admitted, if one is. */
  #probeSince: number | null = null;
  /**
   * Live outcomes are `#s.outcomes[#head..]`; with the failure count and the trailing failures
   * kept alongside, recording is O(1) amortised, not a scan of the window per call.
   */
  #head = 0;
  #failures = 0;
  /** End times of the steps of the trailing run of failures (at most `2 × consecutiveFailures`). */
  #streak: number[] = [];

  constructor(
    readonly options: BreakerOptions = DEFAULT_BREAKER,
    snapshot?: BreakerSnapshot,
  ) {
    this.#s = snapshot ? structuredClone(snapshot) : { state: "closed", retryAt: 0, outcomes: [], opens: 0, lastError: null, lastSuccessAt: null };
    this.#recount();
  }

  get state(): BreakerState {
    return this.#s.state;
  }

  /** May a call go to the upstream now? Moves an open breaker whose cooldown ended to half-open. */
  admit(now: number): Admission {
    if (this.#s.state === "open") {
      if (now < this.#s.retryAt) return { allowed: false, retryAt: this.#s.retryAt };
      this.#s.state = "half_open";
      this.#probeSince = null;
    }
    if (this.#s.state === "half_open") {
      const probeLive = this.#probeSince !== null && now - this.#probeSince < this.options.cooldownMs;
      if (probeLive) return { allowed: false, retryAt: now + PROBE_WAIT_MS };
      this.#probeSince = now;
      return { allowed: true, probe: true };
    }
    return { allowed: true, probe: false };
  }

  /**
   * Records a call's outcome; returns the new state when it changed. While half-open only the
   * probe's outcome counts: a slow call admitted before the breaker opened says nothing new.
   * `startedAt`: when the call began (by default it is taken as independent of every other).
   */
  record(ok: boolean, now: number, error?: string, probe = false, startedAt = Number.POSITIVE_INFINITY): BreakerState | null {
    const before = this.#s.state;
    if (ok) this.#s.lastSuccessAt = now;
    else this.#s.lastError = { message: (error ?? "failure").slice(0, 300), at: now };

    if (before === "half_open") {
      if (!probe) return null;
      this.#probeSince = null;
      if (ok) this.#reset();
      else this.#open(now);
      return this.#s.state;
    }
    if (before === "open") return null; // a call admitted before the breaker opened

    this.#s.outcomes.push([now, ok ? 1 : 0]);
    if (ok) this.#streak = [];
    else {
      this.#failures++;
      const previousEnd = this.#streak.at(-1);
      if (previousEnd === undefined || startedAt >= previousEnd) {
        this.#streak.push(now);
        if (this.#streak.length > this.#longestStreak) this.#streak.shift();
      }
    }
    this.#prune(now);
    const calls = this.#s.outcomes.length - this.#head;
    const o = this.options;
    const atVolume = calls >= o.minimumCalls;
    const streakToOpen = atVolume ? this.#longestStreak : o.consecutiveFailures;
    if (this.#streak.length >= streakToOpen || (atVolume && this.#failures / calls >= o.failureRatio)) {
      this.#open(now);
      return "open";
    }
    return null;
  }

  /** The probe ended without saying anything about the upstream (cancelled, a 4xx): let another through. */
  release(probe: boolean): void {
    if (probe && this.#s.state === "half_open") this.#probeSince = null;
  }

  /**
   * ok: closed and no failure in the window; degraded: recent failures, or waiting for a probe;
   * open: failing fast until `retryAt`.
   */
  health(now: number): "ok" | "degraded" | "open" {
    if (this.#s.state === "open") return now < this.#s.retryAt ? "open" : "degraded";
    if (this.#s.state === "half_open") return "degraded";
    this.#prune(now);
    return this.#failures > 0 ? "degraded" : "ok";
  }

  snapshot(): BreakerSnapshot {
    return structuredClone({ ...this.#s, outcomes: this.#s.outcomes.slice(this.#head) });
  }

  /** The streak that opens the breaker at volume. */
  get #longestStreak(): number {
    return 2 * this.options.consecutiveFailures;
  }

  #open(now: number): void {
    this.#s.state = "open";
    this.#s.retryAt = now + this.options.cooldownMs;
    this.#s.opens++;
    this.#clearOutcomes();
  }

  #reset(): void {
    this.#s.state = "closed";
    this.#clearOutcomes();
  }

  #clearOutcomes(): void {
    this.#s.outcomes = [];
    this.#recount();
  }

  /** Rebuilds the derived counts from the outcomes (after a restore or a reset). */
  #recount(): void {
    const outcomes = this.#s.outcomes;
    this.#head = 0;
    this.#failures = outcomes.reduce((n, [, ok]) => n + (ok ? 0 : 1), 0);
    this.#streak = [];
    // Snapshots keep no start times: restored failures count as one step each, as they always did.
    for (let i = outcomes.length - 1; i >= 0 && outcomes[i]![1] === 0 && this.#streak.length < this.#longestStreak; i--) {
      this.#streak.unshift(outcomes[i]![0]);
    }
  }

  /** Forgets outcomes older than the window, or beyond the last MAX_OUTCOMES. */
  #prune(now: number): void {
    const from = now - this.options.windowMs;
    const outcomes = this.#s.outcomes;
    while (this.#head < outcomes.length && (outcomes[this.#head]![0] <= from || outcomes.length - this.#head > MAX_OUTCOMES)) {
      if (outcomes[this.#head]![1] === 0) this.#failures--;
      this.#head++;
    }
    if (this.#head > 256 && this.#head * 2 > outcomes.length) {
      this.#s.outcomes = outcomes.slice(this.#head);
      this.#head = 0;
    }
  }
}
