/**
 * The "naive proxy" target: what most quick MCP gateways do. It answers `initialize` itself, and
 * for every other request creates a fresh SDK Client, connects it (initialize +
 * notifications/initialized to the upstream), forwards the one request, and throws the client
 * away. The upstream session is ended (DELETE) after the response is sent, through waitUntil, so
 * the upstream does not pile up sessions but the client does not wait for it either.
 *
 * The upstream is the same path on UPSTREAM as this request's path (/bench/mcp, /tools100/mcp...).
 * Bundled with esbuild by bench/lib/build.mjs (it imports the SDK).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import * as z from "zod";

const AnyResult = z.looseObject({});

/** @param {unknown} body @param {number} [status] @param {Record<string, string>} [headers] */
const json = (body, status = 200, headers = {}) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

export default {
  /** @param {Request} request @param {{ UPSTREAM: string }} env @param {ExecutionContext} ctx */
  async fetch(request, env, ctx) {
    if (request.method === "DELETE") return new Response(null, { status: 204 });
    if (request.method !== "POST") return new Response(null, { status: 405 });
    const msg = /** @type {{ id?: string | number, method: string, params?: Record<string, unknown> }} */ (await request.json());
    if (msg.method === "initialize") {
      const result = {
        protocolVersion: msg.params?.protocolVersion ?? "2025-06-18",
        capabilities: { tools: {} },
        serverInfo: { name: "naive-proxy", version: "0.0.0" },
      };
      return json({ jsonrpc: "2.0", id: msg.id, result }, 200, { "mcp-session-id": crypto.randomUUID() });
    }
    if (msg.id === undefined) return new Response(null, { status: 202 });

    const upstream = new URL(new URL(request.url).pathname, env.UPSTREAM);
    const client = new Client({ name: "naive-proxy", version: "0.0.0" });
    const transport = new StreamableHTTPClientTransport(upstream);
    try {
      await client.connect(transport);
      const result = await client.request(/** @type {any} */ ({ method: msg.method, params: msg.params }), AnyResult);
      return json({ jsonrpc: "2.0", id: msg.id, result });
    } catch (e) {
      return json({ jsonrpc: "2.0", id: msg.id, error: { code: -32603, message: String(e) } });
    } finally {
      ctx.waitUntil(
        transport
          .terminateSession()
          .catch(() => {})
          .finally(() => client.close()),
      );
    }
  },
};
