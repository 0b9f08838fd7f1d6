/**
 * @module The audit events a preset's Durable Object writes itself (the API writes the owners'):
 * refused credentials (`auth.failed`, at most one per caller per minute), rate-limit refusals and
 * breaker transitions. Written off the request path: a failed write is logged, never surfaced.
 */
import { getDb } from "../db/client";
import { type EventType, insertEvent } from "../db/events-repository";
import { AuditThrottle } from "../policy/audit-throttle";
import type { BreakerState } from "../policy/breaker";
import type { PresetConfig } from "./config";

const BREAKER_EVENTS: Record<BreakerState, EventType> = { open: "breaker.opened", half_open: "breaker.half_open", closed: "breaker.closed" };

export class PresetAudit {
  readonly #db: () => D1Database;
  readonly #config: () => PresetConfig | null | undefined;
  readonly #authFailures = new AuditThrottle(60_000);

  /** `config` is the configuration the object holds now (breaker transitions happen outside requests). */
  constructor(db: () => D1Database, config: () => PresetConfig | null | undefined) {
    this.#db = db;
    this.#config = config;
  }

  /** Writes an audit event of the preset. */
  write(config: PresetConfig, type: EventType, target: string | null, payload: Record<string, unknown>): void {
    void insertEvent(getDb(this.#db()), { ownerId: config.ownerId, presetId: config.id, actorId: null, type, target, payload })
      .run()
      .catch((e: unknown) => console.error("audit event not written", type, e));
  }

  /** `auth.failed`, unless this caller already got one in the last minute. */
  authFailed(config: PresetConfig, caller: string, status: number, method: string | null, message: string | null): void {
    if (!this.#authFailures.take(caller, Date.now())) return;
    this.write(config, "auth.failed", caller, { status, method, message });
  }

  /** A circuit breaker changed state (target: the server's name). */
  breakerChanged(serverId: string, state: BreakerState, lastError: string | null): void {
    const config = this.#config();
    if (!config) return;
    const server = config.servers.find((s) => s.id === serverId);
    this.write(config, BREAKER_EVENTS[state], server?.name ?? serverId, { serverId, state, ...(lastError && state === "open" ? { lastError } : {}) });
  }

  /** Forgets throttles whose minute has passed. */
  prune(now: number): void {
    this.#authFailures.prune(now);
  }
}
