/**
 * @module The audit events a preset's Durable Object writes itself (the API writes the owners'):
 * refused credentials (`auth.failed`, at most one per caller per minute), rate-limit refusals and
 * breaker transitions. Written off the request path: a failed write is logged, never surfaced.
 */
import { type AlertType, raiseAlert } from "../alerts/alert";
import { getDb } from "../db/client";
import { type EventType, insertEvent } from "../db/events-repository";
import { AuditThrottle } from "../policy/audit-throttle";
import type { BreakerState } from "../policy/breaker";
import type { PresetConfig } from "./config";

const BREAKER_EVENTS = { open: "breaker.opened", half_open: "breaker.half_open", closed: "breaker.closed" } as const satisfies Record<BreakerState, EventType>;

export class PresetAudit {
  readonly #db: () => D1Database;
  readonly #config: () => PresetConfig | null | undefined;
  readonly #queue: () => Queue | undefined;
  readonly #authFailures = new AuditThrottle(60_000);

  /**
   * `config` is the configuration the object holds now (breaker transitions happen outside
   * requests); `queue` the WEBHOOKS queue alerts go to (none: no webhooks).
   */
  constructor(db: () => D1Database, config: () => PresetConfig | null | undefined, queue: () => Queue | undefined = () => undefined) {
    this.#db = db;
    this.#config = config;
    this.#queue = queue;
  }

  /** Writes an audit event that is also an alert: the owner's webhooks subscribed to `type` are told (alerts/alert.ts). */
  alert(config: PresetConfig, type: EventType & AlertType, target: string | null, payload: Record<string, unknown>): void {
    this.write(config, type, target, payload);
    void raiseAlert(
      { WEBHOOKS: this.#queue() },
      { type, ownerId: config.ownerId, presetId: config.id, preset: `${config.handle}/${config.slug}`, target, data: payload },
    );
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
    const type = BREAKER_EVENTS[state];
    const payload = { serverId, server: server?.name ?? serverId, state, ...(lastError && state === "open" ? { lastError } : {}) };
    if (type === "breaker.half_open") this.write(config, type, server?.name ?? serverId, payload);
    else this.alert(config, type, server?.name ?? serverId, payload);
  }

  /** Forgets throttles whose minute has passed. */
  prune(now: number): void {
    this.#authFailures.prune(now);
  }
}
