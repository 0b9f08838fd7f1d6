import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { addServer, api, createUser, type TestUser, unique, upstreamStats, upstreamUrl } from "../helpers";

/**
 * The same fixture upstream under another origin: the fixtures listen on 127.0.0.1, which
 * `localhost` also reaches, so a URL on `localhost` is a different origin served by the same
 * process, and its `/__stats` show what arrived there.
 */
function otherOrigin(url: string): string {
  const u = new URL(url);
  expect(u.hostname).toBe("127.0.0.1");
  u.hostname = "localhost";
  return u.toString();
}

const serverRow = (id: string) =>
  env.DB.prepare("SELECT headers_enc, header_names FROM servers WHERE id = ?").bind(id).first<{ headers_enc: string | null; header_names: string }>();

async function serverEvents(user: TestUser) {
  const res = await api("GET", "/events?type=server.*", { token: user.token });
  expect(res.status).toBe(200);
  return res.body.events as { type: string; target: string; payload: Record<string, unknown> }[];
}

describe("a server's stored headers and a change of origin", () => {
  it("does not send the stored Authorization to a new origin after a PATCH of url alone, and says it dropped the headers", async () => {
    const user = await createUser();
    const [home, away] = [unique("home"), unique("away")];
    const secret = `Bearer sk-${crypto.randomUUID()}`;
    const created = await addServer(user, "vault", upstreamUrl("alpha", home), { headers: { Authorization: secret, "X-Api-Key": "k-1" } });

    const patched = await api("PATCH", "/servers/vault", { token: user.token, body: { url: otherOrigin(upstreamUrl("alpha", away)) } });
    expect(patched.status).toBe(200);
    expect(patched.headers.get("mcpgate-dropped-headers")).toBe("Authorization, X-Api-Key");
    expect(patched.body.droppedHeaders).toEqual(["Authorization", "X-Api-Key"]);
    expect(patched.body.headers).toEqual({});
    expect(await serverRow(created.id)).toEqual({ headers_enc: null, header_names: "[]" });

    const tools = await api("GET", "/servers/vault/tools", { token: user.token });
    expect(tools.status).toBe(200);
    const arrived = (await upstreamStats("alpha", away)).lastHeaders;
    expect(arrived).not.toBeNull();
    expect(arrived?.authorization).toBeUndefined();
    expect(arrived?.["x-api-key"]).toBeUndefined();
    expect(JSON.stringify(arrived)).not.toContain(secret);
  });

  it("sends the headers supplied in the same PATCH to the new origin", async () => {
    const user = await createUser();
    const away = unique("away");
    await addServer(user, "vault", upstreamUrl("alpha", unique("home")), { headers: { Authorization: "Bearer old" } });
    const patched = await api("PATCH", "/servers/vault", {
      token: user.token,
      body: { url: otherOrigin(upstreamUrl("alpha", away)), headers: { Authorization: "Bearer for-the-new-origin" } },
    });
    expect(patched.status).toBe(200);
    expect(patched.headers.get("mcpgate-dropped-headers")).toBeNull();
    expect(patched.body.droppedHeaders).toBeUndefined();
    expect((await api("GET", "/servers/vault/tools", { token: user.token })).status).toBe(200);
    expect((await upstreamStats("alpha", away)).lastHeaders?.authorization).toBe("Bearer for-the-new-origin");
  });

  it("keeps the stored headers when the url moves to another path on the same origin", async () => {
    const user = await createUser();
    const away = unique("same-origin");
    await addServer(user, "vault", upstreamUrl("alpha", unique("home")), { headers: { Authorization: "Bearer kept" } });
    const patched = await api("PATCH", "/servers/vault", { token: user.token, body: { url: upstreamUrl("alpha", away) } });
    expect(patched.status).toBe(200);
    expect(patched.body.headers).toEqual({ Authorization: "********" });
    expect(patched.headers.get("mcpgate-dropped-headers")).toBeNull();
    expect((await api("GET", "/servers/vault/tools", { token: user.token })).status).toBe(200);
    expect((await upstreamStats("alpha", away)).lastHeaders?.authorization).toBe("Bearer kept");
  });

  it("keeps the stored headers on a PATCH that does not touch the url", async () => {
    const user = await createUser();
    const created = await addServer(user, "vault", "https://mcp.example.com/mcp", { headers: { "X-Api-Key": "k" } });
    const patched = await api("PATCH", "/servers/vault", { token: user.token, body: { timeoutMs: 5000, name: "vault-2" } });
    expect(patched.status).toBe(200);
    expect(patched.body.headers).toEqual({ "X-Api-Key": "********" });
    expect((await serverRow(created.id))?.headers_enc).toMatch(/^v1\./);
  });
});

describe("server audit events", () => {
  it("records server.created, server.updated and server.deleted with origins and header names, never a header value", async () => {
    const user = await createUser();
    const secret = `sk-${crypto.randomUUID()}`;
    const created = await addServer(user, "vault", "https://mcp.example.com/mcp", { headers: { Authorization: `Bearer ${secret}` } });
    expect((await api("PATCH", "/servers/vault", { token: user.token, body: { url: "https://other.example.net/mcp" } })).status).toBe(200);
    expect((await api("DELETE", "/servers/vault", { token: user.token })).status).toBe(204);

    const events = await serverEvents(user);
    expect(JSON.stringify(events)).not.toContain(secret);
    expect(events.map((e) => e.type)).toEqual(["server.deleted", "server.updated", "server.created"]);
    const [deleted, updated, made] = events;
    expect(made).toMatchObject({
      target: "vault",
      payload: { serverId: created.id, name: "vault", origin: "https://mcp.example.com", headerNames: ["Authorization"] },
    });
    expect(updated).toMatchObject({
      target: "vault",
      payload: {
        serverId: created.id,
        origin: "https://other.example.net",
        previousOrigin: "https://mcp.example.com",
        changed: ["url", "headers"],
        droppedHeaders: ["Authorization"],
        headerNames: [],
      },
    });
    expect(deleted).toMatchObject({ target: "vault", payload: { serverId: created.id, origin: "https://other.example.net", headerNames: [] } });
  });

  it("records no event for a refused change", async () => {
    const user = await createUser();
    await addServer(user, "vault", "https://mcp.example.com/mcp");
    expect((await api("PATCH", "/servers/vault", { token: user.token, body: { url: "https://10.0.0.1/mcp" } })).status).toBe(400);
    expect((await serverEvents(user)).map((e) => e.type)).toEqual(["server.created"]);
  });
});
