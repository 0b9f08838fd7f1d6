/** @module The gateway's name and version, as upstreams and MCP clients see them. */
/** Reported as clientInfo to upstreams and serverInfo.version to MCP clients. */
export const GATEWAY_NAME = "mcpgate";
export const GATEWAY_VERSION = "0.1.0";
