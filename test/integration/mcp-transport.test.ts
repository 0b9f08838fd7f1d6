import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { givenPreset, upstreamUrl } from "../helpers";
import { INIT, listen, mcpPost, post, rawSession } from "../mcp-raw";

let url: string;

beforeAll(async () => {
  ({ url } = await givenPreset({ description: "Tools for testing.", servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] }));
});

describe("protocol version negotiation", () => {
  it.each(["2025-11-25", "2025-06-18", "2025-03-26"])("answers initialize for %s with that version", async (version) => {
    const res = await mcpPost(url, INIT(1, version));
    expect(res.status).toBe(200);
    expect(res.json.result.protocolVersion).toBe(version);
    expect(res.json.result.capabilities).toEqual({ tools: { listChanged: true } });
    expect(res.json.result.serverInfo).toMatchObject({ name: expect.stringMatching(/\//), version: expect.any(String) });
    expect(res.json.result.instructions).toBe("Tools for testing.");
  });

  it("offers its latest version to a client asking for one it does not know", async () => {
    const res = await mcpPost(url, INIT(1, "1999-01-01"));
    expect(res.json.result.protocolVersion).toBe("2025-11-25");
  });

  it("refuses an unsupported MCP-Protocol-Version header with 400 and -32022 listing the versions it speaks", async () => {
    const session = await rawSession(url);
    const res = await mcpPost(url, { jsonrpc: "2.0", id: 2, method: "ping" }, { sessionId: session, headers: { "mcp-protocol-version": "2024-01-01" } });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({
      id: 2,
      error: { code: -32022, data: { requested: "2024-01-01", supported: ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"] } },
    });
    expect(res.json.error.message).toMatch(/MCP-Protocol-Version/);
  });

  it("treats a request without MCP-Protocol-Version as 2025-03-26 and serves it", async () => {
    const session = await rawSession(url, undefined, "2025-03-26");
    const res = await mcpPost(url, { jsonrpc: "2.0", id: 2, method: "ping" }, { sessionId: session });
    expect(res.json).toEqual({ jsonrpc: "2.0", id: 2, result: {} });
  });

  it("initialize needs params.protocolVersion", async () => {
    const res = await mcpPost(url, { jsonrpc: "2.0", id: 7, method: "initialize", params: {} });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ id: 7, error: { code: -32602 } });
    expect(res.headers.get("mcp-session-id")).toBeNull();
  });
});

describe("HTTP-level checks", () => {
  it("refuses a body that is not application/json with 415", async () => {
    const res = await mcpPost(url, JSON.stringify(INIT()), { headers: { "content-type": "text/plain" } });
    expect(res.status).toBe(415);
    expect(res.json.error.message).toMatch(/Content-Type/);
  });

  it("refuses an Accept header without both JSON and SSE with 406", async () => {
    const res = await mcpPost(url, INIT(), { headers: { accept: "application/json" } });
    expect(res.status).toBe(406);
    expect(res.json.error.message).toMatch(/text\/event-stream/);
  });

  it("refuses a body over 1 MiB with 413 before parsing it", async () => {
    const huge = JSON.stringify({ ...INIT(), padding: "x".repeat(1024 * 1024) });
    const res = await mcpPost(url, huge);
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32600 } });
  });

  it("answers a disallowed Origin with 403 and an allowed one with CORS headers", async () => {
    const bad = await mcpPost(url, INIT(), { headers: { origin: "https://evil.example" } });
    expect(bad.status).toBe(403);
    const good = await mcpPost(url, INIT(), { headers: { origin: "http://localhost:6274" } });
    expect(good.status).toBe(200);
    expect(good.headers.get("access-control-allow-origin")).toBe("http://localhost:6274");
    expect(good.headers.get("access-control-expose-headers")).toContain("Mcp-Session-Id");
    const preflight = await SELF.fetch(url, { method: "OPTIONS", headers: { origin: "http://localhost:6274", "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-headers")).toContain("Mcp-Session-Id");
  });

  it("refuses a DNS-rebinding request whose Origin matches its own Host header with 403", async () => {
    const rebound = url.replace("http://gateway.test", "http://evil.example");
    const res = await post(rebound, INIT(), { headers: { origin: "http://evil.example" } });
    expect(res.status).toBe(403);
    await res.body?.cancel();
    const local = await post(url.replace("http://gateway.test", "http://localhost:8787"), INIT(), { headers: { origin: "http://localhost:8787" } });
    expect(local.status).toBe(200);
    await local.body?.cancel();
  });

  it("answers GET without a session with 400, and GET without Accept: text/event-stream with 406", async () => {
    const res = await listen(url);
    expect(res.status).toBe(400);
    expect((await res.json<any>()).error.message).toContain("Mcp-Session-Id");
    const session = await rawSession(url);
    const wrongAccept = await listen(url, { sessionId: session, accept: "application/json" });
    expect(wrongAccept.status).toBe(406);
    await wrongAccept.body?.cancel();
  });

  it("answers PUT with 405 and an Allow header listing GET, POST and DELETE", async () => {
    const res = await SELF.fetch(url, { method: "PUT", headers: { accept: "text/event-stream" } });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, POST, DELETE");
    await res.body?.cancel();
  });

  it("refuses a malformed session id with 400", async () => {
    const res = await mcpPost(url, { jsonrpc: "2.0", id: 1, method: "ping" }, { sessionId: "bad id with spaces" });
    expect(res.status).toBe(400);
  });
});

describe("JSON-RPC errors", () => {
  it("answers invalid JSON with -32700 and id null", async () => {
    const res = await mcpPost(url, '{"jsonrpc": "2.0", "id": 1, "method": ');
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32700, message: expect.any(String) } });
  });

  it.each([
    ["a number", 42, null],
    ["a message without jsonrpc", { id: 3, method: "ping" }, 3],
    ["a method that is not a string", { jsonrpc: "2.0", id: 4, method: 7 }, 4],
    ["positional params", { jsonrpc: "2.0", id: 5, method: "tools/list", params: [1] }, 5],
    ["an empty batch", [], null],
    ["an object id", { jsonrpc: "2.0", id: { a: 1 }, method: "ping" }, null],
  ])("answers %s with -32600 and the id where readable", async (_label, body, id) => {
    const session = await rawSession(url);
    const res = await mcpPost(url, body, { sessionId: session });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ jsonrpc: "2.0", id, error: { code: -32600 } });
  });

  it("answers an unknown method with -32601 and the request's id", async () => {
    const session = await rawSession(url);
    const res = await mcpPost(url, { jsonrpc: "2.0", id: "abc", method: "tools/frobnicate" }, { sessionId: session });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: "abc", error: { code: -32601 } });
  });

  it.each([
    ["no name", {}],
    ["a numeric name", { name: 5 }],
    ["arguments that are not an object", { name: "alpha__echo", arguments: [1, 2] }],
    ["an unknown tool", { name: "alpha__nope" }],
  ])("answers tools/call with %s with -32602", async (_label, params) => {
    const session = await rawSession(url);
    const res = await mcpPost(url, { jsonrpc: "2.0", id: 11, method: "tools/call", params }, { sessionId: session });
    expect(res.json).toMatchObject({ id: 11, error: { code: -32602 } });
  });

  it("accepts notifications and client responses with 202 and no body", async () => {
    const session = await rawSession(url);
    const note = await mcpPost(url, { jsonrpc: "2.0", method: "notifications/initialized" }, { sessionId: session });
    expect(note.status).toBe(202);
    expect(note.text).toBe("");
    const response = await mcpPost(url, { jsonrpc: "2.0", id: 99, result: {} }, { sessionId: session });
    expect(response.status).toBe(202);
  });
});

