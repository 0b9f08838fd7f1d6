/**
 * @module Upstreams of the modern era (2026-07-28): stateless, one POST per request with `_meta` and
 * the MCP headers, no session; the `server/discover` probe that tells the eras apart; lists and
 * multi round-trip (input_required) calls.
 *
 * Every request goes through the same SSRF guard, size cap, deadline and failure kinds as a legacy
 * call (call.ts reads the reply). A 4xx without a recognized modern error body is an EraMismatch:
 * the upstream answers like a legacy server, and the pool probes it again.
 */
import { isJsonObject, RpcCode } from "../mcp/jsonrpc";
import { META, MODERN_PROTOCOL_VERSION } from "../mcp/protocol";
import { readLimitedText } from "../shared/read-limited";
import { checkUpstreamUrl } from "../shared/url-guard";
import { GATEWAY_NAME, GATEWAY_VERSION } from "../shared/version";
import { contentType, postRpc, readCapped, readEventStream, settle, type UpstreamCall, withinDeadline } from "./call";
import {
  CONNECT_TIMEOUT_MS,
  ITEM_LISTS,
  type Item,
  type ItemKind,
  type Tool,
  UPSTREAM_CLIENT_CAPABILITIES,
  UpstreamFailure,
  UpstreamRpcError,
  type UpstreamServer,
} from "./client";
import { modernHeaders, type ParamHeader, paramHeaders } from "./mcp-headers";

/** A modern request answered like a legacy server would (a 4xx without a modern error body): the era verdict is stale. */
export class EraMismatch extends UpstreamFailure {
  constructor(upstream: string, status: number) {
    super(upstream, "http_error", `Upstream '${upstream}' answered HTTP ${status}.`, status);
  }
}

/** What a modern upstream said about itself in server/discover (a legacy one says it at initialize). */
export interface DiscoveredProfile {
  capabilities: Record<string, unknown>;
  instructions: string | null;
}

export type EraVerdict = { era: "modern"; profile: DiscoveredProfile | null } | { era: "legacy" };

/** The 4xx error bodies only a modern server sends (streamable-http.mdx, Backward Compatibility). */
const MODERN_ERROR_CODES = new Set<number>([RpcCode.HeaderMismatch, RpcCode.MissingClientCapability, RpcCode.UnsupportedProtocolVersion]);
/** How much of a 4xx body is read to look for a modern error. */
const ERROR_BODY_BYTES = 16 * 1024;
/** Bounds on what an input_required result may ask of the client. */
export const MAX_INPUT_ROUNDS = 10;
export const MAX_INPUT_REQUESTS = 16;
const MAX_LIST_PAGES = 50;
/** Result fields of the modern era that a 2025 result does not have. */
const MODERN_RESULT_FIELDS = ["resultType", "ttlMs", "cacheScope"];

export interface ModernOptions {
  allowInsecure: boolean;
  /** The client capabilities declared upstream: the calling client's, else the gateway's own. */
  clientCapabilities?: Record<string, unknown>;
}

/** The `_meta` every modern request carries, merged over the request's own. */
function withMeta(params: Record<string, unknown>, clientCapabilities: Record<string, unknown> = UPSTREAM_CLIENT_CAPABILITIES): Record<string, unknown> {
  const meta = params._meta && typeof params._meta === "object" ? (params._meta as Record<string, unknown>) : {};
  return {
    ...params,
    _meta: {
      ...meta,
      [META.protocolVersion]: MODERN_PROTOCOL_VERSION,
      [META.clientCapabilities]: clientCapabilities,
      [META.clientInfo]: { name: GATEWAY_NAME, version: GATEWAY_VERSION },
    },
  };
}

/** A JSON-RPC error object in a body, if it is one. */
function rpcErrorIn(text: string | null): { code: number; message: string; data?: unknown } | null {
  if (!text) return null;
  try {
    const m = JSON.parse(text) as { jsonrpc?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } };
    if (m?.jsonrpc !== "2.0" || !m.error || typeof m.error.code !== "number" || typeof m.error.message !== "string") return null;
    return { code: m.error.code, message: m.error.message, data: m.error.data };
  } catch {
    return null;
  }
}

