import { describe, expect, it, vi } from "vitest";
import { api, givenPreset, type PresetSpec, upstreamUrl } from "../helpers";
import { mcpPost, rawSession } from "../mcp-raw";
import { recordMetrics } from "../metrics-recorder";

/** A public preset exposing alpha's echo and fail. */
const preset = (limits: Pick<PresetSpec, "rateLimit"> = {}) =>
  givenPreset({ ...limits, servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo", "fail"] }] });

const CALLS = [
  { name: "alpha__echo", arguments: { text: "one" } },
  { name: "alpha__fail", arguments: {} },
  { name: "alpha__missing", arguments: {} },
  { name: "alpha__echo", arguments: { text: "two" } },
  { name: "alpha__echo", arguments: { text: "three" } },
];

/** Status, body and the headers a client relies on, for each call of CALLS on a fresh preset. */
async function run() {
  const p = await preset({ rateLimit: { requests: 3, windowSeconds: 60 } });
  const session = await rawSession(p.url);
  const replies = [];
  for (const [i, params] of CALLS.entries()) {
    const res = await mcpPost(p.url, { jsonrpc: "2.0", id: i + 1, method: "tools/call", params }, { sessionId: session });
    replies.push({ status: res.status, body: res.json, limit: res.headers.get("ratelimit-limit"), remaining: res.headers.get("ratelimit-remaining") });
  }
  return { p, replies };
}

describe("metrics never change a response", () => {
  for (const fail of ["throw", "reject"] as const) {
    it(`answers every call exactly as usual when writeDataPoint ${fail === "throw" ? "throws" : "returns a rejected promise"}`, async () => {
      const working = recordMetrics();
      const normal = await run();
      working.restore();
      expect(working.of(normal.p.presetId)).toHaveLength(CALLS.length);

      const error = vi.spyOn(console, "error").mockImplementation(() => {});
      const broken = recordMetrics({ fail });
      const failing = await run();
      broken.restore();
      // The failure happened, and was logged rather than thrown.
      await vi.waitFor(() => expect(error).toHaveBeenCalledWith("metrics data point not written", expect.any(Error)));
      error.mockRestore();
      expect(failing.replies).toEqual(normal.replies);
      expect(failing.replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 429]);
      // Rollups do not depend on Analytics Engine: the owner's stats still count every call.
      const stats = await api("GET", `/presets/${failing.p.slug}/stats?window=1h`, { token: failing.p.owner.token });
      expect(stats.body.totals).toMatchObject({ calls: 5, outcomes: { ok: 2, tool_error: 1, denied: 1, rate_limited: 1 } });
    });
  }

  it("works with no Analytics Engine binding at all (self-hosted)", async () => {
    const none = recordMetrics();
    const { env } = await import("cloudflare:test");
    env.METRICS = undefined;
    const result = await run();
    none.restore();
    expect(result.replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 429]);
  });

  it("writes at most 25 data points per request, while rollups count every call of a 30-call batch", async () => {
    const p = await preset();
    const metrics = recordMetrics();
    const session = await rawSession(p.url, undefined, "2025-03-26");
    const batch = Array.from({ length: 30 }, (_, i) => ({
      jsonrpc: "2.0",
      id: i,
      method: "tools/call",
      params: { name: "alpha__echo", arguments: { text: `b${i}` } },
    }));
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const res = await mcpPost(p.url, batch, { sessionId: session });
    warn.mockRestore();
    metrics.restore();
    expect(res.status).toBe(200);
    expect(res.json).toHaveLength(30);
    expect(res.json.every((r: any) => r.result.content[0].text.startsWith("b"))).toBe(true);
    expect(metrics.of(p.presetId)).toHaveLength(25);
    const stats = await api("GET", `/presets/${p.slug}/stats?window=1h`, { token: p.owner.token });
    expect(stats.body.totals.calls).toBe(30);
  });
});
