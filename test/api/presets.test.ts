import { describe, expect, it } from "vitest";
import { addPreset, addServer, api, attach, createUser, type TestUser, unique } from "../helpers";
import { expectError, expectInvalid } from "./expect-error";

const slugsOf = async (user: TestUser) => (await api("GET", "/presets", { token: user.token })).body.presets.map((p: { slug: string }) => p.slug);

describe("presets CRUD", () => {
  it("creates a preset with 201 and its MCP url /mcp/<handle>/<slug>", async () => {
    const user = await createUser();
    const slug = unique("tools");
    const res = await api("POST", "/presets", {
      token: user.token,
      body: { slug, name: "  My tools  ", description: "for testing", visibility: "invite_only" },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      slug,
      name: "My tools",
      description: "for testing",
      visibility: "invite_only",
      status: "active",
      owner: user.handle,
      url: `http://gateway.test/mcp/${user.handle}/${slug}`,
      servers: [],
    });
    expect(res.body.id).toMatch(/^prs_/);
  });

  it("lists the user's presets by slug and gets one by slug", async () => {
    const user = await createUser();
    await addPreset(user, "zz-last", "private");
    await addPreset(user, "aa-first", "public");
    expect(await slugsOf(user)).toEqual(["aa-first", "zz-last"]);
    const one = await api("GET", "/presets/zz-last", { token: user.token });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ slug: "zz-last", visibility: "private", description: null, owner: user.handle });
  });

  it("PATCHes name, description, visibility and status", async () => {
    const user = await createUser();
    const created = await addPreset(user, "patch-me", "public");
    const res = await api("PATCH", "/presets/patch-me", {
      token: user.token,
      body: { name: "Renamed", description: "now described", visibility: "private", status: "disabled" },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: created.id,
      slug: "patch-me",
      name: "Renamed",
      description: "now described",
      visibility: "private",
      status: "disabled",
    });
    const again = await api("GET", "/presets/patch-me", { token: user.token });
    expect(again.body).toMatchObject({ name: "Renamed", visibility: "private", status: "disabled" });
  });

  it("clears the description with PATCH description:null and keeps the other fields", async () => {
    const user = await createUser();
    await addPreset(user, "desc", "public", { description: "old" });
    const res = await api("PATCH", "/presets/desc", { token: user.token, body: { description: null } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ description: null, name: "desc", visibility: "public", status: "active" });
  });

  it("deletes a preset with 204, after which GET, PATCH and DELETE answer 404", async () => {
    const user = await createUser();
    await addPreset(user, "doomed");
    const res = await api("DELETE", "/presets/doomed", { token: user.token });
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
    expectError(await api("GET", "/presets/doomed", { token: user.token }), 404, "not_found");
    expectError(await api("PATCH", "/presets/doomed", { token: user.token, body: { name: "x" } }), 404, "not_found");
    expectError(await api("DELETE", "/presets/doomed", { token: user.token }), 404, "not_found");
    expect(await slugsOf(user)).toEqual([]);
  });

  it("detaches its servers when a preset is deleted, so they can then be deleted", async () => {
    const user = await createUser();
    await addServer(user, "used", "https://mcp.example.com/mcp");
    await addPreset(user, "holder");
    await attach(user, "holder", "used");
    expectError(await api("DELETE", "/servers/used", { token: user.token }), 409, "conflict");
    expect((await api("DELETE", "/presets/holder", { token: user.token })).status).toBe(204);
    expect((await api("DELETE", "/servers/used", { token: user.token })).status).toBe(204);
  });

  it("lets a deleted slug be created again as a new preset", async () => {
    const user = await createUser();
    const first = await addPreset(user, "reborn");
    await api("DELETE", "/presets/reborn", { token: user.token });
    const second = await api("POST", "/presets", { token: user.token, body: { slug: "reborn", name: "again", visibility: "public" } });
    expect(second.status).toBe(201);
    expect(second.body.id).not.toBe(first.id);
  });

  it("refuses a duplicate slug with 409 and keeps the original", async () => {
    const user = await createUser();
    await addPreset(user, "taken", "private");
    const res = await api("POST", "/presets", { token: user.token, body: { slug: "taken", name: "other", visibility: "public" } });
    expectError(res, 409, "conflict");
    expect(res.body.error.message).toContain("taken");
    expect((await api("GET", "/presets/taken", { token: user.token })).body).toMatchObject({ name: "taken", visibility: "private" });
  });

  it("lets two users use the same slug, each with their own url", async () => {
    const a = await createUser();
    const b = await createUser();
    const pa = await addPreset(a, "shared-slug");
    const pb = await addPreset(b, "shared-slug");
    expect(pa.url).toBe(`http://gateway.test/mcp/${a.handle}/shared-slug`);
    expect(pb.url).toBe(`http://gateway.test/mcp/${b.handle}/shared-slug`);
  });
});

