/**
 * @module Exact sliding-window rate limiting: a key may have at most `requests` hits in any window of
 * `windowMs`. Pure: the caller passes `now` and persists `export()`ed state. Used by the preset's
 * Durable Object, which sees every call of its preset, so the count is exact, not per node.
 */
export interface Limit {
  requests: number;
  windowMs: number;
}

export interface Decision {
  allowed: boolean;
  limit: number;
  /** Hits left in the window after this decision. */
  remaining: number;
  /** Milliseconds until the oldest counted hit leaves the window (the window if none). */
  resetMs: number;
  /** When refused: milliseconds until a hit would be allowed. */
  retryAfterMs: number;
}

export interface LimitCheck {
  key: string;
  limit: Limit;
}

export class SlidingWindowLimiter {
  /** Hit times per key, oldest first, never longer than the key's limit. */
  readonly #hits = new Map<string, number[]>();

  /**
   * Counts one hit against every check, or against none: if any check would refuse, nothing is
   * consumed and the refusing decision (the one that frees latest) is returned.
   */
  take(checks: readonly LimitCheck[], now: number): { allowed: boolean; decisions: Decision[] } {
    const decisions = checks.map((c) => this.#decide(c, now));
    const allowed = decisions.every((d) => d.allowed);
    if (allowed) {
      for (const c of checks) {
        const hits = this.#live(c.key, c.limit.windowMs, now);
        hits.push(now);
        this.#hits.set(c.key, hits);
      }
      return {
        allowed,
        decisions: decisions.map((d, i) => ({
          ...d,
          remaining: d.remaining - 1,
          resetMs: this.#resetMs(checks[i]!.key, checks[i]!.limit.windowMs, now),
        })),
      };
    }
    return { allowed, decisions };
  }

  /** The decision a hit would get now, without counting it. */
  peek(check: LimitCheck, now: number): Decision {
    return this.#decide(check, now);
  }

  /** Hit times of a key still inside `windowMs`, for persistence. */
  export(key: string, windowMs: number, now: number): number[] {
    return [...this.#live(key, windowMs, now)];
  }

  import(key: string, hits: readonly number[]): void {
    const sorted = hits.filter((h) => Number.isFinite(h)).sort((a, b) => a - b);
    if (sorted.length) this.#hits.set(key, sorted);
  }

  /** Forgets one key's hits; returns whether it had any. */
  forget(key: string): boolean {
    return this.#hits.delete(key);
  }

  /** Forgets keys whose newest hit is older than `maxWindowMs`; returns the keys dropped. */
  prune(maxWindowMs: number, now: number): string[] {
    const dropped: string[] = [];
    for (const [key, hits] of this.#hits) {
      if ((hits.at(-1) ?? 0) <= now - maxWindowMs) {
        this.#hits.delete(key);
        dropped.push(key);
      }
    }
    return dropped;
  }

  get size(): number {
    return this.#hits.size;
  }

  #decide({ key, limit }: LimitCheck, now: number): Decision {
    const hits = this.#live(key, limit.windowMs, now);
    const used = hits.length;
    if (used < limit.requests) {
      return { allowed: true, limit: limit.requests, remaining: limit.requests - used, resetMs: this.#resetMs(key, limit.windowMs, now), retryAfterMs: 0 };
    }
    // The hit that frees a slot is the one `requests` places back from the newest.
    const freeing = hits[used - limit.requests]!;
    const retryAfterMs = Math.max(1, freeing + limit.windowMs - now);
    return { allowed: false, limit: limit.requests, remaining: 0, resetMs: retryAfterMs, retryAfterMs };
  }

  #resetMs(key: string, windowMs: number, now: number): number {
    const oldest = this.#hits.get(key)?.[0];
    return oldest === undefined ? windowMs : Math.max(0, oldest + windowMs - now);
  }

  /** The key's hits inside the window ending at `now`, pruning older ones in place. */
  #live(key: string, windowMs: number, now: number): number[] {
    const hits = this.#hits.get(key);
    if (!hits) return [];
    let drop = 0;
    while (drop < hits.length && hits[drop]! <= now - windowMs) drop++;
    if (drop) hits.splice(0, drop);
    if (hits.length === 0) this.#hits.delete(key);
    return hits;
  }
}
