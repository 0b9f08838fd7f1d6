/**
 * @module Caps how often an audit event of one kind is written per key (e.g. per caller): at most one
 * per `intervalMs`. Pure, with an injected clock; the preset's Durable Object holds one per kind.
 */
export class AuditThrottle {
  readonly #intervalMs: number;
  readonly #maxKeys: number;
  readonly #last = new Map<string, number>();

  constructor(intervalMs: number, maxKeys = 10_000) {
    this.#intervalMs = intervalMs;
    this.#maxKeys = maxKeys;
  }

  /** Whether an event for `key` may be written at `now`; if so, counts it. */
  take(key: string, now: number): boolean {
    const last = this.#last.get(key);
    if (last !== undefined && now - last < this.#intervalMs) return false;
    if (last === undefined && this.#last.size >= this.#maxKeys) this.prune(now);
    // Still full of recent keys (a flood of distinct callers): refuse rather than grow without bound.
    if (last === undefined && this.#last.size >= this.#maxKeys) return false;
    this.#last.set(key, now);
    return true;
  }

  /** Forgets keys whose interval has passed. */
  prune(now: number): void {
    for (const [key, at] of this.#last) if (now - at >= this.#intervalMs) this.#last.delete(key);
  }
}
