/**
 * @module Which era a POST to a preset speaks, and the checks of the modern one (2026-07-28). Pure.
 *
 * As versioning.mdx says for a dual-era server: a request carrying the modern per-request `_meta`
 * (or a modern MCP-Protocol-Version header) is served statelessly; anything else is the legacy
 * era (an initialize opens a session). A modern request must be one JSON-RPC message, carry
 * `_meta["io.modelcontextprotocol/protocolVersion"]` (a version the preset speaks, else -32022 with
 * the supported list) and `clientCapabilities` (an object, else -32602), and mirror its body in
 * the standard headers of SEP-2243: MCP-Protocol-Version, Mcp-Method, and Mcp-Name for
 * tools/call, resources/read and prompts/get (Base64 sentinel decoded), else -32020. All with 400.
 * Also the header value codec both directions use (encodeHeaderValue for requests upstream,
 * decodeHeaderValue for clients' requests).
 */
import { isJsonObject, isRequest, RpcCode, type RpcId, type RpcMessage, readableId } from "./jsonrpc";
import { ALL_PROTOCOL_VERSIONS, isLogLevel, isModernVersion, isSupportedVersion, type LogLevel, META, type ModernProtocolVersion } from "./protocol";

/** What the gateway keeps of a modern request's `_meta`: its version, the client's name and log level. */
export interface ModernRequest {
  version: ModernProtocolVersion;
  /** The client's declared capabilities, as sent (the object reads the flags it needs). */
  capabilities: Record<string, unknown>;
  clientInfo: unknown;
  /** `io.modelcontextprotocol/logLevel`: log messages at or above it reach the request's stream; none without it. */
  logLevel: LogLevel | null;
  /** The request's `Mcp-Param-{Name}` headers, by lower-case name, as sent (checked against the tool's `x-mcp-header` parameters). */
  paramHeaders: Record<string, string>;
}

export interface EraRefusal {
  status: number;
  id: RpcId | null;
  code: number;
  message: string;
  data?: unknown;
}

export type EraVerdict = { era: "legacy" } | { era: "modern"; request: ModernRequest | null } | { era: "refused"; refusal: EraRefusal };

/** The parameter an Mcp-Name header mirrors, by method (SEP-2243). */
export const NAMED_PARAM: Record<string, "name" | "uri"> = { "tools/call": "name", "prompts/get": "name", "resources/read": "uri" };
/** A well-formed Base64 sentinel, with its content. */
const SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;
/** A value that looks like the Base64 sentinel (so, written as it is, it would be read as one). */
const LOOKS_ENCODED = /^=\?base64\?.*\?=$/s;
/** Visible ASCII, with inner spaces: what goes into a header as written. */
const PLAIN = /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/;

/** A header value as the spec's Value Encoding says: as is when plain visible ASCII, else `=?base64?…?=`. */
export function encodeHeaderValue(value: string): string {
  if (PLAIN.test(value) && !LOOKS_ENCODED.test(value)) return value;
  const bytes = new TextEncoder().encode(value);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return `=?base64?${btoa(binary)}?=`;
}

