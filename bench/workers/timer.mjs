/**
 * Server-time probe. Forwards `/<target>/<path>` to the GATEWAY or FLOOR service binding (same
 * workerd process, no socket) and adds `server-timing: app;dur=<ms>` measured around the whole
 * exchange, body included. Inside workerd the clock only moves across I/O, and the service call is
 * I/O, so this measures the wall time the target spent on the request (its CPU plus its own
 * awaits, e.g. the Durable Object RPC or the upstream fetch) without the HTTP hop to the driver.
 */
export default {
  /** @param {Request} request @param {Record<string, Fetcher>} env */
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, target, ...rest] = url.pathname.split("/");
    const binding = target === "gateway" ? env.GATEWAY : target === "floor" ? env.FLOOR : undefined;
    if (!binding) return new Response("unknown target", { status: 404 });
    const forwarded = new Request(`http://bench.invalid/${rest.join("/")}${url.search}`, request);
    const t0 = performance.now();
    const res = await binding.fetch(forwarded);
    const body = await res.arrayBuffer();
    const ms = performance.now() - t0;
    const headers = new Headers(res.headers);
    headers.set("server-timing", `app;dur=${ms.toFixed(3)}`);
    return new Response(body, { status: res.status, headers });
  },
};
