/** @module What is recorded about one tools/call: its outcome, the record itself, byte lengths. */
import { fromCallerKey } from "../policy/caller-key";
import type { FailureKind } from "../upstream/client";

/**
 * How a tools/call ended, as metrics, rollups, the call log and stats count it.
 * - `ok`, `tool_error` (an `isError: true` result, or the upstream's own JSON-RPC error);
 * - `upstream_error` (unreachable, HTTP error, not MCP, session lost), `timeout`;
 * - `rate_limited`, `breaker_open` (refused by the gateway before reaching the upstream);
 * - `denied` (no access to the preset, or a tool it does not expose);
 * - `cancelled` (the client cancelled the call in flight).
 */
export const OUTCOMES = ["ok", "tool_error", "upstream_error", "timeout", "rate_limited", "breaker_open", "denied", "cancelled"] as const;
export type CallOutcome = (typeof OUTCOMES)[number];

/** Calls with these outcomes reached an upstream; their latency feeds the percentiles. */
export const LATENCY_OUTCOMES: ReadonlySet<CallOutcome> = new Set(["ok", "tool_error", "upstream_error", "timeout"]);

/** Tool name recorded for calls that did not name a tool the preset exposes (bounded cardinality). */
export const UNRESOLVED_TOOL = "(unknown)";

export function outcomeOfFailure(kind: FailureKind): CallOutcome {
  switch (kind) {
    case "timeout":
      return "timeout";
    case "breaker_open":
      return "breaker_open";
    case "cancelled":
      return "cancelled";
    default:
      return "upstream_error";
  }
}

/** A tool result the upstream marked as failed. */
export function outcomeOfResult(result: Record<string, unknown>): CallOutcome {
  return result.isError === true ? "tool_error" : "ok";
}

/** Requests recorded as calls (resources/read and prompts/get as soon as presets serve them). */
export const RECORDED_METHODS = ["tools/call", "resources/read", "prompts/get"] as const;
export type RecordedMethod = (typeof RECORDED_METHODS)[number];

/** What the gateway records about one call: the input of metrics, rollups and the call log. */
export interface CallRecord {
  presetId: string;
  /** `<handle>/<slug>`. */
  preset: string;
  method: RecordedMethod;
  /** The exposed tool (`<server>__<tool>`), or UNRESOLVED_TOOL. */
  tool: string;
  /** The upstream server's name, or null when the call never resolved to one. */
  upstream: string | null;
  /** The authenticated user, or null for an anonymous caller. */
  userId: string | null;
  /** The anonymous caller's address (never recorded for authenticated callers). */
  ip: string | null;
  outcome: CallOutcome;
  latencyMs: number;
  requestBytes: number;
  responseBytes: number;
  /** The call's `arguments` (undefined when absent), for the call log. */
  arguments: unknown;
  at: number;
}

/** The caller as metrics and rollups name it: the user id, or "anonymous". */
export const callerOf = (r: Pick<CallRecord, "userId">) => r.userId ?? "anonymous";

/** UTF-8 length of a string without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** What a tools/call reached and how it ended, filled in by the preset's object as it runs. */
export interface ToolCallFacts {
  tool: string;
  upstream: string | null;
  outcome: CallOutcome;
}

/**
 * The record of a finished tools/call: `callerKey` is the rate limiter's caller (`user:<id>` or
 * `ip:<addr>`), `body` the serialized reply, `at` when the call began and `now` when it ended.
 */
export function toolCallRecord(
  preset: { id: string; handle: string; slug: string },
  callerKey: string,
  req: { method?: string; params?: Record<string, unknown> },
  facts: ToolCallFacts,
  body: string | null,
  at: number,
  now: number,
): CallRecord {
  return {
    presetId: preset.id,
    preset: `${preset.handle}/${preset.slug}`,
    method: RECORDED_METHODS.find((m) => m === req.method) ?? "tools/call",
    ...facts,
    ...fromCallerKey(callerKey),
    latencyMs: Math.max(0, now - at),
    requestBytes: utf8Length(JSON.stringify(req)),
    responseBytes: body === null ? 0 : utf8Length(body),
    arguments: req.params?.arguments,
    at,
  };
}
