/**
 * The load driver: real MCP over Streamable HTTP. Each virtual client has its own keep-alive
 * connection (an undici Client) and its own MCP session: it initializes once (untimed), sends
 * notifications/initialized, then repeats the workload's operation, carrying Mcp-Session-Id and
 * MCP-Protocol-Version on every request. Replies are parsed and checked (a JSON-RPC error, a tool
 * error or a short tool list counts as an error, not a sample), JSON or SSE alike.
 *
 * A modern-era (2026-07-28) client has no handshake and no session: every request carries
 * `MCP-Protocol-Version`, `Mcp-Method` (and `Mcp-Name` for tools/call, prompts/get,
 * resources/read) and the `_meta` envelope (protocol version, client capabilities, client info);
 * every result must say `resultType: "complete"`.
 */
import { Client } from "undici";

export const PROTOCOL_VERSION = "2025-11-25";
export const MODERN_PROTOCOL_VERSION = "2026-07-28";
const CLIENT_INFO = { name: "mcpgate-bench", version: "1.0.0" };
/** Methods whose `Mcp-Name` header carries a param (2026-07-28 streamable HTTP). */
const NAME_PARAM = /** @type {Record<string, string>} */ ({ "tools/call": "name", "prompts/get": "name", "resources/read": "uri" });

/** @typedef {'legacy' | 'modern'} Era */
const REQUEST_TIMEOUT_MS = 15_000;
const SETTLE_MS = 50;

/** One MCP session over one connection (for the modern era: one client, which has no session). */
export class McpSession {
  #conn;
  #path;
  #extra;
  #era;
  #nextId = 1;
  /** @type {string | undefined} */ sessionId;
  /** @type {string | undefined} */ version;
  /** `dur` of the last reply's `server-timing: app;dur=<ms>` header (set by bench/workers/timer.mjs). */
  /** @type {number | null} */ serverTimingMs = null;

  /** @param {Client} conn @param {string} path @param {Record<string, string>} extraHeaders @param {Era} [era] */
  constructor(conn, path, extraHeaders, era = "legacy") {
    this.#conn = conn;
    this.#path = path;
    this.#extra = extraHeaders;
    this.#era = era;
    if (era === "modern") this.version = MODERN_PROTOCOL_VERSION;
  }

