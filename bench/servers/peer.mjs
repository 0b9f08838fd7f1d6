/**
 * The "peer" target: @civic/passthrough-mcp-server, a Node Streamable HTTP MCP proxy built on the
 * SDK, one proxy per upstream server (it forwards to a single target URL), all in this one child
 * process so its CPU time is measured on its own.
 *
 * Its CLI listens on every interface (`listen(port)` without a host), so we use its library API
 * instead and bind each proxy's HTTP server to 127.0.0.1 ourselves. Two deliberate settings, both
 * in the peer's favour or neutral:
 *   - its server transport is created with `enableJsonResponse`, so it answers clients with plain
 *     JSON like every other target (its default would be an SSE stream per POST);
 *   - its per-request `logger.debug` goes to console.log and it has no log level: we silence
 *     console.log here so the peer is not charged for writing logs nobody reads.
 * No hooks are configured, so it makes no request other than to the loopback upstream.
 *
 * Usage (as an IPC child): argv = <upstreamBase> <name>...; sends `{ urls: { name: url } }`.
 */
import { createHttpPassthroughProxy } from "@civic/passthrough-mcp-server";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

console.log = () => {};
console.info = () => {};

const [upstreamBase, ...names] = process.argv.slice(2);
if (!upstreamBase || names.length === 0) throw new Error("usage: peer.mjs <upstreamBase> <name>...");

/** @type {Record<string, string>} */
const urls = {};
const proxies = [];
for (const name of names) {
  const proxy = await createHttpPassthroughProxy({
    port: 0,
    autoStart: false,
    target: { transportType: "httpStream", url: `${upstreamBase}/${name}`, mcpPath: "/mcp" },
    transportFactory: (options) => new StreamableHTTPServerTransport({ ...options, enableJsonResponse: true }),
  });
  // `initialize()` built the HTTP server; listen on loopback only (start() would bind 0.0.0.0).
  const server = /** @type {import('node:http').Server} */ (/** @type {any} */ (proxy).httpServer);
  await new Promise((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", () => resolve(undefined)));
  /** @type {any} */ (proxy).isStarted = true;
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  urls[name] = `http://127.0.0.1:${address.port}/mcp`;
  proxies.push({ proxy, server });
}

process.send?.({ urls });
const stop = () => {
  for (const { server } of proxies) server.closeAllConnections();
  process.exit(0);
};
process.once("disconnect", stop);
process.once("SIGTERM", stop);
