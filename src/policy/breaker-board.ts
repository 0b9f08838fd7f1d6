/**
 * @module One circuit breaker per upstream of a preset, persisted in its Durable Object, with the
 * health the API reports.
 */
import { type Admission, type BreakerSnapshot, type BreakerState, CircuitBreaker, DEFAULT_BREAKER } from "./breaker";

/** Successes change little worth keeping; persist them at most this often per upstream. */
const SUCCESS_PERSIST_MS = 10_000;

export interface UpstreamHealth {
  status: "ok" | "degraded" | "open";
  breaker: BreakerState;
  lastError: { message: string; at: string } | null;
  lastSuccessAt: string | null;
  breakerOpens: number;
  retryAt: string | null;
}

export type TransitionListener = (serverId: string, state: BreakerState, lastError: string | null) => void;

/** Where snapshots are kept: a KV slice of the object's storage (preset/storage.ts). */
interface SnapshotStorage {
  readonly stored: ReadonlyMap<string, unknown>;
  put(key: string, value: unknown): Promise<void>;
}

/**
 * One circuit breaker per upstream of the preset, persisted in the Durable Object's storage so an
 * open breaker stays open across restarts. `onTransition` feeds the audit trail.
 */
export class BreakerBoard {
  readonly #breakers = new Map<string, CircuitBreaker>();
  readonly #persistedAt = new Map<string, number>();
  readonly #storage: SnapshotStorage;
  readonly #onTransition: TransitionListener;

  constructor(storage: SnapshotStorage, onTransition: TransitionListener) {
    this.#storage = storage;
    this.#onTransition = onTransition;
    for (const [serverId, snap] of storage.stored) {
      this.#breakers.set(serverId, new CircuitBreaker(DEFAULT_BREAKER, snap as BreakerSnapshot));
    }
  }

  /** May a request go to this upstream now? When not, the time it will be tried again. */
  admit(serverId: string, now: number): Admission {
    const breaker = this.#get(serverId);
    const before = breaker.state;
    const admission = breaker.admit(now);
    if (breaker.state !== before) this.#changed(serverId, breaker, now);
    return admission;
  }

  /**
   * `probe`: whether the request was admitted as the half-open probe; `startedAt`: when it began
   * (failures of calls in flight together are one step of a streak).
   */
  record(serverId: string, ok: boolean, now: number, probe: boolean, error?: string, startedAt?: number): void {
    const breaker = this.#get(serverId);
    const transition = breaker.record(ok, now, error, probe, startedAt);
    if (transition) this.#changed(serverId, breaker, now);
    else if (!ok || now - (this.#persistedAt.get(serverId) ?? 0) > SUCCESS_PERSIST_MS) this.#persist(serverId, breaker, now);
  }

  /** The request ended without an outcome that says anything about the upstream. */
  release(serverId: string, probe: boolean): void {
    this.#breakers.get(serverId)?.release(probe);
  }

  health(serverId: string, now: number): UpstreamHealth {
    const breaker = this.#get(serverId);
    const s = breaker.snapshot();
    return {
      status: breaker.health(now),
      breaker: s.state,
      lastError: s.lastError ? { message: s.lastError.message, at: new Date(s.lastError.at).toISOString() } : null,
      lastSuccessAt: s.lastSuccessAt ? new Date(s.lastSuccessAt).toISOString() : null,
      breakerOpens: s.opens,
      retryAt: s.state === "open" ? new Date(s.retryAt).toISOString() : null,
    };
  }

  #get(serverId: string): CircuitBreaker {
    let breaker = this.#breakers.get(serverId);
    if (!breaker) {
      breaker = new CircuitBreaker(DEFAULT_BREAKER);
      this.#breakers.set(serverId, breaker);
    }
    return breaker;
  }

  #changed(serverId: string, breaker: CircuitBreaker, now: number): void {
    this.#persist(serverId, breaker, now);
    this.#onTransition(serverId, breaker.state, breaker.snapshot().lastError?.message ?? null);
  }

  #persist(serverId: string, breaker: CircuitBreaker, now: number): void {
    this.#persistedAt.set(serverId, now);
    void this.#storage.put(serverId, breaker.snapshot()).catch((e) => console.error("breaker state not persisted", e));
  }
}
