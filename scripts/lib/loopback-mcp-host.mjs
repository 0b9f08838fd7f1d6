/**
 * A one-endpoint MCP host on `node:http` that behaves like a careful real-world server, for the
 * conformance upstream:
 *
 * - stateful Streamable HTTP sessions (SDK transport): an `Mcp-Session-Id` per initialize, 404 for
 *   an unknown or ended session, DELETE ends one, idle sessions are dropped after a while;
 * - resumable SSE: an in-memory event store (event-store.mjs), so every POST stream starts with a
 *   priming event (id, empty data, `retry`), a handler may close its stream mid-call
 *   (`extra.closeSSEStream`), and the client resumes with GET + Last-Event-ID;
 * - DNS rebinding protection: a Host, or an Origin when present, that is not this loopback
 *   server (127.0.0.1, localhost or [::1] at its port) gets 403.
 *
 * scripts/lib/mcp-host.mjs is the many-servers host with request counters the gateway's tests
 * use (resumable per server, on request); this one trades those for the Host/Origin check.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { createEventStore } from "./event-store.mjs";
import { headerValue, listen, readBody, safeParse, sendJson, sendJsonRpcError } from "./http-util.mjs";

/**
 * @typedef {import('@modelcontextprotocol/sdk/server/mcp.js').McpServer} McpServer
 * @typedef {{ url: string, port: number, sessions(): number, close(): Promise<void> }} LoopbackMcpHost
 *   url is the MCP endpoint
 */

const MAX_BODY_BYTES = 1024 * 1024;
/** Sessions left open by a client that never sends DELETE are dropped after this long idle. */
const SESSION_IDLE_MS = 5 * 60_000;
/** What a priming event tells a client to wait before reconnecting a closed stream. */
const RETRY_MS = 500;
const LOOPBACK_NAMES = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Starts the host on `host:port` (port 0: any free port), serving `create()`'s servers at `path`,
 * one per session. Resolves once it listens.
 * @param {{ create: () => McpServer, host?: string, port?: number, path?: string, name?: string }} options
 * @returns {Promise<LoopbackMcpHost>}
 */
export async function startLoopbackMcpHost({ create, host = "127.0.0.1", port = 0, path = "/mcp", name = "loopback-mcp-host" }) {
  /** @type {Map<string, { transport: StreamableHTTPServerTransport, server: McpServer, timer: NodeJS.Timeout | undefined }>} */
  const sessions = new Map();
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();
  let listenPort = port;

  const drop = async (/** @type {string} */ id) => {
    const s = sessions.get(id);
    if (!s) return;
    sessions.delete(id);
    clearTimeout(s.timer);
    await s.server.close().catch(() => {});
  };
  const touch = (/** @type {string} */ id) => {
    const s = sessions.get(id);
    if (!s) return;
    clearTimeout(s.timer);
    s.timer = setTimeout(() => void drop(id), SESSION_IDLE_MS);
    s.timer.unref();
  };

  const httpServer = createServer((req, res) => {
    handle(req, res).catch((err) => {
      console.error(`[${name}] request failed:`, err);
      if (!res.headersSent) sendJsonRpcError(res, 500, -32603, "Internal server error");
      else res.destroy();
    });
  });
  httpServer.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  async function handle(req, res) {
    if (new URL(req.url ?? "/", "http://host.invalid").pathname !== path) return sendJson(res, 404, { error: `not found; the MCP endpoint is ${path}` });
    // DNS rebinding: a browser page on another name must not reach a loopback server.
    if (!isLoopbackAuthority(req.headers.host, listenPort) || (req.headers.origin !== undefined && !isLoopbackOrigin(req.headers.origin, listenPort))) {
      return sendJsonRpcError(res, 403, -32000, "Forbidden: Host or Origin is not this loopback server");
    }

    /** @type {unknown} */
    let body;
    if (req.method === "POST") {
      body = safeParse((await readBody(req, MAX_BODY_BYTES)).toString("utf8"));
      if (body === undefined) return sendJsonRpcError(res, 400, -32700, "Parse error");
    }

    const sessionId = headerValue(req.headers["mcp-session-id"]);
    if (sessionId) {
      const session = sessions.get(sessionId);
      if (!session) return sendJsonRpcError(res, 404, -32001, "Session not found");
      touch(sessionId);
      await session.transport.handleRequest(req, res, body);
      if (req.method === "DELETE") await drop(sessionId);
      return;
    }
    if (req.method !== "POST" || !isInitializeRequest(body)) {
      return sendJsonRpcError(res, 400, -32000, "Bad Request: No valid session ID provided");
    }

    const server = create();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: createEventStore(),
      retryInterval: RETRY_MS,
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server, timer: undefined });
        touch(id);
      },
    });
    transport.onclose = () => {
      const id = transport.sessionId;
      if (id && sessions.get(id)?.transport === transport) void drop(id);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
    if (!transport.sessionId) await server.close();
  }

  const bound = await listen(httpServer, port, host);
  listenPort = bound.port;

  /** @type {Promise<void> | undefined} */
  let closing;
  return {
    url: `${bound.origin}${path}`,
    port: bound.port,
    sessions: () => sessions.size,
    close() {
      closing ??= (async () => {
        await Promise.allSettled([...sessions.keys()].map(drop));
        const closed = new Promise((resolve) => httpServer.close(() => resolve(undefined)));
        httpServer.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        await closed;
      })();
      return closing;
    },
  };
}

/** @param {string | undefined} authority @param {number} port */
function isLoopbackAuthority(authority, port) {
  if (!authority) return false;
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority.toLowerCase());
  return !!match && LOOPBACK_NAMES.has(match[1]) && (match[2] === undefined || Number(match[2]) === port);
}

/** @param {string} origin @param {number} port */
function isLoopbackOrigin(origin, port) {
  try {
    const url = new URL(origin);
    return (url.protocol === "http:" || url.protocol === "https:") && isLoopbackAuthority(url.host, port);
  } catch {
    return false;
  }
}
