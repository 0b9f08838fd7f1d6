import type { Context } from "hono";
import type { AppEnv } from "./app-env";
import { resolveApiToken } from "../accounts/api-tokens";
import { bearerToken } from "../accounts/credentials";
import { ACCESS_TOKEN_TYP } from "../oauth/grants";
import { verifyJwt } from "../oauth/keys";
import { bearerChallenge, presetResource } from "../oauth/metadata";
import type { McpReply } from "../mcp/contract";
import { presetStub } from "./preset-stub";
import { publicUrl } from "../shared/public-url";
import { readLimitedText } from "../shared/read-limited";
import { isRequest, readableId, RpcCode, type RpcId, type RpcMessage, rpcErrorBody, validateMessage } from "../mcp/jsonrpc";
import { isSupportedVersion } from "../mcp/protocol";

/** MCP POST bodies above this (or MCP_MAX_BODY_BYTES) are refused with 413 before parsing. */
export const MCP_BODY_LIMIT = 1024 * 1024;

function bodyLimit(env: { MCP_MAX_BODY_BYTES?: string }): number {
  const configured = Number(env.MCP_MAX_BODY_BYTES);
  return Number.isInteger(configured) && configured > 0 ? configured : MCP_BODY_LIMIT;
}

const HANDLE_OR_SLUG = /^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$/;
/** Mcp-Session-Id and Last-Event-ID values: visible ASCII, bounded. */
const HEADER_TOKEN = /^[\x21-\x7e]{1,128}$/;
const EXPOSED_HEADERS = "Mcp-Session-Id, WWW-Authenticate, MCP-Protocol-Version, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After";

function jsonRpcError(status: number, id: RpcId | null, code: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(rpcErrorBody(id, code, message), { status, headers: { "content-type": "application/json", ...headers } });
}

const LOOPBACK_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

/**
 * Browser origins allowed to call the MCP endpoint: ALLOWED_ORIGINS, plus the gateway's own.
 * "Our own" is PUBLIC_URL's origin, or a loopback origin; never just whatever the Host header
 * says, or a DNS-rebinding page (Host and Origin both evil.example) would pass.
 */
