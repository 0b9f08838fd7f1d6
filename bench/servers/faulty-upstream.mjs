/**
 * A fault-injecting upstream MCP server for `npm run soak` (bench/soak.mjs), run as a Node child
 * (one per upstream: the soak forks it twice, `faulty` and `healthy`, so a stall or an outage of
 * one never touches the other's event loop).
 *
 * MCP: an SDK McpServer with stateful Streamable HTTP sessions (plain JSON replies) at
 * `http://127.0.0.1:<port>/mcp`, one tool `echo { text }` that answers `<name>:<text>`, so a
 * client can tell a reply meant for another request (or another upstream) from its own.
 *
 * Control (a second loopback port, up even while the MCP port is down), JSON in and out:
 *   GET  /stats    counters: sessions opened / ended by DELETE / dropped by a restart or an
 *                  outage / open now / used in the last `liveMs`, requests by method, faults
 *                  injected, and for every open session that is no longer used, the last fault it
 *                  saw (what the gateway was doing when it walked away from it), and those
 *                  sessions themselves (opened, last used: epoch ms)
 *   POST /faults   { errorRate, hangRate, hangMs, methods }: from now on each POST whose JSON-RPC
 *                  method is in `methods` (default ["tools/call"]) gets an HTTP 500 with
 *                  probability errorRate, or is held hangMs before it is served with hangRate.
 *                  The session is kept either way: a 500 is a transient failure, not a lost session.
 *   POST /drop     a restart: every session is forgotten, old session ids get 404
 *   POST /down     hard down: the MCP listener closes and every connection is destroyed
 *                  (connection refused); sessions are forgotten as by /drop
 *   POST /up       listen again on the same port
 *   POST /reset    zero the counters (sessions stay)
 *
 * Started with an IPC channel: it sends `{ url, control }` once listening, and exits when the
 * parent disconnects (which also happens when the parent dies).
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import * as z from "zod";
import { headerValue, readBody, safeParse, sendJson, sendJsonRpcError } from "../../scripts/lib/http-util.mjs";

const NAME = process.argv[2] ?? "faulty";
/** A session used within this long counts as live (the gateway still sends on it). */
const DEFAULT_LIVE_MS = 5_000;

/** @typedef {{ transport: StreamableHTTPServerTransport, server: McpServer, openedAt: number, lastUsed: number, requests: number, lastFault: string | null }} Session */

/** @type {Map<string, Session>} */
const sessions = new Map();
const faults = { errorRate: 0, hangRate: 0, hangMs: 2_000, methods: ["tools/call"] };
const zero = () => ({
  opened: 0,
  endedByDelete: 0,
  deleteUnknown: 0,
  droppedByRestart: 0,
  notFound: 0,
  injected500: 0,
  injectedHang: 0,
  requests: /** @type {Record<string, number>} */ ({}),
});
let counters = zero();

function createEchoServer() {
  const server = new McpServer({ name: `soak-${NAME}`, version: "1.0.0" });
  server.registerTool("echo", { description: "Returns <upstream>:<text>", inputSchema: { text: z.string() } }, ({ text }) => ({
    content: [{ type: "text", text: `${NAME}:${text}` }],
  }));
  return server;
}

/** @param {(s: Session) => boolean} filter */
async function dropSessions(filter) {
  const doomed = [];
  for (const [id, s] of sessions) {
    if (filter(s)) {
      sessions.delete(id);
      doomed.push(s);
    }
  }
  counters.droppedByRestart += doomed.length;
  await Promise.allSettled(doomed.map((s) => s.server.close()));
}

/** @param {string[]} list */
const countMethods = (list) => {
  for (const m of list) counters.requests[m] = (counters.requests[m] ?? 0) + 1;
};
/** @param {unknown} body @returns {string[]} */
const methodsOf = (body) => (Array.isArray(body) ? body : [body]).map((m) => (m && typeof m === "object" && "method" in m ? String(m.method) : "(response)"));

/** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
async function handleMcp(req, res) {
  const url = new URL(req.url ?? "/", "http://host.invalid");
  if (url.pathname !== "/mcp") return sendJson(res, 404, { error: "not found" });
  const raw = req.method === "POST" ? (await readBody(req, 4 * 1024 * 1024)).toString("utf8") : "";
  /** @type {unknown} */
  let body;
  if (req.method === "POST") {
    body = safeParse(raw);
    if (body === undefined) return sendJsonRpcError(res, 400, -32700, "Parse error");
  }
  const methods = req.method === "POST" ? methodsOf(body) : [req.method ?? "?"];
  countMethods(methods);
  const sessionId = headerValue(req.headers["mcp-session-id"]);
  const session = sessionId ? sessions.get(sessionId) : undefined;

  if (req.method === "POST" && methods.some((m) => faults.methods.includes(m))) {
    const r = Math.random();
    if (r < faults.errorRate) {
      counters.injected500++;
      if (session) session.lastFault = `500 on ${methods.join(",")}`;
      return sendJsonRpcError(res, 500, -32603, "Injected internal error");
    }
    if (r < faults.errorRate + faults.hangRate) {
      counters.injectedHang++;
      if (session) session.lastFault = `hang on ${methods.join(",")}`;
      await new Promise((resolve) => setTimeout(resolve, faults.hangMs));
      if (req.socket.destroyed || res.writableEnded) return;
    }
  }

  if (sessionId) {
    if (!session) {
      if (req.method === "DELETE") counters.deleteUnknown++;
      counters.notFound++;
      return sendJsonRpcError(res, 404, -32001, "Session not found");
    }
    session.lastUsed = Date.now();
    session.requests++;
    if (req.method === "DELETE") {
      sessions.delete(sessionId);
      counters.endedByDelete++;
      await session.transport.handleRequest(req, res, body);
      await session.server.close().catch(() => {});
      return;
    }
    return session.transport.handleRequest(req, res, body);
  }
  if (req.method !== "POST" || !isInitializeRequest(body)) return sendJsonRpcError(res, 400, -32000, "Bad Request: No valid session ID provided");

  const server = createEchoServer();
  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    enableJsonResponse: true,
    onsessioninitialized: (id) => {
      const now = Date.now();
      sessions.set(id, { transport, server, openedAt: now, lastUsed: now, requests: 1, lastFault: null });
      counters.opened++;
    },
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
  if (!transport.sessionId) await server.close();
}

