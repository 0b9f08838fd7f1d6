import { type RpcId, rpcErrorBody } from "../mcp/jsonrpc";

/**
 * @module The MCP endpoint's HTTP-level refusals: a JSON-RPC error object as the body of a 4xx,
 * the shape MCP clients read whatever the status. Shared by the endpoint's middleware.
 */

export function jsonRpcError(status: number, id: RpcId | null, code: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(rpcErrorBody(id, code, message), { status, headers: { "content-type": "application/json", ...headers } });
}
