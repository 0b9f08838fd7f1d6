/**
 * @module The HTTP headers a modern-era (2026-07-28) request carries upstream: MCP-Protocol-Version,
 * Mcp-Method, Mcp-Name, and Mcp-Param-{Name} for tool arguments whose schema says `x-mcp-header`.
 * Pure.
 */
import { isJsonObject } from "../mcp/jsonrpc";
import { encodeHeaderValue, NAMED_PARAM } from "../mcp/modern";
import { MODERN_PROTOCOL_VERSION } from "../mcp/protocol";

/** An `x-mcp-header` declaration: the header's name part and the `properties` path to the argument. */
export interface ParamHeader {
  name: string;
  path: string[];
}

/** RFC 9110 token characters: what a header name part may hold. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/**
 * A schema walk goes no deeper than this (upstream schemas are untrusted, and the walk recurses):
 * a declaration below it goes unseen, and the upstream refuses the call for the missing header.
 */
const MAX_DEPTH = 64;
const MAX_DECLARATIONS = 32;

/**
 * The `x-mcp-header` declarations of a tool's input schema, or null if any is invalid (then the
 * spec says a client must leave the tool out): a name that is not a token, a duplicate (case
 * insensitive), a declaration not reachable through `properties` alone, or on a property whose
 * type is not string, integer or boolean.
 */
export function paramHeaders(inputSchema: unknown): ParamHeader[] | null {
  const found: ParamHeader[] = [];
  let valid = true;
  const walk = (node: unknown, path: string[] | null, depth: number): void => {
    if (!valid || depth > MAX_DEPTH) return;
    if (Array.isArray(node)) {
      for (const v of node) walk(v, null, depth + 1);
      return;
    }
    if (!node || typeof node !== "object") return;
    const obj = node as Record<string, unknown>;
    if ("x-mcp-header" in obj) {
      const name = obj["x-mcp-header"];
      const type = obj.type;
      if (!path || path.length === 0 || typeof name !== "string" || !TOKEN.test(name) || !(type === "string" || type === "integer" || type === "boolean")) {
        valid = false;
        return;
      }
      if (found.some((d) => d.name.toLowerCase() === name.toLowerCase()) || found.length >= MAX_DECLARATIONS) {
        valid = false;
        return;
      }
      found.push({ name, path });
    }
    for (const [key, value] of Object.entries(obj)) {
      if (key === "properties" && isJsonObject(value) && path) {
        for (const [prop, sub] of Object.entries(value as Record<string, unknown>)) walk(sub, [...path, prop], depth + 1);
      } else if (key !== "x-mcp-header") walk(value, null, depth + 1);
    }
  };
  walk(inputSchema, [], 0);
  return valid ? found : null;
}

/** The header text of an argument value, or undefined when it has none (absent, null, another type). */
function headerText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** Every MCP header of one modern request: the standard ones, and Mcp-Param-* from `declarations`. */
export function modernHeaders(method: string, params: Record<string, unknown>, declarations: readonly ParamHeader[] = []): Record<string, string> {
  const headers: Record<string, string> = { "mcp-protocol-version": MODERN_PROTOCOL_VERSION, "mcp-method": method };
  const field = NAMED_PARAM[method];
  const named = field ? params[field] : undefined;
  if (typeof named === "string") headers["mcp-name"] = encodeHeaderValue(named);
  if (method === "tools/call") {
    for (const { name, path } of declarations) {
      let value: unknown = params.arguments;
      for (const key of path) value = isJsonObject(value) ? value[key] : undefined;
      const text = headerText(value);
      if (text !== undefined) headers[`mcp-param-${name.toLowerCase()}`] = encodeHeaderValue(text);
    }
  }
  return headers;
}
