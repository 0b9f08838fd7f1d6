/**
 * @module A call's deadline: an idle timeout that progress restarts and waiting on the client
 * pauses, within a hard cap.
 */
/**
 * How long an upstream call may go on: `idleMs` without a sign of life aborts it. Every message
 * the upstream sends on the call's stream (progress, a log line) restarts the clock, and the clock
 * stops while the call waits for the client (a sampling or elicitation request relayed to it: a
 * person may be typing). `maxMs` bounds the whole call whatever happens.
 */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #idleMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #hardTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #fixed: boolean;
  #holds = 0;
  #done = false;

  constructor(idleMs: number, maxMs: number) {
    this.#idleMs = idleMs;
    // With maxMs <= idleMs the deadline is fixed: nothing restarts or stops the clock.
    this.#fixed = maxMs <= idleMs;
    this.#hardTimer = this.#fixed ? undefined : setTimeout(() => this.#expire(), maxMs);
    this.#arm();
  }

  /** Aborts (with a TimeoutError) when the deadline passes. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get expired(): boolean {
    return this.#controller.signal.aborted;
  }

  /** The upstream showed a sign of life: restart the idle clock. */
  touch(): void {
    if (this.#holds === 0 && !this.#fixed) this.#arm();
  }

  /** The call waits on the client: stop the idle clock until release(). */
  hold(): void {
    if (this.#fixed) return;
    this.#holds++;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  release(): void {
    if (this.#holds > 0 && --this.#holds === 0) this.#arm();
  }

  /** The call is over: stop every timer. */
  clear(): void {
    this.#done = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#hardTimer !== undefined) clearTimeout(this.#hardTimer);
  }

  #arm(): void {
    if (this.#done || this.expired) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#expire(), this.#idleMs);
  }

  #expire(): void {
    if (this.#done) return;
    this.clear();
    this.#controller.abort(new DOMException("deadline passed", "TimeoutError"));
  }
}
