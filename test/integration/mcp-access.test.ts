import { env, evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { presetStub } from "../../src/edge/preset-stub";
import { addPreset, api, connectClient, createUser, givenPreset, type PresetSpec, presetUrl, type TestUser, unique, upstreamUrl } from "../helpers";
import { deleteSession, INIT, mcpPost, rawSession } from "../mcp-raw";
import { closeIdleUpstreams } from "../preset-object";

/** A preset exposing alpha's echo, with one member; and a stranger, who is neither owner nor member. */
async function presetWith(visibility: PresetSpec["visibility"]) {
  const member = await createUser();
  const stranger = await createUser();
  const p = await givenPreset({ visibility, servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }], members: [member] });
  return { ...p, member, stranger };
}

/** HTTP status of an initialize by `user` (or anonymous). */
async function initStatus(url: string, user?: TestUser) {
  const res = await mcpPost(url, INIT(), { token: user?.token });
  return { status: res.status, res };
}

describe("who may use a preset", () => {
  it.each([
    ["public", { none: 200, stranger: 200, member: 200, owner: 200 }],
    ["private", { none: 401, stranger: 403, member: 403, owner: 200 }],
    ["invite_only", { none: 401, stranger: 403, member: 200, owner: 200 }],
  ] as const)("applies %s visibility to no token, a stranger, a member and the owner", async (visibility, expected) => {
    const p = await presetWith(visibility);
    const got = {
      none: (await initStatus(p.url)).status,
      stranger: (await initStatus(p.url, p.stranger)).status,
      member: (await initStatus(p.url, p.member)).status,
      owner: (await initStatus(p.url, p.owner)).status,
    };
    expect(got).toEqual(expected);
  });

  it("answers 401 with a WWW-Authenticate Bearer challenge and a JSON-RPC error body", async () => {
    const p = await presetWith("private");
    const { res } = await initStatus(p.url);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect(res.json).toMatchObject({ jsonrpc: "2.0", id: 1, error: { code: -32003 } });
  });

  it("refuses a bad token with 401 even on a public preset", async () => {
    const p = await presetWith("public");
    const res = await mcpPost(p.url, INIT(), { token: `mcpg_${"x".repeat(40)}` });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("lets a member of an invite-only preset call tools through the SDK client", async () => {
    const p = await presetWith("invite_only");
    const client = await connectClient(p.url, { token: p.member.token });
    expect((await client.callTool({ name: "alpha__echo", arguments: { text: "hi" } })).content).toEqual([{ type: "text", text: "hi" }]);
    await client.close();
  });

  it("cuts off a removed member at their next request, even inside an open session", async () => {
    const p = await presetWith("invite_only");
    const session = await rawSession(p.url, p.member.token);
    const call = { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "alpha__echo", arguments: { text: "a" } } };
    expect((await mcpPost(p.url, call, { token: p.member.token, sessionId: session })).status).toBe(200);
    expect((await api("DELETE", `/presets/${p.slug}/members/${p.member.handle}`, { token: p.owner.token })).status).toBe(204);
    expect((await mcpPost(p.url, call, { token: p.member.token, sessionId: session })).status).toBe(403);
  });

  it("stops accepting a revoked API token at once", async () => {
    const p = await presetWith("private");
    const created = await api("POST", "/tokens", { token: p.owner.token, body: { name: "laptop" } });
    expect((await initStatus(p.url, { ...p.owner, token: created.body.token })).status).toBe(200);
    expect((await api("DELETE", `/tokens/${created.body.id}`, { token: p.owner.token })).status).toBe(204);
    expect((await initStatus(p.url, { ...p.owner, token: created.body.token })).status).toBe(401);
  });

  it("makes a preset private at once when its visibility changes", async () => {
    const p = await presetWith("public");
    expect((await initStatus(p.url)).status).toBe(200);
    await api("PATCH", `/presets/${p.slug}`, { token: p.owner.token, body: { visibility: "private" } });
    expect((await initStatus(p.url)).status).toBe(401);
  });

  it.each(["disabled", "archived"])("answers 404 to MCP clients for a %s preset", async (status) => {
    const p = await presetWith("public");
    const patched = await api("PATCH", `/presets/${p.slug}`, { token: p.owner.token, body: { status } });
    expect(patched.status).toBe(200);
    const { res } = await initStatus(p.url, p.owner);
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe(-32004);
  });

  it("answers 404 for an unknown user, an unknown slug, a deleted preset and malformed path segments", async () => {
    const p = await presetWith("public");
    expect((await initStatus(presetUrl(unique("nobody"), p.slug))).status).toBe(404);
    expect((await initStatus(presetUrl(p.owner.handle, unique("nothing")))).status).toBe(404);
    expect((await initStatus(presetUrl("UPPER", "x_y"))).status).toBe(404);
    expect((await api("DELETE", `/presets/${p.slug}`, { token: p.owner.token })).status).toBe(204);
    expect((await initStatus(p.url)).status).toBe(404);
  });
});

describe("MCP sessions", () => {
  it("issues a session id at initialize and requires it afterwards", async () => {
    const p = await presetWith("public");
    const init = await mcpPost(p.url, INIT());
    expect(init.status).toBe(200);
    const session = init.headers.get("mcp-session-id");
    expect(session).toMatch(/^[\x21-\x7e]{16,}$/);
    const list = { jsonrpc: "2.0", id: 2, method: "tools/list" };
    const missing = await mcpPost(p.url, list);
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toMatch(/Mcp-Session-Id/);
    const unknown = await mcpPost(p.url, list, { sessionId: "no-such-session" });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ id: 2, error: { code: -32001 } });
    const ok = await mcpPost(p.url, list, { sessionId: session! });
    expect(ok.status).toBe(200);
    expect(ok.json.result.tools.map((t: { name: string }) => t.name)).toEqual(["alpha__echo"]);
  });

  it("ends a session on DELETE; the id then gets 404", async () => {
    const p = await presetWith("public");
    const session = await rawSession(p.url);
    expect(await deleteSession(p.url, { sessionId: session })).toBe(204);
    const after = await mcpPost(p.url, { jsonrpc: "2.0", id: 3, method: "ping" }, { sessionId: session });
    expect(after.status).toBe(404);
    expect(await deleteSession(p.url, { sessionId: session })).toBe(404);
  });

  it("binds a session to the caller who opened it", async () => {
    const p = await presetWith("invite_only");
    const session = await rawSession(p.url, p.member.token);
    const ping = { jsonrpc: "2.0", id: 9, method: "ping" };
    expect((await mcpPost(p.url, ping, { token: p.member.token, sessionId: session })).status).toBe(200);
    expect((await mcpPost(p.url, ping, { token: p.owner.token, sessionId: session })).status).toBe(404);
  });

  it("keeps sessions and the tool catalog across an eviction of the preset's Durable Object", async () => {
    const p = await presetWith("public");
    const session = await rawSession(p.url);
    const list = { jsonrpc: "2.0", id: 4, method: "tools/list" };
    const before = await mcpPost(p.url, list, { sessionId: session });
    const stub = presetStub(env, p.owner.handle, p.slug);
    // An open upstream session keeps the object busy; closing it when idle is what lets it go.
    await closeIdleUpstreams(stub);
    await evictDurableObject(stub);
    expect((await mcpPost(p.url, list, { sessionId: session })).json).toEqual(before.json);
    const call = { jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "alpha__echo", arguments: { text: "after" } } };
    const res = await mcpPost(p.url, call, { sessionId: session });
    expect(res.status).toBe(200);
    expect(res.json.result.content).toEqual([{ type: "text", text: "after" }]);
  });

  it("forgets the sessions of a deleted preset when one with the same slug is created again", async () => {
    const p = await presetWith("public");
    const session = await rawSession(p.url);
    await api("DELETE", `/presets/${p.slug}`, { token: p.owner.token });
    await addPreset(p.owner, p.slug);
    const res = await mcpPost(p.url, { jsonrpc: "2.0", id: 1, method: "ping" }, { sessionId: session });
    expect(res.status).toBe(404);
  });
});
