/**
 * @module The two pure pieces every threshold alert is built of: a sliding window of counts
 * (SlidingTally) and the latch that raises an alert once per crossing (AlertLatch). No I/O, an
 * injected clock, bounded memory: a window is SLOTS slots whatever its length, each slot naming
 * at most KEYS_PER_SLOT keys.
 */

/** Slots per window: a 5-minute window moves in 10-second steps. */
export const SLOTS = 30;
/** Keys (tools, callers) a slot tallies; beyond that a hit is counted but not named. */
export const KEYS_PER_SLOT = 16;
/** After an alert, it is raised again while still above its threshold no sooner than this. */
export const ALERT_COOLDOWN_MS = 3_600_000;

interface Slot {
  index: number;
  total: number;
  hits: number;
  keys: Map<string, number>;
}

/**
 * Counts over the last `windowMs` (to within one slot, windowMs / SLOTS): `total` events, of which
 * `hits`, and the hits by key for the top few. Adding is O(1) amortized: running sums, and each
 * slot is cleared once as the window moves past it.
 */
export class SlidingTally {
  readonly windowMs: number;
  readonly #slotMs: number;
  readonly #slots: Slot[];
  #current = Number.NEGATIVE_INFINITY;
  #total = 0;
  #hits = 0;

  constructor(windowMs: number) {
    this.windowMs = windowMs;
    this.#slotMs = Math.max(1, Math.ceil(windowMs / SLOTS));
    this.#slots = Array.from({ length: SLOTS }, () => ({ index: Number.NEGATIVE_INFINITY, total: 0, hits: 0, keys: new Map() }));
  }

  /** Counts `total` events at `now`, `hits` of them hits, named `key` when given. */
  add(now: number, total: number, hits: number, key?: string): void {
    const slot = this.#advance(now);
    slot.total += total;
    slot.hits += hits;
    this.#total += total;
    this.#hits += hits;
    if (key !== undefined && hits > 0) {
      const held = slot.keys.get(key);
      if (held !== undefined) slot.keys.set(key, held + hits);
      else if (slot.keys.size < KEYS_PER_SLOT) slot.keys.set(key, hits);
    }
  }

  /** Events and hits in the window ending at `now`. */
  totals(now: number): { total: number; hits: number } {
    this.#advance(now);
    return { total: this.#total, hits: this.#hits };
  }

  /** The `n` keys with the most hits in the window (O(SLOTS × KEYS_PER_SLOT): for raising an alert, not per event). */
  top(now: number, n: number): { key: string; hits: number }[] {
    this.#advance(now);
    const sums = new Map<string, number>();
    for (const slot of this.#slots) for (const [key, hits] of slot.keys) sums.set(key, (sums.get(key) ?? 0) + hits);
    return [...sums]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, n)
      .map(([key, hits]) => ({ key, hits }));
  }

  /** Moves the window to `now` (a clock that goes back stays where it was) and returns the current slot. */
  #advance(now: number): Slot {
    const index = Math.floor(now / this.#slotMs);
    if (index > this.#current) {
      // Slots the window left behind, at most all of them once.
      const from = Math.max(this.#current + 1, index - SLOTS + 1);
      for (let i = from; i <= index; i++) this.#clear(this.#slots[((i % SLOTS) + SLOTS) % SLOTS]!, i);
      this.#current = index;
    }
    return this.#slots[((this.#current % SLOTS) + SLOTS) % SLOTS]!;
  }

  #clear(slot: Slot, index: number): void {
    this.#total -= slot.total;
    this.#hits -= slot.hits;
    slot.index = index;
    slot.total = 0;
    slot.hits = 0;
    slot.keys.clear();
  }
}

/**
 * Raises an alert once when a measure goes above its threshold, and not again until it has fallen
 * back `clear` (below half the threshold, say: hysteresis, so a rate hovering at the threshold
 * does not flap) or ALERT_COOLDOWN_MS has passed with it still above.
 */
export class AlertLatch {
  readonly #cooldownMs: number;
  #raisedAt: number | null = null;

  constructor(cooldownMs = ALERT_COOLDOWN_MS) {
    this.#cooldownMs = cooldownMs;
  }

  get raised(): boolean {
    return this.#raisedAt !== null;
  }

  /** Whether to raise the alert now, given whether the measure is above its threshold or clearly below it. */
  update(now: number, above: boolean, clear: boolean): boolean {
    if (this.#raisedAt !== null) {
      if (clear) this.#raisedAt = null;
      else if (above && now - this.#raisedAt >= this.#cooldownMs) {
        this.#raisedAt = now;
        return true;
      }
      return false;
    }
    if (!above) return false;
    this.#raisedAt = now;
    return true;
  }
}
