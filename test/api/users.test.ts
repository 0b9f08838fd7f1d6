import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, createUser, unique } from "../helpers";
import { expectError, expectInvalid } from "./expect-error";

const admin = () => env.ADMIN_TOKEN;

async function usersWithHandle(handle: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM users WHERE handle = ?").bind(handle).first<{ n: number }>();
  return row?.n ?? -1;
}

describe("POST /users", () => {
  it("creates a user with 201 and returns the user and a first mcpg_ token once", async () => {
    const handle = unique("owner");
    const res = await api("POST", "/users", { token: admin(), body: { handle, email: `${handle}@example.com` } });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(["token", "user"]);
    expect(Object.keys(res.body.user).sort()).toEqual(["createdAt", "email", "handle", "id"]);
    expect(res.body.user).toMatchObject({ handle, email: `${handle}@example.com` });
    expect(res.body.user.id).toMatch(/^usr_/);
    expect(new Date(res.body.user.createdAt).toISOString()).toBe(res.body.user.createdAt);
    expect(res.body.token).toMatch(/^mcpg_[0-9a-z]{40}$/);
  });

  it("stores a missing email as null", async () => {
    const res = await api("POST", "/users", { token: admin(), body: { handle: unique("noemail") } });
    expect(res.status).toBe(201);
    expect(res.body.user.email).toBeNull();
  });

  it("refuses a handle that is taken with 409 and creates nothing", async () => {
    const user = await createUser();
    const res = await api("POST", "/users", { token: admin(), body: { handle: user.handle } });
    expectError(res, 409, "conflict");
    expect(res.body.error.message).toContain(user.handle);
    expect(await usersWithHandle(user.handle)).toBe(1);
  });

  const badHandles: [string, string][] = [
    ["too short (2 characters)", "ab"],
    ["too long (40 characters)", "a".repeat(40)],
    ["uppercase", "Owner-abc"],
    ["a leading hyphen", "-owner"],
    ["a trailing hyphen", "owner-"],
    ["an underscore", "own_er"],
    ["a space", "own er"],
  ];
  for (const [what, handle] of badHandles) {
    it(`rejects a handle with ${what} with 400 naming handle and creates no user`, async () => {
      const res = await api("POST", "/users", { token: admin(), body: { handle } });
      expectInvalid(res, "handle");
      expect(await usersWithHandle(handle)).toBe(0);
    });
  }

  it("accepts a handle of exactly 3 and of exactly 39 characters", async () => {
    const base = crypto.randomUUID().replace(/-/g, "");
    for (const handle of [base.slice(0, 3), base.slice(0, 32) + "x".repeat(7)]) {
      const res = await api("POST", "/users", { token: admin(), body: { handle } });
      expect({ handle, status: res.status }).toEqual({ handle, status: 201 });
    }
  });

  it("rejects a missing handle with 400 naming handle", async () => {
    expectInvalid(await api("POST", "/users", { token: admin(), body: {} }), "handle");
  });

  it("rejects an invalid email with 400 naming email and creates no user", async () => {
    const handle = unique("bademail");
    const res = await api("POST", "/users", { token: admin(), body: { handle, email: "not-an-email" } });
    expectInvalid(res, "email");
    expect(await usersWithHandle(handle)).toBe(0);
  });

  it("rejects an unknown field with 400 unknown_field naming it", async () => {
    const handle = unique("extra");
    const res = await api("POST", "/users", { token: admin(), body: { handle, role: "admin" } });
    expectError(res, 400, "unknown_field", "role");
    expect(await usersWithHandle(handle)).toBe(0);
  });

  it("refuses a user's API token with 403", async () => {
    const user = await createUser();
    const handle = unique("byuser");
    const res = await api("POST", "/users", { token: user.token, body: { handle } });
    expectError(res, 403, "forbidden");
    expect(await usersWithHandle(handle)).toBe(0);
  });

  it("refuses a request without a token with 401", async () => {
    const handle = unique("anon");
    expectError(await api("POST", "/users", { body: { handle } }), 401, "unauthorized");
    expect(await usersWithHandle(handle)).toBe(0);
  });

  it("checks the token before the body: an invalid body without a token is 401, not 400", async () => {
    expectError(await api("POST", "/users", { body: { handle: "X" } }), 401, "unauthorized");
  });
});

describe("GET /me", () => {
  it("returns the user the token belongs to", async () => {
    const user = await createUser();
    const res = await api("GET", "/me", { token: user.token });
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ id: user.id, handle: user.handle, email: null });
  });

  it("answers 401 without a token", async () => {
    expectError(await api("GET", "/me"), 401, "unauthorized");
  });

  it("answers 401 to a malformed token and to a well-formed token that was never issued", async () => {
    expectError(await api("GET", "/me", { token: "nonsense" }), 401, "unauthorized");
    expectError(await api("GET", "/me", { token: `mcpg_${"0".repeat(40)}` }), 401, "unauthorized");
  });

  it("answers 401 to a non-Bearer Authorization scheme even with a valid token", async () => {
    const user = await createUser();
    const res = await api("GET", "/me", { headers: { authorization: `Basic ${user.token}` } });
    expectError(res, 401, "unauthorized");
  });

  it("answers 403 to the admin token, which only creates users", async () => {
    expectError(await api("GET", "/me", { token: admin() }), 403, "forbidden");
  });
});

describe("unknown API paths", () => {
  it("answer 404 not_found as JSON", async () => {
    const res = await api("GET", "/nothing-here", { token: admin() });
    expectError(res, 404, "not_found");
  });
});