  /** Ready to call: a legacy session initializes, a modern client has nothing to do. */
  async open() {
    if (this.#era === "legacy") await this.initialize();
  }

  async initialize() {
    const params = { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: CLIENT_INFO };
    const { result, headers } = await this.#post({ jsonrpc: "2.0", id: this.#nextId++, method: "initialize", params });
    const sid = headers["mcp-session-id"];
    if (typeof sid !== "string") throw new Error("initialize: no Mcp-Session-Id in the reply");
    this.sessionId = sid;
    this.version = /** @type {{ protocolVersion: string }} */ (result).protocolVersion;
    await this.#post({ jsonrpc: "2.0", method: "notifications/initialized" });
  }

  /** @param {string} method @param {Record<string, unknown>} [params] */
  async rpc(method, params = {}) {
    if (this.#era === "legacy") return (await this.#post({ jsonrpc: "2.0", id: this.#nextId++, method, params })).result;
    const _meta = {
      "io.modelcontextprotocol/protocolVersion": MODERN_PROTOCOL_VERSION,
      "io.modelcontextprotocol/clientCapabilities": {},
      "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
    };
    /** @type {Record<string, string>} */
    const headers = { "mcp-method": method };
    const name = NAME_PARAM[method] ? params[NAME_PARAM[method]] : undefined;
    if (typeof name === "string") headers["mcp-name"] = name;
    const { result } = await this.#post({ jsonrpc: "2.0", id: this.#nextId++, method, params: { ...params, _meta } }, headers);
    if (/** @type {{ resultType?: unknown }} */ (result).resultType !== "complete") {
      throw new Error(`${method}: resultType ${JSON.stringify(/** @type {{ resultType?: unknown }} */ (result).resultType)}, expected "complete"`);
    }
    return result;
  }

  /** Ends the session (DELETE); failures are ignored, e.g. a server that does not support it. */
  async end() {
    if (!this.sessionId) return;
    try {
      const res = await this.#conn.request({ path: this.#path, method: "DELETE", headers: this.#headers(), headersTimeout: REQUEST_TIMEOUT_MS });
      await res.body.dump();
    } catch {}
  }

  #headers() {
    /** @type {Record<string, string>} */
    const h = { "content-type": "application/json", accept: "application/json, text/event-stream", ...this.#extra };
    if (this.sessionId) h["mcp-session-id"] = this.sessionId;
    if (this.version) h["mcp-protocol-version"] = this.version;
    return h;
  }

  /** @param {Record<string, unknown>} message @param {Record<string, string>} [headers] per-request headers */
  async #post(message, headers) {
    const res = await this.#conn.request({
      path: this.#path,
      method: "POST",
      headers: headers ? { ...this.#headers(), ...headers } : this.#headers(),
      body: JSON.stringify(message),
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    });
    const text = await res.body.text();
    const timing = /dur=([\d.]+)/.exec(String(res.headers["server-timing"] ?? ""));
    this.serverTimingMs = timing ? Number(timing[1]) : null;
    if (!("id" in message)) {
      if (res.statusCode !== 202 && res.statusCode !== 200) throw new Error(`${message.method}: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
      return { result: null, headers: res.headers };
    }
    if (res.statusCode !== 200) throw new Error(`${message.method}: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
    const type = String(res.headers["content-type"] ?? "");
    const reply = type.startsWith("text/event-stream") ? lastSseMessage(text) : JSON.parse(text);
    if (reply?.error) throw new Error(`${message.method}: JSON-RPC error ${reply.error.code} ${reply.error.message}`);
    if (!reply || typeof reply.result !== "object") throw new Error(`${message.method}: no result in ${text.slice(0, 200)}`);
    return { result: reply.result, headers: res.headers };
  }
}

/** The JSON-RPC message of an SSE reply to a POST (the last `data:` event carries the response). @param {string} text */
function lastSseMessage(text) {
  const data = text.split("\n").filter((l) => l.startsWith("data:"));
  return data.length ? JSON.parse(data[data.length - 1].slice(5)) : null;
}

/**
 * @typedef {{ kind: 'call', tool: string, args: Record<string, unknown> }
 *   | { kind: 'list', expectTools: number }
 *   | { kind: 'churn', tool: string, args: Record<string, unknown> }} Operation
 */

/** @param {McpSession} s @param {string} tool @param {Record<string, unknown>} args */
export async function callTool(s, tool, args) {
  const result = /** @type {{ isError?: boolean, content?: { text?: string }[] }} */ (await s.rpc("tools/call", { name: tool, arguments: args }));
  if (result.isError) throw new Error(`tools/call ${tool}: tool error ${result.content?.[0]?.text ?? ""}`);
}

/**
 * Lists every tool, following nextCursor; `serverMs` sums the pages' server-timing, if any.
 * @param {McpSession} s @returns {Promise<{ tools: number, pages: number, serverMs: number }>}
 */
export async function listAll(s) {
  let tools = 0;
  let pages = 0;
  let serverMs = 0;
  /** @type {string | undefined} */
  let cursor;
  do {
    const result = /** @type {{ tools: unknown[], nextCursor?: string }} */ (await s.rpc("tools/list", cursor ? { cursor } : {}));
    tools += result.tools.length;
    pages++;
    serverMs += s.serverTimingMs ?? 0;
    cursor = result.nextCursor;
  } while (cursor && pages < 100);
  return { tools, pages, serverMs };
}

/**
 * Runs one cell: `concurrency` virtual clients repeat `op` against origin+path for `durationMs`.
 * Session setup and teardown happen outside the timed window; `hooks.before`/`hooks.after` run
 * right at its edges (to read CPU and upstream counters for exactly the timed requests).
 * A modern-era cell (`era: 'modern'`) opens no sessions; its churn operation is a new client's
 * tools/list + tools/call, with no handshake before and no DELETE after.
 * `clientHeaders[i]`, when given, adds to `headers` for client i (e.g. each client its own user's token).
 * @param {{ origin: string, path: string, headers?: Record<string, string>, clientHeaders?: Record<string, string>[], concurrency: number,
 *   durationMs: number, op: Operation, era?: Era, hooks?: { before?: () => Promise<void>, after?: () => Promise<void> } }} cell
 */
export async function runCell({ origin, path, headers = {}, clientHeaders, concurrency, durationMs, op, era = "legacy", hooks = {} }) {
  const conns = Array.from({ length: concurrency }, () => new Client(origin, { pipelining: 1, keepAliveTimeout: 60_000 }));
  const headersOf = (/** @type {number} */ i) => (clientHeaders ? { ...headers, ...clientHeaders[i] } : headers);
  /** @type {number[]} */
  const latencies = [];
  let errors = 0;
  let pages = 0;
  /** @type {string | null} */
  let firstError = null;
  const fail = (/** @type {unknown} */ e) => {
    errors++;
    firstError ??= e instanceof Error ? e.message : String(e);
  };
  /** @type {McpSession[]} */
  const sessions = [];
  /**
   * One operation on client i's connection and session.
   * @param {Client} conn @param {McpSession} s @param {number} i
   * @returns {Promise<{ pages: number, after?: () => Promise<void> }>}
   */
  const once = async (conn, s, i) => {
    if (op.kind === "call") {
      await callTool(s, op.tool, op.args);
      return { pages: 0 };
    }
    if (op.kind === "list") {
      const got = await listAll(s);
      if (got.tools !== op.expectTools) throw new Error(`tools/list: ${got.tools} tools, expected ${op.expectTools}`);
      return { pages: got.pages };
    }
    const fresh = new McpSession(conn, path, headersOf(i), era);
    await fresh.open();
    await listAll(fresh);
    await callTool(fresh, op.tool, op.args);
    return { pages: 0, after: era === "legacy" ? () => fresh.end() : undefined };
  };
  try {
    if (op.kind !== "churn") {
      const setup = await Promise.allSettled(
        conns.map(async (c, i) => {
          const s = new McpSession(c, path, headersOf(i), era);
          sessions[i] = s;
          await s.open();
        }),
      );
      const failed = setup.find((r) => r.status === "rejected");
      if (failed) throw /** @type {PromiseRejectedResult} */ (failed).reason;
    }
    // One untimed operation per client, then a pause: the cell starts in steady state (JIT warm,
    // caches filled, and any background work the first request set off, such as a Durable
    // Object refreshing a stale stored tool list, already done) for every target alike.
    await Promise.allSettled(conns.map((conn, i) => once(conn, sessions[i], i).then((r) => r.after?.())));
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    await hooks.before?.();
    const start = performance.now();
    const deadline = start + durationMs;
    await Promise.all(
      conns.map(async (conn, i) => {
        while (performance.now() < deadline) {
          const t0 = performance.now();
          try {
            const r = await once(conn, sessions[i], i);
            latencies.push(performance.now() - t0);
            pages += r.pages;
            if (r.after) await r.after(); // churn: end the session inside the wall time, outside the latency
          } catch (e) {
            fail(e);
            // A target that fails at once would spin; give the others the CPU meanwhile.
            await new Promise((r) => setTimeout(r, 5));
          }
        }
      }),
    );
    const wallMs = performance.now() - start;
    await hooks.after?.();
    return {
      latencies: Float64Array.from(latencies),
      wallMs,
      errors,
      firstError,
      pagesPerOp: latencies.length && op.kind === "list" ? pages / latencies.length : 1,
    };
  } catch (e) {
    fail(e);
    return { latencies: new Float64Array(0), wallMs: 0, errors, firstError, pagesPerOp: 0 };
  } finally {
    await Promise.allSettled(sessions.map((s) => s.end()));
    await Promise.allSettled(conns.map((c) => c.close()));
  }
}
