/**
 * @module The gateway's MCP client of an upstream: connect (SSRF-guarded, size-capped, with
 * deadlines), list, classify failures, ping.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ErrorCode,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  McpError,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { checkUpstreamUrl } from "../shared/url-guard";
import { GATEWAY_NAME, GATEWAY_VERSION } from "../shared/version";

/** What the gateway needs to reach one upstream MCP server; headers are already decrypted. */
export interface UpstreamServer {
  id: string;
  name: string;
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
}

/** initialize and tools/list get this much time; tools/call gets the server's `timeoutMs`. */
export const CONNECT_TIMEOUT_MS = 5_000;
const MAX_TOOL_PAGES = 50;

export type FailureKind =
  | "unreachable"
  | "timeout"
  | "http_error"
  | "bad_response"
  | "session_lost"
  | "blocked"
  | "breaker_open"
  | "cancelled"
  | "sessions_full";

/** An upstream that could not be used; `message` is safe to show to MCP clients and API users. */
export class UpstreamFailure extends Error {
  constructor(
    readonly upstream: string,
    readonly kind: FailureKind,
    message: string,
    /** For http_error: the status; for breaker_open: when the upstream will be tried again (ms). */
    readonly detail?: number,
  ) {
    super(message);
  }

  /** Whether this says something about the upstream's health (for its circuit breaker). */
  get countsAgainstUpstream(): boolean {
    if (this.kind === "cancelled" || this.kind === "breaker_open" || this.kind === "sessions_full") return false;
    if (this.kind === "http_error") return (this.detail ?? 500) >= 500;
    return true;
  }

  /** Failures worth one more try for idempotent requests (initialize, tools/list). */
  get transient(): boolean {
    return this.kind === "unreachable" || this.kind === "session_lost" || (this.kind === "http_error" && (this.detail ?? 500) >= 500);
  }
}

/**
 * The caller's own credentials for an upstream could not be had (not connected, anonymous,
 * revoked): nothing was sent upstream, and nothing is counted against it. `cause` says why
 * (credentials/caller-credentials.ts CredentialsRequired).
 */
export class CallerIdentityError extends Error {
  constructor(
    readonly upstream: string,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : `No credentials of the caller's for upstream '${upstream}'.`);
  }
}

/** A JSON-RPC error the upstream itself answered with; forwarded to the client unchanged. */
export class UpstreamRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

export type Tool = Record<string, unknown> & { name: string };
const ToolsPage = z.looseObject({
  tools: z.array(z.looseObject({ name: z.string() })),
  nextCursor: z.string().optional(),
});

class BlockedUrl extends Error {}

/** Replies larger than this are cut off and answered with an error. */
export const MAX_REPLY_BYTES = 8 * 1024 * 1024;
/** Marks a JSON-RPC error the gateway made up for a transport failure (see shieldReply). */
const FAILURE_MARK = "mcpgateFailure";

/**
 * Fetch for one upstream connection:
 * - re-checks every URL (including redirect targets) against the SSRF guard;
 * - really cancels: when the SDK sends `notifications/cancelled` (on a client's cancellation or its
 *   own timeout), the HTTP request it refers to is aborted, body included;
 * - gives every POST a hard deadline, cleared once the body is done;
 * - caps reply size and turns a broken, oversized or stalled reply into a JSON-RPC error for the
 *   request, so the SDK fails the call at once instead of waiting for its timeout.
 */
