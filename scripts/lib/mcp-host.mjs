/**
 * A tiny multi-server MCP host on `node:http`, shared by the test fixture upstreams and the dev
 * demo upstream.
 *
 * Each named server is served at `/<name>/mcp` with stateful Streamable HTTP sessions, the way
 * real-world upstreams behave: a gateway has to initialize, carry `Mcp-Session-Id`, and
 * re-initialize after a 404. The host counts what it receives so tests can assert on what the
 * gateway actually sent upstream (how often it initialized, which methods, which headers).
 *
 * Test isolation: counters are global to the process, and vitest may run several test files at
 * once against the same host. A test that asserts on counters can use its own *scope*:
 * `/scope/<scope>/<name>/mcp` is the same server with separate counters and sessions, read with
 * `GET /__stats/<name>?scope=<scope>` (the same `?scope=` works on `/__expire` and `/__reset`).
 *
 * Control endpoints (same port):
 *   GET  /__stats/<name>[?scope=s]   → { initializes, requests: {method: n}, sessions, notFound, deletes, lastHeaders }
 *                                      (deletes: DELETE requests that named a session, known or not)
 *   POST /__reset[?scope=s]          → zero counters (open sessions stay open)
 *   POST /__expire/<name>[?scope=s]  → drop that server's sessions: old session ids now get 404
 *   POST /__down/<name>[?scope=s]    → answer 503 to everything (an outage) until POST /__up/<name>
 *   POST /__fail/<name>?count=n[&scope=s]  → answer HTTP 500 to the next n POSTs on an existing session
 *                                      (the session stays open: a server's own error, not a lost session)
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { createEventStore } from "./event-store.mjs";
import { headerValue, listen, readBody, safeParse, sendJson, sendJsonRpcError } from "./http-util.mjs";

/**
 * @typedef {import('@modelcontextprotocol/sdk/server/mcp.js').McpServer} McpServer
 * @typedef {{ name: string, scope: string, headers: Record<string, string | string[] | undefined> }} SessionContext
 * @typedef {(ctx: SessionContext) => McpServer} ServerFactory
 * @typedef {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, body: string) => void} RawHandler
 * @typedef {(request: Request, parsedBody: unknown) => Promise<Response>} ModernHandler
 * @typedef {ServerFactory | { raw: RawHandler }
 *   | { create: ServerFactory, jsonResponse?: boolean, resumable?: boolean | { retryMs?: number }, modern?: ModernHandler }} ServerSpec
 *   A plain factory answers POSTs as SSE streams (the SDK default); `jsonResponse: true` answers
 *   with plain `application/json` bodies instead, so gateways can be tested against both.
 *   `resumable` gives each session an event store (event-store.mjs): POST streams start with a
 *   priming event carrying `retry` (RESUMABLE_RETRY_MS unless `retryMs` says otherwise), a tool
 *   may close its stream mid-call (`extra.closeSSEStream`), and GET + Last-Event-ID resumes it.
 *   `modern` makes the server dual-era: POSTs of the 2026-07-28 era (see isModernPost) go to this
 *   web-standard handler (e.g. the SDK v2 `createMcpHandler(...).fetch`, given the parsed body),
 *   everything else to the legacy sessions above. Counters count both.
 * @typedef {(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, url: URL) => boolean} ExtraRoute
 *   A route of the servers' own (e.g. a fixture's control endpoint), tried before a path that
 *   names no server gets 404: true when it took the request.
 * @typedef {{ initializes: number, requests: Record<string, number>, sessions: number, notFound: number, deletes: number, lastHeaders: Record<string, string | string[] | undefined> | null }} ServerStats
 * @typedef {{ url: string, port: number, close(): Promise<void>, stats(name: string, scope?: string): ServerStats }} McpHost
 */

const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** The `retry` a resumable server's priming events ask for: short, so tests that resume stay fast. */
export const RESUMABLE_RETRY_MS = 50;

/**
 * Starts the host. Resolves once it listens.
 * @param {{ host?: string, port?: number, servers: Record<string, ServerSpec>, routes?: ExtraRoute }} options
 * @returns {Promise<McpHost>}
 */
