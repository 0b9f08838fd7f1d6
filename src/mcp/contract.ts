/**
 * @module The contract between the worker and a preset's Durable Object: what one RPC carries in
 * (a request already checked at the edge: headers, size, JSON, envelope, credential) and what
 * comes back (status, body, headers). Types only.
 */
import type { RpcMessage } from "./jsonrpc";
import type { ModernRequest } from "./modern";

export interface PresetRef {
  handle: string;
  slug: string;
}

/** Who calls a preset, as the worker authenticated them. */
export interface Caller {
  /** The authenticated user, or null for an anonymous caller. */
  userId: string | null;
  /** The OAuth grant of the caller's access token, when it used one (checked against revocations). */
  grantId: string | null;
  /** CF-Connecting-IP: what anonymous callers are rate-limited by. */
  ip: string | null;
}

/** One POST to the preset's MCP endpoint, already parsed and envelope-checked by the worker. */
export interface McpCall extends PresetRef, Caller {
  /** The Mcp-Session-Id; null for an initialize. */
  sessionId: string | null;
  messages: RpcMessage[];
  batch: boolean;
  /** A modern-era (2026-07-28) request: what its `_meta` says (null for a notification); absent in the legacy era. */
  modern?: ModernRequest | null;
  /** The gateway's public origin as this request reached it (PUBLIC_URL, else its own): for links sent back to this caller. */
  origin?: string;
}

export interface McpReply {
  status: number;
  /** Serialized JSON-RPC response(s); an SSE stream (text/event-stream); null for 202/204. */
  body: string | ReadableStream<Uint8Array> | null;
  /** Set on a successful initialize: the new Mcp-Session-Id. */
  sessionId?: string;
  /** RateLimit-*, Retry-After. */
  headers?: Record<string, string>;
}

/** The reply to one message of a POST (a batch joins several). */
export interface MessageReply {
  /** A serialized JSON-RPC response; null for a notification or a response. */
  body: string | null;
  status?: number;
  headers?: Record<string, string>;
}