/** Whether an error says "modern server": one of the 2026 codes (-32022 only when it lists our version). */
function isModernError(error: { code: number; data?: unknown }): boolean {
  if (!MODERN_ERROR_CODES.has(error.code)) return false;
  if (error.code !== RpcCode.UnsupportedProtocolVersion) return true;
  const supported = (error.data as { supported?: unknown } | undefined)?.supported;
  return Array.isArray(supported) && supported.includes(MODERN_PROTOCOL_VERSION);
}

/** A legacy initialize refused with a modern error: the upstream turned modern. */
export function looksModern(error: unknown): boolean {
  return error instanceof UpstreamRpcError && isModernError(error);
}

/**
 * One modern request: a POST with `_meta` and the MCP headers (plus the server's own), answered
 * with JSON or SSE. Progress and log lines on an SSE reply go to `call.onMessage`.
 */
export async function modernRequest(
  server: UpstreamServer,
  call: UpstreamCall,
  opts: ModernOptions & { paramHeaders?: readonly ParamHeader[] },
): Promise<Record<string, unknown>> {
  const name = server.name;
  const check = checkUpstreamUrl(server.url, { allowInsecure: opts.allowInsecure });
  if (!check.ok) throw new UpstreamFailure(name, "blocked", `Upstream '${name}' is not allowed: URL ${check.reason}.`);
  const params = withMeta(call.params, opts.clientCapabilities);
  const headers = { ...server.headers, ...modernHeaders(call.method, params, opts.paramHeaders) };
  return withinDeadline(name, call, async (signal) => {
    const res = await postRpc(server.url, headers, call, params, signal);
    if (!res.ok) {
      const status = res.status;
      // Redirects are followed only by the legacy client (same origin, re-checked): a modern
      // request that meets one is treated as a legacy answer, so the legacy path handles it.
      if (status >= 300 && status < 400) {
        await res.body?.cancel();
        throw new EraMismatch(name, status);
      }
      if (status >= 400 && status < 500 && status !== 401 && status !== 403) {
        const error = rpcErrorIn(await readLimitedText(res, ERROR_BODY_BYTES).catch(() => null));
        // 404 with -32601 is a modern server without the method; the rest only modern servers say.
        if (error && (isModernError(error) || (status === 404 && error.code === RpcCode.MethodNotFound))) {
          throw new UpstreamRpcError(error.code, error.message, error.data);
        }
        throw new EraMismatch(name, status);
      }
      await res.body?.cancel();
      throw new UpstreamFailure(name, "http_error", `Upstream '${name}' answered HTTP ${status}.`, status);
    }
    const type = contentType(res);
    if (type === "application/json") return settle(name, call.id, JSON.parse(await readCapped(name, res)));
    if (type === "text/event-stream") {
      // Modern streams are not resumable: an SSE reply that ends before its answer is a broken reply.
      const answer = await readEventStream(name, res, call, {});
      if (!answer) throw new UpstreamFailure(name, "bad_response", `Upstream '${name}' ended its reply without an answer.`);
      return settle(name, call.id, answer.message);
    }
    await res.body?.cancel();
    throw new UpstreamFailure(name, "bad_response", `Upstream '${name}' answered with a content type that is not MCP.`);
  });
}

/**
 * Which era the upstream speaks, by a modern `server/discover` (versioning.mdx, dual-era clients):
 * a DiscoverResult listing 2026-07-28, or a modern error body, says modern; any other answer
 * (a 4xx without a modern error, another JSON-RPC error, not JSON) says legacy. 401/403, 5xx and
 * an unreachable upstream say nothing: they throw, as they would for a legacy connect.
 */
