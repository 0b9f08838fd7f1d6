import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, connectClient, createUser, upstreamUrl } from "../helpers";
import { expectError, expectInvalid } from "./expect-error";

const DEMO_URL = "http://gateway.test/mcp/demo/starter";

const seed = (body: unknown, token: string = env.ADMIN_TOKEN) => api("POST", "/admin/demo", { token, body });

describe("POST /api/v1/admin/demo", () => {
  // First in the file, so on a fresh database the seeds race to create the demo user.
  it("answers concurrent seeds all with 200, exactly one of them creating the demo", async () => {
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => seed({ upstreamUrl: upstreamUrl("alpha") })));
    expect(results.map((r) => (r.status === 200 ? 200 : `${r.status} ${r.body.error?.message}`))).toEqual([200, 200, 200, 200, 200]);
    expect(results.filter((r) => r.body.created).length).toBeLessThanOrEqual(1);
    expect(new Set(results.map((r) => r.body.user.id)).size).toBe(1);
  });

  it("seeds demo/starter idempotently: a second call creates nothing and returns no token", async () => {
    const first = await seed({ upstreamUrl: upstreamUrl("alpha") });
    expect(first.status).toBe(200);
    expect(first.body.user.handle).toBe("demo");
    expect(first.body.preset).toEqual({ url: DEMO_URL });
    // Another test file may have seeded already, so only a fresh seed hands out a token.
    if (first.body.created) expect(first.body.token).toMatch(/^mcpg_/);
    else expect(first.body).not.toHaveProperty("token");

    const second = await seed({ upstreamUrl: upstreamUrl("alpha") });
    expect(second.status).toBe(200);
    expect(second.body.created).toBe(false);
    expect(second.body).not.toHaveProperty("token");
    expect(second.body.user).toEqual(first.body.user);
    expect(second.body.preset).toEqual({ url: DEMO_URL });
  });

  it("serves the seeded preset over MCP: tools are prefixed demo__ and demo__echo answers", async () => {
    expect((await seed({ upstreamUrl: upstreamUrl("alpha") })).status).toBe(200);
    const client = await connectClient(DEMO_URL);
    try {
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      expect(names.length).toBeGreaterThan(0);
      expect(names.every((n) => n.startsWith("demo__"))).toBe(true);
      expect(names).toEqual(expect.arrayContaining(["demo__echo", "demo__add"]));
      const echo = await client.callTool({ name: "demo__echo", arguments: { text: "hello demo" } });
      expect(echo.content).toEqual([{ type: "text", text: "hello demo" }]);
    } finally {
      await client.close();
    }
  });

  it("seeds one public preset with the demo server attached, recorded in the database", async () => {
    await seed({ upstreamUrl: upstreamUrl("alpha") });
    const row = await env.DB.prepare(
      `SELECT p.visibility, p.status, s.name AS server, s.url, ps.tools FROM presets p
         JOIN users u ON u.id = p.owner_id JOIN preset_servers ps ON ps.preset_id = p.id JOIN servers s ON s.id = ps.server_id
        WHERE u.handle = 'demo' AND p.slug = 'starter'`,
    ).all();
    expect(row.results).toEqual([{ visibility: "public", status: "active", server: "demo", url: upstreamUrl("alpha"), tools: null }]);
  });

  it("refuses a user's token with 403 and no token with 401", async () => {
    const user = await createUser();
    expectError(await seed({ upstreamUrl: upstreamUrl("alpha") }, user.token), 403, "forbidden");
    expectError(await api("POST", "/admin/demo", { body: { upstreamUrl: upstreamUrl("alpha") } }), 401, "unauthorized");
  });

  for (const [what, upstream] of [
    ["not a URL", "not a url"],
    ["a private address", "https://10.0.0.1/mcp"],
    ["plain http on a public host", "http://example.com/mcp"],
  ] as const) {
    it(`rejects an upstreamUrl that is ${what} with 400 naming upstreamUrl and leaves the demo server alone`, async () => {
      await seed({ upstreamUrl: upstreamUrl("alpha") });
      expectInvalid(await seed({ upstreamUrl: upstream }), "upstreamUrl");
      const row = await env.DB.prepare("SELECT s.url FROM servers s JOIN users u ON u.id = s.owner_id WHERE u.handle = 'demo' AND s.name = 'demo'").first<{
        url: string;
      }>();
      expect(row?.url).toBe(upstreamUrl("alpha"));
    });
  }

  it("rejects a missing upstreamUrl or an unknown field with 400", async () => {
    expectInvalid(await seed({}), "upstreamUrl");
    expectError(await seed({ upstreamUrl: upstreamUrl("alpha"), handle: "x" }), 400, "unknown_field", "handle");
  });
});
