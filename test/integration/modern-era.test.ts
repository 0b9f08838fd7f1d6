import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { describe, expect, it, vi } from "vitest";
import { api, attach, conformancePreset, connectClient, createUser, EVENTUALLY, givenPreset, textOf, unique, upstreamStats, upstreamUrl } from "../helpers";
import { fetchFor, isMethod, MODERN_VERSION, mcpPost, messagesOf, modernHeaders, modernMessage, parseSse, post, SseReader, staysQuiet } from "../mcp-raw";

/**
 * The modern era (2026-07-28) on a preset's endpoint, beside the legacy one: stateless requests
 * with `_meta`, the SEP-2243 headers, server/discover, resultType and caching hints, progress and
 * logs on the request's own stream, the new error codes; the SDK v2 client pinned to the modern
 * era and the SDK v1 client on one preset at the same time.
 */

const MODERN = MODERN_VERSION;
const modern = modernMessage;
const headersFor = modernHeaders;

const send = (url: string, body: ReturnType<typeof modern>, opts: { token?: string; headers?: Record<string, string> } = {}) =>
  mcpPost(url, body, { token: opts.token, headers: headersFor(body, opts.headers) });

async function modernClient(url: string, token?: string): Promise<ModernClient> {
  const client = new ModernClient({ name: "mcpgate-modern-test", version: "1.0.0" }, { versionNegotiation: { mode: { pin: MODERN } } });
  const transport = new ModernTransport(new URL(url), {
    fetch: fetchFor(url),
    requestInit: token ? { headers: { authorization: `Bearer ${token}` } } : undefined,
  });
  await client.connect(transport);
  return client;
}

