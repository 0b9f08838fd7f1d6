/**
 * A friendly MCP server for local development: `npm run dev` starts it and points the seeded demo
 * preset at it, so a newcomer has something to call without any network access or credentials.
 *
 * Standalone: `node scripts/demo-upstream.mjs [--port 8790]` serves http://127.0.0.1:PORT/demo/mcp
 */
import { randomInt } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import * as z from "zod";
import { startMcpHost } from "./lib/mcp-host.mjs";

/** @param {string} text */
const text = (text) => ({ content: [{ type: /** @type {const} */ ("text"), text }] });

export function createDemoServer() {
  const server = new McpServer({ name: "mcpgate-demo", version: "1.0.0" }, { instructions: "Small, offline demo tools for trying mcpgate locally." });

  server.registerTool(
    "echo",
    {
      title: "Echo",
      description: "Returns the given text unchanged. Handy to check that a client, the gateway and this server are wired together.",
      inputSchema: { text: z.string().describe("Text to send back") },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ text: t }) => text(t),
  );

  server.registerTool(
    "add",
    {
      title: "Add",
      description: "Adds two numbers and returns the sum, both as text and as structured output ({ sum }).",
      inputSchema: { a: z.number().describe("First addend"), b: z.number().describe("Second addend") },
      outputSchema: { sum: z.number().describe("a + b") },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ a, b }) => ({ ...text(String(a + b)), structuredContent: { sum: a + b } }),
  );

  server.registerTool(
    "now",
    {
      title: "Current time",
      description:
        "Returns the current date and time from this machine's clock: an ISO 8601 UTC timestamp, plus the local time in the given IANA time zone (e.g. Europe/Paris) when one is passed.",
      inputSchema: { timezone: z.string().optional().describe("IANA time zone name, e.g. America/New_York") },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ timezone }) => {
      const date = new Date();
      if (!timezone) return text(date.toISOString());
      try {
        return text(`${date.toISOString()} (${timezone}: ${isoInZone(date, timezone)})`);
      } catch {
        return { ...text(`Unknown time zone "${timezone}". Use an IANA name such as Europe/Paris.`), isError: true };
      }
    },
  );

  server.registerTool(
    "random_number",
    {
      title: "Random number",
      description: "Returns a uniformly random integer between min and max, both inclusive.",
      inputSchema: { min: z.number().int().describe("Smallest possible value"), max: z.number().int().describe("Largest possible value") },
      outputSchema: { value: z.number().int() },
      annotations: { readOnlyHint: true, openWorldHint: false, idempotentHint: false },
    },
    ({ min, max }) => {
      if (min > max) return { ...text("min must not be greater than max"), isError: true };
      if (max - min >= 2 ** 48 - 1) return { ...text("the range max - min must be below 2^48"), isError: true };
      const value = randomInt(min, max + 1);
      return { ...text(String(value)), structuredContent: { value } };
    },
  );

  server.registerTool(
    "word_count",
    {
      title: "Word count",
      description: "Counts the words, characters and lines of a text. Words are runs of non-whitespace characters.",
      inputSchema: { text: z.string().describe("Text to measure") },
      outputSchema: { words: z.number().int(), characters: z.number().int(), lines: z.number().int() },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    ({ text: t }) => {
      const counts = {
        words: t.split(/\s+/u).filter(Boolean).length,
        characters: [...t].length,
        lines: t === "" ? 0 : t.split(/\r\n|\r|\n/u).length,
      };
      return { ...text(`${counts.words} words, ${counts.characters} characters, ${counts.lines} lines`), structuredContent: counts };
    },
  );

  return server;
}

/**
 * `date` as ISO 8601 local time with offset in an IANA zone, e.g. `2026-01-31T09:05:00+01:00`.
 * Throws a RangeError for an unknown zone.
 * @param {Date} date @param {string} timeZone
 */
function isoInZone(date, timeZone) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      timeZoneName: "longOffset",
    })
      .formatToParts(date)
      .map((p) => [p.type, p.value]),
  );
  const offset = parts.timeZoneName === "GMT" ? "+00:00" : parts.timeZoneName.replace("GMT", "");
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${offset}`;
}

/**
 * Serves the demo server at `http://127.0.0.1:<port>/demo/mcp` (port 0 picks a free one).
 * @param {{ port?: number }} [options]
 */
export function startDemoUpstream({ port = 0 } = {}) {
  return startMcpHost({ host: "127.0.0.1", port, servers: { demo: createDemoServer } });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { port: { type: "string", default: "8790" } } });
  const host = await startDemoUpstream({ port: Number(values.port) });
  console.log(`demo MCP server on ${host.url}/demo/mcp (Ctrl+C to stop)`);
  const stop = () => host.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
