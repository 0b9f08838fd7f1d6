import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { addPreset, addServer, api, attach, createUser, type TestUser, upstreamUrl } from "../helpers";
import { expectError, expectInvalid } from "./expect-error";

interface EventJson {
  id: string;
  type: string;
  actor: { id: string | null; handle: string | null };
  target: string | null;
  payload: Record<string, unknown>;
  createdAt: string;
}

const events = async (user: TestUser, slug: string, query = "") =>
  api<{ events: EventJson[]; nextCursor: string | null }>("GET", `/presets/${slug}/events${query}`, { token: user.token });

/** Every kind of change a preset's audit trail records, one request each. */
async function busyPreset() {
  const owner = await createUser();
  const friend = await createUser();
  await addServer(owner, "alpha", upstreamUrl("alpha"));
  const preset = await addPreset(owner, "audited", "invite_only");
  await attach(owner, "audited", "alpha"); // server.attached
  await attach(owner, "audited", "alpha", ["echo"]); // tools.changed
  await attach(owner, "audited", "alpha", ["echo"]); // no change: no event
  await api("POST", "/presets/audited/members", { token: owner.token, body: { handle: friend.handle } }); // member.added
  await api("DELETE", `/presets/audited/members/${friend.handle}`, { token: owner.token }); // member.removed
  await api("DELETE", "/presets/audited/servers/alpha", { token: owner.token }); // server.detached
  await api("PATCH", "/presets/audited", { token: owner.token, body: { visibility: "public" } }); // preset.updated
  return { owner, friend, presetId: preset.id as string };
}

const EXPECTED_TYPES = ["preset.updated", "server.detached", "member.removed", "member.added", "tools.changed", "server.attached", "preset.created"];

describe("preset events", () => {
  it("records one event per change, newest first, with the actor's handle, target and time", async () => {
    const { owner, friend } = await busyPreset();
    const res = await events(owner, "audited");
    expect(res.status).toBe(200);
    expect(res.body.events.map((e) => e.type)).toEqual(EXPECTED_TYPES);
    expect(res.body.nextCursor).toBeNull();
    for (const e of res.body.events) {
      expect(e.actor).toEqual({ id: owner.id, handle: owner.handle });
      expect(e.id).toMatch(/^evt_/);
      expect(new Date(e.createdAt).toISOString()).toBe(e.createdAt);
    }
    const times = res.body.events.map((e) => Date.parse(e.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const byType = Object.fromEntries(res.body.events.map((e) => [e.type, e]));
    expect(byType["preset.created"]).toMatchObject({ target: "audited", payload: { visibility: "invite_only" } });
    expect(byType["server.attached"]).toMatchObject({ target: "alpha", payload: { server: "alpha", tools: null } });
    expect(byType["tools.changed"]).toMatchObject({
      target: "alpha",
      payload: { server: "alpha", before: { tools: null, enabled: true }, after: { tools: ["echo"], enabled: true } },
    });
    expect(byType["member.added"]).toMatchObject({ target: friend.handle, payload: { userId: friend.id } });
    expect(byType["member.removed"]).toMatchObject({ target: friend.handle });
    expect(byType["server.detached"]).toMatchObject({ target: "alpha" });
    expect(byType["preset.updated"]).toMatchObject({ target: "audited", payload: { changed: ["visibility"] } });
  });

  it("records no event for a refused change", async () => {
    const owner = await createUser();
    await addPreset(owner, "quiet");
    await api("PATCH", "/presets/quiet", { token: owner.token, body: { status: "paused" } });
    await api("POST", "/presets/quiet/members", { token: owner.token, body: { handle: owner.handle } });
    await api("PUT", "/presets/quiet/servers/ghost", { token: owner.token, body: {} });
    expect((await events(owner, "quiet")).body.events.map((e) => e.type)).toEqual(["preset.created"]);
  });

  it("records exactly one preset.deleted event when a preset is deleted", async () => {
    const { owner, presetId } = await busyPreset();
    expect((await api("DELETE", "/presets/audited", { token: owner.token })).status).toBe(204);
    const { results } = await env.DB.prepare("SELECT type, actor_id, target FROM events WHERE preset_id = ? ORDER BY created_at DESC, id DESC")
      .bind(presetId)
      .all<{ type: string; actor_id: string; target: string }>();
    expect(results.map((r) => r.type)).toEqual(["preset.deleted", ...EXPECTED_TYPES]);
    expect(results[0]).toEqual({ type: "preset.deleted", actor_id: owner.id, target: "audited" });
    expectError(await events(owner, "audited"), 404, "not_found");
  });

  it("pages with limit and nextCursor through every event exactly once", async () => {
    const { owner } = await busyPreset();
    const seen: EventJson[] = [];
    let cursor: string | null = null;
    const pageSizes: number[] = [];
    do {
      const res: Awaited<ReturnType<typeof events>> = await events(owner, "audited", `?limit=3${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      pageSizes.push(res.body.events.length);
      seen.push(...res.body.events);
      cursor = res.body.nextCursor;
    } while (cursor && pageSizes.length < 10);
    expect(pageSizes).toEqual([3, 3, 1]);
    expect(seen.map((e) => e.type)).toEqual(EXPECTED_TYPES);
    expect(new Set(seen.map((e) => e.id)).size).toBe(EXPECTED_TYPES.length);
  });

  it("gives a last full page a cursor that leads to an empty page", async () => {
    const owner = await createUser();
    await addPreset(owner, "one-event");
    const first = await events(owner, "one-event", "?limit=1");
    expect(first.body.events).toHaveLength(1);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const next = await events(owner, "one-event", `?limit=1&cursor=${first.body.nextCursor}`);
    expect(next.body).toEqual({ events: [], nextCursor: null });
  });

  const badQueries: [string, string, string, string][] = [
    ["a cursor that is not base64url", "?cursor=!!!not-a-cursor", "cursor", "invalid_field"],
    ["a well-formed cursor of the wrong shape", `?cursor=${btoa(JSON.stringify({ page: 2 })).replace(/=+$/, "")}`, "cursor", "invalid_field"],
    ["limit 0", "?limit=0", "limit", "invalid_field"],
    ["limit 201", "?limit=201", "limit", "invalid_field"],
    ["limit that is not a number", "?limit=ten", "limit", "invalid_field"],
    ["an unknown query parameter", "?page=2", "page", "unknown_field"],
  ];
  for (const [what, query, field, code] of badQueries) {
    it(`rejects ${what} with 400 naming ${field}`, async () => {
      const owner = await createUser();
      await addPreset(owner, "paged");
      expectError(await events(owner, "paged", query), 400, code, field);
    });
  }

  it("rejects a cursor over 200 characters with 400 naming cursor", async () => {
    const owner = await createUser();
    await addPreset(owner, "paged");
    expectInvalid(await events(owner, "paged", `?cursor=${"a".repeat(201)}`), "cursor");
  });
});
