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
 *
 * Without a `version` it pins nothing and only passes through (the 2026-07-28 revision has no
 * initialize to pin). With `record`, it also keeps every exchange (the request's method, the MCP
 * headers and body, the reply's status, content type and first bytes) until `takeExchanges()`,
 * so a report can show the request and response behind a failing check.
 */
import { createServer, request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { brotliDecompressSync, constants, gunzipSync, inflateSync } from "node:zlib";
import { readBody, safeParse } from "./http-util.mjs";

/**
 * @typedef {{ initializesPinned: number, requestedVersions: Record<string, number>, headerVersions: Record<string, number> }} PinStats
 *   requestedVersions: what the clients asked for before rewriting; headerVersions: the
 *   MCP-Protocol-Version headers of the other requests.
 * @typedef {{ method: string, rpcMethod?: string, headers: Record<string, string>, body?: string, status?: number, contentType?: string, reply: string, error?: string }} Exchange
 *   one request through the proxy; `body` and `reply` are cut to RECORD_BYTES
 * @typedef {{ url: string, stats(): PinStats, takeExchanges(): Exchange[], close(): Promise<void> }} ProtocolPin
 */

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const RECORD_BYTES = 1_500;
/** How much of a reply the recorder keeps before decoding it (compressed replies need more than RECORD_BYTES). */
const RECORD_CAPTURE_BYTES = 64 * 1024;
/** The request headers worth showing in a report. */
const RECORDED_HEADERS = ["mcp-protocol-version", "mcp-method", "mcp-name", "mcp-session-id", "accept", "content-type", "host", "origin", "last-event-id"];

/**
 * Starts a proxy on 127.0.0.1 that forwards every request, whatever its path, to `target`.
 * @param {{ target: string, version?: string, record?: boolean }} options
 * @returns {Promise<ProtocolPin>} `url` is the proxy's stand-in for `target`
 */
export async function startProtocolPin({ target, version, record = false }) {
  /** @type {Exchange[]} */
  let exchanges = [];
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
    /** @type {Exchange | undefined} */
    let exchange;
    if (record) {
      /** @type {Record<string, string>} */
      const shown = {};
      for (const h of RECORDED_HEADERS) if (headers[h] !== undefined) shown[h] = String(headers[h]);
      exchange = { method: req.method ?? "?", headers: shown, reply: "" };
      if (message && typeof message === "object" && typeof message.method === "string") exchange.rpcMethod = message.method;
      if (body !== undefined) exchange.body = body.toString("utf8").slice(0, RECORD_BYTES);
      exchanges.push(exchange);
    }
    if (version !== undefined && isInitialize(message)) {
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
      if (exchange) {
        const ex = exchange;
        ex.status = reply.statusCode;
        ex.contentType = String(reply.headers["content-type"] ?? "");
        const encoding = String(reply.headers["content-encoding"] ?? "");
        /** @type {Buffer[]} */
        const chunks = [];
        let size = 0;
        const keep = () => (ex.reply = decode(Buffer.concat(chunks), encoding).slice(0, RECORD_BYTES));
        reply.on("data", (chunk) => {
          if (size >= RECORD_CAPTURE_BYTES) return;
          chunks.push(chunk);
          size += chunk.length;
          // A stream that never ends (subscriptions/listen) still shows what arrived so far.
          keep();
        });
      }
      res.writeHead(reply.statusCode ?? 502, reply.headers);
      res.flushHeaders();
      reply.pipe(res);
    });
    await new Promise((resolve, reject) => {
      upstream.on("error", (err) => {
        if (exchange) exchange.error = err.message;
        reject(err);
      });
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
    takeExchanges() {
      const taken = exchanges;
      exchanges = [];
      return taken;
    },
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

/**
 * A recorded reply as text, decompressed when the gateway compressed it (the suite's fetch asks
 * for gzip); a cut or undecodable body yields what could be decoded.
 * @param {Buffer} raw @param {string} encoding
 */
function decode(raw, encoding) {
  try {
    if (encoding === "gzip") return gunzipSync(raw, { finishFlush: constants.Z_SYNC_FLUSH }).toString("utf8");
    if (encoding === "deflate") return inflateSync(raw, { finishFlush: constants.Z_SYNC_FLUSH }).toString("utf8");
    if (encoding === "br") return brotliDecompressSync(raw, { finishFlush: constants.BROTLI_OPERATION_FLUSH }).toString("utf8");
  } catch {
    return `(${encoding} body of ${raw.length} bytes that did not decode)`;
  }
  return raw.toString("utf8");
}
