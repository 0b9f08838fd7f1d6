/**
 * @module The pure cores of the threshold alerts a preset's object raises from what it counts:
 * ErrorRateWatch (`error_rate.high`, from each call's outcome) and SurgeWatch (`rate_limit.surge`,
 * from each rate-limit refusal). Each is (settings, input, now) → the alert's payload or null; O(1)
 * per input, bounded memory (alert-window.ts).
 */
import type { ErrorRateAlertSetting, RateLimitSurgeAlertSetting } from "../db/schema";
import { AlertLatch, SlidingTally } from "./alert-window";
import type { CallOutcome } from "./call-record";

const MINUTE_MS = 60_000;

/**
 * Outcomes that count as calls of the error rate: the calls that went (or were meant to go) to an
 * upstream. rate_limited and denied are the gateway's own refusals of a caller (rate_limit.surge
 * covers the first), cancelled the caller's own doing: none says anything about the preset's health.
 */
export const RATED_OUTCOMES: ReadonlySet<CallOutcome> = new Set(["ok", "tool_error", "upstream_error", "timeout", "breaker_open"]);
/**
 * Rated outcomes that count as failed: the upstream could not be reached, broke the protocol or
 * answered an HTTP error (upstream_error), did not answer in time, or its breaker is open.
 * tool_error is a tool's own answer (`isError`, or its JSON-RPC error) and counts as a success.
 */
export const FAILED_OUTCOMES: ReadonlySet<CallOutcome> = new Set(["upstream_error", "timeout", "breaker_open"]);

/** Top failing upstreams and tools, and top refused callers, named in an alert. */
const TOP = 5;

export interface ErrorRatePayload {
  calls: number;
  errors: number;
  /** errors / calls, to three decimals. */
  rate: number;
  threshold: number;
  windowMinutes: number;
  minCalls: number;
  topUpstreams: { upstream: string; errors: number }[];
  topTools: { tool: string; errors: number }[];
}

/** A threshold over a sliding window of `windowMinutes`, raised once per crossing (AlertLatch). */
abstract class ThresholdWatch<S extends { windowMinutes: number }> {
  readonly setting: S;
  protected readonly tally: SlidingTally;
  protected readonly latch: AlertLatch;

  constructor(setting: S, latch = new AlertLatch()) {
    this.setting = setting;
    this.tally = new SlidingTally(setting.windowMinutes * MINUTE_MS);
    this.latch = latch;
  }
}

/** error_rate.high of one preset: the failed share of its rated calls over a sliding window. */
export class ErrorRateWatch extends ThresholdWatch<ErrorRateAlertSetting> {
  /**
   * Counts one call; returns the alert's payload when this call takes the rate to the threshold or
   * above (with at least minCalls calls in the window) and it is not already raised. Cleared when
   * the rate falls below half the threshold.
   */
  record(now: number, outcome: CallOutcome, upstream: string | null, tool: string): ErrorRatePayload | null {
    if (!RATED_OUTCOMES.has(outcome)) return null;
    const failed = FAILED_OUTCOMES.has(outcome);
    this.tally.add(now, 1, failed ? 1 : 0, failed ? JSON.stringify([upstream ?? "", tool]) : undefined);
    const { total, hits } = this.tally.totals(now);
    const { threshold, minCalls, windowMinutes } = this.setting;
    const rate = total === 0 ? 0 : hits / total;
    if (!this.latch.update(now, total >= minCalls && rate >= threshold, rate < threshold / 2)) return null;
    const upstreams = new Map<string, number>();
    const tools = new Map<string, number>();
    // Every failing key of the window (at most SLOTS × KEYS_PER_SLOT), summed by upstream and by tool.
    for (const { key, hits: errors } of this.tally.top(now, Number.POSITIVE_INFINITY)) {
      const [u, t] = JSON.parse(key) as [string, string];
      if (u) upstreams.set(u, (upstreams.get(u) ?? 0) + errors);
      tools.set(t, (tools.get(t) ?? 0) + errors);
    }
    return {
      calls: total,
      errors: hits,
      rate: Math.round(rate * 1000) / 1000,
      threshold,
      windowMinutes,
      minCalls,
      topUpstreams: topOf(upstreams).map(([upstream, errors]) => ({ upstream, errors })),
      topTools: topOf(tools).map(([tool, errors]) => ({ tool, errors })),
    };
  }
}

export interface SurgePayload {
  refusals: number;
  threshold: number;
  windowMinutes: number;
  /** Caller keys (`user:<id>`, `ip:<address>`) with the most refusals, at most five. */
  topCallers: { caller: string; refusals: number }[];
}

/** rate_limit.surge of one preset: how many requests its rate limits refused over a sliding window. */
export class SurgeWatch extends ThresholdWatch<RateLimitSurgeAlertSetting> {
  /**
   * Counts one refusal of `caller`; returns the alert's payload when the refusals in the window reach
   * the threshold and it is not already raised. Cleared when they fall below half the threshold.
   */
  refused(now: number, caller: string): SurgePayload | null {
    this.tally.add(now, 1, 1, caller);
    const { hits } = this.tally.totals(now);
    const { threshold, windowMinutes } = this.setting;
    if (!this.latch.update(now, hits >= threshold, hits < threshold / 2)) return null;
    return {
      refusals: hits,
      threshold,
      windowMinutes,
      topCallers: this.tally.top(now, TOP).map(({ key, hits: refusals }) => ({ caller: key, refusals })),
    };
  }
}

function topOf(counts: Map<string, number>): [string, number][] {
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOP);
}
