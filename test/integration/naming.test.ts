import { describe, expect, it, vi } from "vitest";
import { api, attach, connectClient, EVENTUALLY, givenPreset, type PresetSpec, textOf, unique, upstreamStats, upstreamUrl } from "../helpers";
import { mcpPost, modernHeaders, modernMessage, rawSession, toolCall } from "../mcp-raw";

/** A public preset, with servers alpha and beta registered for each test to attach as it needs. */
const preset = (naming?: PresetSpec["naming"]) =>
  givenPreset({
    naming,
    servers: [
      { name: "alpha", url: upstreamUrl("alpha"), attach: false },
      { name: "beta", url: upstreamUrl("beta"), attach: false },
    ],
  });

describe("tool naming options", () => {
  it("exposes upstream names as they are with plain naming, and routes calls by them", async () => {
    const p = await preset("plain");
    await attach(p.owner, p.slug, "alpha", ["echo", "add"]);
    await attach(p.owner, p.slug, "beta", ["reverse"]);
    const view = await api("GET", `/presets/${p.slug}`, { token: p.owner.token });
    expect(view.body.toolNaming).toBe("plain");
    const client = await connectClient(p.url);
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(["add", "echo", "reverse"]);
    expect((await client.callTool({ name: "reverse", arguments: { text: "abc" } })).content).toEqual([{ type: "text", text: "cba" }]);
    expect((await client.callTool({ name: "echo", arguments: { text: "plain" } })).content).toEqual([{ type: "text", text: "plain" }]);
    await expect(client.callTool({ name: "alpha__echo", arguments: { text: "x" } })).rejects.toThrow(/Unknown tool/);
    await client.close();
  });

  it("refuses with 409 to attach a server whose tools would clash under plain naming, naming the clash", async () => {
    const p = await preset("plain");
    await attach(p.owner, p.slug, "alpha", null);
    const clash = await api("PUT", `/presets/${p.slug}/servers/beta`, { token: p.owner.token, body: {} });
    expect(clash.status).toBe(409);
    expect(clash.body.error.message).toMatch(/'shared' \(alpha, beta\)/);
    const view = await api("GET", `/presets/${p.slug}`, { token: p.owner.token });
    expect(view.body.servers.map((s: { name: string }) => s.name)).toEqual(["alpha"]); // nothing changed
    // Leaving the clashing tool out, or renaming it, is fine.
    expect((await api("PUT", `/presets/${p.slug}/servers/beta`, { token: p.owner.token, body: { tools: ["reverse"] } })).status).toBe(201);
    expect(
      (await api("PUT", `/presets/${p.slug}/servers/beta`, { token: p.owner.token, body: { tools: null, overrides: { shared: { name: "beta_shared" } } } }))
        .status,
    ).toBe(200);
  });

  it("refuses to switch a preset to plain naming while its tools would clash", async () => {
    const p = await preset();
    await attach(p.owner, p.slug, "alpha", null);
    await attach(p.owner, p.slug, "beta", null);
    const res = await api("PATCH", `/presets/${p.slug}`, { token: p.owner.token, body: { toolNaming: "plain" } });
    expect(res.status).toBe(409);
    expect((await api("GET", `/presets/${p.slug}`, { token: p.owner.token })).body.toolNaming).toBe("prefixed");
    await attach(p.owner, p.slug, "beta", ["reverse"]);
    expect((await api("PATCH", `/presets/${p.slug}`, { token: p.owner.token, body: { toolNaming: "plain" } })).body.toolNaming).toBe("plain");
  });

  it("renames tools and replaces descriptions with overrides; the old name no longer routes", async () => {
    const p = await preset();
    await api("PUT", `/presets/${p.slug}/servers/alpha`, {
      token: p.owner.token,
      body: { tools: ["echo", "add"], overrides: { echo: { name: "say", description: "Says it back" }, add: { description: "Sum of a and b" } } },
    });
    const client = await connectClient(p.url);
    const tools = new Map((await client.listTools()).tools.map((t) => [t.name, t]));
    expect([...tools.keys()].sort()).toEqual(["alpha__add", "say"]);
    expect(tools.get("say")?.description).toBe("Says it back");
    expect(tools.get("alpha__add")?.description).toBe("Sum of a and b");
    expect(tools.get("alpha__add")?.inputSchema).toMatchObject({ properties: { a: { type: "number" } } });
    expect((await client.callTool({ name: "say", arguments: { text: "renamed" } })).content).toEqual([{ type: "text", text: "renamed" }]);
    await expect(client.callTool({ name: "alpha__echo", arguments: { text: "x" } })).rejects.toThrow(/Unknown tool/);
    await client.close();
  });

  it("validates override names against MCP's name rules, and the naming option", async () => {
    const p = await preset();
    const bad = await api("PUT", `/presets/${p.slug}/servers/alpha`, { token: p.owner.token, body: { overrides: { echo: { name: "has space" } } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("overrides.echo.name");
    const long = await api("PUT", `/presets/${p.slug}/servers/alpha`, { token: p.owner.token, body: { overrides: { echo: { name: "x".repeat(65) } } } });
    expect(long.status).toBe(400);
    const naming = await api("PATCH", `/presets/${p.slug}`, { token: p.owner.token, body: { toolNaming: "camel" } });
    expect(naming.status).toBe(400);
    expect(naming.body.error.field).toBe("toolNaming");
  });
});

describe("tool names the upstream does not list", () => {
  /** A preset of alpha (own counters in a scope) exposing all its tools, and a session on it. */
  async function allOfAlpha(naming: PresetSpec["naming"]) {
    const scope = unique("unlisted");
    const p = await givenPreset({ naming, servers: [{ name: "alpha", url: upstreamUrl("alpha", scope), tools: null }] });
    return { ...p, scope, session: await rawSession(p.url) };
  }
  const refused = (name: string) => ({ code: -32602, message: `Unknown tool: ${name}` });

  it("refuses them at the gateway with tools: null, as it refuses an unexposed tool, and the upstream never sees the call", async () => {
    const p = await allOfAlpha("prefixed");
    const call = (body: Record<string, unknown>) => mcpPost(p.url, body, { sessionId: p.session });
    expect((await call(toolCall(1, "alpha__echo", { text: "listed" }))).json.result.content[0].text).toBe("listed");
    expect((await call(toolCall(2, "alpha__nonexistent"))).json.error).toEqual(refused("alpha__nonexistent"));
    const asTask = { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "alpha__nonexistent", arguments: {}, task: { ttl: 60_000 } } };
    expect((await call(asTask)).json.error).toEqual(refused("alpha__nonexistent"));
    const modern = modernMessage(4, "tools/call", { name: "alpha__nonexistent", arguments: {} });
    expect((await mcpPost(p.url, modern, { headers: modernHeaders(modern) })).json.error).toEqual(refused("alpha__nonexistent"));
    // The same error as for a tool the preset leaves out.
    const narrow = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha", unique("narrow")), tools: ["echo"] }] });
    const unexposed = await mcpPost(narrow.url, toolCall(5, "alpha__secret"), { sessionId: await rawSession(narrow.url) });
    expect(unexposed.json.error).toEqual(refused("alpha__secret"));
    const { requests } = await upstreamStats("alpha", p.scope);
    expect(requests["tools/call"]).toBe(1);
    // Listed once, then once again for the first unknown name (its list might have been stale), not for every unknown name.
    expect(requests["tools/list"]).toBe(2);
  });

  it("refuses them with plain naming too, in both eras", async () => {
    const p = await allOfAlpha("plain");
    expect((await mcpPost(p.url, toolCall(1, "nonexistent"), { sessionId: p.session })).json.error).toEqual(refused("nonexistent"));
    const modern = modernMessage(2, "tools/call", { name: "nonexistent", arguments: {} });
    expect((await mcpPost(p.url, modern, { headers: modernHeaders(modern) })).json.error).toEqual(refused("nonexistent"));
    expect((await upstreamStats("alpha", p.scope)).requests["tools/call"]).toBeUndefined();
  });

  it("routes a tool the upstream added once its list_changed came in", async () => {
    const scope = unique("grown");
    const p = await givenPreset({ newTools: "expose", servers: [{ name: "beta", url: upstreamUrl("beta", scope), tools: null }] });
    const client = await connectClient(p.url);
    await expect(client.callTool({ name: "beta__sprout", arguments: {} })).rejects.toThrow(/Unknown tool: beta__sprout/);
    await client.callTool({ name: "beta__grow", arguments: { name: "sprout" } });
    await vi.waitFor(async () => expect(textOf(await client.callTool({ name: "beta__sprout", arguments: {} }))).toBe("sprout says hi"), EVENTUALLY);
    await client.close();
  });
});
