/**
 * An upstream session declares what its clients declared, and what an upstream asks outside a call
 * reaches the client that owns the session (issue 14), through the real worker to real SDK
 * upstreams (test/fixtures/session-upstreams.mjs): `stateful` lists `summarize` only to clients
 * that declared sampling and asks roots/list on its standalone stream right after initialize;
 * `json-asker` (SDK v2, JSON responses) sends its elicitation and sampling during a call on its
 * standalone stream, not on the call's reply.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it, vi } from "vitest";
import { connectClient, EVENTUALLY, givenPreset, textOf, unique, upstreamUrl } from "../helpers";

type Scope = "shared" | "per-caller" | "per-session";

async function presetOver(name: "stateful" | "json-asker", sessionScope?: Scope) {
  const scope = unique(name);
  // Tools these upstreams add at run time (or offer only to some clients) are exposed as they come: tool-pinning.test.ts holds them.
  return givenPreset({
    newTools: "expose",
    servers: [{ name: name.replace("-", "_"), url: upstreamUrl(name, scope), tools: null, ...(sessionScope ? { sessionScope } : {}) }],
  });
}

const toolNames = async (client: Client) => (await client.listTools()).tools.map((t) => t.name);

function answersSampling(client: Client, reply: string): void {
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: "assistant", content: { type: "text", text: reply }, model: "test-model" }));
}

function answersRoots(client: Client, uri: string): void {
  client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri, name: "workspace" }] }));
}

describe("capability profiles", () => {
  it("shows a sampling-gated tool only to a client that declared sampling, and it works for that client", async () => {
    const { url } = await presetOver("stateful");
    const plain = await connectClient(url);
    const sampler = await connectClient(url, { capabilities: { sampling: {} } });
    answersSampling(sampler, "a short summary");
    expect(await toolNames(plain)).not.toContain("stateful__summarize");
    expect(await toolNames(sampler)).toContain("stateful__summarize");
    const result = await sampler.callTool({ name: "stateful__summarize", arguments: { text: "a long text" } });
    expect(textOf(result)).toContain("a short summary");
    // The client without sampling cannot reach it either: the gateway does not know it for that client.
    await expect(plain.callTool({ name: "stateful__summarize", arguments: { text: "x" } })).rejects.toThrow(/Unknown tool|not found/i);
    await plain.close();
    await sampler.close();
  });

  it("keeps two clients' upstream state apart per session, and shares it under shared", async () => {
    for (const [scope, shared] of [
      ["per-session", false],
      ["shared", true],
    ] as const) {
      const { url } = await presetOver("stateful", scope);
      const a = await connectClient(url);
      const b = await connectClient(url);
      await a.callTool({ name: "stateful__remember", arguments: { text: `note of a (${scope})` } });
      const seenByB = JSON.parse(textOf(await b.callTool({ name: "stateful__recall", arguments: {} }))) as { notes: string[] };
      const seenByA = JSON.parse(textOf(await a.callTool({ name: "stateful__recall", arguments: {} }))) as { notes: string[] };
      expect(seenByA.notes).toEqual([`note of a (${scope})`]);
      expect(seenByB.notes).toEqual(shared ? [`note of a (${scope})`] : []);
      await a.close();
      await b.close();
    }
  });
});

describe("upstream requests outside a call", () => {
  it("relays the roots/list an upstream sends right after initialize to the client that owns the session, each client its own", async () => {
    const { url } = await presetOver("stateful");
    const first = await connectClient(url, { capabilities: { roots: {} } });
    answersRoots(first, "file:///home/first");
    const second = await connectClient(url, { capabilities: { roots: {} } });
    answersRoots(second, "file:///home/second");
    // The upstream session opens with the client's first request; its roots/list arrives on its own stream.
    for (const [client, uri] of [
      [first, "file:///home/first"],
      [second, "file:///home/second"],
    ] as const) {
      await vi.waitFor(async () => {
        const seen = JSON.parse(textOf(await client.callTool({ name: "stateful__roots_seen", arguments: {} })));
        expect(seen).toEqual({ status: "answered", roots: [{ uri, name: "workspace" }] });
      }, EVENTUALLY);
    }
    await first.close();
    await second.close();
  });

  it("refuses them on a shared upstream session, which no single client owns, saying so", async () => {
    const { url } = await presetOver("stateful", "shared");
    const client = await connectClient(url, { capabilities: { roots: {} } });
    answersRoots(client, "file:///home/nobody");
    await vi.waitFor(async () => {
      const seen = JSON.parse(textOf(await client.callTool({ name: "stateful__roots_seen", arguments: {} })));
      expect(seen.status).toBe("failed");
      expect(seen.error).toMatch(/shares this upstream session between clients/);
    }, EVENTUALLY);
    await client.close();
  });

  it("relays the elicitation and sampling an SDK v2 upstream answering in JSON sends during a call on its standalone stream", async () => {
    const { url } = await presetOver("json-asker");
    const client = await connectClient(url, { capabilities: { elicitation: {}, sampling: {} } });
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { name: "Ada" } }));
    answersSampling(client, "sampled by the client");
    const named = await client.callTool({ name: "json_asker__ask_name", arguments: {} });
    expect(textOf(named)).toContain("Ada");
    const sampled = await client.callTool({ name: "json_asker__ask_model", arguments: {} });
    expect(textOf(sampled)).toContain("sampled by the client");
    await client.close();
  });
});
