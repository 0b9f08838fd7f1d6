import { describe, expect, it } from "vitest";
import { api, givenPreset, type TestUser, upstreamUrl } from "../helpers";
import { expectError, expectInvalid } from "./expect-error";
import { selectionsOf } from "./selections";

/** An owner with servers alpha and beta registered and a preset `kit` with nothing attached. */
async function ownerWithPreset(): Promise<{ user: TestUser; alpha: { id: string }; beta: { id: string } }> {
  const { owner, servers } = await givenPreset({
    slug: "kit",
    servers: [
      { name: "alpha", url: upstreamUrl("alpha"), attach: false },
      { name: "beta", url: upstreamUrl("beta"), attach: false },
    ],
  });
  return { user: owner, alpha: servers.alpha, beta: servers.beta };
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

describe("selecting prompts and resources of an attached server", () => {
  const itemsOf = (body: { servers: { name: string; prompts: string[] | null; resources: string[] | null }[] }) =>
    body.servers.map(({ name, prompts, resources }) => ({ name, prompts, resources }));
  const items = async (user: TestUser) => itemsOf((await api("GET", "/presets/kit", { token: user.token })).body);
  const events = async (user: TestUser) => (await api("GET", "/presets/kit/events", { token: user.token })).body.events as { type: string; payload: any }[];
  /** Event types, sorted: events of one millisecond have no set order. */
  const eventTypes = async (user: TestUser) => (await events(user)).map((e) => e.type).sort();

  it("exposes every prompt and resource by default (null), and shows a selection in the preset", async () => {
    const { user } = await ownerWithPreset();
    const res = await put(user, "alpha", {});
    expect(res.status).toBe(201);
    expect(itemsOf(res.body)).toEqual([{ name: "alpha", prompts: null, resources: null }]);
    const changed = await put(user, "alpha", { prompts: ["greet"], resources: ["file:///a.md", "db://users/{id}"] });
    expect(changed.status).toBe(200);
    expect(itemsOf(changed.body)).toEqual([{ name: "alpha", prompts: ["greet"], resources: ["file:///a.md", "db://users/{id}"] }]);
    expect(await items(user)).toEqual([{ name: "alpha", prompts: ["greet"], resources: ["file:///a.md", "db://users/{id}"] }]);
  });

  it("keeps prompts and resources a PUT leaves out, and resets each to all with null", async () => {
    const { user, alpha } = await ownerWithPreset();
    await put(user, "alpha", { tools: ["echo"], prompts: ["greet"], resources: ["file:///a.md"] });
    expect((await put(user, "alpha", { enabled: false, tools: null })).status).toBe(200);
    expect(await items(user)).toEqual([{ name: "alpha", prompts: ["greet"], resources: ["file:///a.md"] }]);
    expect(await selections(user)).toEqual([{ name: "alpha", serverId: alpha.id, enabled: false, tools: null }]);
    await put(user, "alpha", { prompts: null });
    expect(await items(user)).toEqual([{ name: "alpha", prompts: null, resources: ["file:///a.md"] }]);
    await put(user, "alpha", { resources: null, prompts: [] });
    expect(await items(user)).toEqual([{ name: "alpha", prompts: [], resources: null }]);
  });

  it("records prompts and resources in server.attached and, before and after, in tools.changed", async () => {
    const { user } = await ownerWithPreset();
    await put(user, "alpha", { prompts: ["greet"] });
    await put(user, "alpha", { resources: ["db://users/{id}"] });
    const all = await events(user);
    const attached = all.find((e) => e.type === "server.attached");
    const changed = all.find((e) => e.type === "tools.changed");
    expect(attached).toMatchObject({ type: "server.attached", payload: { server: "alpha", tools: null, prompts: ["greet"], resources: null } });
    expect(changed).toMatchObject({
      type: "tools.changed",
      payload: {
        server: "alpha",
        before: { tools: null, prompts: ["greet"], resources: null, enabled: true },
        after: { tools: null, prompts: ["greet"], resources: ["db://users/{id}"], enabled: true },
      },
    });
  });

  it("records no tools.changed event for a PUT that repeats the current prompt and resource selection", async () => {
    const { user } = await ownerWithPreset();
    await put(user, "alpha", { prompts: ["greet"], resources: ["file:///a.md"] });
    expect((await put(user, "alpha", { prompts: ["greet"], resources: ["file:///a.md"] })).status).toBe(200);
    expect(await eventTypes(user)).toEqual(["preset.created", "server.attached"]);
  });

  const badBodies: [string, Record<string, unknown>, string][] = [
    ["prompts that is not an array", { prompts: "greet" }, "prompts"],
    ["a prompt listed twice", { prompts: ["greet", "greet"] }, "prompts"],
    ["an empty prompt name", { prompts: ["greet", ""] }, "prompts.1"],
    ["a prompt name that is not a string", { prompts: [7] }, "prompts.0"],
    ["more than 1000 prompts", { prompts: Array.from({ length: 1001 }, (_, i) => `p${i}`) }, "prompts"],
    ["resources that is not an array", { resources: { uri: "file:///a.md" } }, "resources"],
    ["a resource listed twice", { resources: ["db://users/{id}", "db://users/{id}"] }, "resources"],
    ["an empty resource", { resources: [""] }, "resources.0"],
    ["a resource over 2048 characters", { resources: [`file:///${"a".repeat(2048)}`] }, "resources.0"],
  ];
  for (const [what, body, field] of badBodies) {
    it(`rejects ${what} with 400 naming ${field} and attaches nothing`, async () => {
      const { user } = await ownerWithPreset();
      expectInvalid(await put(user, "alpha", body), field);
      expect(await items(user)).toEqual([]);
    });
  }

  it("rejects a bad prompt or resource selection on an existing attachment and keeps the old one, recording nothing", async () => {
    const { user } = await ownerWithPreset();
    await put(user, "alpha", { prompts: ["greet"], resources: ["file:///a.md"] });
    expectInvalid(await put(user, "alpha", { prompts: ["x", "x"], resources: null }), "prompts");
    expectInvalid(await put(user, "alpha", { prompts: null, resources: [""] }), "resources.0");
    expect(await items(user)).toEqual([{ name: "alpha", prompts: ["greet"], resources: ["file:///a.md"] }]);
    expect(await eventTypes(user)).toEqual(["preset.created", "server.attached"]);
  });
});
