import { CreateMessageRequestSchema, ElicitRequestSchema, LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it, vi } from "vitest";
import { api, connectClient, EVENTUALLY, givenPreset, textOf, unique, upstreamStats, upstreamUrl } from "../helpers";
import { isMethod, openSession, openStandalone, rpc } from "../mcp-raw";

/**
 * The gateway talks to each upstream in that upstream's protocol era: a modern (2026-07-28)
 * upstream is probed once with server/discover and then called statelessly, while 2025 clients
 * of the preset see nothing different.
 */

/** A public preset over the given fixture upstreams, each in a scope of its own so its counters are the test's. */
async function presetOver(...names: string[]) {
  const scope = unique("era");
  const preset = await givenPreset({
    naming: "prefixed",
    // Tools these upstreams add or change at run time are exposed as they come (tool-pinning.test.ts holds them).
    newTools: "expose",
    servers: names.map((name) => ({ name, url: upstreamUrl(name, scope), tools: null, prompts: null, resources: null })),
  });
  return { ...preset, scope };
}

describe("a 2025 client through a preset over a new-only modern upstream", () => {
  it("lists the upstream's tools and calls them, with the Mcp-Param header reaching the upstream", async () => {
    const { url, scope } = await presetOver("modern");
    const client = await connectClient(url);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["modern__confirm", "modern__echo", "modern__nag", "modern__progress", "modern__regional"]);
    const echo = await client.callTool({ name: "modern__echo", arguments: { text: "hi" } });
    expect(textOf(echo)).toBe("echo:hi");
    expect(echo).not.toHaveProperty("resultType");
    expect(echo).not.toHaveProperty("_meta");
    const regional = await client.callTool({ name: "modern__regional", arguments: { region: "eu-west 1", query: "q" } });
    expect(textOf(regional)).toBe("region:eu-west 1 header:eu-west 1");
    const encoded = await client.callTool({ name: "modern__regional", arguments: { region: "Zürich" } });
    expect(textOf(encoded)).toBe(`region:Zürich header:=?base64?${btoa(String.fromCharCode(...new TextEncoder().encode("Zürich")))}?=`);
    const stats = await upstreamStats("modern", scope);
    expect(stats.requests.initialize ?? 0).toBe(0);
    expect(stats.lastHeaders?.["mcp-protocol-version"]).toBe("2026-07-28");
    expect(stats.lastHeaders?.["mcp-method"]).toBe("tools/call");
    expect(stats.lastHeaders?.["mcp-name"]).toBe("regional");
    expect(stats.lastHeaders?.["mcp-session-id"]).toBeUndefined();
    await client.close();
  });

  it("relays the upstream's progress and log lines before the answer (the level travels in _meta)", async () => {
    const { url, owner } = await presetOver("modern");
    const client = await connectClient(url, { token: owner.token });
    await client.setLoggingLevel("info");
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => {
      logs.push(n.params.data);
    });
    const progress: number[] = [];
    const result = await client.callTool({ name: "modern__progress", arguments: {} }, undefined, { onprogress: (p) => progress.push(p.progress) });
    expect(textOf(result)).toBe("progressed");
    expect(progress).toEqual([1, 2]);
    expect(logs).toEqual(["modern progress done"]);
    await client.close();
  });

  it("serves its prompt and resource, and a missing resource is -32002 for 2025 clients", async () => {
    const { url } = await presetOver("modern");
    const client = await connectClient(url);
    expect(client.getServerCapabilities()?.prompts).toBeDefined();
    expect(client.getServerCapabilities()?.resources).toBeDefined();
    expect(client.getInstructions()).toContain("A modern-era fixture.");
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(["modern__greet", "modern__ask"]);
    const prompt = await client.getPrompt({ name: "modern__greet", arguments: { name: "Ann" } });
    expect(prompt.messages[0]!.content).toEqual({ type: "text", text: "Hello, Ann" });
    expect(prompt).not.toHaveProperty("resultType");
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(["mcpgate://modern/memo://note"]);
    const read = await client.readResource({ uri: "mcpgate://modern/memo://note" });
    expect(read.contents).toEqual([{ uri: "mcpgate://modern/memo://note", mimeType: "text/plain", text: "a modern note" }]);
    await expect(client.readResource({ uri: "mcpgate://modern/memo://missing" })).rejects.toMatchObject({ code: -32002 });
    await client.close();
  });

  it("probes the upstream's era once, not per call", async () => {
    const { url, scope } = await presetOver("modern");
    const client = await connectClient(url);
    await client.listTools();
    for (let i = 0; i < 3; i++) await client.callTool({ name: "modern__echo", arguments: { text: String(i) } });
    const stats = await upstreamStats("modern", scope);
    expect(stats.requests["server/discover"]).toBe(1);
    expect(stats.requests["tools/call"]).toBe(3);
    await client.close();
  });
});

describe("the management API over a modern upstream", () => {
  it("lists its live tools, checks its health, and checks plain names against it", async () => {
    const scope = unique("era");
    const { owner } = await givenPreset({ naming: "plain", servers: [{ name: "m", url: upstreamUrl("modern", scope), tools: null }] });
    const tools = await api("GET", "/servers/m/tools", { token: owner.token });
    expect(tools.status).toBe(200);
    expect(tools.body.tools.map((t: { name: string }) => t.name)).toContain("regional");
    const health = await api("GET", "/servers/m/health", { token: owner.token });
    expect(health.status).toBe(200);
    expect(health.body.status).toBe("ok");
  });
});

