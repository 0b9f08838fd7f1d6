/**
 * A circuit breaker per upstream: closed → open → half-open → closed. Pure: every method takes
 * `now`, and `snapshot()`/`restore()` let the Durable Object persist it.
 *
 * Opens when, within `windowMs`, at least `minimumCalls` calls saw a failure ratio of at least
 * `failureRatio`, or after `consecutiveFailures` failures in a row. Stays open for `cooldownMs`,
 * then lets one probe through: its success closes the breaker, its failure opens it again.
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
  consecutive: number;
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
  #probing = false;

  constructor(
    readonly options: BreakerOptions = DEFAULT_BREAKER,
    snapshot?: BreakerSnapshot,
  ) {
    this.#s = snapshot
      ? structuredClone(snapshot)
      : { state: "closed", retryAt: 0, consecutive: 0, outcomes: [], opens: 0, lastError: null, lastSuccessAt: null };
  }

  get state(): BreakerState {
    return this.#s.state;
  }

  /** May a call go to the upstream now? Moves an open breaker whose cooldown ended to half-open. */
  admit(now: number): Admission {
    if (this.#s.state === "open") {
      if (now < this.#s.retryAt) return { allowed: false, retryAt: this.#s.retryAt };
      this.#s.state = "half_open";
      this.#probing = false;
    }
    if (this.#s.state === "half_open") {
      if (this.#probing) return { allowed: false, retryAt: now + PROBE_WAIT_MS };
      this.#probing = true;
      return { allowed: true, probe: true };
    }
    return { allowed: true, probe: false };
  }

  /** Records a call's outcome; returns the new state when it changed. */
  record(ok: boolean, now: number, error?: string): BreakerState | null {
    const before = this.#s.state;
    if (ok) this.#s.lastSuccessAt = now;
    else this.#s.lastError = { message: (error ?? "failure").slice(0, 300), at: now };

    if (before === "half_open") {
      this.#probing = false;
      if (ok) this.#reset();
      else this.#open(now);
      return this.#s.state === before ? null : this.#s.state;
    }
    if (before === "open") return null; // a call admitted before the breaker opened

    this.#s.consecutive = ok ? 0 : this.#s.consecutive + 1;
    this.#s.outcomes.push([now, ok ? 1 : 0]);
    this.#prune(now);
    const calls = this.#s.outcomes.length;
    const failures = this.#s.outcomes.reduce((n, [, o]) => n + (o ? 0 : 1), 0);
    const o = this.options;
    if (this.#s.consecutive >= o.consecutiveFailures || (calls >= o.minimumCalls && failures / calls >= o.failureRatio)) {
      this.#open(now);
      return "open";
    }
    return null;
  }

  /** ok: closed and no failure in the window; degraded: closed or half-open with recent failures; open. */
  health(now: number): "ok" | "degraded" | "open" {
    if (this.#s.state === "open") return "open";
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
    this.#s.consecutive = 0;
  }

  #reset(): void {
    this.#s.state = "closed";
    this.#s.outcomes = [];
    this.#s.consecutive = 0;
  }

  #prune(now: number): void {
    const from = now - this.options.windowMs;
    const outcomes = this.#s.outcomes;
    let drop = 0;
    while (drop < outcomes.length && outcomes[drop]![0] <= from) drop++;
    if (drop || outcomes.length > MAX_OUTCOMES) this.#s.outcomes = outcomes.slice(Math.max(drop, outcomes.length - MAX_OUTCOMES));
  }
}
