import { type Context, Hono, type MiddlewareHandler } from "hono";
import type { McpReply } from "../mcp/contract";
import { isRequest, RpcCode, type RpcMessage, readableId, rpcErrorBody, validateMessage } from "../mcp/jsonrpc";
import { eraOf, type ModernRequest } from "../mcp/modern";
import { ALL_PROTOCOL_VERSIONS, isModernVersion, isSupportedVersion } from "../mcp/protocol";
import { bearerChallenge } from "../oauth/metadata";
import { jsonNestsDeeper, MAX_JSON_DEPTH } from "../shared/json-depth";
import { publicUrl } from "../shared/public-url";
import { readLimitedText } from "../shared/read-limited";
import { authenticateCaller, type CallerEnv } from "./caller";
import { mcpCors, originGuard } from "./mcp-cors";
import { presetStub } from "./preset-stub";
import { jsonRpcError } from "./rpc-error";

/**
 * @module The Streamable HTTP endpoint of a preset, `/mcp/:user/:slug`, as one chain:
 * origin guard → CORS → request checks → caller → one RPC into the preset's Durable Object.
 * The worker checks everything that needs no state (path, headers, size, JSON, envelope, token),
 * in an order that gives every request the same first refusal as ever: 403 origin, then 404 path,
 * 400 headers, the method's own checks (415, 406, 413, 400 …), and only then 401.
 *
 * Two hand-written pieces stay on this hot path on purpose. The body is read by
 * `readLimitedText`, which refuses an oversized body (declared or not) before parsing and reads a
 * declared length natively, several times faster than counting chunks as a body-limit wrapper
 * does; a body nesting deeper than MAX_JSON_DEPTH is refused before parsing (shared/json-depth.ts). The JSON-RPC envelope is checked by `validateMessage` (mcp/jsonrpc.ts): a few typeof tests
 * per message with the reasons clients see, where a schema validator would allocate per message.
 */

/** MCP POST bodies above this (or MCP_MAX_BODY_BYTES) are refused with 413 before parsing. */
export const MCP_BODY_LIMIT = 1024 * 1024;

function bodyLimit(env: { MCP_MAX_BODY_BYTES?: string }): number {
  const configured = Number(env.MCP_MAX_BODY_BYTES);
  return Number.isInteger(configured) && configured > 0 ? configured : MCP_BODY_LIMIT;
}

const HANDLE_OR_SLUG = /^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$/;
/** Mcp-Session-Id and Last-Event-ID values: visible ASCII, bounded. */
const HEADER_TOKEN = /^[\x21-\x7e]{1,128}$/;

/** A request's `Mcp-Param-{Name}` headers by lower-case name (at most MAX_PARAM_HEADERS of them). */
function paramHeaders(headers: Headers): Record<string, string> {
  const found: Record<string, string> = {};
  let n = 0;
  for (const [name, value] of headers) {
    if (!name.startsWith("mcp-param-") || n++ >= MAX_PARAM_HEADERS) continue;
    found[name.slice("mcp-param-".length)] = value;
  }
  return found;
}
const MAX_PARAM_HEADERS = 64;

/** What the request checks found, for the handler: one shape per supported method. */
type McpRequest =
  | { method: "GET"; sessionId: string; lastEventId: string | null }
  | { method: "DELETE"; sessionId: string }
  | { method: "POST"; sessionId: string | null; messages: RpcMessage[]; batch: boolean; modern?: ModernRequest | null };

type McpEnv = CallerEnv & { Variables: { request: McpRequest } };

function checkGet(c: Context<McpEnv>, sessionId: string | null): McpRequest | Response {
  if (!(c.req.header("accept") ?? "").includes("text/event-stream")) {
    return jsonRpcError(406, null, RpcCode.BadRequest, "Accept must list text/event-stream.");
  }
  if (!sessionId) return jsonRpcError(400, null, RpcCode.BadRequest, "GET needs an Mcp-Session-Id header; send initialize first.");
  const lastEventId = c.req.header("last-event-id") ?? null;
  if (lastEventId !== null && !HEADER_TOKEN.test(lastEventId)) {
    return jsonRpcError(400, null, RpcCode.BadRequest, "Last-Event-ID is malformed.");
  }
  return { method: "GET", sessionId, lastEventId };
}

