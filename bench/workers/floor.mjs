/**
 * The "floor" target: the least a Worker can do in front of the upstream. No auth, no Durable
 * Object, no JSON or MCP parsing: the request (method, headers, body stream) is forwarded to the
 * same path on the upstream and the upstream's response is streamed back. What it costs over
 * "direct" is what workerd itself costs; what the gateway costs over it is our own logic.
 *
 * Bindings: UPSTREAM (text), the upstream host's base URL, e.g. http://127.0.0.1:1234
 */
export default {
  /** @param {Request} request @param {{ UPSTREAM: string }} env */
  fetch(request, env) {
    const url = new URL(request.url);
    return fetch(`${env.UPSTREAM}${url.pathname}${url.search}`, request);
  },
};
