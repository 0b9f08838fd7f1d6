import { env, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { presetStub } from "../../src/edge/preset-stub";
import { attach, connectClient, EVENTUALLY, expireUpstreamSessions, givenPreset, unique, upstreamStats, upstreamUrl } from "../helpers";
import { openSession, rpc } from "../mcp-raw";
import { closeIdleUpstreams } from "../preset-object";

describe("a preset as a virtual MCP server", () => {
  it("lists exactly the selected tools of two upstreams and calls each", async () => {
    const { url } = await givenPreset({
      servers: [
        { name: "alpha", url: upstreamUrl("alpha"), tools: ["echo", "add", "shared"] },
        { name: "beta", url: upstreamUrl("beta"), tools: null },
      ],
    });

    const client = await connectClient(url);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["alpha__add", "alpha__echo", "alpha__shared", "beta__grow", "beta__reverse", "beta__shared"].sort());
    const echo = await client.callTool({ name: "alpha__echo", arguments: { text: "hello" } });
    expect(echo.content).toEqual([{ type: "text", text: "hello" }]);
    const reversed = await client.callTool({ name: "beta__reverse", arguments: { text: "abc" } });
    expect(reversed.content).toEqual([{ type: "text", text: "cba" }]);
    await client.close();
  });

  it("keeps same-named tools of two upstreams apart and routes each to its own upstream", async () => {
    const { url } = await givenPreset({
      servers: [
        { name: "alpha", url: upstreamUrl("alpha"), tools: ["shared"] },
        { name: "beta", url: upstreamUrl("beta"), tools: ["shared"] },
      ],
    });
    const client = await connectClient(url);
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(["alpha__shared", "beta__shared"]);
    expect((await client.callTool({ name: "alpha__shared", arguments: {} })).content).toEqual([{ type: "text", text: "alpha" }]);
    expect((await client.callTool({ name: "beta__shared", arguments: {} })).content).toEqual([{ type: "text", text: "beta" }]);
    await client.close();
  });

  it("passes the upstream's description, schemas, title and annotations through unchanged", async () => {
    const { url } = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["add", "annotated"] }] });
    const direct = await connectClient(upstreamUrl("alpha"));
    const upstreamTools = new Map((await direct.listTools()).tools.map((t) => [t.name, t]));
    await direct.close();

    const client = await connectClient(url);
    const tools = new Map((await client.listTools()).tools.map((t) => [t.name, t]));
    expect(tools.get("alpha__add")).toEqual({ ...upstreamTools.get("add"), name: "alpha__add" });
    expect(tools.get("alpha__annotated")).toEqual({ ...upstreamTools.get("annotated"), name: "alpha__annotated" });
    expect(tools.get("alpha__annotated")?.annotations).toEqual({ readOnlyHint: true, openWorldHint: false });
    expect(tools.get("alpha__add")?.outputSchema).toMatchObject({ type: "object", properties: { sum: { type: "number" } } });
    await client.close();
  });

  it("returns structuredContent and isError results exactly as the upstream sent them", async () => {
    const { url } = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["add", "fail"] }] });
    const client = await connectClient(url);
    const added = await client.callTool({ name: "alpha__add", arguments: { a: 2, b: 40 } });
    expect(added).toEqual({ content: [{ type: "text", text: "42" }], structuredContent: { sum: 42 } });
    const failed = await client.callTool({ name: "alpha__fail", arguments: {} });
    expect(failed).toEqual({ content: [{ type: "text", text: "alpha failed on purpose" }], isError: true });
    await client.close();
  });

  it("refuses a tool the owner left out without ever reaching the upstream", async () => {
    const scope = unique("excluded");
    const { url } = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha", scope), tools: ["echo"] }] });
    const client = await connectClient(url);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["alpha__echo"]);
    for (const name of ["alpha__secret", "alpha__nope", "secret", "beta__shared", "alpha__"]) {
      await expect(client.callTool({ name, arguments: {} })).rejects.toThrow(/Unknown tool/);
    }
    expect((await upstreamStats("alpha", scope)).requests["tools/call"] ?? 0).toBe(0);
    await client.close();
  });

  it("reuses one upstream session across calls and clients of a shared server instead of initializing per call", async () => {
    const scope = unique("reuse");
    const { url } = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha", scope), tools: null, sessionScope: "shared" }] });
    for (let i = 0; i < 2; i++) {
      const client = await connectClient(url);
      await client.listTools();
      for (let j = 0; j < 3; j++) await client.callTool({ name: "alpha__echo", arguments: { text: `${i}${j}` } });
      await client.close();
    }
    const stats = await upstreamStats("alpha", scope);
    expect(stats.initializes).toBe(1);
    expect(stats.requests["tools/call"]).toBe(6);
    expect(stats.requests["tools/list"]).toBe(1);
  });

  // Raw sessions here: the SDK client listens on a standalone stream, which keeps upstream sessions open.
  it("closes an upstream session idle for UPSTREAM_IDLE_MS at the preset's alarm; the next call opens a new one", async () => {
    const scope = unique("idle");
    const p = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha", scope), tools: ["echo"] }] });
    const session = await openSession(p.url);
    expect((await rpc(session, 1, "tools/call", { name: "alpha__echo", arguments: { text: "before" } })).result.content[0].text).toBe("before");
    expect((await upstreamStats("alpha", scope)).initializes).toBe(1);
    await closeIdleUpstreams(presetStub(env, p.owner.handle, p.slug));
    expect((await rpc(session, 2, "tools/call", { name: "alpha__echo", arguments: { text: "after" } })).result.content[0].text).toBe("after");
    expect((await upstreamStats("alpha", scope)).initializes).toBe(2);
  });

  it("keeps an upstream session used within UPSTREAM_IDLE_MS open when the preset's alarm runs", async () => {
    const scope = unique("busy");
    const p = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha", scope), tools: ["echo"] }] });
    const session = await openSession(p.url);
    await rpc(session, 1, "tools/call", { name: "alpha__echo", arguments: { text: "before" } });
    expect(await runDurableObjectAlarm(presetStub(env, p.owner.handle, p.slug))).toBe(true);
    expect((await rpc(session, 2, "tools/call", { name: "alpha__echo", arguments: { text: "after" } })).result.content[0].text).toBe("after");
    expect((await upstreamStats("alpha", scope)).initializes).toBe(1);
  });

  it("re-initializes the upstream session when the upstream says it expired, and the call still succeeds", async () => {
    const scope = unique("expire");
    const { url } = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha", scope), tools: ["echo"] }] });
    const client = await connectClient(url);
    await client.callTool({ name: "alpha__echo", arguments: { text: "one" } });
    await expireUpstreamSessions("alpha", scope);
    const res = await client.callTool({ name: "alpha__echo", arguments: { text: "two" } });
    expect(res.content).toEqual([{ type: "text", text: "two" }]);
    const stats = await upstreamStats("alpha", scope);
    expect(stats.initializes).toBe(2);
    expect(stats.notFound).toBeGreaterThanOrEqual(1);
    await client.close();
  });

  it("sends the server's secret headers upstream and never the client's token", async () => {
    const { owner, url } = await givenPreset({
      visibility: "private",
      servers: [{ name: "alpha", url: upstreamUrl("alpha"), headers: { Authorization: "Bearer upstream-secret", "X-Api-Key": "k-123" }, tools: ["whoami"] }],
    });
    const client = await connectClient(url, { token: owner.token });
    const res = await client.callTool({ name: "alpha__whoami", arguments: {} });
    const seen = JSON.parse((res.content as { text: string }[])[0]!.text);
    expect(seen.authorization).toBe("Bearer upstream-secret");
    expect(seen["x-api-key"]).toBe("k-123");
    expect(JSON.stringify(seen)).not.toContain(owner.token);
    await client.close();
  });

  it("rebuilds the catalog when an upstream announces tools/list_changed", async () => {
    const scope = unique("grow");
    const { url } = await givenPreset({ newTools: "expose", servers: [{ name: "beta", url: upstreamUrl("beta", scope), tools: null }] });
    const client = await connectClient(url);
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain("beta__sprout");
    await client.callTool({ name: "beta__grow", arguments: { name: "sprout" } });
    // The refresh runs in the Durable Object after the notification.
    await vi.waitFor(async () => expect((await client.listTools()).tools.map((t) => t.name)).toContain("beta__sprout"), EVENTUALLY);
    expect((await client.callTool({ name: "beta__sprout", arguments: {} })).content).toEqual([{ type: "text", text: "sprout says hi" }]);
    await client.close();
  });

  it("picks up a changed tool selection immediately", async () => {
    const { owner, slug, url } = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] });
    const client = await connectClient(url);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["alpha__echo"]);
    await attach(owner, slug, "alpha", ["add"]);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["alpha__add"]);
    await expect(client.callTool({ name: "alpha__echo", arguments: { text: "x" } })).rejects.toThrow(/Unknown tool/);
    await attach(owner, slug, "alpha", undefined, false);
    expect((await client.listTools()).tools).toEqual([]);
    await client.close();
  });

  it("paginates a large catalog with cursors, following the upstream's own pagination", async () => {
    const { url } = await givenPreset({ servers: ["m1", "m2", "m3", "m4", "m5"].map((name) => ({ name, url: upstreamUrl("many_paged"), tools: null })) });
    const client = await connectClient(url);
    const first = await client.listTools();
    expect(first.tools).toHaveLength(1000);
    expect(first.nextCursor).toBeTypeOf("string");
    const second = await client.listTools({ cursor: first.nextCursor });
    expect(second.tools).toHaveLength(250);
    expect(second.nextCursor).toBeUndefined();
    const names = new Set([...first.tools, ...second.tools].map((t) => t.name));
    expect(names.size).toBe(1250);
    expect(names.has("m5__tool_249")).toBe(true);
    await expect(client.listTools({ cursor: "not-a-cursor!" })).rejects.toThrow(/cursor/);
    await client.close();
  });
});
