import { env } from "cloudflare:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it, vi } from "vitest";
import { connectClient, EVENTUALLY, textOf, unique, upstreamUrl } from "../helpers";
import { fetchFor, INIT, isMethod, listen, mcpPost, post, SseReader } from "../mcp-raw";

/**
 * The session-scoped fixture upstreams (test/fixtures/session-upstreams.mjs), reached directly
 * with real SDK clients: proof they behave as their tests elsewhere rely on.
 */

/** A client straight to a fixture, declaring `capabilities` and answering what they allow to be asked. */
async function answering(url: string, capabilities: Record<string, unknown>): Promise<Client> {
  const client = new Client({ name: "fixture-check", version: "1.0.0" }, { capabilities });
  if (capabilities.sampling) {
    client.setRequestHandler(CreateMessageRequestSchema, (req) => ({
      role: "assistant",
      model: "test-model",
      content: { type: "text", text: `sampled(${(req.params.messages[0]!.content as { text: string }).text})` },
    }));
  }
  if (capabilities.elicitation) client.setRequestHandler(ElicitRequestSchema, () => ({ action: "accept", content: { name: "Ada" } }));
  if (capabilities.roots) client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: "file:///work", name: "work" }] }));
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: fetchFor(url) }));
  return client;
}

const sessionsOf = async (name: string, scope: string) =>
  (await fetch(`${env.UPSTREAM_BASE}/${name}/_sessions?scope=${scope}`)).json() as Promise<{ open: string[]; count: number; opened: number; closed: number }>;
const json = (result: Record<string, unknown>) => JSON.parse(textOf(result));

describe("the stateful session fixture", () => {
  it("keeps notes per upstream session, reports its session id, and counts sessions opened and closed", async () => {
    const scope = unique("stateful");
    const url = upstreamUrl("stateful", scope);
    const [a, b] = await Promise.all([connectClient(url), connectClient(url)]);
    await a.callTool({ name: "remember", arguments: { text: "from a" } });
    await b.callTool({ name: "remember", arguments: { text: "from b" } });
    await a.callTool({ name: "remember", arguments: { text: "again a" } });
    const idA = (a.transport as StreamableHTTPClientTransport).sessionId!;
    expect(json(await a.callTool({ name: "recall", arguments: {} }))).toEqual({ sessionId: idA, notes: ["from a", "again a"] });
    expect(json(await b.callTool({ name: "recall", arguments: {} })).notes).toEqual(["from b"]);
    expect(textOf(await a.callTool({ name: "session_id", arguments: {} }))).toBe(idA);
    expect(await sessionsOf("stateful", scope)).toMatchObject({ count: 2, opened: 2, closed: 0 });
    await (a.transport as StreamableHTTPClientTransport).terminateSession();
    await vi.waitFor(async () => expect(await sessionsOf("stateful", scope)).toMatchObject({ count: 1, opened: 2, closed: 1 }), EVENTUALLY);
    expect((await mcpPost(url, { jsonrpc: "2.0", id: 9, method: "tools/list" }, { sessionId: idA })).status).toBe(404);
    const closed = await fetch(`${env.UPSTREAM_BASE}/stateful/_sessions?scope=${scope}`, { method: "DELETE" });
    expect(await closed.json()).toEqual({ closed: 1 });
    expect(await sessionsOf("stateful", scope)).toEqual({ server: "stateful", open: [], count: 0, opened: 2, closed: 2 });
    await Promise.all([a.close(), b.close()]);
  });

  it("lists summarize only to a client that declared sampling, and samples on the call's own stream", async () => {
    const url = upstreamUrl("stateful", unique("sampling"));
    const [plain, sampler] = await Promise.all([connectClient(url), answering(url, { sampling: {} })]);
    expect((await plain.listTools()).tools.map((t) => t.name)).toEqual(["remember", "recall", "session_id", "roots_seen"]);
    expect((await sampler.listTools()).tools.map((t) => t.name)).toEqual(["remember", "recall", "session_id", "roots_seen", "summarize"]);
    expect(textOf(await sampler.callTool({ name: "summarize", arguments: { text: "a long text" } }))).toBe("sampled(Summarize: a long text)");
    await expect(plain.callTool({ name: "summarize", arguments: { text: "x" } })).rejects.toThrow(/Unknown tool: summarize/);
    await Promise.all([plain.close(), sampler.close()]);
  });

  it("asks a client that declared roots for roots/list right after initialize, outside any call, on its standalone stream", async () => {
    const scope = unique("roots");
    const url = upstreamUrl("stateful", scope);
    const [rooted, rootless] = await Promise.all([answering(url, { roots: {} }), connectClient(url)]);
    await vi.waitFor(async () => expect(json(await rooted.callTool({ name: "roots_seen", arguments: {} })).status).toBe("answered"), EVENTUALLY);
    expect(json(await rooted.callTool({ name: "roots_seen", arguments: {} }))).toEqual({ status: "answered", roots: [{ uri: "file:///work", name: "work" }] });
    expect(json(await rootless.callTool({ name: "roots_seen", arguments: {} }))).toEqual({ status: "not-declared" });
    // Seen raw: the request arrives on the GET stream, with no call in flight.
    const init = await mcpPost(url, INIT(0, "2025-11-25", { roots: {} }));
    const session = { url, id: init.headers.get("mcp-session-id")!, version: "2025-11-25" };
    await (await post(session, { jsonrpc: "2.0", method: "notifications/initialized" })).body?.cancel();
    const standalone = new SseReader(await listen(session));
    const ask = await standalone.message(isMethod("roots/list"), 3_000, "roots/list on the standalone stream");
    await (await post(session, { jsonrpc: "2.0", id: ask.id, result: { roots: [] } })).body?.cancel();
    await vi.waitFor(async () => {
      const seen = await mcpPost(session, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "roots_seen", arguments: {} } });
      expect(seen.text).toContain('{\\"status\\":\\"answered\\",\\"roots\\":[]}');
    }, EVENTUALLY);
    standalone.cancel();
    await Promise.all([rooted.close(), rootless.close()]);
  });
});