export async function startMcpHost({ host = "127.0.0.1", port = 0, servers, routes }) {
  /** @type {Map<string, { initializes: number, requests: Record<string, number>, notFound: number, deletes: number, lastHeaders: ServerStats['lastHeaders'] }>} */
  const counters = new Map();
  /** Servers (by scope/name key) currently answering 503, see /__down. */
  const down = new Set();
  /** POSTs on an existing session still to answer with HTTP 500, by scope/name key (see /__fail). */
  const failing = new Map();
  /** @type {Map<string, { key: string, transport: StreamableHTTPServerTransport, server: McpServer }>} */
  const sessions = new Map();
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();

  const keyOf = (/** @type {string} */ name, scope = "") => (scope ? `${scope}/${name}` : name);
  const countersFor = (/** @type {string} */ key) => {
    let c = counters.get(key);
    if (!c) {
      c = { initializes: 0, requests: {}, notFound: 0, deletes: 0, lastHeaders: null };
      counters.set(key, c);
    }
    return c;
  };

  /** @param {string} key */
  const stats = (key) => {
    const c = countersFor(key);
    let open = 0;
    for (const s of sessions.values()) if (s.key === key) open++;
    return { initializes: c.initializes, requests: { ...c.requests }, sessions: open, notFound: c.notFound, deletes: c.deletes, lastHeaders: c.lastHeaders };
  };

  /** Drops sessions matching `filter`; the map entry goes first so no request can reach a closing transport. */
  const dropSessions = async (/** @type {(key: string) => boolean} */ filter) => {
    const doomed = [];
    for (const [id, s] of sessions) {
      if (filter(s.key)) {
        sessions.delete(id);
        doomed.push(s);
      }
    }
    await Promise.allSettled(doomed.map((s) => s.server.close()));
  };

  const httpServer = createServer((req, res) => {
    route(req, res).catch((err) => {
      console.error("[mcp-host] request failed:", err);
      if (!res.headersSent) sendJsonRpcError(res, 500, -32603, "Internal server error");
      else res.destroy();
    });
  });
  httpServer.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   */
  async function route(req, res) {
    const url = new URL(req.url ?? "/", "http://host.invalid");
    const scope = url.searchParams.get("scope") ?? "";
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);

    if (parts[0] === "__stats" && parts.length === 2 && req.method === "GET") {
      return sendJson(res, 200, stats(keyOf(parts[1], scope)));
    }
    if (parts[0] === "__reset" && parts.length === 1 && req.method === "POST") {
      for (const [key, c] of counters) {
        if (!scope || key.startsWith(`${scope}/`)) Object.assign(c, { initializes: 0, requests: {}, notFound: 0, deletes: 0, lastHeaders: null });
      }
      return sendJson(res, 200, { ok: true });
    }
    if (parts[0] === "__down" && parts.length === 2 && req.method === "POST") {
      // The server answers 503 to everything until __up: an outage, without changing its URL.
      const key = keyOf(parts[1], scope);
      down.add(key);
      await dropSessions((k) => k === key);
      return sendJson(res, 200, { ok: true });
    }
    if (parts[0] === "__fail" && parts.length === 2 && req.method === "POST") {
      failing.set(keyOf(parts[1], scope), Number(url.searchParams.get("count") ?? "1"));
      return sendJson(res, 200, { ok: true });
    }
    if (parts[0] === "__up" && parts.length === 2 && req.method === "POST") {
      down.delete(keyOf(parts[1], scope));
      return sendJson(res, 200, { ok: true });
    }
    if (parts[0] === "__expire" && parts.length === 2 && req.method === "POST") {
      const key = keyOf(parts[1], scope);
      await dropSessions((k) => k === key);
      return sendJson(res, 200, { ok: true });
    }

    // /<name>/mcp  or  /scope/<scope>/<name>/mcp
    let name,
      pathScope = "";
    if (parts.length === 2 && parts[1] === "mcp") name = parts[0];
    else if (parts.length === 4 && parts[0] === "scope" && parts[3] === "mcp") [, pathScope, name] = parts;
    const spec = name !== undefined && Object.hasOwn(servers, name) ? servers[name] : undefined;
    if ((!name || !spec) && routes?.(req, res, url)) return;
    if (!name || !spec) return sendJson(res, 404, { error: "no such server" });
    if (down.has(keyOf(name, pathScope))) return sendJson(res, 503, { error: "down for a test" });

    await handleMcp(req, res, name, pathScope, spec);
  }

  /**
   * @param {import('node:http').IncomingMessage} req
   * @param {import('node:http').ServerResponse} res
   * @param {string} name
   * @param {string} scope
   * @param {ServerSpec} spec
   */
  async function handleMcp(req, res, name, scope, spec) {
    const key = keyOf(name, scope);
    const c = countersFor(key);
    const rawBody = req.method === "POST" ? (await readBody(req, MAX_BODY_BYTES)).toString("utf8") : "";
    // Only POSTs update lastHeaders: the GET stream opens asynchronously and DELETE comes last,
    // either would make "what headers did the tool call carry" racy to assert on.
    if (req.method === "POST") c.lastHeaders = { ...req.headers };
    const named = headerValue(req.headers["mcp-session-id"]);
    if (req.method === "DELETE" && named) c.deletes++;
    const toFail = failing.get(key) ?? 0;
    if (req.method === "POST" && named && toFail > 0) {
      failing.set(key, toFail - 1);
      return sendJsonRpcError(res, 500, -32603, "Internal server error (a test asked for it)");
    }

    if (typeof spec === "object" && "raw" in spec) {
      countMethods(c, safeParse(rawBody), "(raw)");
      return spec.raw(req, res, rawBody);
    }

    /** @type {unknown} */
    let body;
    if (req.method === "POST") {
      body = safeParse(rawBody);
      if (body === undefined) return sendJsonRpcError(res, 400, -32700, "Parse error");
    }

    if (typeof spec === "object" && "modern" in spec && spec.modern && req.method === "POST" && isModernPost(req, body)) {
      countMethods(c, body);
      return serveFetch(req, res, rawBody, (request) => /** @type {ModernHandler} */ (spec.modern)(request, body));
    }

    const sessionId = headerValue(req.headers["mcp-session-id"]);
    const existing = sessionId ? sessions.get(sessionId) : undefined;
    if (existing && existing.key === key) {
      countMethods(c, body);
      return existing.transport.handleRequest(req, res, body);
    }
    if (sessionId) {
      // Unknown or expired: 404 tells a spec-following client to start a new session.
      c.notFound++;
      return sendJsonRpcError(res, 404, -32001, "Session not found");
    }
    if (req.method !== "POST" || !isInitializeRequest(body)) {
      return sendJsonRpcError(res, 400, -32000, "Bad Request: No valid session ID provided");
    }

    const create = typeof spec === "function" ? spec : spec.create;
    const options = typeof spec === "function" ? {} : spec;
    const server = create({ name, scope, headers: { ...req.headers } });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: options.jsonResponse === true,
      ...(options.resumable
        ? { eventStore: createEventStore(), retryInterval: (options.resumable === true ? undefined : options.resumable.retryMs) ?? RESUMABLE_RETRY_MS }
        : {}),
      // Registered before the response is written, so a fast client cannot race its own session.
      onsessioninitialized: (id) => {
        sessions.set(id, { key, transport, server });
        c.initializes++;
        countMethods(c, body);
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id && sessions.get(id)?.transport === transport) sessions.delete(id);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
    // The SDK refused the initialize (bad Accept, bad version...): nothing will ever reach it.
    if (!transport.sessionId) await server.close();
  }

  const bound = await listen(httpServer, port, host);

  let closing;
  return {
    url: bound.origin,
    port: bound.port,
    stats: (name, scope = "") => stats(keyOf(name, scope)),
    close() {
      closing ??= (async () => {
        await dropSessions(() => true);
        const closed = new Promise((resolve) => httpServer.close(() => resolve(undefined)));
        // Open SSE streams and keep-alive sockets would otherwise hold close() forever.
        httpServer.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        await closed;
      })();
      return closing;
    },
  };
}

