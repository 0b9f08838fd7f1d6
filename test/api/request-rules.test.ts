import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { addPreset, api, createUser, ORIGIN, type TestUser } from "../helpers";
import { expectError } from "./expect-error";

const serverNames = async (user: TestUser) => (await api("GET", "/servers", { token: user.token })).body.servers.map((s: { name: string }) => s.name);

describe("request body rules", () => {
  it("refuses a body that is not Content-Type: application/json with 415 and creates nothing", async () => {
    const user = await createUser();
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/jsonp"]) {
      const res = await api("POST", "/servers", {
        token: user.token,
        body: JSON.stringify({ name: "typed", url: "https://mcp.example.com/mcp" }),
        headers: { "content-type": type },
      });
      expect({ type, status: res.status, code: res.body.error.code }).toEqual({ type, status: 415, code: "unsupported_media_type" });
    }
    expect(await serverNames(user)).toEqual([]);
  });

  it("accepts application/json with a charset parameter", async () => {
    const user = await createUser();
    const res = await api("POST", "/servers", {
      token: user.token,
      body: { name: "charset", url: "https://mcp.example.com/mcp" },
      headers: { "content-type": "application/json; charset=utf-8" },
    });
    expect(res.status).toBe(201);
  });

  it("refuses a body that is not valid JSON with 400 invalid_json and creates nothing", async () => {
    const user = await createUser();
    const res = await api("POST", "/servers", { token: user.token, body: '{"name": "broken", "url": ' });
    expectError(res, 400, "invalid_json");
    expect(await serverNames(user)).toEqual([]);
  });

  it("refuses a JSON body that is not an object with 400 naming body", async () => {
    const user = await createUser();
    const res = await api("POST", "/presets", { token: user.token, body: "[]" });
    expectError(res, 400, "invalid_field", "body");
  });

  it("refuses a body over 64 KiB with 413 before parsing it, and creates nothing", async () => {
    const user = await createUser();
    const body = JSON.stringify({ slug: "huge", name: "x", visibility: "public", description: "d".repeat(64 * 1024) });
    const res = await api("POST", "/presets", { token: user.token, body });
    expectError(res, 413, "body_too_large");
    expectError(await api("GET", "/presets/huge", { token: user.token }), 404, "not_found");
  });

  it("refuses an oversized streamed body without a Content-Length with 413", async () => {
    const user = await createUser();
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 6) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await SELF.fetch(`${ORIGIN}/api/v1/presets`, {
      method: "POST",
      headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
      body: stream,
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("body_too_large");
  });

  it("accepts a body just under 64 KiB (the limit is not lower than documented)", async () => {
    const user = await createUser();
    await addPreset(user, "big-ok");
    const body = JSON.stringify({ name: "renamed" }).padEnd(64 * 1024 - 16, " ");
    const res = await api("PATCH", "/presets/big-ok", { token: user.token, body });
    expect(res.status).toBe(200);
    expect(res.body.name).toBe("renamed");
  });
});

describe("authentication and authorisation", () => {
  const userRoutes: [string, string, unknown?][] = [
    ["GET", "/me"],
    ["GET", "/tokens"],
    ["POST", "/tokens", { name: "x" }],
    ["GET", "/servers"],
    ["POST", "/servers", { name: "x", url: "https://mcp.example.com/mcp" }],
    ["GET", "/presets"],
    ["POST", "/presets", { slug: "abc", name: "x", visibility: "public" }],
    ["PUT", "/presets/abc/servers/x", {}],
    ["GET", "/presets/abc/events"],
  ];
  for (const [method, path, body] of userRoutes) {
    it(`answers 401 without a token, 401 with a bad token and 403 with the admin token on ${method} ${path}`, async () => {
      const opts = body !== undefined ? { body } : {};
      expectError(await api(method, path, opts), 401, "unauthorized");
      expectError(await api(method, path, { ...opts, token: "mcpg_notarealtoken" }), 401, "unauthorized");
      expectError(await api(method, path, { ...opts, token: `mcpg_${"z".repeat(40)}` }), 401, "unauthorized");
      expectError(await api(method, path, { ...opts, token: env.ADMIN_TOKEN }), 403, "forbidden");
    });
  }

  it("checks auth before the Content-Type: a wrong type without a token is 401", async () => {
    const res = await api("POST", "/presets", { body: "x", headers: { "content-type": "text/plain" } });
    expectError(res, 401, "unauthorized");
  });

  it("does not let a missing token create anything", async () => {
    const user = await createUser();
    await addPreset(user, "mine");
    expectError(await api("DELETE", "/presets/mine"), 401, "unauthorized");
    expect((await api("GET", "/presets/mine", { token: user.token })).status).toBe(200);
  });
});
