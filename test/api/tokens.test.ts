import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, createUser, givenPreset } from "../helpers";
import { INIT, mcpPost } from "../mcp-raw";
import { expectError, expectInvalid } from "./expect-error";

async function sha256Hex(s: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("API tokens", () => {
  it("creates a token with 201 that authenticates as the same user", async () => {
    const user = await createUser();
    const res = await api("POST", "/tokens", { token: user.token, body: { name: "ci" } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: "ci" });
    expect(res.body.id).toMatch(/^tok_/);
    expect(res.body.token).toMatch(/^mcpg_[0-9a-z]{40}$/);
    expect(res.body.token).not.toBe(user.token);
    const me = await api("GET", "/me", { token: res.body.token });
    expect(me.status).toBe(200);
    expect(me.body.user.id).toBe(user.id);
  });

  it("lists the user's tokens newest first, with prefixes but never a secret", async () => {
    const user = await createUser();
    const second = (await api("POST", "/tokens", { token: user.token, body: { name: "laptop" } })).body;
    const res = await api("GET", "/tokens", { token: user.token });
    expect(res.status).toBe(200);
    expect(res.body.tokens.map((t: { name: string }) => t.name)).toEqual(["laptop", "default"]);
    for (const t of res.body.tokens) {
      expect(Object.keys(t).sort()).toEqual(["createdAt", "id", "lastUsedAt", "name", "prefix", "scope"]);
      for (const value of Object.values(t)) {
        expect(value).not.toBe(user.token);
        expect(value).not.toBe(second.token);
      }
    }
    const laptop = res.body.tokens.find((t: { id: string }) => t.id === second.id);
    expect(second.token.startsWith(laptop.prefix)).toBe(true);
    expect(laptop.prefix.length).toBeLessThan(second.token.length - 20);
    expect(JSON.stringify(res.body)).not.toContain(second.token.slice(12));
  });

  it("records when a token was last used", async () => {
    const user = await createUser();
    const before = await api("GET", "/me", { token: user.token });
    expect(before.status).toBe(200);
    // The update runs in waitUntil, off the response path: poll briefly instead of sleeping.
    let used: { lastUsedAt: string | null } | undefined;
    for (let i = 0; i < 20 && !used?.lastUsedAt; i++) {
      const res = await api("GET", "/tokens", { token: user.token });
      used = res.body.tokens.find((t: { name: string }) => t.name === "default");
    }
    expect(used?.lastUsedAt).toBeTruthy();
    expect(Number.isNaN(Date.parse(used!.lastUsedAt!))).toBe(false);
  });

  it("revokes a token with 204 and the revoked token gets 401 at once", async () => {
    const user = await createUser();
    const made = (await api("POST", "/tokens", { token: user.token, body: { name: "temp" } })).body;
    expect((await api("GET", "/me", { token: made.token })).status).toBe(200);
    const del = await api("DELETE", `/tokens/${made.id}`, { token: user.token });
    expect(del.status).toBe(204);
    expect(del.body).toBeNull();
    expectError(await api("GET", "/me", { token: made.token }), 401, "unauthorized");
    const list = await api("GET", "/tokens", { token: user.token });
    expect(list.body.tokens.map((t: { id: string }) => t.id)).not.toContain(made.id);
    expect((await api("GET", "/me", { token: user.token })).status).toBe(200);
  });

  it("lets a token revoke itself, after which it gets 401", async () => {
    const user = await createUser();
    const list = await api("GET", "/tokens", { token: user.token });
    const own = list.body.tokens[0];
    expect((await api("DELETE", `/tokens/${own.id}`, { token: user.token })).status).toBe(204);
    expectError(await api("GET", "/tokens", { token: user.token }), 401, "unauthorized");
  });

  it("answers 404 to revoking an unknown token id, and to revoking it twice", async () => {
    const user = await createUser();
    expectError(await api("DELETE", "/tokens/tok_doesnotexist", { token: user.token }), 404, "not_found");
    const made = (await api("POST", "/tokens", { token: user.token, body: { name: "twice" } })).body;
    expect((await api("DELETE", `/tokens/${made.id}`, { token: user.token })).status).toBe(204);
    expectError(await api("DELETE", `/tokens/${made.id}`, { token: user.token }), 404, "not_found");
  });

  for (const [what, name] of [
    ["empty", ""],
    ["blank", "   "],
    ["65 characters long", "n".repeat(65)],
  ] as const) {
    it(`rejects a token name that is ${what} with 400 naming name and creates no token`, async () => {
      const user = await createUser();
      expectInvalid(await api("POST", "/tokens", { token: user.token, body: { name } }), "name");
      expect((await api("GET", "/tokens", { token: user.token })).body.tokens).toHaveLength(1);
    });
  }

  it("rejects a missing token name with 400 naming name", async () => {
    const user = await createUser();
    expectInvalid(await api("POST", "/tokens", { token: user.token, body: {} }), "name");
  });

  it("refuses the admin token on token routes with 403", async () => {
    expectError(await api("GET", "/tokens", { token: env.ADMIN_TOKEN }), 403, "forbidden");
    expectError(await api("POST", "/tokens", { token: env.ADMIN_TOKEN, body: { name: "x" } }), 403, "forbidden");
  });

  it("stores tokens only as SHA-256 hashes: no api_tokens row contains a token", async () => {
    const user = await createUser();
    const extra = (await api("POST", "/tokens", { token: user.token, body: { name: "hashed" } })).body.token as string;
    const { results } = await env.DB.prepare("SELECT * FROM api_tokens WHERE user_id = ?").bind(user.id).all<Record<string, unknown>>();
    expect(results).toHaveLength(2);
    const dump = JSON.stringify(results);
    for (const secret of [user.token, extra]) {
      expect(dump).not.toContain(secret);
      expect(dump).not.toContain(secret.slice(5));
    }
    const hashes = results.map((r) => r.token_hash).sort();
    expect(hashes).toEqual([await sha256Hex(user.token), await sha256Hex(extra)].sort());
  });
});

describe("API token scopes", () => {
  const mcpToken = async (user: { token: string }) => {
    const res = await api("POST", "/tokens", { token: user.token, body: { name: "editor", scope: "mcp" } });
    expect(res.status).toBe(201);
    expect(res.body.scope).toBe("mcp");
    return res.body as { id: string; token: string };
  };

  it("gives a token scope manage by default, and lists every token's scope", async () => {
    const user = await createUser();
    const made = await api("POST", "/tokens", { token: user.token, body: { name: "ci" } });
    expect(made.body.scope).toBe("manage");
    await mcpToken(user);
    const scopes = (await api("GET", "/tokens", { token: user.token })).body.tokens.map((t: { name: string; scope: string }) => [t.name, t.scope]);
    expect(scopes).toEqual([
      ["editor", "mcp"],
      ["ci", "manage"],
      ["default", "manage"],
    ]);
  });

  it("refuses an mcp-scoped token on every management route with 403 insufficient_scope, and it changes nothing", async () => {
    const user = await createUser();
    const { token } = await mcpToken(user);
    for (const [method, path, body] of [
      ["GET", "/me", undefined],
      ["GET", "/servers", undefined],
      ["POST", "/servers", { name: "harvest", url: "https://evil.example.com/mcp" }],
      ["POST", "/tokens", { name: "escalate", scope: "manage" }],
      ["GET", "/tokens", undefined],
      ["GET", "/events", undefined],
    ] as const) {
      const res = await api(method, path, { token, body });
      expectError(res, 403, "insufficient_scope");
      expect(res.body.error.message).toMatch(/scope 'mcp'.*MCP endpoints/);
    }
    expect((await api("GET", "/servers", { token: user.token })).body.servers).toEqual([]);
    expect((await api("GET", "/tokens", { token: user.token })).body.tokens).toHaveLength(2);
  });

  it("lets an mcp-scoped token into the owner's private preset over MCP", async () => {
    const { owner, url } = await givenPreset({ visibility: "private" });
    const { token } = await mcpToken(owner);
    const reply = await mcpPost(url, INIT(), { token });
    expect(reply.status).toBe(200);
    expect(reply.json.result.protocolVersion).toBeTruthy();
  });

  it("rejects an unknown scope with 400 naming scope", async () => {
    const user = await createUser();
    expectInvalid(await api("POST", "/tokens", { token: user.token, body: { name: "x", scope: "admin" } }), "scope");
    expect((await api("GET", "/tokens", { token: user.token })).body.tokens).toHaveLength(1);
  });

  it("records the scope in the token.created event", async () => {
    const user = await createUser();
    const made = await mcpToken(user);
    const events = (await api("GET", "/events?type=token.created", { token: user.token })).body.events;
    expect(events[0]).toMatchObject({ type: "token.created", payload: { tokenId: made.id, scope: "mcp" } });
  });
});
