import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { api, createUser, givenPreset, type TestUser, upstreamUrl } from "../helpers";
import { expectError } from "./expect-error";
import { selectionsOf } from "./selections";

/**
 * User A owns a server, a preset with it attached, a member and a second token; user B holds a
 * valid token of their own. Every management route must treat A's things as absent for B.
 */
let a: TestUser;
let b: TestUser;
let member: TestUser;
let aTokenId: string;
let aSecondToken: string;

/** Everything of A's that B might change, as A sees it through the API and the database. */
async function snapshotOfA() {
  const [servers, preset, members, tokens, events, rows] = await Promise.all([
    api("GET", "/servers", { token: a.token }),
    api("GET", "/presets/a-kit", { token: a.token }),
    api("GET", "/presets/a-kit/members", { token: a.token }),
    api("GET", "/tokens", { token: a.token }),
    api("GET", "/presets/a-kit/events", { token: a.token }),
    env.DB.prepare("SELECT id, name, url, headers_enc, timeout_ms, updated_at FROM servers WHERE owner_id = ?").bind(a.id).all(),
  ]);
  return {
    servers: servers.body,
    preset: { ...preset.body, servers: selectionsOf(preset.body.servers) },
    members: members.body,
    tokenIds: tokens.body.tokens.map((t: { id: string }) => t.id),
    events: events.body.events.map((e: { id: string }) => e.id),
    rows: rows.results,
  };
}

let before: Awaited<ReturnType<typeof snapshotOfA>>;

beforeAll(async () => {
  a = await createUser();
  b = await createUser();
  member = await createUser();
  await givenPreset({
    owner: a,
    slug: "a-kit",
    visibility: "invite_only",
    servers: [{ name: "a-srv", url: upstreamUrl("alpha"), headers: { "X-Api-Key": "a-secret" }, tools: ["echo"] }],
    members: [member],
  });
  const second = await api("POST", "/tokens", { token: a.token, body: { name: "second" } });
  aTokenId = second.body.id;
  aSecondToken = second.body.token;
  await givenPreset({ owner: b, slug: "b-kit", servers: [{ name: "b-srv", url: upstreamUrl("beta"), attach: false }] });
  before = await snapshotOfA();
  expect(before.preset.servers).toHaveLength(1);
  expect(before.members.members).toHaveLength(1);
});

describe("another user's token on A's things", () => {
  const attempts: [string, string, string, unknown?][] = [
    ["GET", "/servers/a-srv", "read A's server"],
    ["PATCH", "/servers/a-srv", "change A's server", { url: "https://evil.example.com/mcp" }],
    ["PATCH", "/servers/a-srv", "rename A's server", { name: "stolen" }],
    ["DELETE", "/servers/a-srv", "delete A's server"],
    ["GET", "/servers/a-srv/tools", "list the tools of A's server"],
    ["GET", "/presets/a-kit", "read A's preset"],
    ["PATCH", "/presets/a-kit", "change A's preset", { visibility: "public" }],
    ["DELETE", "/presets/a-kit", "delete A's preset"],
    ["PUT", "/presets/a-kit/servers/a-srv", "change A's selection", { tools: null }],
    ["PUT", "/presets/a-kit/servers/b-srv", "attach B's server to A's preset", {}],
    ["PUT", "/presets/b-kit/servers/a-srv", "attach A's server to B's own preset", {}],
    ["DELETE", "/presets/a-kit/servers/a-srv", "detach A's server"],
    ["GET", "/presets/a-kit/members", "list A's members"],
    ["POST", "/presets/a-kit/members", "add a member to A's preset", { handle: "B_HANDLE" }],
    ["DELETE", "/presets/a-kit/members/MEMBER", "remove A's member"],
    ["GET", "/presets/a-kit/events", "read A's events"],
    ["DELETE", "/tokens/TOKEN_ID", "revoke A's token"],
  ];
  for (const [method, rawPath, what, rawBody] of attempts) {
    it(`answers 404 when B tries to ${what} (${method} ${rawPath})`, async () => {
      const path = rawPath.replace("MEMBER", member.handle).replace("TOKEN_ID", aTokenId);
      const body = rawBody === undefined ? undefined : JSON.parse(JSON.stringify(rawBody).replace("B_HANDLE", b.handle));
      const res = await api(method, path, { token: b.token, ...(body !== undefined ? { body } : {}) });
      expectError(res, 404, "not_found");
      expect(JSON.stringify(res.body)).not.toContain("a-secret");
    });
  }

  it("leaves all of A's data unchanged after B's attempts", async () => {
    expect(await snapshotOfA()).toEqual(before);
    expect((await api("GET", "/me", { token: aSecondToken })).body.user.id).toBe(a.id);
  });

  it("never lists A's servers, presets or tokens for B", async () => {
    const [servers, presets, tokens] = await Promise.all([
      api("GET", "/servers", { token: b.token }),
      api("GET", "/presets", { token: b.token }),
      api("GET", "/tokens", { token: b.token }),
    ]);
    expect(servers.body.servers.map((s: { name: string }) => s.name)).toEqual(["b-srv"]);
    expect(presets.body.presets.map((p: { slug: string }) => p.slug)).toEqual(["b-kit"]);
    expect(presets.body.presets[0].servers).toEqual([]);
    expect(tokens.body.tokens.map((t: { id: string }) => t.id)).not.toContain(aTokenId);
  });

  it("does not let a member of A's preset manage it either", async () => {
    expectError(await api("GET", "/presets/a-kit", { token: member.token }), 404, "not_found");
    expectError(await api("GET", "/presets/a-kit/members", { token: member.token }), 404, "not_found");
    expectError(await api("DELETE", `/presets/a-kit/members/${member.handle}`, { token: member.token }), 404, "not_found");
    expect((await api("GET", "/presets/a-kit/members", { token: a.token })).body).toEqual(before.members);
  });
});
