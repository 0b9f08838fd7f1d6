import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { addPreset, addServer, api, attach, createUser, unique, upstreamUrl } from "../helpers";
import { expectError, expectInvalid } from "./expect-error";

const URL_A = "https://mcp.example.com/a";
const URL_B = "https://mcp.example.org/b";

describe("servers CRUD", () => {
  it("creates a server with 201, masking header values and defaulting timeoutMs to 30000", async () => {
    const user = await createUser();
    const res = await api("POST", "/servers", {
      token: user.token,
      body: { name: "alpha", url: URL_A, headers: { Authorization: "Bearer upstream-secret", "X-Api-Key": "k-123" } },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: "alpha",
      url: URL_A,
      headers: { Authorization: "********", "X-Api-Key": "********" },
      timeoutMs: 30_000,
    });
    expect(res.body.id).toMatch(/^srv_/);
    expect(res.body.createdAt).toBe(res.body.updatedAt);
    expect(JSON.stringify(res.body)).not.toContain("upstream-secret");
  });

  it("lists the user's servers by name and gets one by name, never showing header values", async () => {
    const user = await createUser();
    await addServer(user, "zeta", URL_A, { headers: { "X-Key": "zeta-secret" }, timeoutMs: 1500 });
    await addServer(user, "beta", URL_B);
    const list = await api("GET", "/servers", { token: user.token });
    expect(list.status).toBe(200);
    expect(list.body.servers.map((s: { name: string }) => s.name)).toEqual(["beta", "zeta"]);
    expect(JSON.stringify(list.body)).not.toContain("zeta-secret");
    const one = await api("GET", "/servers/zeta", { token: user.token });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ name: "zeta", url: URL_A, headers: { "X-Key": "********" }, timeoutMs: 1500 });
  });

  it("lets two users each have a server of the same name", async () => {
    const a = await createUser();
    const b = await createUser();
    await addServer(a, "same", URL_A);
    const res = await api("POST", "/servers", { token: b.token, body: { name: "same", url: URL_B } });
    expect(res.status).toBe(201);
    expect((await api("GET", "/servers/same", { token: a.token })).body.url).toBe(URL_A);
  });

  it("refuses a duplicate server name with 409 and keeps the original", async () => {
    const user = await createUser();
    await addServer(user, "dup", URL_A);
    const res = await api("POST", "/servers", { token: user.token, body: { name: "dup", url: URL_B } });
    expectError(res, 409, "conflict");
    expect(res.body.error.message).toContain("dup");
    const list = await api("GET", "/servers", { token: user.token });
    expect(list.body.servers).toHaveLength(1);
    expect(list.body.servers[0].url).toBe(URL_A);
  });

  it("PATCHes url, headers, timeoutMs and name, answering with the updated server", async () => {
    const user = await createUser();
    const created = await addServer(user, "old-name", URL_A, { headers: { "X-Old": "1" } });
    const res = await api("PATCH", "/servers/old-name", {
      token: user.token,
      body: { url: URL_B, headers: { Authorization: "Bearer new" }, timeoutMs: 2500, name: "new-name" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: created.id, name: "new-name", url: URL_B, headers: { Authorization: "********" }, timeoutMs: 2500 });
    expect(res.body.headers).not.toHaveProperty("X-Old");
    expect(Date.parse(res.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));
    expectError(await api("GET", "/servers/old-name", { token: user.token }), 404, "not_found");
    const after = await api("GET", "/servers/new-name", { token: user.token });
    expect(after.body).toMatchObject({ id: created.id, url: URL_B, timeoutMs: 2500, headers: { Authorization: "********" } });
  });

  it("PATCHes one field and leaves the others as they were", async () => {
    const user = await createUser();
    await addServer(user, "keep", URL_A, { headers: { "X-Keep": "v" }, timeoutMs: 4000 });
    const res = await api("PATCH", "/servers/keep", { token: user.token, body: { timeoutMs: 5000 } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: "keep", url: URL_A, headers: { "X-Keep": "********" }, timeoutMs: 5000 });
  });

  it("removes all headers when PATCHed with headers {}", async () => {
    const user = await createUser();
    const created = await addServer(user, "nohdr", URL_A, { headers: { "X-Key": "v" } });
    const res = await api("PATCH", "/servers/nohdr", { token: user.token, body: { headers: {} } });
    expect(res.status).toBe(200);
    expect(res.body.headers).toEqual({});
    const row = await env.DB.prepare("SELECT headers_enc, header_names FROM servers WHERE id = ?").bind(created.id).first();
    expect(row).toEqual({ headers_enc: null, header_names: "[]" });
  });

  it("refuses a PATCH rename onto another of the user's server names with 409 and changes nothing", async () => {
    const user = await createUser();
    await addServer(user, "one", URL_A);
    await addServer(user, "two", URL_B);
    expectError(await api("PATCH", "/servers/one", { token: user.token, body: { name: "two", timeoutMs: 999 } }), 409, "conflict");
    expect((await api("GET", "/servers/one", { token: user.token })).body).toMatchObject({ url: URL_A, timeoutMs: 30_000 });
    expect((await api("GET", "/servers/two", { token: user.token })).body.url).toBe(URL_B);
  });

  it("deletes a server with 204, after which it is gone", async () => {
    const user = await createUser();
    await addServer(user, "gone", URL_A);
    const res = await api("DELETE", "/servers/gone", { token: user.token });
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
    expectError(await api("GET", "/servers/gone", { token: user.token }), 404, "not_found");
    expect((await api("GET", "/servers", { token: user.token })).body.servers).toEqual([]);
    expectError(await api("DELETE", "/servers/gone", { token: user.token }), 404, "not_found");
  });

  it("refuses to delete a server still attached to a preset with 409 naming the preset", async () => {
    const user = await createUser();
    await addServer(user, "busy", URL_A);
    const slug = unique("uses-busy");
    await addPreset(user, slug);
    await attach(user, slug, "busy");
    const res = await api("DELETE", "/servers/busy", { token: user.token });
    expectError(res, 409, "conflict");
    expect(res.body.error.message).toContain(slug);
    expect((await api("GET", "/servers/busy", { token: user.token })).status).toBe(200);
    expect((await api("DELETE", `/presets/${slug}/servers/busy`, { token: user.token })).status).toBe(204);
    expect((await api("DELETE", "/servers/busy", { token: user.token })).status).toBe(204);
  });

  it("answers 404 for an unknown server name on GET, PATCH, DELETE and tools", async () => {
    const user = await createUser();
    expectError(await api("GET", "/servers/nope", { token: user.token }), 404, "not_found");
    expectError(await api("PATCH", "/servers/nope", { token: user.token, body: { timeoutMs: 1000 } }), 404, "not_found");
    expectError(await api("DELETE", "/servers/nope", { token: user.token }), 404, "not_found");
    expectError(await api("GET", "/servers/nope/tools", { token: user.token }), 404, "not_found");
  });

  it("rejects an invalid server name in the path with 400 naming name", async () => {
    const user = await createUser();
    expectInvalid(await api("GET", "/servers/Bad__Name", { token: user.token }), "name");
  });
});

