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

/**
 * Where hits are kept: one row per hit (table `rate_hits`, preset/storage.ts). Writes are
 * synchronous SQLite writes, so the Durable Object's output gate holds a reply until the hit it
 * counted is durable: neither eviction nor a crash gives a caller back budget it used.
 */
export interface HitStore {
  /** Every stored hit by key, at object start. */
  load(): Iterable<[key: string, hits: number[]]>;
  append(key: string, at: number): void;
  /** Deletes the key's hits at or before `upTo`. */
  trim(key: string, upTo: number): void;
  drop(key: string): void;
}

/** Hits older than their window are deleted from storage at most this often per key (memory prunes itself on each check). */
const TRIM_EVERY_MS = 1_000;

/** The HitStore of a preset's object: the `rate_hits` table. */
export function sqlHitStore(sql: SqlStorage): HitStore {
  return {
    *load() {
      let key: string | undefined;
      let hits: number[] = [];
      for (const row of sql.exec<{ key: string; at: number }>("SELECT key, at FROM rate_hits ORDER BY key, at")) {
        if (row.key !== key) {
          if (key !== undefined) yield [key, hits];
          key = row.key;
          hits = [];
        }
        hits.push(row.at);
      }
      if (key !== undefined) yield [key, hits];
    },
    append: (key, at) => void sql.exec("INSERT INTO rate_hits (key, at) VALUES (?, ?)", key, at),
    trim: (key, upTo) => void sql.exec("DELETE FROM rate_hits WHERE key = ? AND at <= ?", key, upTo),
    drop: (key) => void sql.exec("DELETE FROM rate_hits WHERE key = ?", key),
  };
}

/** Whether a request needs its session's own window: an anonymous caller's (its address may change within the session). */
function perSession(caller: string, sessionId: string | undefined): sessionId is string {
  return sessionId !== undefined && !caller.startsWith("user:");
}

/**
 * The preset's rate limits, counted exactly in its Durable Object (in memory, where every call of
 * the preset passes), each hit appended to storage as it is counted (O(1) per call, whatever the
 * window holds) and old ones trimmed about once a second per key.
 */
export class RateLimits {
  readonly #hits = new SlidingWindowLimiter();
  readonly #store: HitStore;
  readonly #lastAudit = new Map<string, number>();
  /** When each key's stored hits were last trimmed to its window. */
  readonly #trimmedAt = new Map<string, number>();

  #loaded = false;

  constructor(store: HitStore) {
    this.#store = store;
  }

  /** The stored hits, read at first use (the object migrates its storage after its constructor). */
  get #limiter(): SlidingWindowLimiter {
    if (!this.#loaded) {
      this.#loaded = true;
      for (const [key, hits] of this.#store.load()) this.#hits.import(key, hits);
    }
    return this.#hits;
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
      this.#lastAudit.delete(key);
      this.#trimmedAt.delete(key);
      if (this.#limiter.forget(key)) this.#store.drop(key);
    }
  }

  /** Headers of the control budget without counting (for notifications). */
  peekControl(caller: string, rateLimit: RateLimitSetting, now: number): Record<string, string> {
    const limit = controlLimit(rateLimit);
    return headersOf(this.#limiter.peek({ key: `control|${caller}`, limit: toMs(limit) }, now));
  }

  /** Drops counters idle for longer than any window, in memory and storage. */
  prune(now: number): void {
    for (const key of this.#limiter.prune(86_400_000, now)) {
      this.#store.drop(key);
      this.#trimmedAt.delete(key);
    }
    for (const [key, at] of this.#lastAudit) if (now - at > 86_400_000) this.#lastAudit.delete(key);
  }

  #take(checks: LimitCheck[], now: number, describe: (i: number) => string): LimitOutcome {
    const { allowed, decisions } = this.#limiter.take(checks, now);
    if (allowed) {
      for (const c of checks) {
        this.#store.append(c.key, now);
        if (now - (this.#trimmedAt.get(c.key) ?? 0) >= TRIM_EVERY_MS) {
          this.#store.trim(c.key, now - c.limit.windowMs);
          this.#trimmedAt.set(c.key, now);
        }
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
