import { env, SELF } from "cloudflare:test";
import { createParser } from "eventsource-parser";
import { expect, vi } from "vitest";

/**
 * @module Raw Streamable HTTP, for what the SDK client would not send or hides from a test: exact
 * headers, malformed bodies, replies left unread, SSE events with their ids, GET streams and
 * DELETE. Requests to the fixture upstreams (`env.UPSTREAM_BASE`) go straight to them; every
 * other URL goes through the worker under test (`SELF`).
 */

/** The protocol version raw sessions speak unless told otherwise. */
export const LATEST_VERSION = "2025-11-25";

/** `fetch` for a URL in tests: the fixture upstreams live in Node, everything else is the worker. */
export function fetchFor(url: string): (input: RequestInfo | URL, init?: RequestInit) => Promise<Response> {
  return url.startsWith(env.UPSTREAM_BASE) ? (input, init) => fetch(input, init) : (input, init) => SELF.fetch(input as string, init);
}

/** What a request carries besides its body. */
export interface RequestOptions {
  token?: string;
  sessionId?: string;
  /** The MCP-Protocol-Version header. */
  protocolVersion?: string;
  headers?: Record<string, string>;
}

/** A session opened with a raw initialize; requests made on it carry its id, version and token. */
export interface RawSession {
  url: string;
  id: string;
  version: string;
  token?: string;
}

/** Where a request goes: a bare URL (options say the rest), or a session of an endpoint. */
export type Target = string | RawSession;

function resolve(target: Target, opts: RequestOptions): { url: string; headers: Record<string, string> } {
  const session = typeof target === "string" ? undefined : target;
  const token = opts.token ?? session?.token;
  const sessionId = opts.sessionId ?? session?.id;
  const protocolVersion = opts.protocolVersion ?? session?.version;
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (sessionId) headers["mcp-session-id"] = sessionId;
  if (protocolVersion) headers["mcp-protocol-version"] = protocolVersion;
  return { url: session?.url ?? (target as string), headers };
}

/** A raw POST of `body` (a string is sent as it is); the reply's body is left for the caller. */
export function post(target: Target, body: unknown, opts: RequestOptions = {}): Promise<Response> {
  const { url, headers } = resolve(target, opts);
  return fetchFor(url)(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers, ...opts.headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** A reply read to the end: `json` is the parsed body when it is JSON, else null. */
export interface McpReply {
  status: number;
  headers: Headers;
  json: any;
  text: string;
}

/** A raw POST whose reply is read to the end. */
export async function mcpPost(target: Target, body: unknown, opts: RequestOptions = {}): Promise<McpReply> {
  const res = await post(target, body, opts);
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, headers: res.headers, json, text };
}

/** A raw GET of the endpoint: the standalone stream, or with `lastEventId` a resumed one. */
export function listen(target: Target, opts: RequestOptions & { lastEventId?: string; accept?: string } = {}): Promise<Response> {
  const { url, headers } = resolve(target, opts);
  const extra: Record<string, string> = { accept: opts.accept ?? "text/event-stream" };
  if (opts.lastEventId !== undefined) extra["last-event-id"] = opts.lastEventId;
  return fetchFor(url)(url, { method: "GET", headers: { ...headers, ...extra, ...opts.headers } });
}

/** A raw DELETE of a session; returns the status. */
export async function deleteSession(target: Target, opts: RequestOptions = {}): Promise<number> {
  const { url, headers } = resolve(target, opts);
  const res = await fetchFor(url)(url, { method: "DELETE", headers: { ...headers, ...opts.headers } });
  await res.body?.cancel();
  return res.status;
}

/** An initialize request. */
export const INIT = (id: number | string = 1, protocolVersion = LATEST_VERSION, capabilities: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id,
  method: "initialize",
  params: { protocolVersion, capabilities, clientInfo: { name: "raw-test", version: "1" } },
});

/** A tools/call request. */
export const toolCall = (id: string | number, name: string, args: Record<string, unknown> = {}, meta?: Record<string, unknown>) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) },
});

/** Sends initialize and returns the new session's id, failing on anything but 200 with an id. */
async function initialize(url: string, opts: { token?: string; version?: string; capabilities?: Record<string, unknown>; id?: number } = {}): Promise<string> {
  const res = await mcpPost(url, INIT(opts.id ?? 1, opts.version ?? LATEST_VERSION, opts.capabilities), { token: opts.token });
  const id = res.headers.get("mcp-session-id");
  if (res.status !== 200 || !id) throw new Error(`initialize failed: ${res.status} ${res.text}`);
  return id;
}

/** Opens a session with a bare initialize (no notifications/initialized) and returns its id. */
export function rawSession(url: string, token?: string, protocolVersion = LATEST_VERSION): Promise<string> {
  return initialize(url, { token, version: protocolVersion });
}

/**
 * Opens a session as a client does, initialize then notifications/initialized, declaring
 * `capabilities`; requests on the returned session carry its id, version and token.
 */
export async function openSession(url: string, opts: { version?: string; capabilities?: Record<string, unknown>; token?: string } = {}): Promise<RawSession> {
  const version = opts.version ?? LATEST_VERSION;
  const id = await initialize(url, { token: opts.token, version, capabilities: opts.capabilities, id: 0 });
  const session: RawSession = { url, id, version, ...(opts.token ? { token: opts.token } : {}) };
  const initialized = await post(session, { jsonrpc: "2.0", method: "notifications/initialized" });
  await initialized.body?.cancel();
  return session;
}

