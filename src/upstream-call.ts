import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createParser } from "eventsource-parser";
import { readLimitedText } from "./read-limited";
import { MAX_REPLY_BYTES, UpstreamFailure, UpstreamRpcError, type UpstreamServer } from "./upstream-client";

/**
 * One request on an upstream session the SDK client opened: a single fetch, read with a size cap,
 * a deadline and the caller's cancellation, and its answer picked out of a JSON or SSE reply.
 *
 * The SDK client still owns the session (initialize, the standalone stream, list_changed, tools/list);
 * calls skip its request bookkeeping and schema validation, which measured as most of the
 * gateway's own cost per call (bench/README.md), and pass the result through untouched.
 */
export interface UpstreamCall {
  id: string;
  method: string;
  params: Record<string, unknown>;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The reply stream carried notifications/tools/list_changed. */
  onToolsChanged?: () => void;
}

export async function callUpstream(server: UpstreamServer, client: Client, call: UpstreamCall): Promise<Record<string, unknown>> {
  const transport = client.transport as StreamableHTTPClientTransport | undefined;
  const headers: Record<string, string> = {
    ...server.headers,
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
  };
  if (transport?.sessionId) headers["mcp-session-id"] = transport.sessionId;
  if (transport?.protocolVersion) headers["mcp-protocol-version"] = transport.protocolVersion;

  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, call.timeoutMs);
  const cancel = () => controller.abort();
  call.signal?.addEventListener("abort", cancel, { once: true });
  const name = server.name;
  try {
    const res = await fetch(server.url, {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", id: call.id, method: call.method, params: call.params }),
      signal: controller.signal,
      redirect: "manual",
    });
    if (res.status === 404 && transport?.sessionId) {
      await res.body?.cancel();
      throw new UpstreamFailure(name, "session_lost", `Upstream '${name}' no longer knows the session.`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new UpstreamFailure(name, "http_error", `Upstream '${name}' answered HTTP ${res.status}.`, res.status);
    }
    const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    if (type === "application/json") return settle(name, call.id, JSON.parse(await readCapped(name, res)));
    if (type === "text/event-stream") return await readEventStream(name, res, call);
    await res.body?.cancel();
    throw new UpstreamFailure(name, "bad_response", `Upstream '${name}' answered with a content type that is not MCP.`);
  } catch (e) {
    if (e instanceof UpstreamFailure || e instanceof UpstreamRpcError) throw e;
    if (call.signal?.aborted) throw new UpstreamFailure(name, "cancelled", `The call to upstream '${name}' was cancelled.`);
    if (timedOut) throw new UpstreamFailure(name, "timeout", `Upstream '${name}' did not answer within ${call.timeoutMs} ms.`);
    if (e instanceof SyntaxError) throw new UpstreamFailure(name, "bad_response", `Upstream '${name}' sent a reply that is not valid JSON-RPC.`);
    throw new UpstreamFailure(name, "unreachable", `Upstream '${name}' is unreachable.`);
  } finally {
    clearTimeout(timer);
    call.signal?.removeEventListener("abort", cancel);
  }
}

/** The result of the JSON-RPC response to `id`, or the upstream's own error. */
function settle(name: string, id: string, message: unknown): Record<string, unknown> {
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

async function readCapped(name: string, res: Response): Promise<string> {
  let text: string | null;
  try {
    text = await readLimitedText(res, MAX_REPLY_BYTES);
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw cutOff(name);
  }
  if (text === null) throw tooLarge(name);
  return text;
}

/** Reads an SSE reply until the response to our request; notifications on the way are noted. */
async function readEventStream(name: string, res: Response, call: UpstreamCall): Promise<Record<string, unknown>> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let answer: { message: unknown } | null = null;
  const parser = createParser({
    onEvent(event) {
      if (answer || !event.data) return;
      let message: unknown;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // a broken event is skipped, as the SDK does
      }
      for (const m of Array.isArray(message) ? message : [message]) {
        if (!m || typeof m !== "object") continue;
        if ("id" in m && (m as { id: unknown }).id === call.id && ("result" in m || "error" in m)) answer = { message: m };
        else if ((m as { method?: unknown }).method === "notifications/tools/list_changed") call.onToolsChanged?.();
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
        if (e instanceof DOMException && e.name === "AbortError") throw e;
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
  if (!answer) throw new UpstreamFailure(name, "bad_response", `Upstream '${name}' ended its reply without an answer.`);
  return settle(name, call.id, (answer as { message: unknown }).message);
}