async function checkPost(c: Context<McpEnv>, sessionId: string | null): Promise<McpRequest | Response> {
  const contentType = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(contentType)) {
    return jsonRpcError(415, null, RpcCode.BadRequest, "Content-Type must be application/json.");
  }
  const accept = c.req.header("accept") ?? "";
  const acceptsAll = accept.includes("*/*");
  if (!acceptsAll && !(accept.includes("application/json") && accept.includes("text/event-stream"))) {
    return jsonRpcError(406, null, RpcCode.BadRequest, "Accept must list both application/json and text/event-stream.");
  }
  const limit = bodyLimit(c.env);
  const text = await readLimitedText(c.req.raw, limit, "leave");
  if (text === null) return jsonRpcError(413, null, RpcCode.InvalidRequest, `The body exceeds ${limit} bytes.`);
  if (jsonNestsDeeper(text)) {
    return jsonRpcError(400, null, RpcCode.InvalidRequest, `Invalid request: the body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return jsonRpcError(400, null, RpcCode.ParseError, "Parse error: the body is not valid JSON.");
  }

  const batch = Array.isArray(json);
  const raw: unknown[] = batch ? (json as unknown[]) : [json];
  if (raw.length === 0) return jsonRpcError(400, null, RpcCode.InvalidRequest, "An empty batch is not a JSON-RPC request.");
  const messages: RpcMessage[] = [];
  for (const item of raw) {
    const checked = validateMessage(item);
    if (!checked.ok) return jsonRpcError(400, readableId(item), RpcCode.InvalidRequest, `Invalid request: ${checked.reason}.`);
    messages.push(checked.message);
  }
  const era = eraOf((name) => c.req.header(name), messages, batch);
  if (era.era === "refused") {
    const { status, id, code, message, data } = era.refusal;
    return new Response(rpcErrorBody(id, code, message, data), { status, headers: { "content-type": "application/json" } });
  }
  // The modern era has no sessions: an Mcp-Session-Id it sends is ignored.
  if (era.era === "modern") {
    if (era.request) era.request.paramHeaders = paramHeaders(c.req.raw.headers);
    return { method: "POST", sessionId: null, messages, batch: false, modern: era.request };
  }
  const initialize = messages.find((m) => isRequest(m) && m.method === "initialize");
  if (initialize && batch) {
    return jsonRpcError(400, readableId(initialize), RpcCode.InvalidRequest, "initialize must not be part of a batch.");
  }
  if (!initialize && !sessionId) {
    return jsonRpcError(400, readableId(messages[0]), RpcCode.BadRequest, "Mcp-Session-Id header is required; send initialize first.");
  }
  return { method: "POST", sessionId: initialize ? null : sessionId, messages, batch };
}

/** Everything that needs no state, in order; puts the preset and the parsed request on the context. */
const checkRequest: MiddlewareHandler<McpEnv> = async (c, next) => {
  const { user: handle, slug } = c.req.param() as { user: string; slug: string };
  if (!HANDLE_OR_SLUG.test(handle) || !HANDLE_OR_SLUG.test(slug)) {
    return jsonRpcError(404, null, RpcCode.PresetNotFound, "No preset at this URL.");
  }
  const sessionId = c.req.header("mcp-session-id") ?? null;
  if (sessionId !== null && !HEADER_TOKEN.test(sessionId)) {
    return jsonRpcError(400, null, RpcCode.BadRequest, "Mcp-Session-Id is malformed.");
  }
  const method = c.req.method;
  const version = c.req.header("mcp-protocol-version");
  // POSTs are told apart by era in checkPost; GET and DELETE exist only in the legacy era.
  if (method !== "POST" && version !== undefined && !isSupportedVersion(version)) {
    if (isModernVersion(version)) {
      return jsonRpcError(405, null, RpcCode.BadRequest, `${method} is not part of protocol version ${version}; send requests with POST.`, { allow: "POST" });
    }
    return new Response(
      rpcErrorBody(null, RpcCode.UnsupportedProtocolVersion, "Unsupported protocol version", {
        supported: ALL_PROTOCOL_VERSIONS,
        requested: version.slice(0, 40),
      }),
      { status: 400, headers: { "content-type": "application/json" } },
    );
  }
  let checked: McpRequest | Response;
  if (method === "POST") checked = await checkPost(c, sessionId);
  else if (method === "GET") checked = checkGet(c, sessionId);
  else if (method === "DELETE") {
    checked = sessionId ? { method, sessionId } : jsonRpcError(400, null, RpcCode.BadRequest, "DELETE needs an Mcp-Session-Id header.");
  } else return jsonRpcError(405, null, RpcCode.BadRequest, `${method} is not supported here.`, { allow: "GET, POST, DELETE" });
  if (checked instanceof Response) return checked;
  c.set("preset", { handle, slug });
  c.set("request", checked);
  await next();
};

function toResponse(r: McpReply, challenge: () => string): Response {
  const headers: Record<string, string> = { ...r.headers };
  if (typeof r.body === "string") headers["content-type"] = "application/json";
  else if (r.body !== null) {
    headers["content-type"] = "text/event-stream";
    headers["cache-control"] = "no-cache";
  }
  if (r.sessionId) headers["mcp-session-id"] = r.sessionId;
  if (r.status === 401) headers["www-authenticate"] = challenge();
  return new Response(r.body, { status: r.status, headers });
}

/** The one RPC into the preset's Durable Object: listen (GET), end the session (DELETE), or the call (POST). */
async function forward(c: Context<McpEnv>): Promise<Response> {
  const { handle, slug } = c.var.preset;
  const { userId, grantId, ip } = c.var.caller;
  const request = c.var.request;
  const stub = presetStub(c.env, handle, slug);
  const reply =
    request.method === "GET"
      ? await stub.listen({ handle, slug, userId, grantId, sessionId: request.sessionId, lastEventId: request.lastEventId })
      : request.method === "DELETE"
        ? await stub.endSession({ handle, slug, userId, grantId, sessionId: request.sessionId })
        : await stub.mcp({
            handle,
            slug,
            userId,
            grantId,
            ip,
            sessionId: request.sessionId,
            messages: request.messages,
            batch: request.batch,
            modern: request.modern,
            origin: publicUrl(c),
          });
  // The 401 challenge: where to discover how to get a token; invalid_token when one was sent.
  return toResponse(reply, () => bearerChallenge(publicUrl(c), handle, slug, userId ? "invalid_token" : undefined));
}

/** The MCP endpoint as a sub-app, for `app.route("/", mcpEndpoint())`. Every method goes through the chain (others get 405). */
export function mcpEndpoint(): Hono<McpEnv> {
  return new Hono<McpEnv>().all("/mcp/:user/:slug", originGuard, mcpCors, checkRequest, authenticateCaller, forward);
}
