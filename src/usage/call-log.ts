/**
 * @module The optional per-preset call log: who called which tool, when, how it ended, how long it
 * took, and the SHA-256 of its arguments, so an owner can match a call to known input without
 * storing it. The arguments themselves are kept only when the owner opts in, cut to this many
 * characters.
 */

import { type CallLogRow, insertCallLog } from "../db/call-log-repository";
import { getDb } from "../db/client";
import { sha256Hex } from "../shared/crypto";
import { newId } from "../shared/ids";
import type { CallRecord } from "./call-record";

export const MAX_LOGGED_ARGUMENT_CHARS = 8192;

/** The arguments as hashed and logged: their JSON as received, `{}` when absent. */
export const argumentsJson = (args: unknown) => (args === undefined ? "{}" : JSON.stringify(args));

/** The call-log row of one call. */
export async function callLogRow(r: CallRecord, withArguments: boolean): Promise<CallLogRow> {
  const json = argumentsJson(r.arguments);
  return {
    id: newId("call", r.at),
    presetId: r.presetId,
    userId: r.userId,
    clientIp: r.userId ? null : r.ip,
    tool: r.tool,
    upstream: r.upstream,
    outcome: r.outcome,
    latencyMs: Math.round(r.latencyMs),
    requestBytes: r.requestBytes,
    responseBytes: r.responseBytes,
    argumentsSha256: await sha256Hex(json),
    arguments: withArguments ? json.slice(0, MAX_LOGGED_ARGUMENT_CHARS) : null,
    argumentsTruncated: withArguments && json.length > MAX_LOGGED_ARGUMENT_CHARS,
    createdAt: r.at,
  };
}

export async function writeCallLog(d1: D1Database, r: CallRecord, withArguments: boolean): Promise<void> {
  await insertCallLog(getDb(d1), await callLogRow(r, withArguments));
}
