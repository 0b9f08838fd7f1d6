import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, unique, upstreamUrl } from "../helpers";
import { selectionsOf } from "./selections";

/** One owner's whole story through the management API, in order, as a newcomer would run it. */
describe("the whole owner flow", () => {
  it("goes from a new user to a shared preset and back to nothing, auditing each change", async () => {
    const handle = unique("flow");
    const made = await api("POST", "/users", { token: env.ADMIN_TOKEN, body: { handle, email: `${handle}@example.com` } });
    expect(made.status).toBe(201);
    let token: string = made.body.token;
    expect(token.startsWith("mcpg_")).toBe(true);
    expect((await api("GET", "/me", { token })).body.user).toEqual(made.body.user);

    // Swap the first token for a named one; the old one stops working at once.
    const cli = await api("POST", "/tokens", { token, body: { name: "cli" } });
    expect(cli.status).toBe(201);
    const listed = (await api("GET", "/tokens", { token: cli.body.token })).body.tokens;
    const first = listed.find((t: { name: string }) => t.name === "default");
    expect((await api("DELETE", `/tokens/${first.id}`, { token: cli.body.token })).status).toBe(204);
    expect((await api("GET", "/me", { token })).status).toBe(401);
    token = cli.body.token;

    const server = await api("POST", "/servers", { token, body: { name: "alpha", url: upstreamUrl("alpha"), headers: { "X-Api-Key": "k" } } });
    expect(server.status).toBe(201);
    expect(server.body.headers).toEqual({ "X-Api-Key": "********" });
    const tools = await api("GET", "/servers/alpha/tools", { token });
    expect(tools.body.tools.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(["echo", "add"]));

    const preset = await api("POST", "/presets", { token, body: { slug: "daily", name: "Daily", visibility: "invite_only" } });
    expect(preset.status).toBe(201);
    expect(preset.body.url).toBe(`http://gateway.test/mcp/${handle}/daily`);
    expect((await api("PUT", "/presets/daily/servers/alpha", { token, body: { tools: ["echo", "add"] } })).status).toBe(201);
    expect((await api("PUT", "/presets/daily/servers/alpha", { token, body: { tools: ["echo"] } })).status).toBe(200);
    expect(selectionsOf((await api("GET", "/presets/daily", { token })).body.servers)).toEqual([
      { name: "alpha", serverId: server.body.id, enabled: true, tools: ["echo"] },
    ]);

    const friendHandle = unique("friend");
    await api("POST", "/users", { token: env.ADMIN_TOKEN, body: { handle: friendHandle } });
    expect((await api("POST", "/presets/daily/members", { token, body: { handle: friendHandle } })).status).toBe(201);
    expect((await api("GET", "/presets/daily/members", { token })).body.members.map((m: { handle: string }) => m.handle)).toEqual([friendHandle]);
    expect((await api("DELETE", `/presets/daily/members/${friendHandle}`, { token })).status).toBe(204);

    expect((await api("DELETE", "/servers/alpha", { token })).status).toBe(409);
    expect((await api("DELETE", "/presets/daily/servers/alpha", { token })).status).toBe(204);
    expect((await api("PATCH", "/presets/daily", { token, body: { status: "archived" } })).body.status).toBe("archived");

    const events = (await api("GET", "/presets/daily/events", { token })).body.events;
    expect(events.map((e: { type: string }) => e.type)).toEqual([
      "preset.updated",
      "server.detached",
      "member.removed",
      "member.added",
      "tools.changed",
      "server.attached",
      "preset.created",
    ]);
    expect(new Set(events.map((e: { actor: { handle: string } }) => e.actor.handle))).toEqual(new Set([handle]));

    expect((await api("DELETE", "/presets/daily", { token })).status).toBe(204);
    expect((await api("DELETE", "/servers/alpha", { token })).status).toBe(204);
    expect((await api("GET", "/presets", { token })).body.presets).toEqual([]);
    expect((await api("GET", "/servers", { token })).body.servers).toEqual([]);
  });
});
