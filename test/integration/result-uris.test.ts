import { Client as ModernClient, StreamableHTTPClientTransport as ModernTransport } from "@modelcontextprotocol/client";
import { describe, expect, it } from "vitest";
import { connectClient, givenPreset, type PresetSpec, unique, upstreamUrl } from "../helpers";
import { fetchFor, MODERN_VERSION } from "../mcp-raw";

/** A public preset of the `links` fixture as server `lib`, with this naming and resource selection. */
const preset = (naming: PresetSpec["naming"], resources: string[] | null = null) =>
  givenPreset({ naming, servers: [{ name: "lib", url: upstreamUrl("links", unique("links")), tools: null, resources }] });

async function modernClient(url: string): Promise<ModernClient> {
  const client = new ModernClient({ name: "mcpgate-modern-test", version: "1.0.0" }, { versionNegotiation: { mode: { pin: MODERN_VERSION } } });
  await client.connect(new ModernTransport(new URL(url), { fetch: fetchFor(url) }));
  return client;
}

/** What the two eras' clients have in common here. */
type Reader = {
  callTool(p: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
  readResource(p: { uri: string }): Promise<{ contents: unknown[] }>;
  close(): Promise<void>;
};

const textRead = async (client: Reader, uri: string) => (await client.readResource({ uri })).contents[0] as { uri: string; text: string };

describe("resource URIs in tools/call results", () => {
  for (const era of ["legacy", "modern"] as const) {
    it(`exposes link and embedded-resource URIs in the form resources/read routes back, leaving structuredContent alone (${era} client)`, async () => {
      const p = await preset("prefixed");
      const client: Reader = era === "legacy" ? await connectClient(p.url) : ((await modernClient(p.url)) as unknown as Reader);
      const result = (await client.callTool({ name: "lib__links", arguments: {} })) as { content: any[]; structuredContent: unknown };
      expect(result.content).toEqual([
        { type: "resource_link", uri: "mcpgate://lib/doc://readme", name: "readme", mimeType: "text/plain" },
        { type: "resource", resource: { uri: "mcpgate://lib/doc://pages/2", mimeType: "text/plain", text: "page 2" } },
        { type: "resource_link", uri: "mcpgate://lib/https://example.com/elsewhere", name: "elsewhere" },
        { type: "text", text: "doc://readme" },
      ]);
      expect(result.structuredContent).toEqual({ uri: "doc://readme" });
      expect(await textRead(client, result.content[0].uri)).toEqual({ uri: "mcpgate://lib/doc://readme", mimeType: "text/plain", text: "the readme" });
      expect(await textRead(client, result.content[1].resource.uri)).toMatchObject({ uri: "mcpgate://lib/doc://pages/2", text: "page 2" });
      await client.close();
    });
  }

  it("wraps only URIs the server's resource selection admits; others stay as the upstream wrote them", async () => {
    const p = await preset("prefixed", ["doc://readme"]);
    const client = await connectClient(p.url);
    const result = (await client.callTool({ name: "lib__links", arguments: {} })) as { content: any[] };
    expect(result.content.slice(0, 3).map((c) => c.uri ?? c.resource.uri)).toEqual([
      "mcpgate://lib/doc://readme",
      "doc://pages/2",
      "https://example.com/elsewhere",
    ]);
    expect((await textRead(client, result.content[0].uri)).text).toBe("the readme");
    await client.close();
  });

  it("keeps every URI with plain naming, and those read back as they are", async () => {
    const p = await preset("plain");
    const client = await connectClient(p.url);
    const result = (await client.callTool({ name: "links", arguments: {} })) as { content: any[] };
    expect(result.content[0].uri).toBe("doc://readme");
    expect((await textRead(client, result.content[1].resource.uri)).text).toBe("page 2");
    await client.close();
  });
});
