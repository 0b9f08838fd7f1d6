/** @module MCP protocol revisions the gateway speaks and what each allows; MCP's log levels. Pure. */
/** Protocol revisions a preset speaks with an initialize handshake (the legacy era), newest first. */
export const SUPPORTED_PROTOCOL_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"] as const;
/** Protocol revisions of the modern, stateless era (no initialize, `_meta` on every request), newest first. */
export const MODERN_PROTOCOL_VERSIONS = ["2026-07-28"] as const;
export type ModernProtocolVersion = (typeof MODERN_PROTOCOL_VERSIONS)[number];
export const MODERN_PROTOCOL_VERSION: ModernProtocolVersion = "2026-07-28";
/** Every revision a preset speaks, newest first: what server/discover and -32022 errors list. */
export const ALL_PROTOCOL_VERSIONS: readonly string[] = [...MODERN_PROTOCOL_VERSIONS, ...SUPPORTED_PROTOCOL_VERSIONS];
export const isModernVersion = (v: unknown): v is ModernProtocolVersion => typeof v === "string" && (MODERN_PROTOCOL_VERSIONS as readonly string[]).includes(v);

/** The `_meta` keys of a modern-era request and result (2026-07-28, SEP-2575). */
export const META = {
  protocolVersion: "io.modelcontextprotocol/protocolVersion",
  clientCapabilities: "io.modelcontextprotocol/clientCapabilities",
  clientInfo: "io.modelcontextprotocol/clientInfo",
  logLevel: "io.modelcontextprotocol/logLevel",
  serverInfo: "io.modelcontextprotocol/serverInfo",
  subscriptionId: "io.modelcontextprotocol/subscriptionId",
} as const;
export type ProtocolVersion = (typeof SUPPORTED_PROTOCOL_VERSIONS)[number];
export const LATEST_PROTOCOL_VERSION: ProtocolVersion = "2025-11-25";
/** What a request without an MCP-Protocol-Version header is taken to speak (spec: 2025-03-26). */
export const DEFAULT_NEGOTIATED_VERSION: ProtocolVersion = "2025-03-26";

export function isSupportedVersion(v: unknown): v is ProtocolVersion {
  return typeof v === "string" && (SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(v);
}

/** The version the server answers initialize with: the client's if supported, else the latest. */
export function negotiateVersion(requested: unknown): ProtocolVersion {
  return isSupportedVersion(requested) ? requested : LATEST_PROTOCOL_VERSION;
}

/** JSON-RPC batches existed only in 2025-03-26; later revisions removed them. */
export function allowsBatches(v: ProtocolVersion | ModernProtocolVersion): boolean {
  return v === "2025-03-26";
}

/** SSE polling (SEP-1699, 2025-11-25): priming events, and streams the server may close for the client to resume. */
export function supportsSsePolling(v: ProtocolVersion | ModernProtocolVersion): boolean {
  return v === "2025-11-25";
}

/** MCP's log levels (syslog's), least severe first. */
export const LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const isLogLevel = (v: unknown): v is LogLevel => typeof v === "string" && (LOG_LEVELS as readonly string[]).includes(v);
