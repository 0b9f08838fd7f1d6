/**
 * @module A call's deadline: an idle timeout that progress restarts and waiting on the client
 * pauses, within a hard cap. Its clock starts when the request is sent, and a timer the gateway
 * itself fired late is told apart from an upstream that was slow.
 */

/** The clock and timers a deadline uses; injected by tests. */
export interface DeadlineClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const SYSTEM_CLOCK: DeadlineClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * A timer that fires more than this late (and more than LATE_SHARE of its delay) means the
 * object itself was stalled (a long task, an event loop catching up), not that the upstream was
 * slow: whatever the upstream did in that time could not be observed.
 */
const LATE_MS = 50;
const LATE_SHARE = 0.2;

/**
 * How long an upstream call may go on: `idleMs` without a sign of life aborts it. The idle clock
 * starts when the request is sent (`start()`), so queueing in the object and opening the upstream
 * session (bounded by its own connect timeout) do not eat the call's time. Every message the
 * upstream sends on the call's stream (progress, a log line) restarts the clock, and the clock
 * stops while the call waits for the client (a sampling or elicitation request relayed to it: a
 * person may be typing). `maxMs`, from construction, bounds the whole call whatever happens.
 *
 * When the timer that expires it fired late (the gateway stalled), `stalled` is set: the call
 * still ends with a timeout, but the timeout is the gateway's, not evidence against the upstream.
 */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #idleMs: number;
  readonly #clock: DeadlineClock;
  #timer: unknown;
  /** When the idle timer is due. */
  #due = 0;
  readonly #hardTimer: unknown;
  readonly #fixed: boolean;
  #started: boolean;
  #holds = 0;
  #done = false;
  #stalled = false;

  /**
   * `deferred`: the idle clock waits for start() (the first request sent); otherwise it runs from
   * now, as for a single exchange.
   */
  constructor(idleMs: number, maxMs: number, options: { deferred?: boolean; clock?: DeadlineClock } = {}) {
    this.#idleMs = idleMs;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    // With maxMs <= idleMs the deadline is fixed: nothing restarts or stops the clock.
    this.#fixed = maxMs <= idleMs;
    this.#started = !options.deferred;
    const dueMax = this.#clock.now() + maxMs;
    this.#hardTimer = this.#fixed ? undefined : this.#clock.setTimeout(() => this.#expire(dueMax, maxMs), maxMs);
    this.#arm();
  }

  /** Aborts (with a TimeoutError) when the deadline passes. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get expired(): boolean {
    return this.#controller.signal.aborted;
  }

  /** It expired because its timer fired late: the gateway stalled, the upstream is not to blame. */
  get stalled(): boolean {
    return this.#stalled;
  }

  /** A request is being sent upstream: the idle clock (re)starts now. */
  start(): void {
    this.#started = true;
    if (this.#holds === 0) this.#arm();
  }

  /** The upstream showed a sign of life: restart the idle clock. */
  touch(): void {
    if (this.#holds === 0 && !this.#fixed) this.#arm();
  }

  /** The call waits on the client: stop the idle clock until release(). */
  hold(): void {
    if (this.#fixed) return;
    this.#holds++;
    this.#disarm();
  }

  release(): void {
    if (this.#holds > 0 && --this.#holds === 0) this.#arm();
  }

  /** The call is over: stop every timer. */
  clear(): void {
    this.#done = true;
    this.#disarm();
    if (this.#hardTimer !== undefined) this.#clock.clearTimeout(this.#hardTimer);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    if (this.#done || this.expired || !this.#started) return;
    this.#disarm();
    const due = this.#clock.now() + this.#idleMs;
    this.#due = due;
    this.#timer = this.#clock.setTimeout(() => this.#expire(this.#due, this.#idleMs), this.#idleMs);
  }

  #expire(due: number, delayMs: number): void {
    if (this.#done) return;
    const late = this.#clock.now() - due;
    this.#stalled = late > Math.max(LATE_MS, LATE_SHARE * delayMs);
    this.clear();
    this.#controller.abort(new DOMException("deadline passed", "TimeoutError"));
  }
}
