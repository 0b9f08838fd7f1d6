/**
 * A circuit breaker per upstream: closed → open → half-open → closed. Pure: every method takes
 * `now`, and `snapshot()`/`restore()` let the Durable Object persist it.
 *
 * Opens when, within `windowMs`, at least `minimumCalls` calls saw a failure ratio of at least
 * `failureRatio`, or the last `consecutiveFailures` calls in the window all failed. Stays open for
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

  constructor(
    readonly options: BreakerOptions = DEFAULT_BREAKER,
    snapshot?: BreakerSnapshot,
  ) {
    this.#s = snapshot
      ? structuredClone(snapshot)
      : { state: "closed", retryAt: 0, outcomes: [], opens: 0, lastError: null, lastSuccessAt: null };
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
   */
  record(ok: boolean, now: number, error?: string, probe = false): BreakerState | null {
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
    this.#prune(now);
    const outcomes = this.#s.outcomes;
    const calls = outcomes.length;
    const failures = outcomes.reduce((n, [, o]) => n + (o ? 0 : 1), 0);
    let trailing = 0;
    while (trailing < calls && outcomes[calls - 1 - trailing]![1] === 0) trailing++;
    const o = this.options;
    if (trailing >= o.consecutiveFailures || (calls >= o.minimumCalls && failures / calls >= o.failureRatio)) {
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
    return this.#s.outcomes.some(([, ok]) => !ok) ? "degraded" : "ok";
  }

  snapshot(): BreakerSnapshot {
    return structuredClone(this.#s);
  }

  #open(now: number): void {
    this.#s.state = "open";
    this.#s.retryAt = now + this.options.cooldownMs;
    this.#s.opens++;
    this.#s.outcomes = [];
  }

  #reset(): void {
    this.#s.state = "closed";
    this.#s.outcomes = [];
  }

  #prune(now: number): void {
    const from = now - this.options.windowMs;
    const outcomes = this.#s.outcomes;
    let drop = 0;
    while (drop < outcomes.length && outcomes[drop]![0] <= from) drop++;
    if (drop || outcomes.length > MAX_OUTCOMES) this.#s.outcomes = outcomes.slice(Math.max(drop, outcomes.length - MAX_OUTCOMES));
  }
}
