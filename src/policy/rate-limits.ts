/**
 * @module A preset's rate limits: the call budget, the per-tool limits and the control budget,
 * counted per caller (and the call and control budgets also per session) and persisted.
 */
import type { RateLimitSetting } from "../db/schema";
import { type Decision, type LimitCheck, SlidingWindowLimiter } from "./rate-limiter";

/** initialize, ping and list calls get this many times the call budget, so a client can always connect. */
export const CONTROL_MULTIPLIER = 10;
const CONTROL_MINIMUM = 100;

export interface LimitOutcome {
  allowed: boolean;
  /** RateLimit-* (and Retry-After when refused) headers for the response. */
  headers: Record<string, string>;
  /** When refused: a message saying which limit and when to retry. */
  message?: string;
  retryAfterSeconds?: number;
  /** When refused: whether this refusal should be written to the audit trail (once per caller per window). */
  audit?: boolean;
}

/** Where counters are kept: a KV slice of the object's storage (preset/storage.ts). */
interface CounterStorage {
  readonly stored: ReadonlyMap<string, unknown>;
  put(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<boolean>;
}

/**
 * The preset's rate limits, counted exactly in its Durable Object (in memory, where every call of
 * the preset passes). Counters that changed are written to storage at the end of the turn that
 * changed them (one write per changed key, however many hits it took in the turn), with confirmed
 * writes: the output gate holds the reply until its hit is durable, so neither eviction nor a
 * crash gives a caller back hits it used. A write costs O(hits in the window) for that key.
 */
/** Whether a request needs its session's own window: an anonymous caller's (its address may change within the session). */
function perSession(caller: string, sessionId: string | undefined): sessionId is string {
  return sessionId !== undefined && !caller.startsWith("user:");
}

export class RateLimits {
  readonly #limiter = new SlidingWindowLimiter();
  readonly #storage: CounterStorage;
  readonly #lastAudit = new Map<string, number>();
  /** Keys changed since the last flush, with the window to export them with. */
  readonly #dirty = new Map<string, number>();
  #flushQueued = false;

  constructor(storage: CounterStorage) {
    this.#storage = storage;
    for (const [key, hits] of storage.stored) {
      if (Array.isArray(hits)) this.#limiter.import(key, hits as number[]);
    }
  }

  /**
   * Counts a tools/call against the preset-wide limit and the tool's own limit, if it has one, per
   * caller; with `sessionId`, the preset-wide limit also per session (a session used from many
   * addresses gets no more than one caller). A user's session is always counted as that user, so
   * only anonymous sessions need the second window (perSession).
   */
  takeCall(caller: string, tool: string, rateLimit: RateLimitSetting, toolLimit: RateLimitSetting | undefined, now: number, sessionId?: string): LimitOutcome {
    const checks: LimitCheck[] = [{ key: `calls|${caller}`, limit: toMs(rateLimit) }];
    const describe = [`${rateLimit.requests} tool calls per ${rateLimit.windowSeconds} s on this preset`];
    if (toolLimit) {
      checks.push({ key: `tool:${tool}|${caller}`, limit: toMs(toolLimit) });
      describe.push(`${toolLimit.requests} calls of ${tool} per ${toolLimit.windowSeconds} s`);
    }
    if (perSession(caller, sessionId)) {
      checks.push({ key: `calls|session:${sessionId}`, limit: toMs(rateLimit) });
      describe.push(`${rateLimit.requests} tool calls per ${rateLimit.windowSeconds} s in one session`);
    }
    return this.#take(checks, now, (i) => describe[i]!);
  }

  /** Counts an initialize, ping, list or other non-call request against the generous control budget (per caller, and per session when given). */
  takeControl(caller: string, rateLimit: RateLimitSetting, now: number, sessionId?: string): LimitOutcome {
    const limit = controlLimit(rateLimit);
    const checks: LimitCheck[] = [{ key: `control|${caller}`, limit: toMs(limit) }];
    if (perSession(caller, sessionId)) checks.push({ key: `control|session:${sessionId}`, limit: toMs(limit) });
    return this.#take(checks, now, (i) => `${limit.requests} requests per ${limit.windowSeconds} s${i === 0 ? "" : " in one session"}`);
  }

  /** The session ended: its own counters go (its caller's stay), so ended sessions leave nothing behind. */
  forgetSession(sessionId: string): void {
    for (const key of [`calls|session:${sessionId}`, `control|session:${sessionId}`]) {
      this.#dirty.delete(key);
      this.#lastAudit.delete(key);
      if (this.#limiter.forget(key)) void this.#storage.delete(key).catch(() => {});
    }
  }

  /** Headers of the control budget without counting (for notifications). */
  peekControl(caller: string, rateLimit: RateLimitSetting, now: number): Record<string, string> {
    const limit = controlLimit(rateLimit);
    return headersOf(this.#limiter.peek({ key: `control|${caller}`, limit: toMs(limit) }, now));
  }

  /** Writes the counters that changed since the last flush. */
  flush(now = Date.now()): void {
    this.#flushQueued = false;
    for (const [key, windowMs] of this.#dirty) {
      void this.#storage.put(key, this.#limiter.export(key, windowMs, now)).catch((e) => console.error("rate limit state not persisted", e));
    }
    this.#dirty.clear();
  }

  /** Drops counters idle for longer than any window, in memory and storage. */
  prune(now: number): void {
    for (const key of this.#limiter.prune(86_400_000, now)) void this.#storage.delete(key).catch(() => {});
    for (const [key, at] of this.#lastAudit) if (now - at > 86_400_000) this.#lastAudit.delete(key);
  }

  #take(checks: LimitCheck[], now: number, describe: (i: number) => string): LimitOutcome {
    const { allowed, decisions } = this.#limiter.take(checks, now);
    if (allowed) {
      for (const c of checks) this.#dirty.set(c.key, c.limit.windowMs);
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        queueMicrotask(() => this.flush());
      }
      return { allowed, headers: headersOf(tightest(decisions)) };
    }
    const i = decisions.findIndex((d) => !d.allowed);
    const refused = decisions[i]!;
    const retryAfterSeconds = Math.ceil(refused.retryAfterMs / 1000);
    const auditKey = checks[i]!.key;
    const last = this.#lastAudit.get(auditKey);
    const audit = last === undefined || now - last >= checks[i]!.limit.windowMs;
    if (audit) this.#lastAudit.set(auditKey, now);
    return {
      allowed,
      headers: { ...headersOf(refused), "retry-after": String(retryAfterSeconds) },
      message: `Rate limit exceeded: ${describe(i)}. Retry in ${retryAfterSeconds} s.`,
      retryAfterSeconds,
      audit,
    };
  }
}

export function controlLimit(rateLimit: RateLimitSetting): RateLimitSetting {
  return { requests: Math.max(CONTROL_MINIMUM, rateLimit.requests * CONTROL_MULTIPLIER), windowSeconds: rateLimit.windowSeconds };
}

const toMs = (l: RateLimitSetting) => ({ requests: l.requests, windowMs: l.windowSeconds * 1000 });

/** The decision with the fewest hits left: the limit a client should pace itself by. */
function tightest(decisions: Decision[]): Decision {
  return decisions.reduce((a, b) => (b.remaining < a.remaining ? b : a));
}

/** IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers), reset in seconds. */
function headersOf(d: Decision): Record<string, string> {
  return {
    "ratelimit-limit": String(d.limit),
    "ratelimit-remaining": String(Math.max(0, d.remaining)),
    "ratelimit-reset": String(Math.ceil(d.resetMs / 1000)),
  };
}
