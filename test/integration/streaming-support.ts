import { SELF } from "cloudflare:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createParser } from "eventsource-parser";
import { addPreset, addServer, attach, createUser, presetUrl, type TestUser, unique, upstreamUrl } from "../helpers";

/**
 * Shared by the streaming-*.test.ts files: a preset on the conformance upstream, SDK clients with
 * capabilities, raw Streamable HTTP requests that leave the body unread, and a reader for raw SSE.
 */

export interface ConformancePreset {
  owner: TestUser;
  slug: string;
  url: string;
}

export interface PresetOptions {
  upstream?: "conformance" | "conformance_resumable" | "hostile";
  naming?: "plain" | "prefixed";
  /** The server's timeoutMs: how long a call may go without a sign of life. */
  timeoutMs?: number;
  /** The upstream's own sessions and counters (see upstreamUrl). */
  scope?: string;
}

/** A public preset with server `lib` on the conformance fixture (plain names unless told). */
export async function conformancePreset({ upstream = "conformance", naming = "plain", timeoutMs, scope }: PresetOptions = {}): Promise<ConformancePreset> {
  const owner = await createUser();
  await addServer(owner, "lib", upstreamUrl(upstream, scope), timeoutMs === undefined ? {} : { timeoutMs });
  const slug = unique("p");
  await addPreset(owner, slug, "public", { toolNaming: naming });
  await attach(owner, slug, "lib", null);
  return { owner, slug, url: presetUrl(owner.handle, slug) };
}

/** The SDK client, declaring `capabilities`, through the worker. */
export async function connect(url: string, capabilities: Record<string, unknown> = {}): Promise<Client> {
  const client = new Client({ name: "streaming-test", version: "1.0.0" }, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: (input, init) => SELF.fetch(input as string, init) });
  await client.connect(transport);
  return client;
}

export interface RawSession {
  url: string;
  id: string;
  version: string;
}

/** A session opened with a raw initialize at `version`, declaring `capabilities`. */
export async function openSession(url: string, version = "2025-11-25", capabilities: Record<string, unknown> = {}): Promise<RawSession> {
  const res = await post({ url, id: "", version }, { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: version, capabilities, clientInfo: { name: "raw-stream-test", version: "1" } } });
  const id = res.headers.get("mcp-session-id");
  if (res.status !== 200 || !id) throw new Error(`initialize failed: ${res.status} ${await res.text()}`);
  await res.body?.cancel();
  const initialized = await post({ url, id, version }, { jsonrpc: "2.0", method: "notifications/initialized" });
  await initialized.body?.cancel();
  return { url, id, version };
}

const headersOf = (session: RawSession, extra: Record<string, string>) => ({
  ...(session.id ? { "mcp-session-id": session.id, "mcp-protocol-version": session.version } : {}),
  ...extra,
});

/** A raw POST; the body is left for the caller to read (JSON or SSE). */
export function post(session: RawSession, body: unknown): Promise<Response> {
  return SELF.fetch(session.url, {
    method: "POST",
    headers: headersOf(session, { "content-type": "application/json", accept: "application/json, text/event-stream" }),
    body: JSON.stringify(body),
  });
}

/** A tools/call request. */
export const toolCall = (id: string | number, name: string, args: Record<string, unknown> = {}, meta?: Record<string, unknown>) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) },
});

/** A raw request that expects a JSON answer. */
export async function rpc(session: RawSession, id: number, method: string, params?: Record<string, unknown>): Promise<any> {
  const res = await post(session, { jsonrpc: "2.0", id, method, ...(params ? { params } : {}) });
  const text = await res.text();
  if (res.status !== 200 || !res.headers.get("content-type")?.startsWith("application/json")) throw new Error(`${method}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** A raw GET of the MCP endpoint (the standalone stream, or a resumption with Last-Event-ID). */
export function listen(session: RawSession, lastEventId?: string, accept = "text/event-stream"): Promise<Response> {
  return SELF.fetch(session.url, { method: "GET", headers: headersOf(session, { accept, ...(lastEventId ? { "last-event-id": lastEventId } : {}) }) });
}

export interface SseEvent {
  id: string | undefined;
  data: string;
  /** The `retry` field that came with this event, if any. */
  retry?: number;
}

/**
 * Reads an SSE response in the background; tests wait for what they expect with a bounded poll
 * instead of sleeping.
 */
export class SseReader {
  readonly events: SseEvent[] = [];
  ended = false;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #changed = new Set<() => void>();

  constructor(res: Response) {
    if (!res.body) throw new Error(`no body (status ${res.status})`);
    const reader = res.body.getReader();
    this.#reader = reader;
    let retry: number | undefined;
    const parser = createParser({
      onRetry: (ms) => {
        retry = ms;
      },
      onEvent: (e) => {
        this.events.push({ id: e.id, data: e.data, ...(retry !== undefined ? { retry } : {}) });
        retry = undefined;
        this.#notify();
      },
    });
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
      this.#notify();
    })();
  }

  /** The JSON-RPC messages received so far (events with data). */
  get messages(): any[] {
    return this.events.filter((e) => e.data !== "").map((e) => JSON.parse(e.data));
  }

  /** Resolves once `check` holds, failing after `timeoutMs` with what arrived. */
  async until(check: (r: SseReader) => boolean, timeoutMs = 3_000, what = "the expected events"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events)} (ended: ${this.ended})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 100));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#changed.add(done);
      });
    }
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

  #notify(): void {
    const waiting = [...this.#changed];
    this.#changed.clear();
    for (const done of waiting) done();
  }
}

/** Whether nothing matching `match` arrives within `ms` (for "does not receive" assertions). */
export async function staysQuiet(reader: SseReader, match: (m: any) => boolean, ms = 300): Promise<boolean> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return !reader.messages.some(match);
}

export const isResponseTo = (id: string | number) => (m: any) => m.id === id && ("result" in m || "error" in m);
export const isMethod = (method: string) => (m: any) => m.method === method;