/**
 * A POST of the modern era (2026-07-28 and later): its MCP-Protocol-Version header names a 2026+
 * revision, or its message carries the per-request `_meta` protocol-version claim, as the SDK v2
 * entry (`isLegacyRequest`) decides. Legacy POSTs (initialize, session traffic) have neither; a
 * session's POST that carries the modern claim is the modern handler's to refuse (-32020).
 * @param {import('node:http').IncomingMessage} req @param {unknown} body
 */
function isModernPost(req, body) {
  const header = headerValue(req.headers["mcp-protocol-version"]);
  if (header && header >= "2026") return true;
  const meta = body && typeof body === "object" && !Array.isArray(body) ? /** @type {{ params?: { _meta?: unknown } }} */ (body).params?._meta : undefined;
  return !!meta && typeof meta === "object" && "io.modelcontextprotocol/protocolVersion" in meta;
}

/**
 * Serves one Node request with a web-standard handler: a `Request` from the already-read body,
 * the `Response` streamed back (JSON or SSE). A client that disconnects aborts the request's signal.
 * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res @param {string} rawBody
 * @param {(request: Request) => Promise<Response>} handle
 */
export async function serveFetch(req, res, rawBody, handle) {
  const abort = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) abort.abort();
  });
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const request = new Request(`http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`, {
    method: req.method,
    headers,
    body: req.method === "GET" || req.method === "HEAD" ? undefined : rawBody,
    signal: abort.signal,
  });
  const response = await handle(request);
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (!response.body) return void res.end();
  // A stream (the standalone GET) may say nothing for a while: its client should know it is open.
  res.flushHeaders();
  try {
    for await (const chunk of response.body) res.write(chunk);
  } finally {
    res.end();
  }
}

/** @param {{ requests: Record<string, number> }} c @param {unknown} body @param {string} [fallback] */
function countMethods(c, body, fallback) {
  const messages = Array.isArray(body) ? body : [body];
  let counted = false;
  for (const m of messages) {
    // Responses to server-initiated requests carry no method and are not "requests" here.
    if (m && typeof m === "object" && "method" in m && typeof m.method === "string") {
      c.requests[m.method] = (c.requests[m.method] ?? 0) + 1;
      counted = true;
    }
  }
  if (!counted && fallback) c.requests[fallback] = (c.requests[fallback] ?? 0) + 1;
}