/** A raw request that must be answered with JSON; returns the parsed answer. */
export async function rpc(session: RawSession, id: number, method: string, params?: Record<string, unknown>): Promise<any> {
  const res = await post(session, { jsonrpc: "2.0", id, method, ...(params ? { params } : {}) });
  const text = await res.text();
  if (res.status !== 200 || !res.headers.get("content-type")?.startsWith("application/json")) throw new Error(`${method}: ${res.status} ${text}`);
  return JSON.parse(text);
}

export interface SseEvent {
  id: string | undefined;
  data: string;
  /** The `retry` field that came with this event, if any. */
  retry?: number;
}

/** A parser of SSE text into events, each with the `retry` field sent before it. */
function sseParser(onEvent: (event: SseEvent) => void) {
  let retry: number | undefined;
  return createParser({
    onRetry: (ms) => {
      retry = ms;
    },
    onEvent: (e) => {
      onEvent({ id: e.id, data: e.data, ...(retry !== undefined ? { retry } : {}) });
      retry = undefined;
    },
  });
}

/** The events of a whole SSE body. */
export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  sseParser((e) => events.push(e)).feed(text);
  return events;
}

/** The JSON-RPC messages of SSE events (events without data, such as priming events, carry none). */
export const messagesOf = (events: SseEvent[]): any[] => events.filter((e) => e.data !== "").map((e) => JSON.parse(e.data));

/** Reads a reply to the end and returns its messages, whichever form it took: one JSON message, or an SSE stream of them. */
export async function readMessages(res: Response): Promise<any[]> {
  const text = await res.text();
  return res.headers.get("content-type")?.startsWith("application/json") ? [JSON.parse(text)] : messagesOf(parseSse(text));
}

/** Reads an SSE response in the background; tests wait for what they expect instead of sleeping. */
export class SseReader {
  readonly events: SseEvent[] = [];
  ended = false;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(res: Response) {
    if (!res.body) throw new Error(`no body (status ${res.status})`);
    const reader = res.body.getReader();
    this.#reader = reader;
    const parser = sseParser((e) => this.events.push(e));
    const decoder = new TextDecoder();
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.feed(decoder.decode(value, { stream: true }));
        }
      } catch {
        // cancelled by the test, or the connection broke: either way the stream is over
      }
      this.ended = true;
    })();
  }

  /** The JSON-RPC messages received so far (events with data). */
  get messages(): any[] {
    return messagesOf(this.events);
  }

  /** Resolves once `check` holds, failing after `timeoutMs` with what arrived. */
  async until(check: (r: SseReader) => boolean, timeoutMs = 3_000, what = "the expected events"): Promise<void> {
    await vi.waitFor(
      () => {
        if (!check(this)) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events)} (ended: ${this.ended})`);
      },
      { timeout: timeoutMs, interval: 10 },
    );
  }

  /** Waits for a message matching `match` and returns it. */
  async message(match: (m: any) => boolean, timeoutMs?: number, what = "a matching message"): Promise<any> {
    await this.until((r) => r.messages.some(match), timeoutMs, what);
    return this.messages.find(match);
  }

  /** Waits for the server to close the stream. */
  end(timeoutMs?: number): Promise<void> {
    return this.until((r) => r.ended, timeoutMs, "the stream to end");
  }

  cancel(): void {
    this.#reader.cancel().catch(() => {});
  }
}

/** Whether nothing matching `match` arrives within `ms` (for "does not receive" assertions). */
export async function staysQuiet(reader: SseReader, match: (m: any) => boolean, ms = 300): Promise<boolean> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return !reader.messages.some(match);
}

export const isResponseTo = (id: string | number) => (m: any) => m.id === id && ("result" in m || "error" in m);
export const isMethod = (method: string) => (m: any) => m.method === method;

/**
 * Opens the session's standalone stream and waits until the gateway has set it up (2025-11-25
 * sessions get a priming event first: proof the stream is connected).
 */
export async function openStandalone(session: RawSession): Promise<SseReader> {
  const res = await listen(session);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("text/event-stream");
  const reader = new SseReader(res);
  if (session.version >= "2025-11-25") await reader.until((r) => r.events.length > 0, 3_000, "the priming event");
  return reader;
}

/** The modern era's protocol version (2026-07-28: no session, `_meta` on every request). */
export const MODERN_VERSION = "2026-07-28";

/** A modern request: `params` plus the `_meta` every modern request carries (`meta` overrides its keys). */
export function modernMessage(id: number | string, method: string, params: Record<string, unknown> = {}, meta: Record<string, unknown> = {}) {
  return {
    jsonrpc: "2.0",
    id,
    method,
    params: {
      ...params,
      _meta: {
        "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { name: "modern-raw", version: "1" },
        ...meta,
      } as Record<string, unknown>,
    },
  };
}

/** The headers a modern client sends with `body` (SEP-2243), then `extra`. */
export function modernHeaders(body: { method: string; params: Record<string, unknown> }, extra: Record<string, string> = {}): Record<string, string> {
  const headers: Record<string, string> = { "mcp-protocol-version": MODERN_VERSION, "mcp-method": body.method };
  const name = body.params.name ?? body.params.uri;
  if (typeof name === "string" && ["tools/call", "prompts/get", "resources/read"].includes(body.method)) headers["mcp-name"] = name;
  return { ...headers, ...extra };
}
