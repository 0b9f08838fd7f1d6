import { describe, expect, it, vi } from "vitest";
import {
  api,
  connectClient,
  EVENTUALLY,
  expireUpstreamSessions,
  givenPreset,
  type PresetServer,
  type PresetSpec,
  unique,
  upstreamStats,
  upstreamUrl,
} from "../helpers";
import { mcpPost, rawSession } from "../mcp-raw";

/** A public preset of the conformance upstream `lib` (all of it); alpha is registered but left out. */
const preset = (naming: PresetSpec["naming"], description?: string) =>
  givenPreset({
    naming,
    description,
    servers: [
      { name: "lib", url: upstreamUrl("conformance"), tools: null },
      { name: "alpha", url: upstreamUrl("alpha"), attach: false },
    ],
  });

describe("prompts, resources and completions through a preset", () => {
  it("declares the capabilities its upstreams have and merges their instructions after the preset's description", async () => {
    const p = await preset("plain", "Research tools for the team.");
    const client = await connectClient(p.url);
    expect(client.getServerCapabilities()).toEqual({
      tools: { listChanged: true },
      prompts: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      logging: {},
      completions: {},
    });
    const instructions = client.getInstructions()!;
    expect(instructions.startsWith("Research tools for the team.")).toBe(true);
    expect(instructions).toContain("## lib\nImplements what the MCP conformance suite expects");
    await client.close();
  });

  it("declares only tools for a preset whose upstreams have nothing else", async () => {
    const { url } = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] });
    const client = await connectClient(url);
    expect(client.getServerCapabilities()).toEqual({ tools: { listChanged: true } });
    await client.close();
  });

  it("lists and gets prompts, reads resources (listed and templated) and completes arguments with plain naming", async () => {
    const p = await preset("plain");
    const client = await connectClient(p.url);
    expect((await client.listPrompts()).prompts.map((x) => x.name)).toContain("test_prompt_with_arguments");
    const prompt = await client.getPrompt({ name: "test_prompt_with_arguments", arguments: { arg1: "a", arg2: "b" } });
    expect(prompt.messages[0]!.content).toEqual({ type: "text", text: "Prompt with arguments: arg1='a', arg2='b'" });
    expect((await client.listResources()).resources.map((r) => r.uri)).toContain("test://static-text");
    expect((await client.readResource({ uri: "test://static-text" })).contents).toEqual([
      { uri: "test://static-text", mimeType: "text/plain", text: "This is the content of the static text resource." },
    ]);
    expect((await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toContain("test://template/{id}/data");
    const templated = await client.readResource({ uri: "test://template/42/data" });
    expect(JSON.parse((templated.contents[0] as { text: string }).text)).toMatchObject({ id: "42", templateTest: true });
    const completion = await client.complete({ ref: { type: "ref/prompt", name: "test_prompt_with_arguments" }, argument: { name: "arg1", value: "pa" } });
    expect(completion.completion.values).toEqual(["paris", "park", "party"]);
    expect(await client.subscribeResource({ uri: "test://watched-resource" })).toEqual({});
    expect(await client.setLoggingLevel("debug")).toEqual({});
    await client.close();
  });

  it("prefixes prompt names and wraps resource URIs with their server, and routes both back", async () => {
    const p = await preset("prefixed");
    const client = await connectClient(p.url);
    expect((await client.listPrompts()).prompts.map((x) => x.name)).toContain("lib__test_simple_prompt");
    const prompt = await client.getPrompt({ name: "lib__test_simple_prompt" });
    expect(prompt.messages[0]!.content).toEqual({ type: "text", text: "This is a simple prompt for testing." });
    const uris = (await client.listResources()).resources.map((r) => r.uri);
    expect(uris).toContain("mcpgate://lib/test://static-text");
    const read = await client.readResource({ uri: "mcpgate://lib/test://static-text" });
    expect(read.contents[0]).toMatchObject({ uri: "mcpgate://lib/test://static-text", text: "This is the content of the static text resource." });
    expect((await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toContain("mcpgate://lib/test://template/{id}/data");
    const templated = await client.readResource({ uri: "mcpgate://lib/test://template/7/data" });
    expect(templated.contents[0]!.uri).toBe("mcpgate://lib/test://template/7/data");
    await client.close();
  });

  it("answers unknown prompts and resources with clear errors, never reaching an upstream with them", async () => {
    const p = await preset("plain");
    const session = await rawSession(p.url);
    const ask = (method: string, params: Record<string, unknown>) => mcpPost(p.url, { jsonrpc: "2.0", id: 5, method, params }, { sessionId: session });
    expect((await ask("prompts/get", { name: "nope" })).json.error).toMatchObject({ code: -32602, message: "Unknown prompt: nope" });
    expect((await ask("resources/read", { uri: "test://nothing-here" })).json.error).toMatchObject({ code: -32002, data: { uri: "test://nothing-here" } });
    expect((await ask("resources/read", {})).json.error.code).toBe(-32602);
    expect((await ask("completion/complete", { ref: { type: "ref/other" } })).json.error.code).toBe(-32602);
  });
});

describe("prompt and resource selection through a preset", () => {
  /** A preset of one conformance upstream `lib` (own counters in `scope`) with this prompt/resource selection. */
  async function selected(naming: PresetSpec["naming"], selection: Pick<PresetServer, "prompts" | "resources">) {
    const scope = unique("sel");
    return { ...(await givenPreset({ naming, servers: [{ name: "lib", url: upstreamUrl("conformance", scope), ...selection }] })), scope };
  }
  const refused = (code: number, text: string) => expect.objectContaining({ code, message: expect.stringContaining(text) });

  it("subscribes a new upstream session again to what clients still subscribe to after the old one was lost", async () => {
    const p = await selected("plain", {});
    const client = await connectClient(p.url);
    await client.subscribeResource({ uri: "test://watched-resource" });
    expect((await upstreamStats("conformance", p.scope)).requests["resources/subscribe"]).toBe(1);
    await expireUpstreamSessions("conformance", p.scope);
    // The next request finds the session gone (404), opens a new one, and the gateway subscribes it again.
    await client.callTool({ name: "test_simple_text", arguments: {} });
    await vi.waitFor(async () => expect((await upstreamStats("conformance", p.scope)).requests["resources/subscribe"]).toBe(2), EVENTUALLY);
    await client.close();
  });

  it("declares neither prompts, resources nor completions when the preset selects none of them", async () => {
    const p = await selected("plain", { prompts: [], resources: [] });
    const client = await connectClient(p.url);
    expect(client.getServerCapabilities()).toEqual({ tools: { listChanged: true }, logging: {} });
    await client.close();
    const onlyPrompts = await selected("plain", { resources: [] });
    const second = await connectClient(onlyPrompts.url);
    expect(second.getServerCapabilities()).toEqual({ tools: { listChanged: true }, prompts: { listChanged: true }, logging: {}, completions: {} });
    await second.close();
  });

  it("lists only the selected prompts and resources, and no template when none is selected (plain naming)", async () => {
    const p = await selected("plain", { prompts: ["test_simple_prompt"], resources: ["test://static-text", "test://not-listed"] });
    const client = await connectClient(p.url);
    expect((await client.listPrompts()).prompts.map((x) => x.name)).toEqual(["test_simple_prompt"]);
    expect((await client.listResources()).resources.map((r) => r.uri)).toEqual(["test://static-text"]);
    expect((await client.listResourceTemplates()).resourceTemplates).toEqual([]);
    expect((await client.getPrompt({ name: "test_simple_prompt" })).messages[0]!.content).toEqual({
      type: "text",
      text: "This is a simple prompt for testing.",
    });
    expect((await client.readResource({ uri: "test://static-text" })).contents[0]).toMatchObject({ text: "This is the content of the static text resource." });
    await client.close();
  });

  it("refuses unselected prompts and resources like unknown ones, without asking the upstream", async () => {
    const p = await selected("plain", { prompts: ["test_simple_prompt"], resources: ["test://static-text"] });
    const client = await connectClient(p.url);
    const before = (await upstreamStats("conformance", p.scope)).requests;
    await expect(client.getPrompt({ name: "test_prompt_with_arguments", arguments: { arg1: "a", arg2: "b" } })).rejects.toEqual(
      refused(-32602, "Unknown prompt: test_prompt_with_arguments"),
    );
    await expect(client.readResource({ uri: "test://static-binary" })).rejects.toEqual(refused(-32002, "Resource not found: test://static-binary"));
    await expect(client.readResource({ uri: "test://template/42/data" })).rejects.toEqual(refused(-32002, "Resource not found: test://template/42/data"));
    await expect(client.subscribeResource({ uri: "test://watched-resource" })).rejects.toEqual(refused(-32002, "Resource not found"));
    await expect(client.unsubscribeResource({ uri: "test://watched-resource" })).rejects.toEqual(refused(-32002, "Resource not found"));
    await expect(client.complete({ ref: { type: "ref/prompt", name: "test_prompt_with_arguments" }, argument: { name: "arg1", value: "pa" } })).rejects.toEqual(
      refused(-32602, "Unknown completion reference."),
    );
    await expect(client.complete({ ref: { type: "ref/resource", uri: "test://template/{id}/data" }, argument: { name: "id", value: "4" } })).rejects.toEqual(
      refused(-32602, "Unknown completion reference."),
    );
    const after = (await upstreamStats("conformance", p.scope)).requests;
    for (const method of ["prompts/get", "resources/read", "resources/subscribe", "resources/unsubscribe", "completion/complete"]) {
      expect(after[method] ?? 0, method).toBe(before[method] ?? 0);
    }
    await client.close();
  });

  it("admits reads of URIs matching a selected template, and lists the template and its completions", async () => {
    const p = await selected("plain", { resources: ["test://template/{id}/data"] });
    const client = await connectClient(p.url);
    expect((await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toEqual(["test://template/{id}/data"]);
    expect((await client.listResources()).resources).toEqual([]);
    const read = await client.readResource({ uri: "test://template/42/data" });
    expect(JSON.parse((read.contents[0] as { text: string }).text)).toMatchObject({ id: "42", templateTest: true });
    await expect(client.readResource({ uri: "test://static-text" })).rejects.toEqual(refused(-32002, "Resource not found: test://static-text"));
    const completion = await client.complete({ ref: { type: "ref/resource", uri: "test://template/{id}/data" }, argument: { name: "id", value: "4" } });
    expect(completion.completion.values).toEqual([]);
    // The PUT left prompts out, so every prompt stays exposed.
    expect((await client.listPrompts()).prompts.length).toBeGreaterThan(0);
    await client.close();
  });

  it("filters and routes by upstream names and URIs with prefixed naming", async () => {
    const p = await selected("prefixed", { prompts: ["test_prompt_with_arguments"], resources: ["test://template/{id}/data", "test://watched-resource"] });
    const client = await connectClient(p.url);
    expect((await client.listPrompts()).prompts.map((x) => x.name)).toEqual(["lib__test_prompt_with_arguments"]);
    expect((await client.listResources()).resources.map((r) => r.uri)).toEqual(["mcpgate://lib/test://watched-resource"]);
    expect((await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toEqual(["mcpgate://lib/test://template/{id}/data"]);
    const read = await client.readResource({ uri: "mcpgate://lib/test://template/7/data" });
    expect(read.contents[0]!.uri).toBe("mcpgate://lib/test://template/7/data");
    expect(await client.subscribeResource({ uri: "mcpgate://lib/test://watched-resource" })).toEqual({});
    const completion = await client.complete({ ref: { type: "ref/prompt", name: "lib__test_prompt_with_arguments" }, argument: { name: "arg1", value: "pa" } });
    expect(completion.completion.values).toEqual(["paris", "park", "party"]);
    await expect(client.getPrompt({ name: "lib__test_simple_prompt" })).rejects.toEqual(refused(-32602, "Unknown prompt: lib__test_simple_prompt"));
    await expect(client.readResource({ uri: "mcpgate://lib/test://static-text" })).rejects.toEqual(
      refused(-32002, "Resource not found: mcpgate://lib/test://static-text"),
    );
    await expect(client.readResource({ uri: "mcpgate://lib/test://template/7/data/more" })).rejects.toEqual(refused(-32002, "Resource not found"));
    await client.close();
  });

  it("applies a changed selection at once: null exposes everything again, [] hides every prompt", async () => {
    const p = await selected("prefixed", { prompts: ["test_simple_prompt"], resources: ["test://static-text"] });
    const first = await connectClient(p.url);
    expect((await first.listPrompts()).prompts).toHaveLength(1);
    await first.close();
    const res = await api("PUT", `/presets/${p.slug}/servers/lib`, { token: p.owner.token, body: { prompts: [], resources: null } });
    expect(res.status).toBe(200);
    const client = await connectClient(p.url);
    expect((await client.listPrompts()).prompts).toEqual([]);
    await expect(client.getPrompt({ name: "lib__test_simple_prompt" })).rejects.toEqual(refused(-32602, "Unknown prompt: lib__test_simple_prompt"));
    const uris = (await client.listResources()).resources.map((r) => r.uri);
    expect(uris).toEqual(
      expect.arrayContaining(["mcpgate://lib/test://static-text", "mcpgate://lib/test://static-binary", "mcpgate://lib/test://watched-resource"]),
    );
    expect((await client.readResource({ uri: "mcpgate://lib/test://static-binary" })).contents[0]).toMatchObject({ mimeType: "image/png" });
    await client.close();
  });

  it("routes a plain prompt name to the server that selects it when another server has it unselected", async () => {
    const [hidden, shown] = [unique("hid"), unique("shw")];
    const { url } = await givenPreset({
      naming: "plain",
      servers: [
        { name: "a", url: upstreamUrl("conformance", hidden), prompts: ["test_prompt_with_image"] },
        { name: "b", url: upstreamUrl("conformance", shown), tools: [], prompts: ["test_simple_prompt"] },
      ],
    });
    const client = await connectClient(url);
    expect((await client.listPrompts()).prompts.map((x) => x.name)).toEqual(["test_prompt_with_image", "test_simple_prompt"]);
    expect((await client.getPrompt({ name: "test_simple_prompt" })).messages).toHaveLength(1);
    expect((await upstreamStats("conformance", hidden)).requests["prompts/get"] ?? 0).toBe(0);
    expect((await upstreamStats("conformance", shown)).requests["prompts/get"]).toBe(1);
    await client.close();
  });
});
