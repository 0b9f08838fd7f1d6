/**
 * The benchmark's upstream MCP servers, run as a child process of bench/run.mjs so their CPU time
 * is measured apart from the load driver's. Served by scripts/lib/mcp-host.mjs (stateful
 * Streamable HTTP sessions, `/__stats/<name>` counters) on 127.0.0.1:
 *
 *   /bench/mcp        `echo` and `sleep`, the tools/call workloads (an SDK McpServer with zod)
 *   /tools<N>/mcp     N synthetic tools (N = 10, 100, 1000), the tools/list workloads
 *
 * Every server answers POSTs with plain JSON (`jsonResponse`), not SSE: the gateway always answers
 * its clients with JSON, so JSON end to end keeps every target on the same wire format.
 *
 * Started with an IPC channel: it sends `{ url }` once listening, and exits when the parent
 * disconnects (which also happens when the parent dies), so it never outlives a run.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
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

/** @param {{ port?: number }} [options] */
export function startBenchUpstream({ port = 0 } = {}) {
  /** @type {Record<string, import('../../scripts/lib/mcp-host.mjs').ServerSpec>} */
  const servers = { bench: { create: createBenchServer, jsonResponse: true } };
  for (const n of CATALOG_SIZES) servers[`tools${n}`] = { create: catalogFactory(n), jsonResponse: true };
  return startMcpHost({ host: "127.0.0.1", port, servers });
}

if (process.send) {
  const host = await startBenchUpstream();
  process.send({ url: host.url });
  const stop = () => host.close().finally(() => process.exit(0));
  process.once("disconnect", stop);
  process.once("SIGTERM", stop);
}