export async function discoverEra(server: UpstreamServer, id: string, opts: ModernOptions): Promise<EraVerdict> {
  let result: Record<string, unknown>;
  try {
    result = await modernRequest(server, { id, method: "server/discover", params: {}, timeoutMs: CONNECT_TIMEOUT_MS }, opts);
  } catch (e) {
    if (e instanceof EraMismatch) return { era: "legacy" };
    if (e instanceof UpstreamRpcError) return isModernError(e) ? { era: "modern", profile: null } : { era: "legacy" };
    if (e instanceof UpstreamFailure && e.kind === "bad_response") return { era: "legacy" };
    throw e;
  }
  const versions = result.supportedVersions;
  if (!Array.isArray(versions) || !versions.includes(MODERN_PROTOCOL_VERSION)) return { era: "legacy" };
  const said = isJsonObject(result.capabilities) ? result.capabilities : {};
  const capabilities = { ...(said as Record<string, unknown>) };
  // Resource subscriptions of the modern era need a subscriptions/listen stream the gateway does not hold.
  if (capabilities.resources && typeof capabilities.resources === "object") {
    const { subscribe: _, ...resources } = capabilities.resources as Record<string, unknown>;
    capabilities.resources = resources;
  }
  const instructions = typeof result.instructions === "string" ? result.instructions : null;
  return { era: "modern", profile: { capabilities, instructions } };
}

/**
 * A modern result as a 2025 client expects it: without `resultType`, `ttlMs`, `cacheScope` and the
 * upstream's serverInfo in `_meta` (the gateway is the server its clients talk to).
 */
export function toLegacyResult(result: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...result };
  for (const field of MODERN_RESULT_FIELDS) delete out[field];
  if (isJsonObject(out._meta) && META.serverInfo in out._meta) {
    const { [META.serverInfo]: _, ...meta } = out._meta as Record<string, unknown>;
    if (Object.keys(meta).length > 0) out._meta = meta;
    else delete out._meta;
  }
  return out;
}

/** An input request of an input_required result, checked: a method the gateway relays and its params. */
export interface InputRequest {
  method: "sampling/createMessage" | "elicitation/create" | "roots/list";
  params?: Record<string, unknown>;
}
/** What the caller answers each input request with: its result, or an error that ends the call. */
export type InputAnswer = { result: unknown } | { error: { code: number; message: string; data?: unknown } };
/** Asks the client for input requests (by key) and resolves with the answers (by key). */
export type InputRelay = (requests: Map<string, InputRequest>) => Promise<Map<string, InputAnswer>>;

const INPUT_METHODS = new Set(["sampling/createMessage", "elicitation/create", "roots/list"]);

/** The input requests of an input_required result, or a failure naming what is wrong with them. */
function inputRequestsOf(server: UpstreamServer, result: Record<string, unknown>): Map<string, InputRequest> {
  const bad = (why: string) => new UpstreamFailure(server.name, "bad_response", `Upstream '${server.name}' asked for client input ${why}.`);
  const raw = result.inputRequests;
  if (raw === undefined) return new Map();
  if (!isJsonObject(raw)) throw bad("in a malformed inputRequests");
  const entries = Object.entries(raw);
  if (entries.length > MAX_INPUT_REQUESTS) throw bad(`more than ${MAX_INPUT_REQUESTS} times in one round`);
  const requests = new Map<string, InputRequest>();
  for (const [key, value] of entries) {
    const r = value as { method?: unknown; params?: unknown } | null;
    if (!r || typeof r !== "object" || typeof r.method !== "string" || !INPUT_METHODS.has(r.method)) throw bad("with a request the gateway cannot relay");
    if (r.params !== undefined && !isJsonObject(r.params)) throw bad("with malformed params");
    requests.set(key, { method: r.method as InputRequest["method"], params: r.params as Record<string, unknown> | undefined });
  }
  return requests;
}

/**
 * A modern request that may need client input (MRTR): each input_required result is answered
 * through `relay` and the request is sent again under a new id with the same params plus
 * `inputResponses` and `requestState`, for at most MAX_INPUT_ROUNDS rounds.
 */
