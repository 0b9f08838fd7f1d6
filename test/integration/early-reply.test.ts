import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DISCARD_LIMIT } from "../../src/shared/read-limited";
import { api, createUser, givenPreset, ORIGIN, upstreamUrl } from "../helpers";
import { INIT, mcpPost, rawSession, toolCall } from "../mcp-raw";

const CHUNK = 16 * 1024;

/**
 * A streamed body without Content-Length: `chunks` chunks of 16 KiB (or endless), recording how
 * much the worker pulled and whether it read the body to its end or cancelled it.
 */
function streamedBody(chunks = Number.POSITIVE_INFINITY) {
  const bytes = new TextEncoder().encode(`[${" ".repeat(CHUNK - 1)}`);
  const state = { pulled: 0, finished: false, cancelled: false, stream: null as unknown as ReadableStream<Uint8Array> };
  state.stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled >= chunks * CHUNK) {
        state.finished = true;
        controller.close();
        return;
      }
      state.pulled += CHUNK;
      controller.enqueue(bytes);
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return state;
}

const MCP_HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

describe("early replies to request bodies", () => {
  it("answers an over-limit streamed API body with a clean 413 only after reading the rest of it", async () => {
    const user = await createUser();
    const body = streamedBody(10); // 160 KiB, over the 64 KiB limit
    const res = await SELF.fetch(`${ORIGIN}/api/v1/servers`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${user.token}` },
      body: body.stream,
    });
    // Observed when the reply arrives: the client's upload had completed, nothing was cut off.
    expect({ finished: body.finished, cancelled: body.cancelled }).toEqual({ finished: true, cancelled: false });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: { code: "body_too_large", message: "The body exceeds 65536 bytes." } });
    expect((await api("GET", "/servers", { token: user.token })).body.servers).toEqual([]);
  });

  it("reads an unread body to its end before an early 401 on the API", async () => {
    const body = streamedBody(10);
    const res = await SELF.fetch(`${ORIGIN}/api/v1/servers`, { method: "POST", headers: { "content-type": "application/json" }, body: body.stream });
    expect({ finished: body.finished, cancelled: body.cancelled }).toEqual({ finished: true, cancelled: false });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
  });

  it("answers an over-limit streamed MCP body with a clean 413 JSON-RPC error only after reading the rest of it", async () => {
    const p = await givenPreset({});
    const body = streamedBody(80); // 1.25 MiB, over the 1 MiB limit
    const res = await SELF.fetch(p.url, { method: "POST", headers: MCP_HEADERS, body: body.stream });
    expect({ finished: body.finished, cancelled: body.cancelled }).toEqual({ finished: true, cancelled: false });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "The body exceeds 1048576 bytes." } });
  });

  it("reads an unread body to its end before an early 415 on the MCP endpoint", async () => {
    const p = await givenPreset({});
    const body = streamedBody(10);
    const res = await SELF.fetch(p.url, { method: "POST", headers: { ...MCP_HEADERS, "content-type": "text/plain" }, body: body.stream });
    expect({ finished: body.finished, cancelled: body.cancelled }).toEqual({ finished: true, cancelled: false });
    expect(res.status).toBe(415);
  });

  it("stops reading an endless body after the 8 MiB discard limit and still answers 413", async () => {
    const user = await createUser();
    const body = streamedBody();
    const res = await SELF.fetch(`${ORIGIN}/api/v1/servers`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${user.token}` },
      body: body.stream,
    });
    expect(res.status).toBe(413);
    // Reading stopped at the discard limit (the pipe from the test stops pulling; the worker cancelled its end).
    const pulled = body.pulled;
    await new Promise((r) => setTimeout(r, 300));
    expect(body.pulled).toBe(pulled);
    expect(body.finished).toBe(false);
    expect(body.pulled).toBeLessThanOrEqual(DISCARD_LIMIT + 64 * 1024 + 4 * CHUNK);
  });
});

describe("deeply nested bodies", () => {
  const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

  it("answers 200,000-deep tool arguments with a JSON-RPC -32600 error and HTTP 400, not a 500", async () => {
    const p = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] });
    const sessionId = await rawSession(p.url);
    const body = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"alpha__echo","arguments":{"text":${nested(200_000)}}}}`;
    const reply = await mcpPost(p.url, body, { sessionId });
    expect(reply.status).toBe(400);
    expect(reply.json).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32600, message: "Invalid request: the body nests arrays and objects more than 128 levels deep." },
    });
    // The session still works.
    expect((await mcpPost(p.url, toolCall(8, "alpha__echo", { text: "ok" }), { sessionId })).json.result.content[0].text).toBe("ok");
  });

  it("answers a 200,000-deep batch the same way", async () => {
    const p = await givenPreset({});
    const reply = await mcpPost(p.url, nested(200_000));
    expect(reply.status).toBe(400);
    expect(reply.json.error.code).toBe(-32600);
  });

  it("passes 100-deep arguments on to the upstream (the limit is not lower than documented)", async () => {
    const p = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] });
    const sessionId = await rawSession(p.url);
    const reply = await mcpPost(p.url, toolCall(9, "alpha__echo", { text: JSON.parse(nested(100)) }), { sessionId });
    expect(reply.status).toBe(200);
    expect(reply.json.id).toBe(9);
  });

  it("brackets inside strings do not count as nesting", async () => {
    const p = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] });
    const sessionId = await rawSession(p.url);
    const text = `"\\"${"[{".repeat(5000)}`;
    const reply = await mcpPost(p.url, toolCall(10, "alpha__echo", { text }), { sessionId });
    expect(reply.json.result.content[0].text).toBe(text);
  });

  it("answers a too-deep management API body with 400 too_deep", async () => {
    const user = await createUser();
    const res = await api("POST", "/servers", { token: user.token, body: `{"name":"deep","url":"https://mcp.example.com/mcp","headers":${nested(20_000)}}` });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("too_deep");
  });

  it("still initializes normally", async () => {
    const p = await givenPreset({});
    expect((await mcpPost(p.url, INIT())).status).toBe(200);
  });
});