describe("GET /servers/:name/tools", () => {
  it("returns the upstream's live tool list", async () => {
    const user = await createUser();
    await addServer(user, "alpha", upstreamUrl("alpha"));
    const res = await api("GET", "/servers/alpha/tools", { token: user.token });
    expect(res.status).toBe(200);
    expect(res.body.server).toBe("alpha");
    const names = res.body.tools.map((t: { name: string }) => t.name);
    expect(names).toEqual(expect.arrayContaining(["echo", "add", "shared", "whoami"]));
    const echo = res.body.tools.find((t: { name: string }) => t.name === "echo");
    expect(echo.description).toBe("Returns the text it is given");
    expect(echo.inputSchema).toMatchObject({ type: "object", properties: { text: { type: "string" } } });
  });

  it("returns a different upstream's tools for a different server", async () => {
    const user = await createUser();
    await addServer(user, "beta", upstreamUrl("beta"));
    const names = (await api("GET", "/servers/beta/tools", { token: user.token })).body.tools.map((t: { name: string }) => t.name);
    expect(names).toContain("reverse");
    expect(names).not.toContain("echo");
  });

  it("answers 502 with an upstream_* code when the upstream is unreachable", async () => {
    const user = await createUser();
    await addServer(user, "dead", env.DEAD_UPSTREAM);
    const res = await api("GET", "/servers/dead/tools", { token: user.token });
    expect(res.status).toBe(502);
    expect(res.body.error.code).toMatch(/^upstream_/);
  });
});