describe("JSON-RPC batches", () => {
  const batch = [
    { jsonrpc: "2.0", id: 1, method: "ping" },
    { jsonrpc: "2.0", method: "notifications/initialized" },
    { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "alpha__echo", arguments: { text: "in a batch" } } },
  ];

  it("serves a batch in a 2025-03-26 session, answering each request", async () => {
    const session = await rawSession(url, undefined, "2025-03-26");
    const res = await mcpPost(url, batch, { sessionId: session, headers: { "mcp-protocol-version": "2025-03-26" } });
    expect(res.status).toBe(200);
    expect(res.json).toEqual([
      { jsonrpc: "2.0", id: 1, result: {} },
      { jsonrpc: "2.0", id: 2, result: { content: [{ type: "text", text: "in a batch" }] } },
    ]);
  });

  it.each(["2025-06-18", "2025-11-25"])("refuses a batch in a %s session", async (version) => {
    const session = await rawSession(url, undefined, version);
    const res = await mcpPost(url, batch, { sessionId: session, headers: { "mcp-protocol-version": version } });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: -32600, message: expect.stringContaining(version) });
  });

  it("refuses initialize inside a batch", async () => {
    const res = await mcpPost(url, [INIT(1, "2025-03-26")]);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ id: 1, error: { code: -32600 } });
  });
});