describe("preset validation", () => {
  const badSlugs: [string, string][] = [
    ["2 characters", "ab"],
    ["51 characters", "a".repeat(51)],
    ["uppercase", "MyTools"],
    ["an underscore", "my_tools"],
    ["a slash", "my/tools"],
    ["a leading hyphen", "-tools"],
    ["a trailing hyphen", "tools-"],
  ];
  for (const [what, slug] of badSlugs) {
    it(`rejects a slug with ${what} with 400 naming slug and creates nothing`, async () => {
      const user = await createUser();
      const res = await api("POST", "/presets", { token: user.token, body: { slug, name: "x", visibility: "public" } });
      expectInvalid(res, "slug");
      expect(await slugsOf(user)).toEqual([]);
    });
  }

  it("accepts slugs of exactly 3 and 50 characters", async () => {
    const user = await createUser();
    for (const slug of ["abc", "a".repeat(50)]) {
      const res = await api("POST", "/presets", { token: user.token, body: { slug, name: "x", visibility: "public" } });
      expect({ slug, status: res.status }).toEqual({ slug, status: 201 });
    }
  });

  const badBodies: [string, Record<string, unknown>, string][] = [
    ["a visibility not in the enum", { visibility: "secret" }, "visibility"],
    ["a missing visibility", { visibility: undefined }, "visibility"],
    ["a blank name", { name: "   " }, "name"],
    ["a 101-character name", { name: "n".repeat(101) }, "name"],
    ["a 2001-character description", { description: "d".repeat(2001) }, "description"],
  ];
  for (const [what, override, field] of badBodies) {
    it(`rejects ${what} on create with 400 naming ${field} and creates nothing`, async () => {
      const user = await createUser();
      const res = await api("POST", "/presets", { token: user.token, body: { slug: "valid-slug", name: "ok", visibility: "public", ...override } });
      expectInvalid(res, field);
      expect(await slugsOf(user)).toEqual([]);
    });
  }

  it("rejects the misspelt field visibilty with 400 unknown_field and creates nothing", async () => {
    const user = await createUser();
    const res = await api("POST", "/presets", { token: user.token, body: { slug: "typo", name: "x", visibility: "public", visibilty: "private" } });
    expectError(res, 400, "unknown_field", "visibilty");
    expect(await slugsOf(user)).toEqual([]);
  });

  const badPatches: [string, Record<string, unknown>, string, string][] = [
    ["a status not in the enum", { status: "paused" }, "status", "invalid_field"],
    ["a visibility not in the enum", { visibility: "hidden" }, "visibility", "invalid_field"],
    ["an empty body {}", {}, "body", "invalid_field"],
    ["an unknown field", { visibilty: "private" }, "visibilty", "unknown_field"],
    ["a slug (which cannot change)", { slug: "new-slug" }, "slug", "unknown_field"],
  ];
  for (const [what, body, field, code] of badPatches) {
    it(`rejects a PATCH with ${what} with 400 ${code} naming ${field} and changes nothing`, async () => {
      const user = await createUser();
      const before = await addPreset(user, "stable", "public");
      const res = await api("PATCH", "/presets/stable", { token: user.token, body });
      expectError(res, 400, code, field);
      expect((await api("GET", "/presets/stable", { token: user.token })).body).toEqual(before);
    });
  }

  it("rejects an invalid slug in the path with 400 naming slug", async () => {
    const user = await createUser();
    expectInvalid(await api("GET", "/presets/NO", { token: user.token }), "slug");
  });
});