/** A header value as SEP-2243 carries it: plain visible ASCII, or `=?base64?…?=` around UTF-8. Null when malformed. */
export function decodeHeaderValue(value: string): string | null {
  const encoded = SENTINEL.exec(value);
  if (!encoded) return /^[\x20-\x7e\t]*$/.test(value) ? value : null;
  try {
    const bytes = Uint8Array.from(atob(encoded[1]!), (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return null;
  }
}

function metaOf(message: RpcMessage | undefined): Record<string, unknown> | null {
  if (!message || !("method" in message)) return null;
  const meta = message.params?._meta;
  return isJsonObject(meta) ? meta : null;
}

/**
 * The era of one POST, from its MCP-Protocol-Version header and its messages: legacy (the caller
 * goes on as before), modern (with what its `_meta` says; null for a notification), or refused.
 */
export function eraOf(header: (name: string) => string | undefined, messages: RpcMessage[], batch: boolean): EraVerdict {
  const headerVersion = header("mcp-protocol-version");
  const first = messages[0];
  const metaVersion = metaOf(first)?.[META.protocolVersion];
  const modern = isModernVersion(headerVersion) || (metaVersion !== undefined && !batch && !isSupportedVersion(metaVersion));
  if (!modern) {
    if (headerVersion !== undefined && !isSupportedVersion(headerVersion)) return unsupported(readableId(first), headerVersion);
    return { era: "legacy" };
  }
  const id = readableId(first);
  const refuse = (code: number, message: string, data?: unknown): EraVerdict => ({ era: "refused", refusal: { status: 400, id, code, message, data } });
  if (batch || !first) return refuse(RpcCode.InvalidRequest, "Invalid request: protocol version 2026-07-28 takes one JSON-RPC message per POST, not a batch.");
  if (!("method" in first)) return refuse(RpcCode.InvalidRequest, "Invalid request: protocol version 2026-07-28 clients do not send responses.");
  if (!isRequest(first)) return { era: "modern", request: null };
  const meta = metaOf(first);
  if (metaVersion === undefined) {
    return refuse(RpcCode.InvalidParams, `Invalid params: params._meta["${META.protocolVersion}"] is required in protocol version ${headerVersion}.`);
  }
  // Header and body must agree before either is judged (a header naming 2026-07-28 over a body naming another is a mismatch).
  if (headerVersion === undefined) return refuse(RpcCode.HeaderMismatch, "Header mismatch: the MCP-Protocol-Version header is required.");
  if (headerVersion !== metaVersion) {
    const shown = typeof metaVersion === "string" ? metaVersion.slice(0, 40) : "(not a string)";
    return refuse(RpcCode.HeaderMismatch, `Header mismatch: MCP-Protocol-Version ${headerVersion.slice(0, 40)} differs from the body's ${shown}.`);
  }
  if (!isModernVersion(metaVersion)) return unsupported(id, metaVersion);
  const capabilities = meta?.[META.clientCapabilities];
  if (!isJsonObject(capabilities)) {
    return refuse(RpcCode.InvalidParams, `Invalid params: params._meta["${META.clientCapabilities}"] is required and must be an object.`);
  }
  const logLevel = meta?.[META.logLevel];
  if (logLevel !== undefined && !isLogLevel(logLevel)) {
    return refuse(RpcCode.InvalidParams, `Invalid params: params._meta["${META.logLevel}"] must be a log level such as "info".`);
  }
  const method = header("mcp-method");
  if (method === undefined) return refuse(RpcCode.HeaderMismatch, "Header mismatch: the Mcp-Method header is required.");
  if (method !== first.method) return refuse(RpcCode.HeaderMismatch, `Header mismatch: Mcp-Method ${method.slice(0, 60)} differs from the body's method.`);
  const field = NAMED_PARAM[first.method];
  if (field) {
    const raw = header("mcp-name");
    if (raw === undefined) return refuse(RpcCode.HeaderMismatch, `Header mismatch: the Mcp-Name header is required for ${first.method}.`);
    const name = decodeHeaderValue(raw);
    if (name === null) return refuse(RpcCode.HeaderMismatch, "Header mismatch: the Mcp-Name header is malformed.");
    if (name !== first.params?.[field]) return refuse(RpcCode.HeaderMismatch, `Header mismatch: Mcp-Name differs from params.${field}.`);
  }
  return { era: "modern", request: { version: metaVersion, capabilities, clientInfo: meta?.[META.clientInfo], logLevel: logLevel ?? null, paramHeaders: {} } };
}

/** At most this many `x-mcp-header` parameters of a tool are checked, found at most this deep. */
const MAX_HEADER_PARAMS = 64;
const MAX_HEADER_DEPTH = 8;

/** The `x-mcp-header` parameters of a tool's input schema: reachable from the root through `properties` only (SEP-2243). */
export function headerParams(inputSchema: unknown): { name: string; path: string[] }[] {
  const found: { name: string; path: string[] }[] = [];
  const walk = (schema: unknown, path: string[]) => {
    if (!isJsonObject(schema) || !isJsonObject(schema.properties) || path.length >= MAX_HEADER_DEPTH) return;
    for (const [key, property] of Object.entries(schema.properties)) {
      if (found.length >= MAX_HEADER_PARAMS) return;
      if (!isJsonObject(property)) continue;
      const name = property["x-mcp-header"];
      if (typeof name === "string" && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) found.push({ name: name.toLowerCase(), path: [...path, key] });
      walk(property, [...path, key]);
    }
  };
  walk(inputSchema, []);
  return found;
}

/**
 * Why a tools/call's `Mcp-Param-{Name}` headers do not mirror its arguments (null when they do):
 * every `x-mcp-header` parameter with a value needs its header, equal after decoding (integers
 * compared as numbers); a header for a parameter the arguments leave out is a mismatch too.
 */
export function paramHeaderMismatch(inputSchema: unknown, args: unknown, headers: Record<string, string>): string | null {
  for (const { name, path } of headerParams(inputSchema)) {
    let value: unknown = args;
    for (const key of path) value = isJsonObject(value) ? value[key] : undefined;
    const raw = headers[name];
    const present = value !== undefined && value !== null;
    if (!present) {
      if (raw !== undefined) return `Mcp-Param-${name} is sent but arguments.${path.join(".")} is not.`;
      continue;
    }
    if (raw === undefined) return `the Mcp-Param-${name} header is required: arguments.${path.join(".")} has a value.`;
    const decoded = decodeHeaderValue(raw);
    const same =
      decoded !== null &&
      (typeof value === "number"
        ? decoded.trim() !== "" && Number(decoded) === value
        : typeof value === "boolean"
          ? decoded === String(value)
          : decoded === value);
    if (!same) return `Mcp-Param-${name} differs from arguments.${path.join(".")}.`;
  }
  return null;
}

function unsupported(id: RpcId | null, requested: unknown): EraVerdict {
  const shown = typeof requested === "string" ? requested.slice(0, 40) : requested;
  return {
    era: "refused",
    refusal: {
      status: 400,
      id,
      code: RpcCode.UnsupportedProtocolVersion,
      message: `Unsupported protocol version: ${typeof shown === "string" ? shown : "(not a string)"}; MCP-Protocol-Version and _meta must name one of ${ALL_PROTOCOL_VERSIONS.join(", ")}.`,
      data: { supported: ALL_PROTOCOL_VERSIONS, requested: typeof shown === "string" ? shown : null },
    },
  };
}

/**
 * `req` without the modern era's own `_meta` keys (version, client capabilities and info, log
 * level), as the gateway forwards it: the gateway tells each upstream its own era (a dual-era
 * upstream refuses a legacy session's request whose `_meta` says 2026-07-28).
 */
export function withoutEraMeta<T extends { params?: Record<string, unknown> }>(req: T): T {
  const meta = req.params?._meta;
  if (!isJsonObject(meta)) return req;
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) if (!ERA_META_KEYS.has(key)) rest[key] = value;
  const { _meta: _dropped, ...params } = req.params!;
  return { ...req, params: Object.keys(rest).length > 0 ? { ...params, _meta: rest } : params };
}
const ERA_META_KEYS: ReadonlySet<string> = new Set([META.protocolVersion, META.clientCapabilities, META.clientInfo, META.logLevel]);
