/**
 * The benchmark's upstream MCP servers, run as a child process of bench/run.mjs so their CPU time
 * is measured apart from the load driver's. Served by scripts/lib/mcp-host.mjs (stateful
 * Streamable HTTP sessions, `/__stats/<name>` counters) on 127.0.0.1:
 *
 *   /bench/mcp        `echo` and `sleep`, the tools/call workloads (an SDK McpServer with zod)
 *   /tools<N>/mcp     N synthetic tools (N = 10, 100, 1000), the tools/list workloads
 *   /modern/mcp       dual-era `echo` and `sleep`: the 2025 era as /bench/mcp does, the 2026-07-28
 *                     era through the SDK v2 `createMcpHandler` (the modern-* workloads)
 *   /modern-tools1000/mcp  dual-era 1,000 synthetic tools, the same way (modern-list-1000)
 *
 * Every server answers POSTs with plain JSON (`jsonResponse`; the modern era's default response
 * mode answers JSON when no notification precedes the result), not SSE: the gateway always answers its clients with JSON, so JSON end to end keeps
 * every target on the same wire format.
 *
 * The dual-era servers keep the legacy era on the same stateful SDK v1 sessions as the legacy
 * servers (mcp-host routes by era, see its `modern` option), so a gateway that talks 2025 to its
 * upstreams sees exactly what it sees on /bench/mcp, and one that talks 2026-07-28 gets a modern
 * server. The modern leg is stateless by design: the SDK builds a fresh server per request.
 *
 * Started with an IPC channel: it sends `{ url }` once listening, and exits when the parent
 * disconnects (which also happens when the parent dies), so it never outlives a run.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { createMcpHandler, McpServer as McpServerV2, Server as ServerV2 } from "@modelcontextprotocol/server";
import * as z from "zod";
import { startMcpHost } from "../../scripts/lib/mcp-host.mjs";
import { CATALOG_SIZES } from "../lib/plan.mjs";

/** @param {string} text */
const text = (text) => ({ content: [{ type: /** @type {const} */ ("text"), text }] });

function createBenchServer() {
  const server = new McpServer({ name: "bench-upstream", version: "1.0.0" });
  server.registerTool("echo", { description: "Returns the text it is given", inputSchema: { text: z.string() } }, ({ text: t }) => text(t));
  server.registerTool(
    "sleep",
    { description: "Waits ms milliseconds, then answers", inputSchema: { ms: z.number().int().min(0).max(10_000) } },
    async ({ ms }) => {
      await sleep(ms);
      return text(`slept ${ms}`);
    },
  );
  return server;
}

/**
 * A tool shaped like real ones (a sentence of description, a few typed, described properties),
 * so a 1,000-tool list weighs what a large real catalog does (~300 bytes a tool).
 * @param {number} i
 */
function syntheticTool(i) {
  const id = String(i).padStart(4, "0");
  return {
    name: `tool_${id}`,
    description: `Synthetic tool ${id}: looks up a record by id and returns its fields, optionally limited to a projection.`,
    inputSchema: {
      type: "object",
      properties: {
        id: { type: "string", description: "Record id" },
        fields: { type: "array", items: { type: "string" }, description: "Fields to return; all when omitted" },
        limit: { type: "integer", minimum: 1, maximum: 100, description: "Maximum number of rows" },
      },
      required: ["id"],
    },
    annotations: { readOnlyHint: true },
  };
}

/**
 * A low-level SDK Server whose tools/list returns a prebuilt array: the upstream does as little
 * as possible, so "direct" shows the floor of listing, not the cost of schema conversion.
 * @param {number} n
 */
function catalogFactory(n) {
  const tools = Array.from({ length: n }, (_, i) => syntheticTool(i));
  return () => {
    const server = new Server({ name: `tools${n}`, version: "1.0.0" }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
    return server;
  };
}

/** The modern leg of /modern/mcp: the same tools on an SDK v2 McpServer. */
function createModernBenchServer() {
  const server = new McpServerV2({ name: "bench-upstream-modern", version: "1.0.0" });
  server.registerTool("echo", { description: "Returns the text it is given", inputSchema: z.object({ text: z.string() }) }, ({ text: t }) => text(t));
  server.registerTool(
    "sleep",
    { description: "Waits ms milliseconds, then answers", inputSchema: z.object({ ms: z.number().int().min(0).max(10_000) }) },
    async ({ ms }) => {
      await sleep(ms);
      return text(`slept ${ms}`);
    },
  );
  return server;
}

/** The modern leg of /modern-tools<N>/mcp: an SDK v2 low-level Server returning the prebuilt list. @param {number} n */
function modernCatalogFactory(n) {
  const tools = Array.from({ length: n }, (_, i) => syntheticTool(i));
  return () => {
    const server = new ServerV2({ name: `modern-tools${n}`, version: "1.0.0" }, { capabilities: { tools: {} } });
    server.setRequestHandler("tools/list", () => ({ tools }));
    return server;
  };
}

/**
 * The 2026-07-28 era of a dual-era server: `createMcpHandler` strict to the modern era (mcp-host
 * routes legacy traffic to its own sessions), given the body mcp-host already parsed. Its default
 * response mode answers with a single JSON body unless a handler emits a notification before its
 * result, which these tools never do: JSON replies, without `responseMode: 'json'`'s start-up warning.
 * @param {import('@modelcontextprotocol/server').McpServerFactory} factory
 * @returns {import('../../scripts/lib/mcp-host.mjs').ModernHandler}
 */
function modernLeg(factory) {
  const handler = createMcpHandler(factory, { legacy: "reject", keepAliveMs: 0 });
  return (request, parsedBody) => handler.fetch(request, { parsedBody });
}

/** The catalog size of the dual-era list server (the largest legacy one). */
export const MODERN_CATALOG_SIZE = 1000;

/** @param {{ port?: number }} [options] */
export function startBenchUpstream({ port = 0 } = {}) {
  /** @type {Record<string, import('../../scripts/lib/mcp-host.mjs').ServerSpec>} */
  const servers = { bench: { create: createBenchServer, jsonResponse: true } };
  for (const n of CATALOG_SIZES) servers[`tools${n}`] = { create: catalogFactory(n), jsonResponse: true };
  servers.modern = { create: createBenchServer, jsonResponse: true, modern: modernLeg(createModernBenchServer) };
  servers[`modern-tools${MODERN_CATALOG_SIZE}`] = {
    create: catalogFactory(MODERN_CATALOG_SIZE),
    jsonResponse: true,
    modern: modernLeg(modernCatalogFactory(MODERN_CATALOG_SIZE)),
  };
  return startMcpHost({ host: "127.0.0.1", port, servers });
}

if (process.send) {
  const host = await startBenchUpstream();
  process.send({ url: host.url });
  const stop = () => host.close().finally(() => process.exit(0));
  process.once("disconnect", stop);
  process.once("SIGTERM", stop);
}
