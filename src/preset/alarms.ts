/**
 * @module The preset object's one alarm, shared by every job that needs to run later: closing idle
 * upstream sessions (and forgetting idle limiter and audit state), and flushing usage rollups to
 * D1. A Durable Object has a single alarm, so it is set for the earliest time any job asked for;
 * when it fires the object runs every job, and each job asks again while it has work left.
 */

/** Upstream sessions unused this long are closed by the alarm (they reopen on the next call). */
export const UPSTREAM_IDLE_MS = 5 * 60_000;

interface AlarmStorage {
  setAlarm(at: number): Promise<void>;
}

export class Alarms {
  readonly #storage: AlarmStorage;
  /** When the alarm is set to run; null when none is set (or it just fired). */
  #at: number | null = null;

  constructor(storage: AlarmStorage) {
    this.#storage = storage;
  }

  /** Asks for the alarm to run no later than `at`. */
  schedule(at: number): void {
    if (this.#at !== null && this.#at <= at) return;
    this.#at = at;
    this.#storage.setAlarm(at).catch((e) => {
      if (this.#at === at) this.#at = null;
      console.error("could not schedule the alarm", e);
    });
  }

  /** Asks for the idle check of upstream sessions, UPSTREAM_IDLE_MS from now. */
  scheduleSweep(now = Date.now()): void {
    this.schedule(now + UPSTREAM_IDLE_MS);
  }

  /** The alarm is running: any job may ask for a new one. */
  fired(): void {
    this.#at = null;
  }
}