function guardedFetch(server: UpstreamServer, allowInsecure: boolean, baseFetch: FetchLike = fetch): FetchLike {
  const inflight = new Map<string | number, AbortController>();
  return async (url, init) => {
    const check = checkUpstreamUrl(String(url), { allowInsecure });
    if (!check.ok) throw new BlockedUrl(`URL ${check.reason}`);
    if (init?.method !== "POST") return baseFetch(url, init);

    const message = typeof init.body === "string" ? safeJson(init.body) : undefined;
    if (message?.method === "notifications/cancelled") {
      const target = (message.params as { requestId?: string | number } | undefined)?.requestId;
      if (target !== undefined) inflight.get(target)?.abort(new DOMException("cancelled", "AbortError"));
    }
    const requestId = message && "id" in message && "method" in message ? (message.id as string | number) : undefined;
    const controller = new AbortController();
    if (requestId !== undefined) inflight.set(requestId, controller);
    const deadlineMs = Math.max(server.timeoutMs, CONNECT_TIMEOUT_MS) + 1_000;
    const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${deadlineMs} ms`, "TimeoutError")), deadlineMs);
    const done = () => {
      clearTimeout(timer);
      if (requestId !== undefined && inflight.get(requestId) === controller) inflight.delete(requestId);
    };
    const signal = init.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal;
    let res: Response;
    try {
      res = await baseFetch(url, { ...init, signal });
    } catch (e) {
      done();
      throw e;
    }
    if (!res.body || res.status === 202 || res.status === 204) {
      done();
      return res;
    }
    return shieldReply(res, requestId, done);
  };
}

function safeJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function syntheticError(id: string | number, kind: FailureKind, message: string): string {
  return JSON.stringify({ jsonrpc: "2.0", id, error: { code: -32603, message, data: { [FAILURE_MARK]: kind } } });
}

function describeStreamError(e: unknown): { kind: FailureKind; message: string } {
  if (e instanceof DOMException && e.name === "TimeoutError") return { kind: "timeout", message: "did not finish its reply in time" };
  if (e instanceof DOMException && e.name === "AbortError") return { kind: "cancelled", message: "the call was cancelled" };
  return { kind: "unreachable", message: "closed the connection in the middle of its reply" };
}

/**
 * The reply body, read through a size cap. JSON replies are buffered (the SDK parses them whole
 * anyway) so a failure can replace them entirely; SSE replies stream, and a failure ends them with
 * a synthetic error event for the request.
 */
function shieldReply(res: Response, requestId: string | number | undefined, done: () => void): Response {
  const sse = (res.headers.get("content-type") ?? "").toLowerCase().startsWith("text/event-stream");
  const reader = res.body!.getReader();
  const tooLarge = `answered more than ${MAX_REPLY_BYTES / 1024 / 1024} MiB`;
  let size = 0;
  let finished = false;
  const finish = () => {
    if (!finished) {
      finished = true;
      done();
    }
  };
  const encoder = new TextEncoder();
  const failInto = (ctrl: ReadableStreamDefaultController<Uint8Array>, kind: FailureKind, message: string, prefix: string) => {
    finish();
    if (requestId === undefined) return ctrl.error(new Error(message));
    ctrl.enqueue(encoder.encode(prefix + syntheticError(requestId, kind, message) + (sse ? "\n\n" : "")));
    ctrl.close();
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      const chunks: Uint8Array[] = [];
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (e) {
          const { kind, message } = describeStreamError(e);
          return failInto(ctrl, kind, message, sse ? "\n\nevent: message\ndata: " : "");
        }
        if (chunk.done) {
          for (const c of chunks) ctrl.enqueue(c);
          finish();
          return ctrl.close();
        }
        size += chunk.value.byteLength;
        if (size > MAX_REPLY_BYTES) {
          await reader.cancel().catch(() => {});
          return failInto(ctrl, "bad_response", tooLarge, sse ? "\n\nevent: message\ndata: " : "");
        }
        if (sse) return ctrl.enqueue(chunk.value);
        chunks.push(chunk.value);
      }
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

export interface ConnectOptions {
  allowInsecure: boolean;
  fetch?: FetchLike;
  /** Called when the upstream says its tool list changed. */
  onToolsChanged?: () => void;
  /** Called when the upstream says its prompt or resource list changed. */
  onItemsChanged?: (kind: ItemKind) => void;
  /** Called when the upstream says a resource the gateway subscribed to changed. */
  onResourceUpdated?: (uri: string) => void;
  /** Called for a log line the upstream sends outside any request (on its standalone stream). */
  onLog?: (params: Record<string, unknown>) => void;
  /** Called when the connection ends (closed by us, or the transport failed). */
  onClose?: () => void;
  /** The client capabilities to declare (session-scope.ts declaredCapabilities); by default every one the gateway relays. */
  capabilities?: Record<string, unknown>;
  /**
   * Answers a request the upstream sends outside any call's reply (sampling, elicitation, roots on
   * the standalone stream): resolves with the result, or throws an McpError for the upstream.
   */
  onRequest?: (method: string, params: Record<string, unknown> | undefined) => Promise<Record<string, unknown>>;
}

/**
 * What the gateway declares to an upstream when no client stands behind the session (the
 * management API's one-shot sessions): everything it might relay. Sessions opened for clients
 * declare what those clients declared (session-scope.ts).
 */
export const UPSTREAM_CLIENT_CAPABILITIES = { sampling: {}, elicitation: { form: {}, url: {} }, roots: {} };

/** How long ending a session waits for the upstream to answer its DELETE before closing anyway. */
export const TERMINATE_WAIT_MS = 2_000;

/**
 * Ends a session the gateway lets go of: tells the upstream (DELETE with its Mcp-Session-Id, so it
 * can free the session at once instead of keeping it until its own timeout), waiting at most
 * `waitMs` for the answer, then closes the client. Never throws. Not for a session the upstream
 * already lost (a 404): there is nothing left to end.
 */
export async function endUpstreamSession(client: Client, waitMs = TERMINATE_WAIT_MS): Promise<void> {
  const transport = client.transport as StreamableHTTPClientTransport | undefined;
  if (transport) await terminateWithin(transport, waitMs);
  await client.close().catch(() => {});
}

/** Sends the transport's DELETE, if it holds a session, waiting at most `waitMs` for the answer. */
async function terminateWithin(transport: StreamableHTTPClientTransport, waitMs: number): Promise<void> {
  if (!transport.sessionId) return;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const waited = new Promise((r) => {
    timer = setTimeout(r, waitMs);
  });
  await Promise.race([transport.terminateSession().catch(() => {}), waited]);
  if (timer !== null) clearTimeout(timer);
}

/** Opens an initialized MCP client session with the upstream (one initialize handshake). */
export async function connectUpstream(server: UpstreamServer, opts: ConnectOptions): Promise<Client> {
  const client = new Client({ name: GATEWAY_NAME, version: GATEWAY_VERSION }, { capabilities: opts.capabilities ?? UPSTREAM_CLIENT_CAPABILITIES });
  const transportOf = (sessionId?: string) =>
    new StreamableHTTPClientTransport(new URL(server.url), {
      fetch: guardedFetch(server, opts.allowInsecure, opts.fetch),
      requestInit: { headers: server.headers },
      reconnectionOptions: { initialReconnectionDelay: 1_000, maxReconnectionDelay: 30_000, reconnectionDelayGrowFactor: 2, maxRetries: 2 },
      sessionId,
    });
  const transport = transportOf();
  if (opts.onToolsChanged) {
    const notify = opts.onToolsChanged;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => notify());
  }
  if (opts.onItemsChanged) {
    const notify = opts.onItemsChanged;
    client.setNotificationHandler(PromptListChangedNotificationSchema, async () => notify("prompts"));
    client.setNotificationHandler(ResourceListChangedNotificationSchema, async () => {
      notify("resources");
      notify("resourceTemplates");
    });
  }
  if (opts.onResourceUpdated) {
    const notify = opts.onResourceUpdated;
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => notify(n.params.uri));
  }
  if (opts.onLog) {
    const log = opts.onLog;
    client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => log(n.params as Record<string, unknown>));
  }
  if (opts.onRequest) {
    const ask = opts.onRequest;
    const declared = opts.capabilities ?? UPSTREAM_CLIENT_CAPABILITIES;
    const relayed = (schema: typeof CreateMessageRequestSchema | typeof ElicitRequestSchema | typeof ListRootsRequestSchema) =>
      client.setRequestHandler(schema, async (req) => (await ask(req.method, req.params as Record<string, unknown> | undefined)) as never);
    if ("sampling" in declared) relayed(CreateMessageRequestSchema);
    if ("elicitation" in declared) relayed(ElicitRequestSchema);
    if ("roots" in declared) relayed(ListRootsRequestSchema);
  }
  client.onclose = () => opts.onClose?.();
  client.onerror = () => {}; // failures surface through the request that hit them
  try {
    await client.connect(transport, { timeout: CONNECT_TIMEOUT_MS });
  } catch (e) {
    await client.close().catch(() => {});
    // The upstream may have opened a session before the handshake failed (at notifications/initialized).
    // The SDK closed the client (which aborts its transport's requests): the DELETE goes on a transport of its own.
    const sessionId = transport.sessionId;
    if (sessionId) {
      const ending = transportOf(sessionId);
      if (transport.protocolVersion) ending.setProtocolVersion(transport.protocolVersion);
      await ending.start();
      await terminateWithin(ending, TERMINATE_WAIT_MS);
      await ending.close().catch(() => {});
    }
    throw classifyFailure(server, e, CONNECT_TIMEOUT_MS);
  }
  return client;
}

/** Every tool of the upstream, following its pagination. */
export async function listUpstreamTools(server: UpstreamServer, client: Client): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_TOOL_PAGES; page++) {
    let result: z.output<typeof ToolsPage>;
    try {
      result = await client.request({ method: "tools/list", params: cursor ? { cursor } : {} }, ToolsPage, { timeout: CONNECT_TIMEOUT_MS });
    } catch (e) {
      throw classifyFailure(server, e, CONNECT_TIMEOUT_MS);
    }
    tools.push(...(result.tools as Tool[]));
    cursor = result.nextCursor;
    if (!cursor) break;
  }
  return tools;
}

/** Prompts, resources and resource templates: listed like tools, by these methods and keys. */
export type ItemKind = "prompts" | "resources" | "resourceTemplates";
export const ITEM_LISTS: Record<ItemKind, { method: string; key: string; capability: "prompts" | "resources" }> = {
  prompts: { method: "prompts/list", key: "prompts", capability: "prompts" },
  resources: { method: "resources/list", key: "resources", capability: "resources" },
  resourceTemplates: { method: "resources/templates/list", key: "resourceTemplates", capability: "resources" },
};
export type Item = Record<string, unknown>;

/** Every item of one kind, following pagination; none when the upstream lacks the capability. */
export async function listUpstreamItems(server: UpstreamServer, client: Client, kind: ItemKind): Promise<Item[]> {
  const { method, key, capability } = ITEM_LISTS[kind];
  if (!client.getServerCapabilities()?.[capability]) return [];
  const Page = z.looseObject({ [key]: z.array(z.looseObject({})), nextCursor: z.string().optional() });
  const items: Item[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_TOOL_PAGES; page++) {
    let result: Record<string, unknown>;
    try {
      result = await client.request({ method, params: cursor ? { cursor } : {} } as never, Page, { timeout: CONNECT_TIMEOUT_MS });
    } catch (e) {
      throw classifyFailure(server, e, CONNECT_TIMEOUT_MS);
    }
    items.push(...((result[key] as Item[]) ?? []));
    cursor = result.nextCursor as string | undefined;
    if (!cursor) break;
  }
  return items;
}

/** Connects, lists every tool, and closes: the live tool list of the management API. */
export async function fetchUpstreamTools(server: UpstreamServer, opts: ConnectOptions): Promise<Tool[]> {
  const client = await connectUpstream(server, opts);
  try {
    return await listUpstreamTools(server, client);
  } finally {
    await endUpstreamSession(client);
  }
}

/**
 * Sorts whatever a request to an upstream threw into an UpstreamRpcError (the upstream answered
 * with a JSON-RPC error: pass it on) or an UpstreamFailure (we could not get a valid answer).
 */
export function classifyFailure(server: UpstreamServer, error: unknown, timeoutMs: number): UpstreamFailure | UpstreamRpcError {
  const name = server.name;
  if (error instanceof UpstreamFailure || error instanceof UpstreamRpcError) return error;
  if (error instanceof McpError) {
    const mark = (error.data as Record<string, unknown> | undefined)?.[FAILURE_MARK] as FailureKind | undefined;
    if (mark) {
      const what = error.message.replace(/^MCP error -?\d+: /, "");
      if (mark === "timeout") return new UpstreamFailure(name, "timeout", `Upstream '${name}' did not answer within ${timeoutMs} ms.`);
      return new UpstreamFailure(name, mark, `Upstream '${name}' ${what}.`);
    }
    if (error.code === ErrorCode.RequestTimeout) return new UpstreamFailure(name, "timeout", `Upstream '${name}' did not answer within ${timeoutMs} ms.`);
    if (error.code === ErrorCode.ConnectionClosed) return new UpstreamFailure(name, "unreachable", `Upstream '${name}' closed the connection.`);
    return new UpstreamRpcError(error.code, error.message.replace(/^MCP error -?\d+: /, ""), error.data);
  }
  if (error instanceof StreamableHTTPError) {
    if (error.code === 404) return new UpstreamFailure(name, "session_lost", `Upstream '${name}' no longer knows the session.`);
    if (error.code === -1) return new UpstreamFailure(name, "bad_response", `Upstream '${name}' answered with a content type that is not MCP.`);
    return new UpstreamFailure(name, "http_error", `Upstream '${name}' answered HTTP ${error.code}.`, error.code);
  }
  if (error instanceof BlockedUrl) return new UpstreamFailure(name, "blocked", `Upstream '${name}' is not allowed: ${error.message}.`);
  if (error instanceof DOMException && error.name === "AbortError") {
    return new UpstreamFailure(name, "cancelled", `The call to upstream '${name}' was cancelled.`);
  }
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return new UpstreamFailure(name, "timeout", `Upstream '${name}' did not answer within ${timeoutMs} ms.`);
  }
  if (error instanceof z.ZodError || error instanceof SyntaxError) {
    return new UpstreamFailure(name, "bad_response", `Upstream '${name}' sent a reply that is not valid JSON-RPC.`);
  }
  if (error instanceof TypeError || (error instanceof Error && /network|connect|fetch/i.test(error.message))) {
    return new UpstreamFailure(name, "unreachable", `Upstream '${name}' is unreachable.`);
  }
  console.error("unclassified upstream error", name, error);
  return new UpstreamFailure(name, "bad_response", `Upstream '${name}' failed.`);
}

/** How an upstream answered a health check: timings, or why it failed. */
export interface PingResult {
  ok: boolean;
  /** Time to open an initialized session (null if that failed). */
  connectMs: number | null;
  /** Round trip of one MCP `ping` (null if it failed). */
  latencyMs: number | null;
  failure: UpstreamFailure | UpstreamRpcError | null;
}

/** Connects, sends one MCP `ping`, and closes: the health check of the management API. */
export async function pingUpstream(server: UpstreamServer, opts: ConnectOptions, now: () => number = Date.now): Promise<PingResult> {
  const started = now();
  let client: Client;
  try {
    client = await connectUpstream(server, opts);
  } catch (e) {
    return { ok: false, connectMs: null, latencyMs: null, failure: classifyFailure(server, e, CONNECT_TIMEOUT_MS) };
  }
  const connected = now();
  try {
    await client.ping({ timeout: CONNECT_TIMEOUT_MS });
    return { ok: true, connectMs: connected - started, latencyMs: now() - connected, failure: null };
  } catch (e) {
    return { ok: false, connectMs: connected - started, latencyMs: null, failure: classifyFailure(server, e, CONNECT_TIMEOUT_MS) };
  } finally {
    await endUpstreamSession(client);
  }
}
