import { describe, expect, it } from "vitest";
import { api, attach, connectClient, givenPreset, type PresetSpec, upstreamUrl } from "../helpers";

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