describe("the json-asker fixture (SDK v2 server, JSON responses)", () => {
  it("asks for elicitation and sampling during a call and answers with what the client gave", async () => {
    const client = await answering(upstreamUrl("json-asker", unique("asker")), { elicitation: { form: {} }, sampling: {} });
    // The SDK client opens its standalone GET stream after initialize; the asks need it.
    await vi.waitFor(async () => expect(textOf(await client.callTool({ name: "ask_name", arguments: {} }))).toBe("Ada"), EVENTUALLY);
    expect(textOf(await client.callTool({ name: "ask_model", arguments: {} }))).toBe("sampled(Say something)");
    await client.close();
  });

  it("sends a call's asks on the standalone GET stream, the call's own reply being one JSON answer", async () => {
    const url = upstreamUrl("json-asker", unique("asker-raw"));
    const init = await mcpPost(url, INIT(0, "2025-11-25", { elicitation: { form: {} } }));
    expect(init.headers.get("content-type")).toMatch(/^application\/json/);
    const session = { url, id: init.headers.get("mcp-session-id")!, version: "2025-11-25" };
    await (await post(session, { jsonrpc: "2.0", method: "notifications/initialized" })).body?.cancel();
    const standalone = new SseReader(await listen(session));
    const call = mcpPost(session, { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "ask_name", arguments: {} } });
    const ask = await standalone.message(isMethod("elicitation/create"), 3_000, "elicitation/create on the standalone stream");
    expect(ask.params).toMatchObject({ mode: "form", message: "What is your name?" });
    await (await post(session, { jsonrpc: "2.0", id: ask.id, result: { action: "accept", content: { name: "Grace" } } })).body?.cancel();
    const reply = await call;
    expect(reply.headers.get("content-type")).toMatch(/^application\/json/);
    expect(reply.json).toEqual({ jsonrpc: "2.0", id: 7, result: { content: [{ type: "text", text: "Grace" }] } });
    standalone.cancel();
  });
});
