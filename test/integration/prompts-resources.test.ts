import { describe, expect, it } from "vitest";
import { addPreset, addServer, attach, connectClient, createUser, mcpPost, presetUrl, rawSession, unique, upstreamUrl } from "../helpers";

async function preset(toolNaming: "prefixed" | "plain", description?: string) {
  const owner = await createUser();
  await addServer(owner, "lib", upstreamUrl("conformance"));
  await addServer(owner, "alpha", upstreamUrl("alpha"));
  const slug = unique("p");
  await addPreset(owner, slug, "public", { toolNaming, ...(description ? { description } : {}) });
  await attach(owner, slug, "lib", null);
  return { owner, slug, url: presetUrl(owner.handle, slug) };
}

describe("prompts, resources and completions through a preset", () => {
  it("declares the capabilities its upstreams have and merges their instructions after the preset's description", async () => {
    const p = await preset("plain", "Research tools for the team.");
    const client = await connectClient(p.url);
    expect(client.getServerCapabilities()).toMatchObject({ tools: {}, prompts: {}, resources: { subscribe: true }, logging: {}, completions: {} });
    const instructions = client.getInstructions()!;
    expect(instructions.startsWith("Research tools for the team.")).toBe(true);
    expect(instructions).toContain("## lib\nImplements what the MCP conformance suite expects");
    await client.close();
  });

  it("declares only tools for a preset whose upstreams have nothing else", async () => {
    const owner = await createUser();
    await addServer(owner, "alpha", upstreamUrl("alpha"));
    const slug = unique("p");
    await addPreset(owner, slug);
    await attach(owner, slug, "alpha", ["echo"]);
    const client = await connectClient(presetUrl(owner.handle, slug));
    expect(client.getServerCapabilities()).toEqual({ tools: {} });
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
