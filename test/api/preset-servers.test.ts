import { describe, expect, it } from "vitest";
import { addPreset, addServer, api, createUser, type TestUser, upstreamUrl } from "../helpers";
import { expectError, expectInvalid } from "./expect-error";
import { selectionsOf } from "./selections";

async function ownerWithPreset(): Promise<{ user: TestUser; alpha: { id: string }; beta: { id: string } }> {
  const user = await createUser();
  const alpha = await addServer(user, "alpha", upstreamUrl("alpha"));
  const beta = await addServer(user, "beta", upstreamUrl("beta"));
  await addPreset(user, "kit");
  return { user, alpha, beta };
}

const put = (user: TestUser, path: string, body: unknown) => api("PUT", `/presets/kit/servers/${path}`, { token: user.token, body });
const selections = async (user: TestUser) => selectionsOf((await api("GET", "/presets/kit", { token: user.token })).body.servers);

describe("attaching servers to presets", () => {
  it("attaches with 201 the first time, exposing every tool (tools:null) and enabled by default", async () => {
    const { user, alpha } = await ownerWithPreset();
    const res = await put(user, "alpha", {});
    expect(res.status).toBe(201);
    expect(selectionsOf(res.body.servers)).toEqual([{ name: "alpha", serverId: alpha.id, enabled: true, tools: null }]);
    expect(await selections(user)).toEqual([{ name: "alpha", serverId: alpha.id, enabled: true, tools: null }]);
  });

  it("answers 200 when changing an attachment, keeping what the body leaves out", async () => {
    const { user, alpha } = await ownerWithPreset();
    expect((await put(user, "alpha", { tools: ["echo", "add"] })).status).toBe(201);
    const changed = await put(user, "alpha", { enabled: false });
    expect(changed.status).toBe(200);
    expect(selectionsOf(changed.body.servers)).toEqual([{ name: "alpha", serverId: alpha.id, enabled: false, tools: ["echo", "add"] }]);
    const back = await put(user, "alpha", { tools: null, enabled: true });
    expect(back.status).toBe(200);
    expect(await selections(user)).toEqual([{ name: "alpha", serverId: alpha.id, enabled: true, tools: null }]);
  });

  it("answers 200 to a PUT that repeats the current selection", async () => {
    const { user } = await ownerWithPreset();
    await put(user, "alpha", { tools: ["echo"] });
    const res = await put(user, "alpha", { tools: ["echo"] });
    expect(res.status).toBe(200);
    expect(res.body.servers[0].tools).toEqual(["echo"]);
  });

  it("shows every attached server with its own selection in GET /presets/:slug, by name", async () => {
    const { user, alpha, beta } = await ownerWithPreset();
    await put(user, "beta", { tools: ["reverse"], enabled: false });
    await put(user, "alpha", { tools: [] });
    expect(await selections(user)).toEqual([
      { name: "alpha", serverId: alpha.id, enabled: true, tools: [] },
      { name: "beta", serverId: beta.id, enabled: false, tools: ["reverse"] },
    ]);
    const listed = (await api("GET", "/presets", { token: user.token })).body.presets;
    expect(listed[0].servers.map((s: { name: string }) => s.name)).toEqual(["alpha", "beta"]);
  });

  it("shows a renamed server under its new name in the preset", async () => {
    const { user, alpha } = await ownerWithPreset();
    await put(user, "alpha", {});
    await api("PATCH", "/servers/alpha", { token: user.token, body: { name: "alpha2" } });
    expect(await selections(user)).toEqual([{ name: "alpha2", serverId: alpha.id, enabled: true, tools: null }]);
  });

  it("detaches with 204, then answers 404 to detaching again", async () => {
    const { user } = await ownerWithPreset();
    await put(user, "alpha", {});
    await put(user, "beta", {});
    const res = await api("DELETE", "/presets/kit/servers/alpha", { token: user.token });
    expect(res.status).toBe(204);
    expect((await selections(user)).map((s: { name: string }) => s.name)).toEqual(["beta"]);
    expectError(await api("DELETE", "/presets/kit/servers/alpha", { token: user.token }), 404, "not_found");
    expect((await api("GET", "/servers/alpha", { token: user.token })).status).toBe(200);
  });

  it("answers 404 to attaching an unknown server or to an unknown preset", async () => {
    const { user } = await ownerWithPreset();
    expectError(await put(user, "ghost", {}), 404, "not_found");
    expectError(await api("PUT", "/presets/no-such/servers/alpha", { token: user.token, body: {} }), 404, "not_found");
    expectError(await api("DELETE", "/presets/no-such/servers/alpha", { token: user.token }), 404, "not_found");
    expect(await selections(user)).toEqual([]);
  });

  const badBodies: [string, Record<string, unknown>, string][] = [
    ["tools that is not an array", { tools: "echo" }, "tools"],
    ["a tool listed twice", { tools: ["echo", "add", "echo"] }, "tools"],
    ["an empty tool name", { tools: [""] }, "tools.0"],
    ["enabled that is not a boolean", { enabled: "yes" }, "enabled"],
  ];
  for (const [what, body, field] of badBodies) {
    it(`rejects ${what} with 400 naming ${field} and attaches nothing`, async () => {
      const { user } = await ownerWithPreset();
      expectInvalid(await put(user, "alpha", body), field);
      expect(await selections(user)).toEqual([]);
    });
  }

  it("rejects a bad selection on an existing attachment and keeps the old one", async () => {
    const { user, alpha } = await ownerWithPreset();
    await put(user, "alpha", { tools: ["echo"] });
    expectInvalid(await put(user, "alpha", { tools: ["add", "add"] }), "tools");
    expect(await selections(user)).toEqual([{ name: "alpha", serverId: alpha.id, enabled: true, tools: ["echo"] }]);
  });

  it("rejects an unknown field in the attach body with 400 unknown_field", async () => {
    const { user } = await ownerWithPreset();
    expectError(await put(user, "alpha", { tool: ["echo"] }), 400, "unknown_field", "tool");
    expect(await selections(user)).toEqual([]);
  });

  it("requires a JSON body on PUT: none at all is 415", async () => {
    const { user } = await ownerWithPreset();
    expectError(await api("PUT", "/presets/kit/servers/alpha", { token: user.token }), 415, "unsupported_media_type");
    expect(await selections(user)).toEqual([]);
  });
});
