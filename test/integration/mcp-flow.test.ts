import { describe, expect, it } from "vitest";
import { addPreset, addServer, attach, connectClient, createUser, presetUrl, unique, upstreamUrl } from "../helpers";

describe("a preset as a virtual MCP server", () => {
  it("lists exactly the selected tools of two upstreams and calls each", async () => {
    const owner = await createUser();
    await addServer(owner, "alpha", upstreamUrl("alpha"));
    await addServer(owner, "beta", upstreamUrl("beta"));
    const slug = unique("p");
    await addPreset(owner, slug);
    await attach(owner, slug, "alpha", ["echo", "add", "shared"]);
    await attach(owner, slug, "beta", null);

    const client = await connectClient(presetUrl(owner.handle, slug));
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      ["alpha__add", "alpha__echo", "alpha__shared", "beta__grow", "beta__reverse", "beta__shared"].sort(),
    );
    const echo = await client.callTool({ name: "alpha__echo", arguments: { text: "hello" } });
    expect(echo.content).toEqual([{ type: "text", text: "hello" }]);
    const reversed = await client.callTool({ name: "beta__reverse", arguments: { text: "abc" } });
    expect(reversed.content).toEqual([{ type: "text", text: "cba" }]);
    await client.close();
  });
});
