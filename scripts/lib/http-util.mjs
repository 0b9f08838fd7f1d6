/**
 * Small node:http helpers shared by the Node MCP hosts and proxies of scripts/ (the dev demo,
 * test fixtures, the conformance harness).
 */

/** @param {string | string[] | undefined} v */
export function headerValue(v) {
  return Array.isArray(v) ? v[0] : v;
}

/** @param {string} text @returns {any} undefined when not JSON */
export function safeParse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The request body, refusing bodies over `limit` bytes.
 * @param {import('node:http').IncomingMessage} req @param {number} limit @returns {Promise<Buffer>}
 */
export async function readBody(req, limit) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error("request body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** @param {import('node:http').ServerResponse} res @param {number} status @param {unknown} value */
export function sendJson(res, status, value) {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
}

/** @param {import('node:http').ServerResponse} res @param {number} status @param {number} code @param {string} message */
export function sendJsonRpcError(res, status, code, message) {
  sendJson(res, status, { jsonrpc: "2.0", error: { code, message }, id: null });
}

/**
 * Starts listening and resolves with the bound port and the server's origin (`http://host:port`,
 * IPv6 in brackets); rejects if the port cannot be bound.
 * @param {import('node:http').Server} server @param {number} port @param {string} host
 * @returns {Promise<{ port: number, origin: string }>}
 */
export async function listen(server, port, host) {
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(undefined);
    });
  });
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("unexpected listen address");
  const urlHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return { port: address.port, origin: `http://${urlHost}:${address.port}` };
}
