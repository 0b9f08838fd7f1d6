import { describe, expect, it } from "vitest";
import { addPreset, api, createUser, type TestUser } from "../helpers";
import { expectError, expectInvalid } from "./expect-error";

const members = async (owner: TestUser, slug = "club") =>
  (await api("GET", `/presets/${slug}/members`, { token: owner.token })).body.members as { userId: string; handle: string; addedAt: string }[];

describe("preset members", () => {
  it("adds a member with 201 and lists them by handle", async () => {
    const owner = await createUser();
    const [x, y] = [await createUser(), await createUser()];
    await addPreset(owner, "club", "invite_only");
    const res = await api("POST", "/presets/club/members", { token: owner.token, body: { handle: y.handle } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ userId: y.id, handle: y.handle });
    expect(Number.isNaN(Date.parse(res.body.addedAt))).toBe(false);
    await api("POST", "/presets/club/members", { token: owner.token, body: { handle: x.handle } });
    const list = await members(owner);
    expect(list.map((m) => m.handle)).toEqual([x.handle, y.handle].sort());
    expect(list.find((m) => m.handle === y.handle)).toEqual(res.body);
  });

  it("answers 404 to adding a handle no user has, and adds nobody", async () => {
    const owner = await createUser();
    await addPreset(owner, "club", "invite_only");
    const res = await api("POST", "/presets/club/members", { token: owner.token, body: { handle: "nobody-has-this-handle" } });
    expectError(res, 404, "not_found");
    expect(await members(owner)).toEqual([]);
  });

  it("answers 409 to adding the same member twice, and keeps one membership", async () => {
    const owner = await createUser();
    const friend = await createUser();
    await addPreset(owner, "club", "invite_only");
    await api("POST", "/presets/club/members", { token: owner.token, body: { handle: friend.handle } });
    const res = await api("POST", "/presets/club/members", { token: owner.token, body: { handle: friend.handle } });
    expectError(res, 409, "conflict");
    expect(res.body.error.message).toContain(friend.handle);
    expect((await members(owner)).map((m) => m.userId)).toEqual([friend.id]);
  });

  it("refuses to add the owner with 400 naming handle", async () => {
    const owner = await createUser();
    await addPreset(owner, "club", "invite_only");
    expectInvalid(await api("POST", "/presets/club/members", { token: owner.token, body: { handle: owner.handle } }), "handle");
    expect(await members(owner)).toEqual([]);
  });

  it("rejects an invalid handle in the body with 400 naming handle", async () => {
    const owner = await createUser();
    await addPreset(owner, "club", "invite_only");
    expectInvalid(await api("POST", "/presets/club/members", { token: owner.token, body: { handle: "Not_A_Handle" } }), "handle");
    expectInvalid(await api("POST", "/presets/club/members", { token: owner.token, body: {} }), "handle");
  });

  it("removes a member with 204, then answers 404 to removing them again", async () => {
    const owner = await createUser();
    const [x, y] = [await createUser(), await createUser()];
    await addPreset(owner, "club", "invite_only");
    await api("POST", "/presets/club/members", { token: owner.token, body: { handle: x.handle } });
    await api("POST", "/presets/club/members", { token: owner.token, body: { handle: y.handle } });
    const res = await api("DELETE", `/presets/club/members/${x.handle}`, { token: owner.token });
    expect(res.status).toBe(204);
    expect((await members(owner)).map((m) => m.handle)).toEqual([y.handle]);
    expectError(await api("DELETE", `/presets/club/members/${x.handle}`, { token: owner.token }), 404, "not_found");
  });

  it("answers 404 to removing a user who exists but is not a member, or does not exist", async () => {
    const owner = await createUser();
    const stranger = await createUser();
    await addPreset(owner, "club", "invite_only");
    expectError(await api("DELETE", `/presets/club/members/${stranger.handle}`, { token: owner.token }), 404, "not_found");
    expectError(await api("DELETE", "/presets/club/members/never-existed", { token: owner.token }), 404, "not_found");
  });

  it("rejects an invalid handle in the path with 400 naming handle", async () => {
    const owner = await createUser();
    await addPreset(owner, "club", "invite_only");
    expectInvalid(await api("DELETE", "/presets/club/members/Bad_Handle", { token: owner.token }), "handle");
  });

  it("answers 404 on every member route of an unknown preset", async () => {
    const owner = await createUser();
    const friend = await createUser();
    expectError(await api("GET", "/presets/nope/members", { token: owner.token }), 404, "not_found");
    expectError(await api("POST", "/presets/nope/members", { token: owner.token, body: { handle: friend.handle } }), 404, "not_found");
    expectError(await api("DELETE", `/presets/nope/members/${friend.handle}`, { token: owner.token }), 404, "not_found");
  });

  it("drops the memberships of a deleted preset: a new preset of the same slug starts empty", async () => {
    const owner = await createUser();
    const friend = await createUser();
    await addPreset(owner, "club", "invite_only");
    await api("POST", "/presets/club/members", { token: owner.token, body: { handle: friend.handle } });
    await api("DELETE", "/presets/club", { token: owner.token });
    await addPreset(owner, "club", "invite_only");
    expect(await members(owner)).toEqual([]);
  });
});
