import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  type LoggingMessageNotification,
  type Progress,
} from "@modelcontextprotocol/sdk/types.js";
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { addPreset, addServer, attach, createUser, presetUrl, unique, upstreamUrl } from "../helpers";

async function conformancePreset() {
  const owner = await createUser();
  await addServer(owner, "lib", upstreamUrl("conformance"));
  const slug = unique("p");
  await addPreset(owner, slug, "public", { toolNaming: "plain" });
  await attach(owner, slug, "lib", null);
  return presetUrl(owner.handle, slug);
}

async function connect(url: string, capabilities: Record<string, unknown> = {}): Promise<Client> {
  const client = new Client({ name: "streaming-test", version: "1.0.0" }, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch: (input, init) => SELF.fetch(input as string, init) });
  await client.connect(transport);
  return client;
}

describe("streaming through a preset", () => {
  it("relays progress notifications to the client's progress callback, with its own token", async () => {
    const client = await connect(await conformancePreset());
    const seen: Progress[] = [];
    const result = await client.callTool({ name: "test_tool_with_progress", arguments: {} }, undefined, { onprogress: (p) => seen.push(p) });
    expect(result.isError).toBeFalsy();
    expect(seen.map((p) => p.progress)).toEqual([0, 50, 100]);
    expect(seen[0]).toMatchObject({ total: 100, message: "0%" });
    await client.close();
  });

  it("relays a sampling request to the client that declared sampling, and its answer back upstream", async () => {
    const client = await connect(await conformancePreset(), { sampling: {} });
    const asked: unknown[] = [];
    client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
      asked.push(req.params);
      return { role: "assistant", content: { type: "text", text: "sampled answer" }, model: "test-model" };
    });
    const result = await client.callTool({ name: "test_sampling", arguments: { prompt: "hello there" } });
    expect(asked).toHaveLength(1);
    expect(JSON.stringify(result.content)).toContain("sampled answer");
    await client.close();
  });

  it("relays elicitation and its answer", async () => {
    const client = await connect(await conformancePreset(), { elicitation: {} });
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { username: "ada", email: "ada@example.com" } }));
    const result = await client.callTool({ name: "test_elicitation", arguments: { message: "who are you?" } });
    expect(JSON.stringify(result.content)).toContain("ada");
    await client.close();
  });

  it("relays log messages of a call", async () => {
    const client = await connect(await conformancePreset());
    const logs: LoggingMessageNotification["params"][] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => {
      logs.push(n.params);
    });
    await client.setLoggingLevel("debug");
    await client.callTool({ name: "test_tool_with_logging", arguments: {} });
    expect(logs.length).toBeGreaterThan(0);
    await client.close();
  });
});
