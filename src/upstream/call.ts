/**
 * @module One request on an upstream session the SDK client opened: a single fetch, read with a size cap,
 * a deadline and the caller's cancellation, and its answer picked out of a JSON or SSE reply.
 *
 * The SDK client still owns the session (initialize, the standalone stream, list_changed, tools/list);
 * calls skip its request bookkeeping and schema validation, which measured as most of the
 * gateway's own cost per call (bench/README.md), and pass the result through untouched.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createParser } from "eventsource-parser";
import { readLimitedText } from "../shared/read-limited";
import { MAX_REPLY_BYTES, UpstreamFailure, UpstreamRpcError, type UpstreamServer } from "./client";
import { Deadline } from "./deadline";

export interface UpstreamCall {
  id: string;
  method: string;
  params: Record<string, unknown>;
  timeoutMs: number;
  signal?: AbortSignal;
  /** When the call gives up; by default `timeoutMs` from the start, whatever the upstream sends. */
  deadline?: Deadline;
  /** The reply stream carried notifications/tools/list_changed. */
  onToolsChanged?: () => void;
  /** Any other message on the call's reply stream: notifications (progress, log) and requests (sampling...). */
  onMessage?: (message: Record<string, unknown>) => void;
  /** The upstream closed the reply stream before answering (SSE polling); the gateway resumes it. */
  onPause?: () => void;
}

/** Resuming a closed reply stream (GET with Last-Event-ID) is tried at most this often per call. */
const MAX_RESUMES = 20;
/** The wait before resuming, when the upstream sent no `retry` (and the most we wait if it did). */
const DEFAULT_RETRY_MS = 1_000;
const MAX_RETRY_MS = 10_000;

export async function callUpstream(server: UpstreamServer, client: Client, call: UpstreamCall): Promise<Record<string, unknown>> {
  const transport = client.transport as StreamableHTTPClientTransport | undefined;
  const headers: Record<string, string> = { ...server.headers };
  if (transport?.sessionId) headers["mcp-session-id"] = transport.sessionId;
  if (transport?.protocolVersion) headers["mcp-protocol-version"] = transport.protocolVersion;

  const name = server.name;
  return withinDeadline(name, call, async (signal) => {
    const res = await postRpc(server.url, headers, call, call.params, signal);
    if (res.status === 404 && transport?.sessionId) {
      await res.body?.cancel();
      throw new UpstreamFailure(name, "session_lost", `Upstream '${name}' no longer knows the session.`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new UpstreamFailure(name, "http_error", `Upstream '${name}' answered HTTP ${res.status}.`, res.status);
    }
    const type = contentType(res);
    if (type === "application/json") return settle(name, call.id, JSON.parse(await readCapped(name, res)));
    if (type === "text/event-stream") return await followEventStream(server, res, call, { headers, signal });
    await res.body?.cancel();
    throw new UpstreamFailure(name, "bad_response", `Upstream '${name}' answered with a content type that is not MCP.`);
  });
}

/** One JSON-RPC request POSTed upstream, accepting a JSON or SSE reply; redirects are not followed. */
export function postRpc(
  url: string,
  headers: Record<string, string>,
  call: Pick<UpstreamCall, "id" | "method">,
  params: Record<string, unknown>,
  signal: AbortSignal,
): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: call.id, method: call.method, params }),
    signal,
    redirect: "manual",
  });
}

/**
 * One upstream HTTP exchange within the call's deadline (its own, or `timeoutMs` from now) and
 * the caller's cancellation; whatever it throws is classified (requestFailure).
 */
export async function withinDeadline<T>(name: string, call: UpstreamCall, exchange: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = call.deadline ?? new Deadline(call.timeoutMs, call.timeoutMs);
  deadline.start(); // the call's time counts from the request being sent, not from its queueing
  const signal = call.signal ? AbortSignal.any([call.signal, deadline.signal]) : deadline.signal;
  try {
    return await exchange(signal);
  } catch (e) {
    throw requestFailure(name, e, call, deadline);
  } finally {
    if (!call.deadline) deadline.clear();
  }
}

/**
 * A timeout whose timer fired late: the gateway stalled, so the upstream's slowness was never
 * observed. The client still gets the timeout; the upstream's breaker is not told.
 */
export class GatewayStall extends UpstreamFailure {
  constructor(name: string, timeoutMs: number) {
    super(name, "timeout", `Upstream '${name}' did not answer within ${timeoutMs} ms.`);
  }

  override get countsAgainstUpstream(): boolean {
    return false;
  }
}

/** What a failed upstream HTTP request stands for: its own failure or JSON-RPC error, else cancelled, timed out, broken or unreachable. */
export function requestFailure(name: string, e: unknown, call: Pick<UpstreamCall, "signal" | "timeoutMs">, deadline: Deadline): unknown {
  if (e instanceof UpstreamFailure || e instanceof UpstreamRpcError) return e;
  if (call.signal?.aborted) return new UpstreamFailure(name, "cancelled", `The call to upstream '${name}' was cancelled.`);
  if (deadline.expired && deadline.stalled) return new GatewayStall(name, call.timeoutMs);
  if (deadline.expired) return new UpstreamFailure(name, "timeout", `Upstream '${name}' did not answer within ${call.timeoutMs} ms.`);
  if (e instanceof SyntaxError) return new UpstreamFailure(name, "bad_response", `Upstream '${name}' sent a reply that is not valid JSON-RPC.`);
  return new UpstreamFailure(name, "unreachable", `Upstream '${name}' is unreachable.`);
}