describe("the modern era (2026-07-28) through a preset", () => {
  it("serves an SDK v2 client pinned to 2026-07-28 and an SDK v1 client on the same preset at the same time", async () => {
    const p = await conformancePreset();
    const [fresh, old] = await Promise.all([modernClient(p.url), connectClient(p.url)]);
    expect(fresh.getProtocolEra()).toBe("modern");
    expect(fresh.getNegotiatedProtocolVersion()).toBe(MODERN);
    const [modernTools, legacyTools] = await Promise.all([fresh.listTools(), old.listTools()]);
    expect(modernTools.tools.map((t) => t.name)).toEqual(legacyTools.tools.map((t) => t.name));
    const [a, b] = await Promise.all([fresh.callTool({ name: "test_simple_text", arguments: {} }), old.callTool({ name: "test_simple_text", arguments: {} })]);
    expect(textOf(a as Record<string, unknown>)).toBe(textOf(b as Record<string, unknown>));
    const prompt = await fresh.getPrompt({ name: "test_prompt_with_arguments", arguments: { arg1: "a", arg2: "b" } });
    expect(prompt.messages[0]!.content).toEqual({ type: "text", text: "Prompt with arguments: arg1='a', arg2='b'" });
    const read = await fresh.readResource({ uri: "test://static-text" });
    expect(read.contents[0]).toMatchObject({ uri: "test://static-text", text: "This is the content of the static text resource." });
    await Promise.all([fresh.close(), old.close()]);
  });

  it("answers server/discover with every version the preset speaks, its capabilities, identity and caching hints; no session is minted", async () => {
    const p = await conformancePreset();
    const res = await send(p.url, modern(1, "server/discover"));
    expect(res.status).toBe(200);
    expect(res.headers.get("mcp-session-id")).toBeNull();
    expect(res.json.result).toMatchObject({
      resultType: "complete",
      supportedVersions: ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"],
      capabilities: { tools: { listChanged: true }, prompts: { listChanged: true } },
      ttlMs: 60_000,
      cacheScope: "public",
    });
    expect(res.json.result._meta["io.modelcontextprotocol/serverInfo"]).toMatchObject({ name: `${p.owner.handle}/${p.slug}` });
  });

  it("adds resultType to every result and caching hints to lists and reads: public for a public preset, private where access depends on who asks", async () => {
    const p = await conformancePreset();
    const list = await send(p.url, modern(1, "tools/list"));
    expect(list.json.result).toMatchObject({ resultType: "complete", ttlMs: 60_000, cacheScope: "public" });
    expect(list.json.result.tools.length).toBeGreaterThan(5);
    const call = await send(p.url, modern(2, "tools/call", { name: "test_simple_text", arguments: {} }));
    expect(call.json.result.resultType).toBe("complete");
    expect(call.json.result.ttlMs).toBeUndefined();
    const read = await send(p.url, modern(3, "resources/read", { uri: "test://static-text" }));
    expect(read.json.result).toMatchObject({ resultType: "complete", ttlMs: 0, cacheScope: "private" });

    const owner = await createUser();
    const priv = await givenPreset({ owner, visibility: "private", servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] });
    const anonymous = await send(priv.url, modern(4, "tools/list"));
    expect(anonymous.status).toBe(401);
    const own = await send(priv.url, modern(5, "tools/list"), { token: owner.token });
    expect(own.json.result).toMatchObject({ resultType: "complete", cacheScope: "private", tools: [{ name: "alpha__echo" }] });
  });

  it("refuses what the modern era forbids with its own codes, and names what is wrong", async () => {
    const p = await conformancePreset();
    const noVersion = modern(1, "tools/list");
    delete (noVersion.params._meta as Record<string, unknown>)["io.modelcontextprotocol/protocolVersion"];
    let res = await send(p.url, noVersion);
    expect([res.status, res.json.error.code]).toEqual([400, -32602]);
    expect(res.json.error.message).toContain("io.modelcontextprotocol/protocolVersion");

    res = await mcpPost(p.url, modern(2, "tools/list", {}, { "io.modelcontextprotocol/protocolVersion": "2027-01-01" }), {
      headers: { "mcp-protocol-version": "2027-01-01", "mcp-method": "tools/list" },
    });
    expect([res.status, res.json.error.code]).toEqual([400, -32022]);
    expect(res.json.error.data).toEqual({ supported: ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"], requested: "2027-01-01" });

    const noCaps = modern(3, "tools/list");
    delete (noCaps.params._meta as Record<string, unknown>)["io.modelcontextprotocol/clientCapabilities"];
    res = await send(p.url, noCaps);
    expect([res.status, res.json.error.code]).toEqual([400, -32602]);
    expect(res.json.error.message).toContain("clientCapabilities");

    // SEP-2243: the headers mirror the body, and the body wins nothing by differing.
    const call = modern(4, "tools/call", { name: "test_simple_text", arguments: {} });
    const mismatches: Record<string, string>[] = [
      { "mcp-method": "tools/list" },
      { "mcp-name": "test_error_handling" },
      { "mcp-protocol-version": "2025-11-25" },
    ];
    for (const headers of mismatches) {
      res = await send(p.url, call, { headers });
      expect([res.status, res.json.error.code], JSON.stringify(headers)).toEqual([400, -32020]);
    }
    res = await mcpPost(p.url, call, { headers: { "mcp-protocol-version": MODERN, "mcp-method": "tools/call" } });
    expect([res.status, res.json.error.code]).toEqual([400, -32020]);
    expect(res.json.error.message).toContain("Mcp-Name");
    // The Base64 sentinel carries a name that is not plain ASCII; decoded, it must match.
    res = await send(p.url, call, { headers: { "mcp-name": `=?base64?${btoa("test_simple_text")}?=` } });
    expect(res.json.result.content[0].text).toBe("This is a simple text response for testing.");

    // No batches, no responses, no legacy-only methods.
    res = await mcpPost(p.url, [modern(5, "tools/list"), modern(6, "tools/list")], { headers: { "mcp-protocol-version": MODERN, "mcp-method": "tools/list" } });
    expect([res.status, res.json.error.code]).toEqual([400, -32600]);
    for (const method of ["initialize", "ping", "logging/setLevel", "resources/subscribe", "no/such-method"]) {
      res = await send(p.url, modern(7, method));
      expect([res.status, res.json.error.code], method).toEqual([404, -32601]);
    }
    // A resource that does not exist is -32602 in this era (-32002 before).
    res = await send(p.url, modern(8, "resources/read", { uri: "test://nope" }));
    expect(res.json.error.code).toBe(-32602);
  });

  it("treats an Mcp-Session-Id on a modern request as absent, and refuses GET and DELETE that speak 2026-07-28 with 405", async () => {
    const p = await conformancePreset();
    const res = await send(p.url, modern(1, "tools/list"), { headers: { "mcp-session-id": "made-up-session" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("mcp-session-id")).toBeNull();
    for (const method of ["GET", "DELETE"]) {
      const r = await fetchFor(p.url)(p.url, { method, headers: { accept: "text/event-stream", "mcp-protocol-version": MODERN } });
      expect([method, r.status, r.headers.get("allow")]).toEqual([method, 405, "POST"]);
      await r.body?.cancel();
    }
  });

  it("sends progress and log messages on the request's own stream, logs only when the request set a log level", async () => {
    const p = await conformancePreset();
    const progress = modern(1, "tools/call", { name: "test_tool_with_progress", arguments: {} }, { progressToken: "tok-1" });
    const res = await post(p.url, progress, { headers: headersFor(progress) });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const messages = messagesOf(parseSse(await res.text()));
    const notes = messages.filter((m) => m.method === "notifications/progress");
    expect(notes.length).toBeGreaterThanOrEqual(2);
    expect(notes.every((m) => m.params.progressToken === "tok-1")).toBe(true);
    expect(messages.at(-1)).toMatchObject({ id: 1, result: { resultType: "complete" } });

    const quiet = modern(2, "tools/call", { name: "test_tool_with_logging", arguments: {} });
    const silent = messagesOf(parseSse(await (await post(p.url, quiet, { headers: headersFor(quiet) })).text()));
    expect(silent.filter((m) => m.method === "notifications/message")).toEqual([]);
    const loud = modern(3, "tools/call", { name: "test_tool_with_logging", arguments: {} }, { "io.modelcontextprotocol/logLevel": "debug" });
    const logged = messagesOf(parseSse(await (await post(p.url, loud, { headers: headersFor(loud) })).text()));
    expect(logged.filter((m) => m.method === "notifications/message").length).toBeGreaterThan(0);
    expect(logged.at(-1)).toMatchObject({ id: 3, result: { resultType: "complete" } });
  });

  it("counts modern requests against the same rate limits and records their calls", async () => {
    const p = await givenPreset({
      auditCalls: true,
      rateLimit: { requests: 2, windowSeconds: 60 },
      servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }],
    });
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await send(p.url, modern(i, "tools/call", { name: "alpha__echo", arguments: { text: "hi" } }))).status);
    expect(codes).toEqual([200, 200, 429]);
    await vi.waitFor(async () => {
      const calls = await api("GET", `/presets/${p.slug}/calls`, { token: p.owner.token });
      expect(calls.body.calls.map((c: { outcome: string }) => c.outcome).sort()).toEqual(["ok", "ok", "rate_limited"]);
    }, EVENTUALLY);
  });

  it("opens subscriptions/listen: acknowledged first with what it honors, then only what it asked for, each tagged with its subscription id", async () => {
    // Shared: the tool that changes the resource runs on the session the listen subscribed on (an
    // anonymous modern request otherwise gets an upstream session of its own, session-scope.test.ts).
    const p = await conformancePreset({ sessionScope: "shared" });
    await send(p.url, modern(1, "tools/list"));
    await send(p.url, modern(2, "prompts/list"));
    const open = modern("sub-1", "subscriptions/listen", {
      notifications: { toolsListChanged: true, resourceSubscriptions: ["test://watched-resource"], unknownKind: true },
    });
    const res = await post(p.url, open, { headers: headersFor(open) });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = new SseReader(res);
    const tag = { "io.modelcontextprotocol/subscriptionId": "sub-1" };
    expect(await reader.message(() => true)).toEqual({
      jsonrpc: "2.0",
      method: "notifications/subscriptions/acknowledged",
      params: { _meta: tag, notifications: { toolsListChanged: true, resourceSubscriptions: ["test://watched-resource"] } },
    });
    // Another client adds a prompt: this listen did not ask for prompt changes.
    const add = modern(3, "tools/call", { name: "test_add_prompt", arguments: { name: "late_prompt" } });
    await send(p.url, add);
    const update = modern(4, "tools/call", { name: "test_update_resource", arguments: {} });
    expect((await send(p.url, update)).json.result.content[0].text).toBe("Sent resources/updated for test://watched-resource.");
    expect(await reader.message(isMethod("notifications/resources/updated"))).toEqual({
      jsonrpc: "2.0",
      method: "notifications/resources/updated",
      params: { uri: "test://watched-resource", _meta: tag },
    });
    await attach(p.owner, p.slug, "lib", ["test_simple_text"]);
    expect(await reader.message(isMethod("notifications/tools/list_changed"))).toEqual({
      jsonrpc: "2.0",
      method: "notifications/tools/list_changed",
      params: { _meta: tag },
    });
    expect(await staysQuiet(reader, isMethod("notifications/prompts/list_changed"), 200)).toBe(true);
    reader.cancel();
  });

  it("lets the SDK v2 client listen for list changes through a preset", async () => {
    const p = await conformancePreset();
    const client = await modernClient(p.url);
    await client.listTools();
    const changed = new Promise<void>((resolve) => client.setNotificationHandler("notifications/tools/list_changed", () => resolve()));
    const subscription = await client.listen({ toolsListChanged: true });
    expect(subscription.honoredFilter).toEqual({ toolsListChanged: true });
    await attach(p.owner, p.slug, "lib", ["test_simple_text"]);
    await changed;
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["test_simple_text"]);
    await client.close();
  });

  it("ends a member's listen stream when the owner removes them, and refuses a malformed filter", async () => {
    const member = await createUser();
    const p = await givenPreset({ visibility: "invite_only", members: [member], servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] });
    const open = modern(1, "subscriptions/listen", { notifications: { toolsListChanged: true } });
    const reader = new SseReader(await post(p.url, open, { token: member.token, headers: headersFor(open) }));
    await reader.message(isMethod("notifications/subscriptions/acknowledged"));
    expect((await api("DELETE", `/presets/${p.slug}/members/${member.handle}`, { token: p.owner.token })).status).toBe(204);
    await reader.end();

    const bad = await send(p.url, modern(2, "subscriptions/listen", { notifications: { resourceSubscriptions: "test://x" } }), { token: p.owner.token });
    expect(bad.json.error).toMatchObject({ code: -32602 });
    expect(bad.json.error.message).toContain("resourceSubscriptions");
  });

  it("takes a client closing a call's stream for its cancellation and cancels the call upstream", async () => {
    const scope = unique("cancel");
    const p = await givenPreset({ naming: "plain", servers: [{ name: "lib", url: upstreamUrl("conformance", scope), tools: null }] });
    const slow = modern("slow-1", "tools/call", { name: "test_slow_progress", arguments: { steps: 50, intervalMs: 100 } }, { progressToken: "p" });
    const reader = new SseReader(await post(p.url, slow, { headers: headersFor(slow) }));
    await reader.message(isMethod("notifications/progress"));
    reader.cancel();
    const stats = await vi.waitFor(async () => {
      const s = await upstreamStats("conformance", scope);
      expect(s.requests["notifications/cancelled"] ?? 0).toBeGreaterThanOrEqual(1);
      return s;
    }, EVENTUALLY);
    expect(stats.requests["notifications/cancelled"]).toBe(1);
  });

  it("holds at most 100 listen streams per caller; another caller still gets one", async () => {
    const p = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] });
    const open = (id: number, ip: string) => {
      const body = modern(id, "subscriptions/listen", { notifications: { toolsListChanged: true } });
      return post(p.url, body, { headers: headersFor(body, { "cf-connecting-ip": ip }) });
    };
    const streams = await Promise.all(Array.from({ length: 100 }, (_, i) => open(i, "198.51.100.77")));
    expect(streams.every((r) => r.status === 200)).toBe(true);
    const refused = await open(100, "198.51.100.77");
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("60");
    expect(((await refused.json()) as { error: { code: number } }).error.code).toBe(-32030);
    const theirs = await open(101, "198.51.100.78");
    expect(theirs.status).toBe(200);
    await Promise.all([theirs, ...streams].map((r) => r.body?.cancel()));
  });

  it("lets a dual-era SDK v2 client (auto) land on the modern era, and serves a warm tools/list with no upstream request", async () => {
    const scope = unique("warm");
    const p = await givenPreset({ naming: "plain", servers: [{ name: "lib", url: upstreamUrl("conformance", scope), tools: null }] });
    const client = new ModernClient({ name: "auto", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } });
    await client.connect(new ModernTransport(new URL(p.url), { fetch: fetchFor(p.url) }));
    expect(client.getProtocolEra()).toBe("modern");
    await client.listTools();
    const before = (await upstreamStats("conformance", scope)).requests["tools/list"] ?? 0;
    for (let i = 0; i < 3; i++) expect((await client.listTools()).tools.length).toBeGreaterThan(5);
    expect((await upstreamStats("conformance", scope)).requests["tools/list"] ?? 0).toBe(before);
    await client.close();
  });
});
