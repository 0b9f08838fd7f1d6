import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { describe, expect, it } from "vitest";
import { createUser, givenPreset, textOf, upstreamUrl } from "../helpers";
import { fetchFor, mcpPost } from "../mcp-raw";

/**
 * Translation between eras: a legacy upstream that asks its client something mid-call
 * (elicitation, sampling, roots) serves a modern-era (2026-07-28) client through input_required
 * rounds (MRTR) while the upstream call stays open in the preset's object.
 */

const MODERN = "2026-07-28";
const ASKING = { elicitation: { form: {} }, sampling: {}, roots: {} };

function call(id: number | string, name: string, extra: Record<string, unknown> = {}, capabilities: Record<string, unknown> = ASKING) {
  return {
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: {
      name,
      arguments: {},
      ...extra,
      _meta: {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": { name: "mrtr-raw", version: "1" },
      },
    },
  };
}

const send = (url: string, body: ReturnType<typeof call>, headers: Record<string, string> = {}) =>
  mcpPost(url, body, { headers: { "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": body.params.name, ...headers } });

/** The one input request of an input_required result: its key and the request. */
function onlyRequest(result: any): [string, { method: string; params: any }] {
  const entries = Object.entries(result.inputRequests as Record<string, { method: string; params: any }>);
  expect(entries).toHaveLength(1);
  return entries[0]!;
}

const askerPreset = () => givenPreset({ naming: "plain", servers: [{ name: "asker", url: upstreamUrl("asker"), tools: null }] });

