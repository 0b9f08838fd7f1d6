import { env, SELF } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { presetStub } from "../../src/edge/preset-stub";
import { sha256Hex } from "../../src/shared/crypto";
import { parseNdjson } from "../../src/shared/ndjson";
import {
  addPreset,
  addServer,
  api,
  attach,
  createUser,
  EVENTUALLY,
  givenPreset,
  ORIGIN,
  type PresetSpec,
  presetUrl,
  type TestUser,
  upstreamUrl,
} from "../helpers";
import { INIT, mcpPost, rawSession } from "../mcp-raw";

const call = (url: string, session: string, id: number, name: string, args?: unknown, token?: string) =>
  mcpPost(url, { jsonrpc: "2.0", id, method: "tools/call", params: args === undefined ? { name } : { name, arguments: args } }, { sessionId: session, token });

/** A public preset exposing alpha's echo and fail, with these audit switches. */
const auditedPreset = (switches: Pick<PresetSpec, "auditCalls" | "auditArguments">) =>
  givenPreset({ ...switches, servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo", "fail"] }] });

const calls = (owner: TestUser, slug: string, query = "") => api("GET", `/presets/${slug}/calls${query}`, { token: owner.token });

/** The call log, once `check` holds for its rows (they are written after the reply). */
const loggedCalls = (owner: TestUser, slug: string, check: (rows: unknown[] | undefined) => void) =>
  vi.waitFor(async () => {
    const res = await calls(owner, slug);
    check(res.body.calls);
    return res;
  }, EVENTUALLY);

/** A preset's auth.failed events, once at least `n` were written (they are written after the reply). */
const authFailures = (owner: TestUser, slug: string, n: number) =>
  vi.waitFor(async () => {
    const res = await api("GET", `/presets/${slug}/events?type=auth.failed`, { token: owner.token });
    expect(res.body.events?.length).toBeGreaterThanOrEqual(n);
    return res;
  }, EVENTUALLY);

describe("call log", () => {
  it("logs who called which tool, the outcome, latency and the arguments' SHA-256, but not the arguments", async () => {
    const p = await auditedPreset({ auditCalls: true });
    const caller = await createUser();
    const session = await rawSession(p.url, caller.token);
    const args = { text: "secret-ish input" };
    await call(p.url, session, 1, "alpha__echo", args, caller.token);
    await call(p.url, session, 2, "alpha__fail", undefined, caller.token);
    const res = await loggedCalls(p.owner, p.slug, (rows) => expect(rows).toHaveLength(2));
    expect(res.status).toBe(200);
    const [fail, echo] = res.body.calls;
    expect(echo).toMatchObject({
      tool: "alpha__echo",
      upstream: "alpha",
      caller: { userId: caller.id, handle: caller.handle, ip: null },
      outcome: "ok",
      argumentsSha256: await sha256Hex(JSON.stringify(args)),
      arguments: null,
      argumentsTruncated: false,
    });
    expect(echo.latencyMs).toEqual(expect.any(Number));
    expect(echo.requestBytes).toBeGreaterThan(0);
    expect(fail).toMatchObject({ tool: "alpha__fail", outcome: "tool_error", argumentsSha256: await sha256Hex("{}") });
    expect(JSON.stringify(res.body)).not.toContain("secret-ish");
  });

  it("keeps the arguments only when the owner opts in, cut to 8192 characters", async () => {
    const p = await auditedPreset({ auditCalls: true, auditArguments: true });
    const session = await rawSession(p.url);
    await call(p.url, session, 1, "alpha__echo", { text: "kept" });
    await call(p.url, session, 2, "alpha__echo", { text: "x".repeat(20_000) });
    const res = await loggedCalls(p.owner, p.slug, (rows) => expect(rows).toHaveLength(2));
    const [big, small] = res.body.calls;
    expect(small).toMatchObject({ arguments: { text: "kept" }, argumentsTruncated: false, caller: { userId: null, handle: null } });
    expect(big.argumentsTruncated).toBe(true);
    expect(big.arguments).toHaveLength(8192);
    expect(big.argumentsSha256).toBe(await sha256Hex(JSON.stringify({ text: "x".repeat(20_000) })));
  });

  it("logs nothing unless auditCalls is on, and shows and changes the switches through the API", async () => {
    const p = await auditedPreset({});
    const view = await api("GET", `/presets/${p.slug}`, { token: p.owner.token });
    expect(view.body).toMatchObject({ auditCalls: false, auditArguments: false });
    const session = await rawSession(p.url);
    await call(p.url, session, 1, "alpha__echo", { text: "unlogged" });
    const patched = await api("PATCH", `/presets/${p.slug}`, { token: p.owner.token, body: { auditCalls: true } });
    expect(patched.body).toMatchObject({ auditCalls: true, auditArguments: false });
    await call(p.url, session, 2, "alpha__echo", { text: "logged" });
    const res = await loggedCalls(p.owner, p.slug, (rows) => expect(rows?.length).toBeGreaterThanOrEqual(1));
    await new Promise((r) => setTimeout(r, 50));
    expect((await calls(p.owner, p.slug)).body.calls).toHaveLength(1);
    expect(res.body.calls[0].argumentsSha256).toBe(await sha256Hex(JSON.stringify({ text: "logged" })));
  });

  it("filters by tool and outcome, pages with a cursor and exports NDJSON", async () => {
    const p = await auditedPreset({ auditCalls: true });
    const session = await rawSession(p.url);
    for (let i = 0; i < 3; i++) await call(p.url, session, i, "alpha__echo", { text: `${i}` });
    await call(p.url, session, 9, "alpha__fail");
    await loggedCalls(p.owner, p.slug, (rows) => expect(rows).toHaveLength(4));
    expect((await calls(p.owner, p.slug, "?outcome=tool_error")).body.calls.map((c: any) => c.tool)).toEqual(["alpha__fail"]);
    expect((await calls(p.owner, p.slug, "?tool=alpha__echo")).body.calls).toHaveLength(3);
    const page = await calls(p.owner, p.slug, "?limit=3");
    expect(page.body.calls).toHaveLength(3);
    expect((await calls(p.owner, p.slug, `?limit=3&cursor=${page.body.nextCursor}`)).body.calls).toHaveLength(1);
    const res = await SELF.fetch(`${ORIGIN}/api/v1/presets/${p.slug}/calls?format=ndjson`, { headers: { authorization: `Bearer ${p.owner.token}` } });
    expect(res.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    const lines = parseNdjson(await res.text()) as any[];
    expect(lines.map((l) => l.tool)).toEqual(["alpha__fail", "alpha__echo", "alpha__echo", "alpha__echo"]);
    expect((await calls(p.owner, p.slug, "?outcome=exploded")).body.error.field).toBe("outcome");
  });
});

describe("audit events", () => {
  it("exports a preset's events as NDJSON, filtered by type and time, with the next cursor in a header", async () => {
    const owner = await createUser();
    await addServer(owner, "alpha", upstreamUrl("alpha"));
    const before = new Date().toISOString();
    await addPreset(owner, "siem");
    await attach(owner, "siem", "alpha");
    await attach(owner, "siem", "alpha", ["echo"]);
    await api("PATCH", "/presets/siem", { token: owner.token, body: { name: "SIEM" } });
    const get = (query: string) => SELF.fetch(`${ORIGIN}/api/v1/presets/siem/events${query}`, { headers: { authorization: `Bearer ${owner.token}` } });

    const all = await get("?format=ndjson");
    expect(all.status).toBe(200);
    expect(all.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    expect(all.headers.get("x-next-cursor")).toBeNull();
    const text = await all.text();
    expect(text.endsWith("\n")).toBe(true);
    const lines = parseNdjson(text) as any[];
    expect(lines.map((e) => e.type)).toEqual(["preset.updated", "tools.changed", "server.attached", "preset.created"]);
    expect(lines[3]).toMatchObject({ actor: { id: owner.id, handle: owner.handle }, target: "siem", presetId: expect.any(String) });

    const filtered = parseNdjson(await (await get("?format=ndjson&type=preset.*,tools.changed")).text()) as any[];
    expect(filtered.map((e) => e.type)).toEqual(["preset.updated", "tools.changed", "preset.created"]);
    const json = await api("GET", "/presets/siem/events?type=server.attached", { token: owner.token });
    expect(json.body.events.map((e: any) => e.type)).toEqual(["server.attached"]);

    const paged = await get("?format=ndjson&limit=3");
    expect(parseNdjson(await paged.text())).toHaveLength(3);
    const next = paged.headers.get("x-next-cursor");
    expect(next).toEqual(expect.any(String));
    expect((parseNdjson(await (await get(`?format=ndjson&limit=3&cursor=${next}`)).text()) as any[]).map((e) => e.type)).toEqual(["preset.created"]);

    const future = new Date(Date.now() + 60_000).toISOString();
    expect((await api("GET", `/presets/siem/events?since=${future}`, { token: owner.token })).body.events).toEqual([]);
    expect((await api("GET", `/presets/siem/events?since=${before}&until=${future}`, { token: owner.token })).body.events).toHaveLength(4);
    expect((await api("GET", `/presets/siem/events?until=${before}`, { token: owner.token })).body.events).toEqual([]);
  });

  const badQueries: [string, string][] = [
    ["?since=yesterday", "since"],
    ["?type=Preset.Created", "type"],
    ["?type=preset", "type"],
    ["?format=xml", "format"],
    ["?limit=500", "limit"],
  ];
  for (const [query, field] of badQueries) {
    it(`rejects ${query} with 400 naming ${field}`, async () => {
      const owner = await createUser();
      await addPreset(owner, "queried");
      const res = await api("GET", `/presets/queried/events${query}`, { token: owner.token });
      expect(res.status).toBe(400);
      expect(res.body.error.field).toBe(field);
    });
  }

  it("allows up to 10000 events per NDJSON export", async () => {
    const owner = await createUser();
    await addPreset(owner, "big");
    const res = await SELF.fetch(`${ORIGIN}/api/v1/presets/big/events?format=ndjson&limit=10000`, { headers: { authorization: `Bearer ${owner.token}` } });
    expect(res.status).toBe(200);
    expect(parseNdjson(await res.text())).toHaveLength(1);
  });

  it("records token creation and revocation as account events, in the same batch as the change", async () => {
    const user = await createUser();
    const made = await api("POST", "/tokens", { token: user.token, body: { name: "ci" } });
    expect(made.status).toBe(201);
    // Five revocations race: one wins, the others find no token, and exactly one event is written.
    const revokes = await Promise.all(Array.from({ length: 5 }, () => api("DELETE", `/tokens/${made.body.id}`, { token: user.token })));
    expect(revokes.map((r) => r.status).sort()).toEqual([204, 404, 404, 404, 404]);
    expect((await api("DELETE", "/tokens/tok_nope", { token: user.token })).status).toBe(404);
    const res = await api("GET", "/events?type=token.*", { token: user.token });
    expect(res.status).toBe(200);
    expect(res.body.events.map((e: any) => [e.type, e.target, e.presetId])).toEqual([
      ["token.revoked", "ci", null],
      ["token.created", "ci", null],
      ["token.created", "default", null],
    ]);
    expect(res.body.events[0]).toMatchObject({ actor: { id: user.id, handle: user.handle }, payload: { tokenId: made.body.id, name: "ci" } });
    expect(res.body.events[2].actor).toEqual({ id: null, handle: null }); // the admin created the user
    expect(JSON.stringify(res.body)).not.toContain(made.body.token);
    // Another user sees none of them.
    const stranger = await createUser();
    const theirs = await api("GET", "/events", { token: stranger.token });
    expect(theirs.body.events.every((e: any) => e.actor.id !== user.id)).toBe(true);
  });

  it("lists an account's preset events next to its account events at GET /events", async () => {
    const user = await createUser();
    await addPreset(user, "mine");
    const res = await api("GET", "/events", { token: user.token });
    expect(res.body.events.map((e: any) => e.type)).toEqual(["preset.created", "token.created"]);
    expect(res.body.events[0].presetId).toEqual(expect.any(String));
    const ndjson = await SELF.fetch(`${ORIGIN}/api/v1/events?format=ndjson`, { headers: { authorization: `Bearer ${user.token}` } });
    expect(parseNdjson(await ndjson.text())).toHaveLength(2);
  });

  it("records refused credentials as auth.failed, at most once per caller per minute, and counts refused calls as denied", async () => {
    const { owner, url } = await givenPreset({
      slug: "vault",
      visibility: "private",
      servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }],
    });
    const stranger = await createUser();
    const echo = (id: number, token?: string) =>
      mcpPost(
        url,
        { jsonrpc: "2.0", id, method: "tools/call", params: { name: "alpha__echo", arguments: { text: "x" } } },
        { token, sessionId: "s".repeat(20) },
      );
    for (let i = 0; i < 4; i++) expect((await echo(i, stranger.token)).status).toBe(403);
    for (let i = 0; i < 3; i++) expect((await echo(10 + i)).status).toBe(401);
    const events = await authFailures(owner, "vault", 2);
    await new Promise((r) => setTimeout(r, 50));
    const failures = (await api("GET", "/presets/vault/events?type=auth.failed", { token: owner.token })).body.events;
    expect(failures).toHaveLength(2);
    expect(events.body.events.map((e: any) => [e.target, e.payload.status]).sort()).toEqual([
      ["ip:unknown", 401],
      [`user:${stranger.id}`, 403],
    ]);
    expect(failures[0].payload).toMatchObject({ method: "tools/call", message: expect.any(String) });
    const stats = await api("GET", "/presets/vault/stats?window=1h", { token: owner.token });
    expect(stats.body.totals).toMatchObject({ calls: 7, outcomes: { denied: 7 } });
    expect(Object.fromEntries(stats.body.callers.map((c: any) => [c.caller, c.calls]))).toEqual({ [stranger.id]: 4, anonymous: 3 });
  });
});

describe("auth failures the worker refused", () => {
  it("records a bad bearer token at the MCP endpoint, once per caller per minute", async () => {
    const owner = await createUser();
    await addPreset(owner, "badtoken", "public");
    const url = presetUrl(owner.handle, "badtoken");
    for (let i = 0; i < 3; i++) {
      const res = await mcpPost(url, INIT(), { token: `mcpg_${"z".repeat(40)}`, headers: { "cf-connecting-ip": "203.0.113.50" } });
      expect(res.status).toBe(401);
    }
    const events = await authFailures(owner, "badtoken", 1);
    await new Promise((r) => setTimeout(r, 50));
    expect((await api("GET", "/presets/badtoken/events?type=auth.failed", { token: owner.token })).body.events).toHaveLength(1);
    expect(events.body.events[0]).toMatchObject({ target: "ip:203.0.113.50", payload: { status: 401, message: "invalid bearer token" } });
  });

  it("are recorded through the preset's object with the same cap of one per caller per minute", async () => {
    const owner = await createUser();
    await addPreset(owner, "guarded", "private");
    const stub = presetStub(env, owner.handle, "guarded");
    const failure = {
      handle: owner.handle,
      slug: "guarded",
      userId: null,
      ip: "198.51.100.7",
      status: 401,
      method: "initialize",
      message: "The bearer token is not valid.",
    };
    await stub.recordAuthFailure(failure);
    await stub.recordAuthFailure(failure);
    await stub.recordAuthFailure({ ...failure, ip: "198.51.100.8" });
    const events = await authFailures(owner, "guarded", 2);
    await new Promise((r) => setTimeout(r, 50));
    expect((await api("GET", "/presets/guarded/events?type=auth.failed", { token: owner.token })).body.events).toHaveLength(2);
    expect(events.body.events.map((e: any) => e.target).sort()).toEqual(["ip:198.51.100.7", "ip:198.51.100.8"]);
    expect(events.body.events[0].payload).toMatchObject({ status: 401, method: "initialize", message: "The bearer token is not valid." });
  });
});

describe("health", () => {
  it("GET /healthz answers without auth, checks D1, and reveals no secrets", async () => {
    const res = await SELF.fetch(`${ORIGIN}/healthz`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ status: "ok", database: "ok" });
    for (const secret of [env.ADMIN_TOKEN, env.ENCRYPTION_KEY!]) expect(text).not.toContain(secret);
  });

  it("GET /servers/:name/health pings the upstream and reports its breaker in each preset using it", async () => {
    const owner = await createUser();
    await addServer(owner, "alpha", upstreamUrl("alpha"));
    await addServer(owner, "gone", env.DEAD_UPSTREAM);
    for (const slug of ["one", "two"]) {
      await addPreset(owner, slug);
      await attach(owner, slug, "alpha");
    }
    const ok = await api("GET", "/servers/alpha/health", { token: owner.token });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ server: "alpha", status: "ok", error: null, latencyMs: expect.any(Number), connectMs: expect.any(Number) });
    expect(ok.body.breakers.map((b: any) => [b.preset, b.breaker, b.status])).toEqual([
      ["one", "closed", "ok"],
      ["two", "closed", "ok"],
    ]);
    const down = await api("GET", "/servers/gone/health", { token: owner.token });
    expect(down.status).toBe(200);
    expect(down.body).toMatchObject({ server: "gone", status: "failing", latencyMs: null, error: { code: "upstream_unreachable" }, breakers: [] });
    const other = await createUser();
    expect((await api("GET", "/servers/alpha/health", { token: other.token })).status).toBe(404);
  });
});
