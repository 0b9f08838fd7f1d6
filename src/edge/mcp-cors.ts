import type { Context, MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { RpcCode } from "../mcp/jsonrpc";
import type { AppEnv } from "./app-env";
import { jsonRpcError } from "./rpc-error";

/**
 * @module Browser access to the MCP endpoint: which origins may call it, and the CORS headers
 * they get. The guard is ours, since cors() can only leave headers out, not refuse a request; the
 * headers are hono's cors(), with the few places where it would answer differently from the
 * endpoint's original hand-written headers undone in `mcpCors`.
 */

const LOOPBACK_HOST = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

/**
 * Browser origins allowed to call the MCP endpoint: ALLOWED_ORIGINS, plus the gateway's own.
 * "Our own" is PUBLIC_URL's origin, or a loopback origin; never just whatever the Host header
 * says, or a DNS-rebinding page (Host and Origin both evil.example) would pass.
 */
function originAllowed(c: Context<AppEnv>, origin: string): boolean {
  const list = (c.env.ALLOWED_ORIGINS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
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

/** A browser Origin that is not allowed gets 403 before anything else is looked at (no CORS headers). */
export const originGuard: MiddlewareHandler<AppEnv> = async (c, next) => {
  const origin = c.req.header("origin");
  if (origin && !originAllowed(c, origin)) return jsonRpcError(403, null, RpcCode.BadRequest, `Origin ${origin} is not allowed.`);
  await next();
};

const ALLOW_METHODS = "GET, POST, DELETE, OPTIONS";
const ALLOW_HEADERS = "Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID";
const EXPOSED_HEADERS = "Mcp-Session-Id, WWW-Authenticate, MCP-Protocol-Version, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After";

const withCors = cors({
  // Only allowed origins get here (originGuard ran first): the reply names the caller's own.
  origin: (origin) => origin || null,
  // One item each: cors() joins items with "," and these values have always been ", "-separated.
  allowMethods: [ALLOW_METHODS],
  allowHeaders: [ALLOW_HEADERS],
  exposeHeaders: [EXPOSED_HEADERS],
  maxAge: 86400,
});

/**
 * hono's cors() for the MCP endpoint, kept to the headers the endpoint has always sent:
 * - a request without Origin gets no CORS headers (cors() would add Access-Control-Expose-Headers
 *   and `Vary: Origin` to every reply); a preflight without one gets only Allow-* and Max-Age;
 * - a preflight varies on Origin alone (cors() adds Access-Control-Request-Headers to Vary, which
 *   matters only when Allow-Headers echoes the request's; ours is fixed);
 * - an error answered by the app's 500 handler carries no CORS headers, as before (cors() sets
 *   them before the chain runs, and hono builds that reply on top of them).
 * cors() writes into `c.res.headers`, which hono copies onto whatever a middleware returns, so
 * the preflight's headers are fixed there.
 */
export const mcpCors: MiddlewareHandler<AppEnv> = async (c, next) => {
  const origin = c.req.header("origin");
  if (!origin && c.req.method !== "OPTIONS") return next();
  const preflight = await withCors(c, next);
  if (preflight) {
    const headers = c.res.headers;
    if (origin) headers.set("vary", "Origin");
    else for (const name of ["vary", "access-control-expose-headers"]) headers.delete(name);
    return new Response(null, { status: 204, headers });
  }
  if (c.error) for (const name of ["access-control-allow-origin", "access-control-expose-headers", "vary"]) c.res.headers.delete(name);
};