describe("a legacy upstream asking a modern client for input (MRTR translation)", () => {
  it("answers with input_required round after round and finishes the call on the last retry", async () => {
    const p = await askerPreset();
    const first = await send(p.url, call(1, "interview"));
    expect(first.status).toBe(200);
    expect(first.json.id).toBe(1);
    expect(first.json.result.resultType).toBe("input_required");
    const [askKey, ask] = onlyRequest(first.json.result);
    expect(ask).toMatchObject({ method: "elicitation/create", params: { message: "What is your name?" } });
    expect(typeof first.json.result.requestState).toBe("string");

    const second = await send(
      p.url,
      call(2, "interview", { inputResponses: { [askKey]: { action: "accept", content: { name: "Ada" } } }, requestState: first.json.result.requestState }),
    );
    expect(second.json.id).toBe(2);
    expect(second.json.result.resultType).toBe("input_required");
    const [sampleKey, sample] = onlyRequest(second.json.result);
    expect(sample).toMatchObject({ method: "sampling/createMessage", params: { messages: [{ content: { text: "Greet Ada" } }] } });
    expect(second.json.result.requestState).not.toBe(first.json.result.requestState);

    const done = await send(
      p.url,
      call(3, "interview", {
        inputResponses: { [sampleKey]: { role: "assistant", content: { type: "text", text: "Hello, Ada!" }, model: "test-model" } },
        requestState: second.json.result.requestState,
      }),
    );
    expect(done.json).toMatchObject({ id: 3, result: { resultType: "complete", content: [{ type: "text", text: "name=Ada; greeting=Hello, Ada!" }] } });
  });

  it("refuses a tampered, replayed, or foreign requestState, and one presented for another tool or arguments", async () => {
    const p = await askerPreset();
    const first = await send(p.url, call(1, "interview"));
    const state: string = first.json.result.requestState;
    const [key] = onlyRequest(first.json.result);
    const answer = { inputResponses: { [key]: { action: "decline" } } };

    // One character changed (to one it is not: the state's alphabet has 36, so "x" alone would be it one run in 36).
    const tampered = await send(p.url, call(2, "interview", { ...answer, requestState: `${state.slice(0, -1)}${state.endsWith("x") ? "y" : "x"}` }));
    expect(tampered.json.error).toMatchObject({ code: -32602 });
    expect(tampered.json.error.message).toContain("requestState");
    // Another anonymous caller (another address) cannot continue this caller's call.
    const stranger = await send(p.url, call(3, "interview", { ...answer, requestState: state }), { "cf-connecting-ip": "203.0.113.9" });
    expect(stranger.json.error).toMatchObject({ code: -32602 });
    const otherArgs = await send(p.url, call(4, "interview", { ...answer, requestState: state, arguments: { x: 1 } }));
    expect(otherArgs.json.error).toMatchObject({ code: -32602 });
    expect(otherArgs.json.error.message).toContain("other arguments");

    const done = await send(p.url, call(5, "interview", { ...answer, requestState: state }));
    expect(done.json.result).toMatchObject({ resultType: "complete", content: [{ text: "interview decline" }] });
    const replayed = await send(p.url, call(6, "interview", { ...answer, requestState: state }));
    expect(replayed.json.error).toMatchObject({ code: -32602 });
  });

  it("binds a parked call to the user who made it", async () => {
    const owner = await createUser();
    const other = await createUser();
    const p = await givenPreset({ owner, visibility: "public", naming: "plain", servers: [{ name: "asker", url: upstreamUrl("asker"), tools: null }] });
    const auth = (u: { token: string }) => ({ authorization: `Bearer ${u.token}` });
    const first = await send(p.url, call(1, "roots"), auth(owner));
    const [key, request] = onlyRequest(first.json.result);
    expect(request.method).toBe("roots/list");
    const retry = (id: number) =>
      call(id, "roots", { inputResponses: { [key]: { roots: [{ uri: "file:///work" }] } }, requestState: first.json.result.requestState });
    expect((await send(p.url, retry(2), auth(other))).json.error).toMatchObject({ code: -32602 });
    expect((await send(p.url, retry(3))).json.error).toMatchObject({ code: -32602 });
    expect((await send(p.url, retry(4), auth(owner))).json.result).toMatchObject({ resultType: "complete", content: [{ text: "file:///work" }] });
  });

  it("never asks a modern client for what it did not declare: the upstream is refused instead", async () => {
    const p = await askerPreset();
    const res = await send(p.url, call(1, "interview", {}, { sampling: {} }));
    expect(res.json.result.resultType).toBe("complete");
    expect(res.json.result.isError).toBe(true);
  });

  it("lets the SDK v2 client answer a legacy upstream's elicitation and sampling through a preset", async () => {
    const p = await askerPreset();
    const client = new ModernClient(
      { name: "mrtr-sdk", version: "1.0.0" },
      { versionNegotiation: { mode: { pin: MODERN } }, capabilities: { elicitation: { form: {} }, sampling: {} } },
    );
    client.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: { name: "Grace" } }));
    client.setRequestHandler("sampling/createMessage", async (request) => ({
      role: "assistant",
      content: { type: "text", text: `Hi from the LLM to ${JSON.stringify(request.params.messages[0]?.content)}` },
      model: "test-model",
    }));
    await client.connect(new ModernTransport(new URL(p.url), { fetch: fetchFor(p.url) }));
    const result = await client.callTool({ name: "interview", arguments: {} });
    expect(textOf(result as Record<string, unknown>)).toBe('name=Grace; greeting=Hi from the LLM to {"type":"text","text":"Greet Grace"}');
    await client.close();
  });

  it("checks a modern call's Mcp-Param-* headers against the parameters the tool marks x-mcp-header", async () => {
    const p = await askerPreset();
    const query = (id: number, args: Record<string, unknown>) => ({ ...call(id, "query"), params: { ...call(id, "query").params, arguments: args } });
    const ok = await send(p.url, query(1, { region: "eu-west1", limit: 5, sql: "SELECT 1" }), { "mcp-param-region": "eu-west1", "mcp-param-limit": "5" });
    expect(ok.json.result.content[0].text).toBe("eu-west1: SELECT 1");
    // A value that is not plain ASCII travels Base64-encoded.
    const encoded = await send(p.url, query(2, { region: "zürich", sql: "SELECT 2" }), {
      "mcp-param-region": `=?base64?${btoa(String.fromCharCode(...new TextEncoder().encode("zürich")))}?=`,
    });
    expect(encoded.json.result.content[0].text).toBe("zürich: SELECT 2");
    for (const [args, headers, why] of [
      [{ region: "eu-west1", sql: "x" }, {}, "Mcp-Param-region header is required"],
      [{ region: "eu-west1", sql: "x" }, { "mcp-param-region": "us-east1" }, "differs"],
      [{ region: "eu-west1", limit: 5, sql: "x" }, { "mcp-param-region": "eu-west1", "mcp-param-limit": "6" }, "differs"],
      [{ region: "eu-west1", sql: "x" }, { "mcp-param-region": "eu-west1", "mcp-param-dry": "true" }, "is sent but"],
    ] as const) {
      const res = await send(p.url, query(3, args), headers);
      expect([res.status, res.json.error.code], JSON.stringify(headers)).toEqual([400, -32020]);
      expect(res.json.error.message).toContain(why);
    }
  });

  it("parks at most 50 calls per caller: the next upstream question is refused, not parked", async () => {
    const p = await askerPreset();
    const ip = { "cf-connecting-ip": "198.51.100.50" };
    const rounds = await Promise.all(Array.from({ length: 50 }, (_, i) => send(p.url, call(i, "roots"), ip)));
    expect(rounds.every((r) => r.json.result?.resultType === "input_required")).toBe(true);
    const refused = await send(p.url, call(50, "roots"), ip);
    expect(refused.json.result).toMatchObject({ resultType: "complete", isError: true });
    // Another caller is not held back by this one.
    expect((await send(p.url, call(51, "roots"), { "cf-connecting-ip": "198.51.100.51" })).json.result.resultType).toBe("input_required");
    // Answering one frees its place.
    const [key] = onlyRequest(rounds[0]!.json.result);
    const done = await send(p.url, call(52, "roots", { inputResponses: { [key]: { roots: [] } }, requestState: rounds[0]!.json.result.requestState }), ip);
    expect(done.json.result.resultType).toBe("complete");
    expect((await send(p.url, call(53, "roots"), ip)).json.result.resultType).toBe("input_required");
  });

  it("does not tell a legacy upstream the modern client's era: the era's _meta keys stay at the gateway", async () => {
    const p = await askerPreset();
    const body = call(1, "meta");
    body.params._meta = { ...body.params._meta, "io.modelcontextprotocol/logLevel": "info", trace: "t-1" } as typeof body.params._meta;
    const res = await send(p.url, body);
    expect(JSON.parse(res.json.result.content[0].text)).toEqual({ trace: "t-1" });
  });

  it("carries a modern upstream's input_required to a modern client through the gateway's own rounds, the upstream's requestState never leaving the object", async () => {
    const p = await givenPreset({ naming: "plain", servers: [{ name: "modern", url: upstreamUrl("modern"), tools: null }] });
    const first = await send(p.url, call(1, "confirm"));
    expect(first.json.result.resultType).toBe("input_required");
    const [okKey, ok] = onlyRequest(first.json.result);
    // The upstream's own keys reach the client; its requestState stays behind a handle of the gateway's.
    expect(okKey).toBe("ok");
    expect(ok).toMatchObject({ method: "elicitation/create", params: { message: "Proceed?" } });
    expect(first.json.result.requestState).toMatch(/^mrtr_/);
    expect(first.json.result.requestState).not.toContain("round-");
    const second = await send(
      p.url,
      call(2, "confirm", { inputResponses: { [okKey]: { action: "accept", content: { ok: true } } }, requestState: first.json.result.requestState }),
    );
    const [poemKey, poem] = onlyRequest(second.json.result);
    expect([poemKey, poem.method]).toEqual(["poem", "sampling/createMessage"]);
    const done = await send(
      p.url,
      call(3, "confirm", {
        inputResponses: { [poemKey]: { role: "assistant", content: { type: "text", text: "roses" }, model: "m" } },
        requestState: second.json.result.requestState,
      }),
    );
    expect(done.json.result).toMatchObject({ resultType: "complete", content: [{ text: "confirmed:true poem:roses" }] });
    // The handle was used up, and a stranger cannot use one either.
    const replay = await send(p.url, call(4, "confirm", { inputResponses: {}, requestState: second.json.result.requestState }));
    expect(replay.json.error).toMatchObject({ code: -32602 });
    const fresh = await send(p.url, call(5, "confirm"));
    const stolen = await send(p.url, call(6, "confirm", { inputResponses: {}, requestState: fresh.json.result.requestState }), {
      "cf-connecting-ip": "203.0.113.99",
    });
    expect(stolen.json.error).toMatchObject({ code: -32602 });
  });

  it("tells a modern upstream what the modern client declared: one without elicitation gets the upstream's -32021 as HTTP 400", async () => {
    const p = await givenPreset({ naming: "plain", servers: [{ name: "modern", url: upstreamUrl("modern"), tools: null }] });
    const res = await send(p.url, call(1, "confirm", {}, { sampling: {} }));
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(-32021);
  });

  it("passes a modern upstream's input_required on prompts/get to a modern client, and its retry back", async () => {
    const p = await givenPreset({ naming: "plain", servers: [{ name: "modern", url: upstreamUrl("modern"), tools: null }] });
    const get = (id: number, extra: Record<string, unknown> = {}) => {
      const body = { ...call(id, "ask"), method: "prompts/get" };
      body.params = { ...body.params, ...extra } as typeof body.params;
      delete (body.params as Record<string, unknown>).arguments;
      return mcpPost(p.url, body, { headers: { "mcp-protocol-version": MODERN, "mcp-method": "prompts/get", "mcp-name": "ask" } });
    };
    const first = await get(1);
    expect(first.json.result).toMatchObject({ resultType: "input_required", inputRequests: { topic: { method: "elicitation/create" } } });
    const answer = { inputResponses: { topic: { action: "accept", content: { topic: "tides" } } } };
    expect((await get(2, { ...answer, requestState: "asked" })).json.error).toMatchObject({ code: -32602 });
    const done = await get(3, { ...answer, requestState: first.json.result.requestState });
    expect(done.json.result).toMatchObject({ resultType: "complete", messages: [{ content: { text: "Tell me about tides" } }] });
  });
});