function originAllowed(c: Context<AppEnv>, origin: string): boolean {
  const list = (c.env.ALLOWED_ORIGINS ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (list.includes("*") || list.includes(origin)) return true;
  if (c.env.PUBLIC_URL) return origin === new URL(c.env.PUBLIC_URL).origin;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  return parsed.origin === new URL(c.req.url).origin && LOOPBACK_HOST.test(parsed.hostname);
}

function corsHeaders(origin: string | undefined): Record<string, string> {
  return origin ? { "access-control-allow-origin": origin, "access-control-expose-headers": EXPOSED_HEADERS, vary: "Origin" } : {};
}

function toResponse(r: McpReply, extra: Record<string, string>, challenge: () => string): Response {
  const headers: Record<string, string> = { ...extra, ...r.headers };
  if (typeof r.body === "string") headers["content-type"] = "application/json";
  else if (r.body !== null) {
    headers["content-type"] = "text/event-stream";
    headers["cache-control"] = "no-cache";
  }
  if (r.sessionId) headers["mcp-session-id"] = r.sessionId;
  if (r.status === 401) headers["www-authenticate"] = challenge();
  return new Response(r.body, { status: r.status, headers });
}

interface Caller {
  userId: string | null;
  /** Set when the caller used an OAuth access token. */
  grantId: string | null;
}

/**
 * The caller: anonymous, an API token's user (one D1 read, so revocation is immediate), or an
 * OAuth access token's subject (verified here, no storage read: signature with the pinned
 * algorithm, issuer, audience = exactly this preset, expiry). A bad token is a 401, never a
 * silent downgrade to anonymous.
 */
async function authenticate(c: Context<AppEnv>, handle: string, slug: string, cors: Record<string, string>): Promise<Caller | Response> {
  const token = bearerToken(c.req.header("authorization"));
  if (token === null) return { userId: null, grantId: null };
  const issuer = publicUrl(c);
  if (token.split(".").length === 3) {
    const claims = await verifyJwt(c.env, token, { typ: ACCESS_TOKEN_TYP, issuer, audience: presetResource(issuer, handle, slug) });
    if (claims?.sub && typeof claims.gid === "string") return { userId: claims.sub, grantId: claims.gid };
  } else if (token) {
    const userId = await resolveApiToken(c.env.DB, token, (p) => c.executionCtx.waitUntil(p));
    if (userId) return { userId, grantId: null };
  }
  // The preset's object keeps the audit trail of auth failures (capped per caller and minute).
  c.executionCtx.waitUntil(
    presetStub(c.env, handle, slug)
      .recordAuthFailure({ handle, slug, userId: null, ip: c.req.header("cf-connecting-ip") ?? null, status: 401, method: c.req.method, message: "invalid bearer token" })
      .catch((e: unknown) => console.error("auth failure not recorded", e)),
  );
  return jsonRpcError(401, null, RpcCode.Unauthorized, "The bearer token is not valid for this preset.", {
    ...cors,
    "www-authenticate": bearerChallenge(issuer, handle, slug, "invalid_token"),
  });
}

/** The 401 challenge: where to discover how to get a token; invalid_token when one was sent. */
function challengeFor(c: Context<AppEnv>, handle: string, slug: string, auth: Caller): string {
  return bearerChallenge(publicUrl(c), handle, slug, auth.userId ? "invalid_token" : undefined);
}

/**
 * The Streamable HTTP endpoint of a preset. The worker does everything that needs no state
 * (headers, size, JSON, envelope, token), then makes one RPC into the preset's Durable Object.
 */
export async function handleMcp(c: Context<AppEnv>): Promise<Response> {
  const { user: handle, slug } = c.req.param() as { user: string; slug: string };
  const origin = c.req.header("origin");
  if (origin && !originAllowed(c, origin)) {
    return jsonRpcError(403, null, RpcCode.BadRequest, `Origin ${origin} is not allowed.`);
  }
  const cors = corsHeaders(origin);
  const method = c.req.method;
  if (method === "OPTIONS") {
    return new Response(null, {
      status: 204,
      headers: {
        ...cors,
        "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
        "access-control-allow-headers": "Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID",
        "access-control-max-age": "86400",
      },
    });
  }
  if (!HANDLE_OR_SLUG.test(handle) || !HANDLE_OR_SLUG.test(slug)) {
    return jsonRpcError(404, null, RpcCode.PresetNotFound, "No preset at this URL.", cors);
  }
  const sessionId = c.req.header("mcp-session-id") ?? null;
  if (sessionId !== null && !HEADER_TOKEN.test(sessionId)) {
    return jsonRpcError(400, null, RpcCode.BadRequest, "Mcp-Session-Id is malformed.", cors);
  }
  const version = c.req.header("mcp-protocol-version");
  if (version !== undefined && !isSupportedVersion(version)) {
    return jsonRpcError(400, null, RpcCode.BadRequest, `Unsupported MCP-Protocol-Version: ${version.slice(0, 40)}.`, cors);
  }

  if (method === "GET") {
    if (!(c.req.header("accept") ?? "").includes("text/event-stream")) {
      return jsonRpcError(406, null, RpcCode.BadRequest, "Accept must list text/event-stream.", cors);
    }
    if (!sessionId) return jsonRpcError(400, null, RpcCode.BadRequest, "GET needs an Mcp-Session-Id header; send initialize first.", cors);
    const lastEventId = c.req.header("last-event-id") ?? null;
    if (lastEventId !== null && !HEADER_TOKEN.test(lastEventId)) {
      return jsonRpcError(400, null, RpcCode.BadRequest, "Last-Event-ID is malformed.", cors);
    }
    const auth = await authenticate(c, handle, slug, cors);
    if (auth instanceof Response) return auth;
    const listening = await presetStub(c.env, handle, slug).listen({ handle, slug, userId: auth.userId, grantId: auth.grantId, sessionId, lastEventId });
    return toResponse(listening, cors, () => challengeFor(c, handle, slug, auth));
  }
  if (method === "DELETE") {
    if (!sessionId) return jsonRpcError(400, null, RpcCode.BadRequest, "DELETE needs an Mcp-Session-Id header.", cors);
    const auth = await authenticate(c, handle, slug, cors);
    if (auth instanceof Response) return auth;
    const ended = await presetStub(c.env, handle, slug).endSession({ handle, slug, userId: auth.userId, grantId: auth.grantId, sessionId });
    return toResponse(ended, cors, () => challengeFor(c, handle, slug, auth));
  }
  if (method !== "POST") {
    return jsonRpcError(405, null, RpcCode.BadRequest, `${method} is not supported here.`, { ...cors, allow: "GET, POST, DELETE" });
  }

  const contentType = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(contentType)) {
    return jsonRpcError(415, null, RpcCode.BadRequest, "Content-Type must be application/json.", cors);
  }
  const accept = c.req.header("accept") ?? "";
  const acceptsAll = accept.includes("*/*");
  if (!acceptsAll && !(accept.includes("application/json") && accept.includes("text/event-stream"))) {
    return jsonRpcError(406, null, RpcCode.BadRequest, "Accept must list both application/json and text/event-stream.", cors);
  }
  const limit = bodyLimit(c.env);
  const text = await readLimitedText(c.req.raw, limit);
  if (text === null) return jsonRpcError(413, null, RpcCode.InvalidRequest, `The body exceeds ${limit} bytes.`, cors);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return jsonRpcError(400, null, RpcCode.ParseError, "Parse error: the body is not valid JSON.", cors);
  }

  const batch = Array.isArray(json);
  const raw: unknown[] = batch ? (json as unknown[]) : [json];
  if (raw.length === 0) return jsonRpcError(400, null, RpcCode.InvalidRequest, "An empty batch is not a JSON-RPC request.", cors);
  const messages: RpcMessage[] = [];
  for (const item of raw) {
    const checked = validateMessage(item);
    if (!checked.ok) return jsonRpcError(400, readableId(item), RpcCode.InvalidRequest, `Invalid request: ${checked.reason}.`, cors);
    messages.push(checked.message);
  }
  const initialize = messages.find((m) => isRequest(m) && m.method === "initialize");
  if (initialize && batch) {
    return jsonRpcError(400, readableId(initialize), RpcCode.InvalidRequest, "initialize must not be part of a batch.", cors);
  }
  if (!initialize && !sessionId) {
    return jsonRpcError(400, readableId(messages[0]), RpcCode.BadRequest, "Mcp-Session-Id header is required; send initialize first.", cors);
  }

  const auth = await authenticate(c, handle, slug, cors);
  if (auth instanceof Response) return auth;
  const result = await presetStub(c.env, handle, slug).mcp({
    handle,
    slug,
    userId: auth.userId,
    grantId: auth.grantId,
    ip: c.req.header("cf-connecting-ip") ?? null,
    sessionId: initialize ? null : sessionId,
    messages,
    batch,
  });
  return toResponse(result, cors, () => challengeFor(c, handle, slug, auth));
}
