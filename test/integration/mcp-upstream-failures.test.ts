import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { connectClient, givenPreset, unique, upstreamStats, upstreamUrl } from "../helpers";
import { mcpPost, post, rawSession, readMessages, toolCall } from "../mcp-raw";

/** A preset with a healthy alpha (echo, sleep) and one broken server named `broken` at `brokenUrl`. */
async function presetWithBroken(brokenUrl: string, alphaTimeoutMs = 30_000) {
  const p = await givenPreset({
    servers: [
      { name: "alpha", url: upstreamUrl("alpha"), timeoutMs: alphaTimeoutMs, tools: ["echo", "sleep"] },
      { name: "broken", url: brokenUrl, timeoutMs: 500, tools: null },
    ],
  });
  return p.url;
}

async function call(url: string, session: string, name: string, args: Record<string, unknown> = {}) {
  return mcpPost(url, toolCall(42, name, args), { sessionId: session });
}

describe("upstreams that fail", () => {
  it.each([
    ["down (connection refused)", () => env.DEAD_UPSTREAM, -32010, "unreachable"],
    ["answering HTTP 500", () => upstreamUrl("error500"), -32010, "http_error"],
    ["answering JSON that is not JSON-RPC", () => upstreamUrl("garbage"), -32012, "bad_response"],
    ["answering HTML", () => upstreamUrl("html"), -32012, "bad_response"],
  ])("turns an upstream %s into a JSON-RPC error naming it, never a 5xx", async (_label, brokenUrl, code, reason) => {
    const url = await presetWithBroken(brokenUrl());
    const session = await rawSession(url);
    const res = await call(url, session, "broken__anything");
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ jsonrpc: "2.0", id: 42, error: { code, data: { upstream: "broken", reason } } });
    expect(res.json.error.message).toContain("'broken'");
    expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/); // no stack traces
  });

  it("gives up on a slow tool after the server's timeoutMs with a timeout error", async () => {
    const url = await presetWithBroken(env.DEAD_UPSTREAM, 300);
    const session = await rawSession(url);
    const started = Date.now();
    const res = await call(url, session, "alpha__sleep", { ms: 5_000 });
    expect(res.json).toMatchObject({ id: 42, error: { code: -32011, data: { upstream: "alpha", reason: "timeout" } } });
    expect(Date.now() - started).toBeLessThan(4_000);
    // The upstream session survives a timed-out call.
    expect((await call(url, session, "alpha__echo", { text: "still here" })).json.result.content[0].text).toBe("still here");
  });

  it("gives up on an upstream that never answers initialize within the connect timeout", async () => {
    const url = await presetWithBroken(upstreamUrl("hang"));
    const session = await rawSession(url);
    const res = await call(url, session, "broken__anything");
    expect(res.json).toMatchObject({ id: 42, error: { code: -32011, data: { upstream: "broken", reason: "timeout" } } });
  });

  it("lists the healthy upstreams' tools while another is down", async () => {
    const url = await presetWithBroken(env.DEAD_UPSTREAM);
    const client = await connectClient(url);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["alpha__echo", "alpha__sleep"]);
    expect((await client.callTool({ name: "alpha__echo", arguments: { text: "ok" } })).content).toEqual([{ type: "text", text: "ok" }]);
    await client.close();
  });

  it("forwards a JSON-RPC error the upstream itself answered, code, message and data unchanged", async () => {
    const { url } = await givenPreset({ servers: [{ name: "strict", url: upstreamUrl("strict"), tools: null }] });
    const res = await call(url, await rawSession(url), "strict__picky");
    // What the upstream puts on the wire when called directly, byte for byte.
    const direct = upstreamUrl("strict");
    const [sent] = await readMessages(await post(direct, toolCall(42, "picky"), { sessionId: await rawSession(direct) }));
    expect(sent.error).toMatchObject({ code: -32602, data: { hint: "send nothing" } });
    expect(res.json).toEqual({ ...sent, id: 42 });
  });

  it("refuses a selected tool its upstream does not list, as an unexposed one, without reaching the upstream", async () => {
    const scope = unique("ghost");
    const { url } = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha", scope), tools: ["echo", "ghost"] }] });
    const res = await call(url, await rawSession(url), "alpha__ghost");
    expect(res.json.error).toEqual({ code: -32602, message: "Unknown tool: alpha__ghost" });
    expect((await upstreamStats("alpha", scope)).requests["tools/call"]).toBeUndefined();
  });
});
