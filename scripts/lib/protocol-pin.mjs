/**
 * A loopback pass-through proxy that makes every MCP session opened through it negotiate one
 * protocol revision.
 *
 * Why: the conformance suite's `--spec-version` picks which scenarios run and which spec schema
 * the wire is validated against, and its raw-HTTP scenarios send that version, but the scenarios
 * driven through the SDK `Client` always ask for the SDK's latest revision at initialize. To
 * really exercise a server's 2025-06-18 code path, this proxy rewrites `params.protocolVersion`
 * (and the `MCP-Protocol-Version` header) of each `initialize` request to the pinned version. A
 * spec-following server then answers with that version, the SDK client accepts it (it is in its
 * supported list) and sends it in the header of every later request, so nothing else needs
 * rewriting.
 *
 * Everything else passes through untouched, streaming both ways (SSE replies, GET streams,
 * DELETE), including the Host and Origin headers, except that a Host or Origin naming the proxy
 * itself is replaced by the target's (so the server sees what a direct client would send).
 * `stats()` tells what it saw: how many initializes it pinned and which protocol versions later
 * requests carried, so a run can show the pin took.
 */
import { createServer, request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { readBody, safeParse } from "./http-util.mjs";

/**
 * @typedef {{ initializesPinned: number, requestedVersions: Record<string, number>, headerVersions: Record<string, number> }} PinStats
 *   requestedVersions: what the clients asked for before rewriting; headerVersions: the
 *   MCP-Protocol-Version headers of the other requests.
 * @typedef {{ url: string, stats(): PinStats, close(): Promise<void> }} ProtocolPin
 */

const MAX_BODY_BYTES = 4 * 1024 * 1024;

/**
 * Starts a proxy on 127.0.0.1 that forwards every request, whatever its path, to `target`.
 * @param {{ target: string, version: string }} options
 * @returns {Promise<ProtocolPin>} `url` is the proxy's stand-in for `target`
 */
export async function startProtocolPin({ target, version }) {
  const targetUrl = new URL(target);
  const send = targetUrl.protocol === "https:" ? httpsRequest : httpRequest;
  /** @type {PinStats} */
  const counts = { initializesPinned: 0, requestedVersions: {}, headerVersions: {} };
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();
  let ownAuthority = "";

  const server = createServer((req, res) => {
    forward(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" }).end(`protocol pin: ${err.message}`);
      else res.destroy();
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  async function forward(req, res) {
    const headers = { ...req.headers };
    if (!headers.host || headers.host === ownAuthority) headers.host = targetUrl.host;
    if (headers.origin === `http://${ownAuthority}`) headers.origin = targetUrl.origin;
    let body = req.method === "POST" || req.method === "PUT" ? await readBody(req, MAX_BODY_BYTES) : undefined;

    const message = body === undefined ? undefined : safeParse(body.toString("utf8"));
    if (isInitialize(message)) {
      const asked = String(message.params?.protocolVersion ?? "(none)");
      counts.requestedVersions[asked] = (counts.requestedVersions[asked] ?? 0) + 1;
      counts.initializesPinned++;
      message.params = { ...(message.params ?? {}), protocolVersion: version };
      if (headers["mcp-protocol-version"] !== undefined) headers["mcp-protocol-version"] = version;
      body = Buffer.from(JSON.stringify(message), "utf8");
    } else {
      const v = String(headers["mcp-protocol-version"] ?? "(none)");
      counts.headerVersions[v] = (counts.headerVersions[v] ?? 0) + 1;
    }
    if (body !== undefined) {
      headers["content-length"] = String(body.length);
      delete headers["transfer-encoding"];
    }

    const upstream = send(targetUrl, { method: req.method, headers });
    let replied = false;
    // A client that goes away mid-reply (an aborted SSE stream) takes the upstream request with it.
    res.on("close", () => {
      if (!replied) upstream.destroy();
    });
    upstream.on("response", (reply) => {
      reply.on("end", () => (replied = true));
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      res.flushHeaders();
      reply.pipe(res);
    });
    await new Promise((resolve, reject) => {
      upstream.on("error", reject);
      res.on("close", () => resolve(undefined));
      upstream.end(body);
    });
  }

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve(undefined);
    });
  });
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  ownAuthority = `127.0.0.1:${address.port}`;

  /** @type {Promise<void> | undefined} */
  let closing;
  return {
    url: `http://${ownAuthority}${targetUrl.pathname}${targetUrl.search}`,
    stats: () => structuredClone(counts),
    close() {
      closing ??= new Promise((resolve) => {
        server.close(() => resolve(undefined));
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/** @param {unknown} m @returns {m is { method: 'initialize', params?: Record<string, unknown> }} */
function isInitialize(m) {
  return !!m && typeof m === "object" && !Array.isArray(m) && /** @type {{ method?: unknown }} */ (m).method === "initialize";
}
