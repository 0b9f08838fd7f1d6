/**
 * The soak's load: N concurrent MCP SDK clients (`Client` + `StreamableHTTPClientTransport`), each
 * with its own session on the preset, alternately calling one tool of each upstream with unique
 * arguments (`c<i>-<n>`) and checking the reply is its own (`<upstream>:c<i>-<n>`): anything else is
 * cross-talk. A client whose session or connection is gone (transport failure, HTTP 404, or a
 * gateway that is down) starts a new client after a short pause, as an application would.
 *
 * Every call is recorded as `{ client, upstream, start, end, kind, code }` (times in ms since the
 * soak started): kind is `ok`, `tool_error` (a result with isError), `rpc` (a JSON-RPC error,
 * `code`), `http` (an HTTP status, `code`), `transport` (no reply: connection refused or reset,
 * client timeout) or `crosstalk` (a reply that is not this request's). The first three are
 * acknowledged: the gateway answered, so it should have counted the call.
 *
 * A stall probe runs beside them: one more session sends `ping` (answered by the preset's Durable
 * Object without any upstream) every `probeEveryMs`, so its latency is how long the object (and the
 * isolate it shares with the worker) keeps a request waiting.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";

/** @typedef {{ client: number, upstream: string, start: number, end: number, kind: 'ok' | 'tool_error' | 'rpc' | 'http' | 'transport' | 'crosstalk', code: number | null, message?: string }} CallRecord */
/** @typedef {{ start: number, end: number, ok: boolean }} ProbeRecord */

const CLIENT_TIMEOUT_MS = 10_000;
const RECONNECT_PAUSE_MS = 200;

/** @param {unknown} e @returns {{ kind: CallRecord['kind'], code: number | null, message: string }} */
export function classifyError(e) {
  const message = e instanceof Error ? e.message.slice(0, 200) : String(e);
  if (e instanceof McpError) {
    // The SDK's own request timeout and closed connection are client-side: no reply came.
    if (e.code === -32001 && /timed out/i.test(message)) return { kind: "transport", code: null, message };
    if (e.code === -32000 && /closed/i.test(message)) return { kind: "transport", code: null, message };
    return { kind: "rpc", code: e.code, message };
  }
  if (e instanceof StreamableHTTPError && typeof e.code === "number" && e.code >= 100) return { kind: "http", code: e.code, message };
  return { kind: "transport", code: null, message };
}

/** The soak's preset's two tools: each client alternates between them. */
export const SOAK_TOOLS = [
  { upstream: "faulty", tool: "faulty__echo" },
  { upstream: "healthy", tool: "healthy__echo" },
];

/**
 * @param {{ url: string, clients: number, tools: { upstream: string, tool: string }[], now: () => number,
 *   onCall: (r: CallRecord) => void, onProbe?: (r: ProbeRecord) => void, probeEveryMs?: number, log?: (m: string) => void }} o
 */
export function startLoad({ url, clients, tools, now, onCall, onProbe, probeEveryMs = 50, log = () => {} }) {
  let running = true;
  /** @type {Set<Client>} */
  const live = new Set();
  let reconnects = 0;
  let connectFailures = 0;

  /** Why connects failed, by message (the first 200 characters), with when it last happened. */
  /** @type {Record<string, { n: number, lastMs: number }>} */
  const connectErrors = {};
  const open = async () => {
    const client = new Client({ name: "mcpgate-soak", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(url));
    client.onerror = () => {};
    try {
      await client.connect(transport, { timeout: CLIENT_TIMEOUT_MS });
    } catch (e) {
      const key = classifyError(e).message.slice(0, 120);
      connectErrors[key] = { n: (connectErrors[key]?.n ?? 0) + 1, lastMs: Math.round(now()) };
      // An initialize that got its session but failed after (initialized, a timeout) ends it, as an application should.
      await close(client);
      throw e;
    }
    live.add(client);
    return client;
  };
  const close = async (/** @type {Client | null} */ c) => {
    if (!c) return;
    live.delete(c);
    const t = /** @type {StreamableHTTPClientTransport} */ (c.transport);
    await Promise.race([t?.terminateSession().catch(() => {}), new Promise((r) => setTimeout(r, 500))]);
    await c.close().catch(() => {});
  };

  /** @param {number} i */
  const loop = async (i) => {
    /** @type {Client | null} */
    let client = null;
    let n = 0;
    while (running) {
      if (!client) {
        try {
          client = await open();
        } catch {
          connectFailures++;
          await new Promise((r) => setTimeout(r, RECONNECT_PAUSE_MS));
          continue;
        }
      }
      const { upstream, tool } = tools[(i + n) % tools.length];
      const text = `c${i}-${n++}`;
      const start = now();
      /** @type {CallRecord} */
      let rec;
      let reconnect = false;
      try {
        const result = /** @type {{ isError?: boolean, content?: { type: string, text?: string }[] }} */ (
          await client.callTool({ name: tool, arguments: { text } }, undefined, { timeout: CLIENT_TIMEOUT_MS })
        );
        const got = result.content?.[0]?.text;
        if (result.isError) rec = { client: i, upstream, start, end: now(), kind: "tool_error", code: null, message: String(got).slice(0, 200) };
        else if (got !== `${upstream}:${text}`)
          rec = { client: i, upstream, start, end: now(), kind: "crosstalk", code: null, message: `sent ${text}, got ${got}` };
        else rec = { client: i, upstream, start, end: now(), kind: "ok", code: null };
      } catch (e) {
        const c = classifyError(e);
        rec = { client: i, upstream, start, end: now(), ...c };
        reconnect = c.kind === "transport" || (c.kind === "http" && (c.code === 404 || c.code >= 500)) || (c.kind === "rpc" && c.code === -32001);
      }
      onCall(rec);
      if (reconnect) {
        const old = client;
        client = null;
        reconnects++;
        void close(old);
        await new Promise((r) => setTimeout(r, RECONNECT_PAUSE_MS));
      }
    }
    await close(client);
  };

  const probe = async () => {
    /** @type {Client | null} */
    let client = null;
    while (running) {
      const start = now();
      try {
        client ??= await open();
        await client.ping({ timeout: CLIENT_TIMEOUT_MS });
        onProbe?.({ start, end: now(), ok: true });
      } catch {
        onProbe?.({ start, end: now(), ok: false });
        const old = client;
        client = null;
        void close(old);
      }
      await new Promise((r) => setTimeout(r, probeEveryMs));
    }
    await close(client);
  };

  const loops = [...Array.from({ length: clients }, (_, i) => loop(i)), ...(onProbe ? [probe()] : [])];
  return {
    stats: () => ({ live: live.size, reconnects, connectFailures, connectErrors }),
    async stop() {
      running = false;
      await Promise.allSettled(loops);
      log(`load stopped: ${reconnects} reconnects, ${connectFailures} failed connects`);
    },
  };
}