/** @param {number} liveMs */
function stats(liveMs) {
  const now = Date.now();
  let live = 0;
  /** @type {Record<string, number>} */
  const idleByLastFault = {};
  for (const s of sessions.values()) {
    if (now - s.lastUsed <= liveMs) live++;
    else {
      const k = s.lastFault ?? "none";
      idleByLastFault[k] = (idleByLastFault[k] ?? 0) + 1;
    }
  }
  // The idle ones themselves (at most 1000): when each was opened and last used, epoch ms.
  const idleSessions = [...sessions.values()]
    .filter((s) => now - s.lastUsed > liveMs)
    .slice(0, 1000)
    .map((s) => ({ openedAt: s.openedAt, lastUsed: s.lastUsed, requests: s.requests, lastFault: s.lastFault }));
  return { name: NAME, up: mcpUp, faults, ...counters, open: sessions.size, live, idle: sessions.size - live, idleByLastFault, idleSessions, liveMs };
}

/** @type {Set<import('node:net').Socket>} */
const sockets = new Set();
const mcp = createServer((req, res) => {
  handleMcp(req, res).catch((err) => {
    if (!res.headersSent) sendJsonRpcError(res, 500, -32603, `faulty-upstream failed: ${err}`);
    else res.destroy();
  });
});
mcp.keepAliveTimeout = 30_000;
mcp.on("connection", (socket) => {
  sockets.add(socket);
  socket.on("close", () => sockets.delete(socket));
});
let mcpUp = false;
/** @param {number} port */
const listenMcp = (port) =>
  new Promise((resolve, reject) => {
    mcp.once("error", reject);
    mcp.listen(port, "127.0.0.1", () => {
      mcp.off("error", reject);
      mcpUp = true;
      resolve(/** @type {import('node:net').AddressInfo} */ (mcp.address()).port);
    });
  });
const mcpPort = /** @type {number} */ (await listenMcp(0));

const control = createServer((req, res) => {
  (async () => {
    const url = new URL(req.url ?? "/", "http://host.invalid");
    const input = req.method === "POST" ? (safeParse((await readBody(req, 65536)).toString("utf8")) ?? {}) : {};
    switch (`${req.method} ${url.pathname}`) {
      case "GET /stats":
        return sendJson(res, 200, stats(Number(url.searchParams.get("liveMs") ?? DEFAULT_LIVE_MS)));
      case "POST /faults":
        for (const k of /** @type {const} */ (["errorRate", "hangRate", "hangMs"])) if (typeof input[k] === "number") faults[k] = input[k];
        if (Array.isArray(input.methods)) faults.methods = input.methods.map(String);
        return sendJson(res, 200, { faults });
      case "POST /drop":
        await dropSessions(() => true);
        return sendJson(res, 200, { ok: true });
      case "POST /down": {
        if (mcpUp) {
          mcpUp = false;
          const closed = new Promise((resolve) => mcp.close(() => resolve(undefined)));
          for (const s of sockets) s.destroy();
          await dropSessions(() => true);
          await closed;
        }
        return sendJson(res, 200, { ok: true });
      }
      case "POST /up":
        if (!mcpUp) await listenMcp(mcpPort);
        return sendJson(res, 200, { ok: true });
      case "POST /reset":
        counters = zero();
        return sendJson(res, 200, { ok: true });
      default:
        return sendJson(res, 404, { error: "no such control" });
    }
  })().catch((e) => sendJson(res, 500, { error: String(e) }));
});
await new Promise((resolve) => control.listen(0, "127.0.0.1", () => resolve(undefined)));
const controlPort = /** @type {import('node:net').AddressInfo} */ (control.address()).port;

if (process.send) {
  process.send({ url: `http://127.0.0.1:${mcpPort}/mcp`, control: `http://127.0.0.1:${controlPort}` });
  const stop = () => process.exit(0);
  process.once("disconnect", stop);
  process.once("SIGTERM", stop);
} else {
  console.log(`${NAME}: MCP http://127.0.0.1:${mcpPort}/mcp, control http://127.0.0.1:${controlPort}`);
}