export async function modernRequestWithInput(
  server: UpstreamServer,
  call: UpstreamCall,
  opts: ModernOptions & { paramHeaders?: readonly ParamHeader[]; nextId: () => string; relay?: InputRelay; passThrough?: boolean },
): Promise<Record<string, unknown>> {
  let params = call.params;
  for (let round = 0; ; round++) {
    const result = await modernRequest(server, { ...call, id: round === 0 ? call.id : opts.nextId(), params }, opts);
    if (result.resultType !== "input_required") return toLegacyResult(result);
    // A modern client answers the upstream's own rounds (the gateway keeps its requestState).
    if (opts.passThrough) return result;
    if (!opts.relay) {
      throw new UpstreamRpcError(RpcCode.InternalError, `Upstream '${server.name}' asked for client input, which the gateway cannot relay for ${call.method}.`);
    }
    if (round + 1 >= MAX_INPUT_ROUNDS) {
      throw new UpstreamFailure(server.name, "bad_response", `Upstream '${server.name}' asked for client input more than ${MAX_INPUT_ROUNDS} times.`);
    }
    const requests = inputRequestsOf(server, result);
    if (result.requestState !== undefined && typeof result.requestState !== "string") {
      throw new UpstreamFailure(server.name, "bad_response", `Upstream '${server.name}' sent a requestState that is not a string.`);
    }
    const answers = requests.size > 0 ? await untilAborted(opts.relay(requests), call, server.name) : new Map<string, InputAnswer>();
    const inputResponses: Record<string, unknown> = {};
    for (const [key, answer] of answers) {
      if ("error" in answer) throw new UpstreamRpcError(answer.error.code, answer.error.message, answer.error.data);
      inputResponses[key] = answer.result;
    }
    const { inputResponses: _r, requestState: _s, ...original } = call.params;
    params = {
      ...original,
      ...(requests.size > 0 ? { inputResponses } : {}),
      ...(typeof result.requestState === "string" ? { requestState: result.requestState } : {}),
    };
  }
}

/** The client's answers, unless the call is cancelled or times out first. */
function untilAborted<T>(work: Promise<T>, call: UpstreamCall, name: string): Promise<T> {
  const signals = [call.signal, call.deadline?.signal].filter((s): s is AbortSignal => s !== undefined);
  if (signals.length === 0) return work;
  const signal = AbortSignal.any(signals);
  return new Promise<T>((resolve, reject) => {
    const abort = () =>
      reject(
        call.signal?.aborted
          ? new UpstreamFailure(name, "cancelled", `The call to upstream '${name}' was cancelled.`)
          : new UpstreamFailure(name, "timeout", `Upstream '${name}' did not answer within ${call.timeoutMs} ms.`),
      );
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

/** Every item of one kind (or every tool), following pagination like the legacy lists. */
export async function listModern(server: UpstreamServer, kind: ItemKind | "tools", nextId: () => string, opts: ModernOptions): Promise<Item[]> {
  const { method, key } = kind === "tools" ? { method: "tools/list", key: "tools" } : ITEM_LISTS[kind];
  const items: Item[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const result = await modernRequest(server, { id: nextId(), method, params: cursor ? { cursor } : {}, timeoutMs: CONNECT_TIMEOUT_MS }, opts);
    const list = result[key];
    if (!Array.isArray(list)) throw new UpstreamFailure(server.name, "bad_response", `Upstream '${server.name}' sent a reply that is not valid JSON-RPC.`);
    for (const item of list) {
      if (!isJsonObject(item)) continue;
      if (kind === "tools" && typeof (item as Tool).name !== "string") continue;
      // A tool whose x-mcp-header declarations are invalid is left out, as the spec tells clients.
      if (kind === "tools" && paramHeaders((item as Tool).inputSchema) === null) continue;
      items.push(item as Item);
    }
    cursor = typeof result.nextCursor === "string" ? result.nextCursor : undefined;
    if (!cursor) break;
  }
  return items;
}
