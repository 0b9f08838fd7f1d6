/**
 * @module JSON-RPC 2.0 as MCP uses it, and the error codes the gateway answers with. Pure.
 *
 * The envelope check (`validateMessage`) is written by hand, not as a zod schema: it runs at the
 * edge on every message of every request, needs only a few type tests, and returns the message
 * object itself (params untouched, nothing copied), which the Durable Object then passes on.
 */
export type RpcId = string | number;

export interface RpcRequest {
  jsonrpc: "2.0";
  id: RpcId;
  method: string;
  params?: Record<string, unknown>;
}
export interface RpcNotification {
  jsonrpc: "2.0";
  method: string;
  params?: Record<string, unknown>;
}
export interface RpcResponse {
  jsonrpc: "2.0";
  id: RpcId;
  result?: unknown;
  error?: unknown;
}
export type RpcMessage = RpcRequest | RpcNotification | RpcResponse;

export const RpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** HTTP-level problems: missing session header, unsupported protocol version (SDK convention). */
  BadRequest: -32000,
  /** The Mcp-Session-Id is unknown, expired, or belongs to someone else (SDK convention). */
  SessionNotFound: -32001,
  /** No or bad credentials (HTTP 401), or credentials without access (HTTP 403). */
  Unauthorized: -32003,
  /** No such preset, or it is disabled or archived (HTTP 404). */
  PresetNotFound: -32004,
  /** The upstream is unreachable, answered an HTTP error, or lost the session for good. */
  UpstreamUnavailable: -32010,
  /** The upstream did not answer within the server's timeoutMs. */
  UpstreamTimeout: -32011,
  /** The upstream answered something that is not valid MCP. */
  UpstreamBadResponse: -32012,
  /** resources/read of a URI no upstream of the preset has (MCP's code). */
  ResourceNotFound: -32002,
  /** The upstream's circuit breaker is open: the call failed fast without reaching it. */
  BreakerOpen: -32013,
  /** A rate limit refused the request (HTTP 429). */
  RateLimited: -32029,
  /** The preset holds as many sessions as it may and none is idle enough to end (HTTP 503, Retry-After). */
  SessionsFull: -32030,
  /** 2026-07-28: an MCP header (MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Param-*) is missing or differs from the body (HTTP 400). */
  HeaderMismatch: -32020,
  /** 2026-07-28: the request needs a client capability its `_meta` did not declare; data.requiredCapabilities. */
  MissingClientCapability: -32021,
  /** 2026-07-28: the protocol version is not one the preset speaks (HTTP 400); data.supported, data.requested. */
  UnsupportedProtocolVersion: -32022,
  /** The client cancelled the request (LSP's RequestCancelled). */
  RequestCancelled: -32800,
} as const;

/** A JSON object: not null, not an array. */
export const isJsonObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

export const isRequest = (m: RpcMessage): m is RpcRequest => "method" in m && "id" in m;
export const isNotification = (m: RpcMessage): m is RpcNotification => "method" in m && !("id" in m);

/** A serialized JSON-RPC error response; `id` is null where the request's id was not readable. */
export function rpcErrorBody(id: RpcId | null, code: number, message: string, data?: unknown): string {
  return JSON.stringify({ jsonrpc: "2.0", id, error: data === undefined ? { code, message } : { code, message, data } });
}

export function rpcResultBody(id: RpcId, result: unknown): string {
  return JSON.stringify({ jsonrpc: "2.0", id, result });
}

/**
 * How every reply to request `id` the gateway serializes begins (rpcResultBody, rpcErrorBody, the
 * catalog's cached pages): what code that splices a serialized reply relies on.
 */
export const replyHead = (id: RpcId | null): string => `{"jsonrpc":"2.0","id":${JSON.stringify(id)},`;

const isId = (v: unknown): v is RpcId => typeof v === "string" || (typeof v === "number" && Number.isFinite(v));

/** The id of a message-like value if it has a usable one, for error replies. */
export function readableId(value: unknown): RpcId | null {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const id = (value as { id?: unknown }).id;
    if (isId(id) && (typeof id !== "string" || id.length <= 256)) return id;
  }
  return null;
}

/**
 * Checks the JSON-RPC envelope of one message. Returns the message or a reason it is not one.
 * Params must be an object when present (MCP never uses positional params).
 */
export function validateMessage(value: unknown): { ok: true; message: RpcMessage } | { ok: false; reason: string } {
  if (!value || typeof value !== "object" || Array.isArray(value)) return { ok: false, reason: "a JSON-RPC message must be an object" };
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== "2.0") return { ok: false, reason: 'jsonrpc must be "2.0"' };
  if ("id" in m && (!isId(m.id) || (typeof m.id === "string" && m.id.length > 256))) {
    return { ok: false, reason: "id must be a string (at most 256 characters) or a number" };
  }
  if ("method" in m) {
    if (typeof m.method !== "string" || m.method.length === 0 || m.method.length > 128) return { ok: false, reason: "method must be a non-empty string" };
    if ("params" in m && (m.params === null || typeof m.params !== "object" || Array.isArray(m.params))) {
      return { ok: false, reason: "params must be an object" };
    }
    return { ok: true, message: m as unknown as RpcMessage };
  }
  if ("id" in m && ("result" in m || "error" in m)) return { ok: true, message: m as unknown as RpcMessage };
  return { ok: false, reason: "not a JSON-RPC request, notification or response" };
}

/** The message of a serialized JSON-RPC error response; null when it is not one. */
export function errorMessageOf(body: string | null): string | null {
  try {
    const message = body ? (JSON.parse(body) as { error?: { message?: unknown } }).error?.message : null;
    return typeof message === "string" ? message : null;
  } catch {
    return null;
  }
}