export const contentType = (res: Response) => (res.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();

/**
 * Reads the call's SSE reply until the answer. An upstream that closes the stream before answering
 * after giving its events ids (SSE polling, 2025-11-25) is resumed with GET and Last-Event-ID after
 * the `retry` it asked for.
 */
async function followEventStream(
  server: UpstreamServer,
  res: Response,
  call: UpstreamCall,
  ctx: { headers: Record<string, string>; signal: AbortSignal },
): Promise<Record<string, unknown>> {
  const name = server.name;
  const position: StreamPosition = {};
  let current = res;
  for (let resumes = 0; ; resumes++) {
    const answer = await readEventStream(name, current, call, position);
    if (answer) return settle(name, call.id, answer.message);
    if (position.lastEventId === undefined || resumes >= MAX_RESUMES) {
      throw new UpstreamFailure(name, "bad_response", `Upstream '${name}' ended its reply without an answer.`);
    }
    call.onPause?.();
    await sleep(Math.min(position.retryMs ?? DEFAULT_RETRY_MS, MAX_RETRY_MS), ctx.signal);
    current = await fetch(server.url, {
      method: "GET",
      headers: { ...ctx.headers, accept: "text/event-stream", "last-event-id": position.lastEventId },
      signal: ctx.signal,
      redirect: "manual",
    });
    if (!current.ok || contentType(current) !== "text/event-stream") {
      await current.body?.cancel();
      throw new UpstreamFailure(name, "bad_response", `Upstream '${name}' could not resume its reply (HTTP ${current.status}).`);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", abort);
      resolve();
    }, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", abort, { once: true });
  });
}

/** The result of the JSON-RPC response to `id`, or the upstream's own error. */
export function settle(name: string, id: string, message: unknown): Record<string, unknown> {
  const m = message as { jsonrpc?: unknown; id?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } } | null;
  if (!m || typeof m !== "object" || Array.isArray(m) || m.jsonrpc !== "2.0" || m.id !== id) {
    throw new UpstreamFailure(name, "bad_response", `Upstream '${name}' sent a reply that is not valid JSON-RPC.`);
  }
  if (m.error && typeof m.error === "object" && typeof m.error.code === "number" && typeof m.error.message === "string") {
    throw new UpstreamRpcError(m.error.code, m.error.message, m.error.data);
  }
  if (m.result && typeof m.result === "object" && !Array.isArray(m.result)) return m.result as Record<string, unknown>;
  throw new UpstreamFailure(name, "bad_response", `Upstream '${name}' sent a reply that is not valid JSON-RPC.`);
}

const tooLarge = (name: string) => new UpstreamFailure(name, "bad_response", `Upstream '${name}' answered more than ${MAX_REPLY_BYTES / 1024 / 1024} MiB.`);
const cutOff = (name: string) => new UpstreamFailure(name, "unreachable", `Upstream '${name}' closed the connection in the middle of its reply.`);

export async function readCapped(name: string, res: Response): Promise<string> {
  let text: string | null;
  try {
    text = await readLimitedText(res, MAX_REPLY_BYTES);
  } catch (e) {
    if (e instanceof DOMException && (e.name === "AbortError" || e.name === "TimeoutError")) throw e;
    throw cutOff(name);
  }
  if (text === null) throw tooLarge(name);
  return text;
}

export interface StreamPosition {
  lastEventId?: string;
  retryMs?: number;
}

/**
 * Reads one SSE reply until the response to our request (null if it ends first). Every other
 * message is handed to the call.
 */
export async function readEventStream(name: string, res: Response, call: UpstreamCall, position: StreamPosition): Promise<{ message: unknown } | null> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let answer: { message: unknown } | null = null;
  const parser = createParser({
    onRetry(ms) {
      position.retryMs = ms;
    },
    onEvent(event) {
      if (event.id) position.lastEventId = event.id;
      if (answer || !event.data) return;
      let message: unknown;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // a broken event is skipped, as the SDK does
      }
      for (const m of Array.isArray(message) ? message : [message]) {
        if (!m || typeof m !== "object" || Array.isArray(m)) continue;
        const msg = m as Record<string, unknown>;
        if ("id" in msg && msg.id === call.id && ("result" in msg || "error" in msg)) answer = { message: msg };
        else if (msg.method === "notifications/tools/list_changed") call.onToolsChanged?.();
        else call.onMessage?.(msg);
      }
    },
  });
  let size = 0;
  try {
    while (!answer) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (e instanceof DOMException && (e.name === "AbortError" || e.name === "TimeoutError")) throw e;
        throw cutOff(name);
      }
      if (chunk.done) break;
      size += chunk.value.byteLength;
      if (size > MAX_REPLY_BYTES) throw tooLarge(name);
      parser.feed(decoder.decode(chunk.value, { stream: true }));
    }
  } finally {
    // The stream belongs to this request: once answered (or failed) nothing more is needed from it.
    reader.cancel().catch(() => {});
  }
  return answer;
}
