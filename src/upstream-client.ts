import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { ErrorCode, McpError, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { GATEWAY_NAME, GATEWAY_VERSION } from "./version";
import { checkUpstreamUrl } from "./url-guard";

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

export type FailureKind = "unreachable" | "timeout" | "http_error" | "bad_response" | "session_lost" | "blocked";

/** An upstream that could not be used; `message` is safe to show to MCP clients and API users. */
export class UpstreamFailure extends Error {
  constructor(
    readonly upstream: string,
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
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

/** Results pass through as the upstream sent them: validate only that they are objects. */
export const PassthroughResult = z.looseObject({});
export type Tool = Record<string, unknown> & { name: string };
const ToolsPage = z.looseObject({
  tools: z.array(z.looseObject({ name: z.string() })),
  nextCursor: z.string().optional(),
});

class BlockedUrl extends Error {}

/**
 * Fetch for one upstream: re-checks every URL (including redirect targets) against the SSRF
 * guard, and gives every POST a hard deadline so a stalled upstream's socket is really released.
 */
function guardedFetch(server: UpstreamServer, allowInsecure: boolean, baseFetch: FetchLike = fetch): FetchLike {
  return (url, init) => {
    const check = checkUpstreamUrl(String(url), { allowInsecure });
    if (!check.ok) return Promise.reject(new BlockedUrl(`URL ${check.reason}`));
    if (init?.method !== "POST") return baseFetch(url, init);
    return fetchWithDeadline(baseFetch, url, init, Math.max(server.timeoutMs, CONNECT_TIMEOUT_MS) + 1_000);
  };
}

/**
 * Aborts the request, body included, after `ms`. Unlike AbortSignal.timeout, the timer is
 * cleared as soon as the body is done: a pending timer keeps a Durable Object from going idle.
 */
async function fetchWithDeadline(baseFetch: FetchLike, url: string | URL, init: RequestInit, ms: number): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${ms} ms`, "TimeoutError")), ms);
  const signal = init.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal;
  let res: Response;
  try {
    res = await baseFetch(url, { ...init, signal });
  } catch (e) {
    clearTimeout(timer);
    throw e;
  }
  if (!res.body || res.status === 202 || res.status === 204) {
    clearTimeout(timer);
    return res;
  }
  const reader = res.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          clearTimeout(timer);
          ctrl.close();
        } else ctrl.enqueue(value);
      } catch (e) {
        clearTimeout(timer);
        ctrl.error(e);
      }
    },
    cancel(reason) {
      clearTimeout(timer);
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
  /** Called when the connection ends (closed by us, or the transport failed). */
  onClose?: () => void;
}

/** Opens an initialized MCP client session with the upstream (one initialize handshake). */
export async function connectUpstream(server: UpstreamServer, opts: ConnectOptions): Promise<Client> {
  const client = new Client({ name: GATEWAY_NAME, version: GATEWAY_VERSION }, { capabilities: {} });
  const transport = new StreamableHTTPClientTransport(new URL(server.url), {
    fetch: guardedFetch(server, opts.allowInsecure, opts.fetch),
    requestInit: { headers: server.headers },
    reconnectionOptions: { initialReconnectionDelay: 1_000, maxReconnectionDelay: 30_000, reconnectionDelayGrowFactor: 2, maxRetries: 2 },
  });
  if (opts.onToolsChanged) {
    const notify = opts.onToolsChanged;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => notify());
  }
  client.onclose = () => opts.onClose?.();
  client.onerror = () => {}; // failures surface through the request that hit them
  try {
    await client.connect(transport, { timeout: CONNECT_TIMEOUT_MS });
  } catch (e) {
    await client.close().catch(() => {});
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

/** Connects, lists every tool, and closes: the live tool list of the management API. */
export async function fetchUpstreamTools(server: UpstreamServer, opts: ConnectOptions): Promise<Tool[]> {
  const client = await connectUpstream(server, opts);
  try {
    return await listUpstreamTools(server, client);
  } finally {
    await client.close().catch(() => {});
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
    if (error.code === ErrorCode.RequestTimeout) return new UpstreamFailure(name, "timeout", `Upstream '${name}' did not answer within ${timeoutMs} ms.`);
    if (error.code === ErrorCode.ConnectionClosed) return new UpstreamFailure(name, "unreachable", `Upstream '${name}' closed the connection.`);
    return new UpstreamRpcError(error.code, error.message.replace(/^MCP error -?\d+: /, ""), error.data);
  }
  if (error instanceof StreamableHTTPError) {
    if (error.code === 404) return new UpstreamFailure(name, "session_lost", `Upstream '${name}' no longer knows the session.`);
    if (error.code === -1) return new UpstreamFailure(name, "bad_response", `Upstream '${name}' answered with a content type that is not MCP.`);
    return new UpstreamFailure(name, "http_error", `Upstream '${name}' answered HTTP ${error.code}.`);
  }
  if (error instanceof BlockedUrl) return new UpstreamFailure(name, "blocked", `Upstream '${name}' is not allowed: ${error.message}.`);
  if (error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError")) {
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