describe("presets mixing eras", () => {
  it("serves a legacy and a modern upstream side by side, each in its era", async () => {
    const { url, scope } = await presetOver("alpha", "modern_dual");
    const client = await connectClient(url);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain("alpha__echo");
    expect(names).toContain("modern_dual__echo");
    expect(textOf(await client.callTool({ name: "modern_dual__echo", arguments: { text: "m" } }))).toBe("echo:m");
    expect(textOf(await client.callTool({ name: "alpha__echo", arguments: { text: "l" } }))).toContain("l");
    const alpha = await upstreamStats("alpha", scope);
    expect(alpha.initializes).toBe(1);
    const dual = await upstreamStats("modern_dual", scope);
    expect(dual.requests.initialize ?? 0).toBe(0);
    expect(dual.requests["server/discover"]).toBe(1);
    await client.close();
  });
});

describe("a stale era verdict", () => {
  it("re-probes when a modern upstream starts answering like a legacy one, and back", async () => {
    const { url, scope, owner, slug } = await presetOver("flip");
    // Its two faces describe `echo` differently, which pinning would hold for review (tool-pinning.test.ts): off here.
    expect((await api("PATCH", `/presets/${slug}`, { token: owner.token, body: { pinning: "off" } })).status).toBe(200);
    const client = await connectClient(url);
    expect(textOf(await client.callTool({ name: "flip__echo", arguments: { text: "a" } }))).toBe("echo:a");
    expect(textOf(await client.callTool({ name: "flip__become_legacy", arguments: {} }))).toBe("now legacy");
    // The cached verdict says modern; the upstream now refuses stateless requests with a plain 400.
    expect(textOf(await client.callTool({ name: "flip__echo", arguments: { text: "b" } }))).toBe("legacy-echo");
    expect((await upstreamStats("flip", scope)).requests["server/discover"]).toBe(2);
    expect(textOf(await client.callTool({ name: "flip__become_modern", arguments: {} }))).toBe("now modern");
    // The legacy session now gets a modern error (-32022): probed again, modern again.
    expect(textOf(await client.callTool({ name: "flip__echo", arguments: { text: "c" } }))).toBe("echo:c");
    expect((await upstreamStats("flip", scope)).requests["server/discover"]).toBe(3);
    await client.close();
  });
});

describe("input_required from a modern upstream, for a 2025 client", () => {
  it("asks the client in rounds (elicitation, then sampling) and retries the call with its answers", async () => {
    const { url, scope } = await presetOver("modern");
    const client = await connectClient(url, { capabilities: { elicitation: {}, sampling: {} } });
    const asked: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(`elicit:${req.params.message}`);
      return { action: "accept", content: { ok: true } };
    });
    client.setRequestHandler(CreateMessageRequestSchema, async () => {
      asked.push("sample");
      return { role: "assistant", content: { type: "text", text: "roses" }, model: "m" };
    });
    const result = await client.callTool({ name: "modern__confirm", arguments: {} });
    expect(textOf(result)).toBe("confirmed:true poem:roses");
    expect(result).not.toHaveProperty("resultType");
    expect(asked).toEqual(["elicit:Proceed?", "sample"]);
    expect((await upstreamStats("modern", scope)).requests["tools/call"]).toBe(3);
    await client.close();
  });

  it("gives up on an upstream that asks for input round after round (10 rounds at most)", async () => {
    const { url, scope } = await presetOver("modern");
    const client = await connectClient(url, { capabilities: { elicitation: {}, sampling: {} } });
    await expect(client.callTool({ name: "modern__nag", arguments: {} })).rejects.toMatchObject({
      code: -32012,
      message: expect.stringContaining("more than 10 times"),
    });
    expect((await upstreamStats("modern", scope)).requests["tools/call"]).toBe(10);
    const echo = await client.callTool({ name: "modern__echo", arguments: { text: "still here" } });
    expect(textOf(echo)).toBe("echo:still here");
    await client.close();
  });

  it("declares the calling client's own capabilities upstream: one without elicitation is refused by the upstream itself (-32021)", async () => {
    const { url, scope } = await presetOver("modern");
    const client = await connectClient(url, { capabilities: { sampling: {} } });
    await expect(client.callTool({ name: "modern__confirm", arguments: {} })).rejects.toMatchObject({
      code: -32021,
      message: expect.stringContaining("elicitation"),
    });
    expect((await upstreamStats("modern", scope)).requests["tools/call"]).toBe(1);
    await client.close();
  });

  it("listens to a modern upstream in use: its tool-list change reaches a 2025 client's stream at once", async () => {
    const scope = unique("grow");
    const p = await givenPreset({ naming: "plain", newTools: "expose", servers: [{ name: "growing", url: upstreamUrl("growing", scope), tools: null }] });
    const session = await openSession(p.url);
    expect((await rpc(session, 1, "tools/list")).result.tools.map((t: { name: string }) => t.name)).not.toContain("extra");
    const reader = await openStandalone(session);
    const caller = await connectClient(p.url);
    await caller.callTool({ name: "grow", arguments: {} });
    await reader.message(isMethod("notifications/tools/list_changed"), 5_000);
    await vi.waitFor(async () => {
      expect((await rpc(session, 2, "tools/list")).result.tools.map((t: { name: string }) => t.name)).toContain("extra");
    }, EVENTUALLY);
    expect((await upstreamStats("growing", scope)).requests["subscriptions/listen"]).toBeGreaterThanOrEqual(1);
    reader.cancel();
    await caller.close();
  });
});
