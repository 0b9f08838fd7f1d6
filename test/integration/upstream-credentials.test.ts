import { env } from "cloudflare:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { describe, expect, it } from "vitest";
import { CredentialsRequired, callerCredentials } from "../../src/credentials/caller-credentials";
import { loadPresetConfig } from "../../src/preset/config";
import { approveAtUpstream, type CredPreset, connectAs, credPreset, oauthStats, oauthUpstream, signInAt } from "../credentials-helpers";
import { api, createUser, ORIGIN, type TestUser, textOf } from "../helpers";
import { browse } from "../oauth-helpers";

/** The preset server as the Durable Object would load it. */
async function presetServer(p: CredPreset) {
  const config = await loadPresetConfig(env, p.owner.handle, p.slug);
  return config!.servers.find((s) => s.name === p.server)!;
}

const resolve = async (p: CredPreset, userId: string | null) =>
  callerCredentials(env, await presetServer(p), userId, { origin: ORIGIN, handle: p.owner.handle, slug: p.slug });

/** Calls `whoami` straight on the upstream with the identity's headers. */
async function whoamiWith(url: string, headers: Record<string, string>): Promise<string> {
  const c = new Client({ name: "t", version: "1" });
  await c.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  const out = textOf(await c.callTool({ name: "whoami", arguments: {} }));
  await c.close();
  return out;
}

const account = (name: string) => `${name}${crypto.randomUUID().slice(0, 8)}`;

async function rowsOf(userId: string) {
  return (await env.DB.prepare("SELECT * FROM upstream_credentials WHERE user_id = ?").bind(userId).all<Record<string, unknown>>()).results;
}

describe("connecting an OAuth upstream per consumer", () => {
  it("gives two consumers each their own sealed token, and each call carries only its caller's token", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth" });
    const alice = await createUser();
    const bob = await createUser();
    const [a, b] = [account("alice"), account("bob")];
    const doneA = await connectAs(p, alice, a);
    expect(doneA.done.status).toBe(200);
    expect(doneA.done.html).toContain("You can close this window");
    expect((await connectAs(p, bob, b)).done.status).toBe(200);

    for (const [user, acct] of [
      [alice, a],
      [bob, b],
    ] as const) {
      const rows = await rowsOf(user.id);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ kind: "oauth", resource: oauthUpstream("dcr"), scope: "files:read" });
      expect(String(rows[0]!.secret_enc)).toMatch(/^v1\./);
      expect(JSON.stringify(rows[0])).not.toContain(acct);
    }

    const idA = await resolve(p, alice.id);
    const idB = await resolve(p, bob.id);
    expect(idA.headers.Authorization).toMatch(new RegExp(`^Bearer at-${a}-`));
    expect(idB.headers.Authorization).toMatch(new RegExp(`^Bearer at-${b}-`));
    expect(idA.expiresAt).toBeGreaterThan(Date.now());
    expect(await whoamiWith(oauthUpstream("dcr"), idA.headers)).toBe(a);
    expect(await whoamiWith(oauthUpstream("dcr"), idB.headers)).toBe(b);
    // Upstream side: every request made as bob carried a token issued to bob, and vice versa.
    const seenB = (await oauthStats(b)).seen;
    expect(seenB.length).toBeGreaterThan(0);
    expect(seenB.every((s) => s.account === b && s.token.startsWith(`at-${b}-`))).toBe(true);
    expect((await oauthStats(a)).seen.every((s) => s.account === a)).toBe(true);
  });

  it("a ciphertext copied onto another consumer's row does not open", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth" });
    const [alice, mallory] = [await createUser(), await createUser()];
    await connectAs(p, alice, account("alice"));
    await connectAs(p, mallory, account("mallory"));
    const server = await presetServer(p);
    await env.DB.prepare(
      "UPDATE upstream_credentials SET secret_enc = (SELECT secret_enc FROM upstream_credentials WHERE user_id = ?1 AND server_id = ?3) WHERE user_id = ?2 AND server_id = ?3",
    )
      .bind(alice.id, mallory.id, server.id)
      .run();
    await expect(resolve(p, mallory.id)).rejects.toBeInstanceOf(CredentialsRequired);
  });

  it("registers through its Client ID Metadata Document when the authorization server supports them", async () => {
    const p = await credPreset(oauthUpstream("cimd"), { auth: "oauth" });
    const user = await createUser();
    const { cookie } = await signInAt(p.connectPath, user);
    const start = await browse(p.connectPath, { cookie });
    expect(start.status).toBe(302);
    const authorize = new URL(start.location!);
    expect(authorize.searchParams.get("client_id")).toBe(`${ORIGIN}/oauth/upstream-client.json`);
    expect(authorize.searchParams.get("redirect_uri")).toBe(`${ORIGIN}/connect/callback`);
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("resource")).toBe(oauthUpstream("cimd"));
    expect(authorize.searchParams.get("scope")).toBe("files:read");
    const doc = await browse("/oauth/upstream-client.json");
    expect(JSON.parse(doc.html)).toMatchObject({
      client_id: `${ORIGIN}/oauth/upstream-client.json`,
      redirect_uris: [`${ORIGIN}/connect/callback`],
      token_endpoint_auth_method: "none",
    });
    const acct = account("carol");
    const done = await browse(await approveAtUpstream(start.location!, acct), { cookie });
    expect(done.status).toBe(200);
    expect((await resolve(p, user.id)).headers.Authorization).toContain(`at-${acct}-`);
  });

  it("finds the resource metadata at its well-known URI when the 401 does not name it", async () => {
    const p = await credPreset(oauthUpstream("wellknown"), { auth: "oauth" });
    const user = await createUser();
    const acct = account("dave");
    expect((await connectAs(p, user, acct)).done.status).toBe(200);
    expect(await whoamiWith(oauthUpstream("wellknown"), (await resolve(p, user.id)).headers)).toBe(acct);
  });
});

describe("refresh and revocation", () => {
  it("refreshes a token within a minute of expiry once, however many callers need it at the same time", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth" });
    const user = await createUser();
    const acct = account("erin");
    await connectAs(p, user, acct, { ttl: 30 });
    const before = (await rowsOf(user.id))[0]!;
    const ids = await Promise.all([resolve(p, user.id), resolve(p, user.id), resolve(p, user.id)]);
    expect((await oauthStats(acct)).refreshes).toBe(1);
    // Callers that did not win the refresh use the old token while it is still valid.
    for (const id of ids) expect(id.headers.Authorization).toMatch(new RegExp(`^Bearer at-${acct}-`));
    const after = (await rowsOf(user.id))[0]!;
    expect(after.version).toBe(Number(before.version) + 1);
    expect(after.secret_enc).not.toBe(before.secret_enc);
    expect(after.refresh_lease).toBeNull();
    const next = await resolve(p, user.id);
    expect((await oauthStats(acct)).refreshes).toBe(1);
    expect(next.expiresAt).toBeGreaterThan(Date.now() + 60_000);
    expect(await whoamiWith(oauthUpstream("dcr"), next.headers)).toBe(acct);
  });

  it("makes concurrent callers of an expired token wait for the one refresh and share its token", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth" });
    const user = await createUser();
    const acct = account("erik");
    await connectAs(p, user, acct, { ttl: 1 });
    await new Promise((r) => setTimeout(r, 1_100));
    const ids = await Promise.all([resolve(p, user.id), resolve(p, user.id), resolve(p, user.id), resolve(p, user.id)]);
    expect((await oauthStats(acct)).refreshes).toBe(1);
    expect(new Set(ids.map((i) => i.headers.Authorization)).size).toBe(1);
    expect(await whoamiWith(oauthUpstream("dcr"), ids[0]!.headers)).toBe(acct);
  });

  it("deletes the credential when the refresh token is refused, so the caller must connect again", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth" });
    const user = await createUser();
    const acct = account("frank");
    await connectAs(p, user, acct, { ttl: 1 });
    await fetch(`${env.OAUTH_UPSTREAM_BASE}/__oauth/kill?account=${acct}`, { method: "POST" });
    const err = await resolve(p, user.id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsRequired);
    expect((err as CredentialsRequired).connectUrl).toBe(`${ORIGIN}${p.connectPath}`);
    expect(await rowsOf(user.id)).toHaveLength(0);
  });

  it("disconnecting deletes the tokens, revokes them upstream, and leaves the caller needing to connect", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth" });
    const user = await createUser();
    const acct = account("gina");
    await connectAs(p, user, acct);
    const listed = await api("GET", "/connections", { token: user.token });
    expect(listed.status).toBe(200);
    expect(listed.body.connections).toEqual([
      expect.objectContaining({ server: p.server, owner: p.owner.handle, kind: "oauth", scope: "files:read", headerNames: [], expiresAt: expect.any(String) }),
    ]);
    expect(JSON.stringify(listed.body)).not.toMatch(/at-|rt-/);
    const token = (await resolve(p, user.id)).headers.Authorization!.slice("Bearer ".length);
    const del = await api("DELETE", `/connections/${p.owner.handle}/${p.slug}/${p.server}`, { token: user.token });
    expect(del.status).toBe(204);
    await expect(resolve(p, user.id)).rejects.toBeInstanceOf(CredentialsRequired);
    await expect.poll(async () => (await oauthStats(acct)).revoked, { timeout: 5_000 }).toContain(token);
    expect((await api("DELETE", `/connections/${p.owner.handle}/${p.slug}/${p.server}`, { token: user.token })).status).toBe(404);
    const events = await env.DB.prepare("SELECT type, payload FROM events WHERE actor_id = ? ORDER BY created_at")
      .bind(user.id)
      .all<{ type: string; payload: string }>();
    expect(events.results.map((e) => e.type)).toEqual(expect.arrayContaining(["credential.connected", "credential.disconnected"]));
    expect(JSON.stringify(events.results)).not.toMatch(/at-|rt-/);
  });

  it("asks an unconnected caller to connect and an anonymous caller to sign in first", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth" });
    const user = await createUser();
    const err = (await resolve(p, user.id).catch((e: unknown) => e)) as CredentialsRequired;
    expect(err).toBeInstanceOf(CredentialsRequired);
    expect(err.server).toBe(p.server);
    expect(err.connectUrl).toBe(`${ORIGIN}${p.connectPath}`);
    expect(err.message).toContain(err.connectUrl!);
    const anon = (await resolve(p, null).catch((e: unknown) => e)) as CredentialsRequired;
    expect(anon).toBeInstanceOf(CredentialsRequired);
    expect(anon.connectUrl).toBeNull();
  });

  it("uses no credential once the owner moved the server to another URL", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth" });
    const user = await createUser();
    await connectAs(p, user, account("hank"));
    const moved = await api("PATCH", `/servers/${p.server}`, { token: p.owner.token, body: { url: oauthUpstream("cimd") } });
    expect(moved.status).toBe(200);
    await expect(resolve(p, user.id)).rejects.toBeInstanceOf(CredentialsRequired);
  });
});

describe("attacks on the connect flow", () => {
  it("refuses the connect page to a consumer without access to the preset", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth" }, { visibility: "private" });
    const stranger = await createUser();
    const { cookie, location } = await signInAt(p.connectPath, stranger);
    expect(location).toBe(p.connectPath);
    const page = await browse(p.connectPath, { cookie });
    expect(page.status).toBe(403);
    expect(page.location).toBeNull();
  });

  it("lets a member of an invite-only preset connect", async () => {
    const member = await createUser();
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth" }, { visibility: "invite_only", members: [member] });
    expect((await connectAs(p, member, account("ivy"))).done.status).toBe(200);
  });

  it("answers 404 for a server that needs no caller credentials, and for unknown ones", async () => {
    const p = await credPreset(oauthUpstream("dcr"), {});
    expect((await browse(p.connectPath)).status).toBe(404);
    expect((await browse(`/connect/${p.owner.handle}/${p.slug}/nope`)).status).toBe(404);
    expect((await browse(`/connect/${p.owner.handle}/${p.slug}/..%2F..%2Fevil`)).status).toBe(404);
  });

  it("binds the state to the consumer who started: another consumer's session cannot use it, and it works once", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth" });
    const [victim, attacker] = [await createUser(), await createUser()];
    const { cookie: attackerCookie } = await signInAt(p.connectPath, attacker);
    const start = await browse(p.connectPath, { cookie: attackerCookie });
    const back = await approveAtUpstream(start.location!, account("attacker"));
    // The attacker lures the victim's browser to the callback of the attacker's own flow.
    const { cookie: victimCookie } = await signInAt(p.connectPath, victim);
    const lured = await browse(back, { cookie: victimCookie });
    expect(lured.status).toBe(400);
    expect(await rowsOf(victim.id)).toHaveLength(0);
    expect((await browse(back, { cookie: attackerCookie })).status).toBe(200);
    const replay = await browse(back, { cookie: attackerCookie });
    expect(replay.status).toBe(400);
    expect((await browse(back)).status).toBe(401);
  });

  it("refuses an expired state, a forged state and a reply naming another issuer", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth" });
    const user = await createUser();
    const { cookie } = await signInAt(p.connectPath, user);
    const start = await browse(p.connectPath, { cookie });
    const back = new URL(await approveAtUpstream(start.location!, account("jo")));
    const mixUp = new URL(back);
    mixUp.searchParams.set("iss", "https://evil.example.com");
    expect((await browse(mixUp.toString(), { cookie })).status).toBe(400);
    const forged = new URL(back);
    forged.searchParams.set("state", "forged");
    expect((await browse(forged.toString(), { cookie })).status).toBe(400);

    const again = await browse(p.connectPath, { cookie });
    const late = await approveAtUpstream(again.location!, account("jo"));
    await env.DB.prepare("UPDATE upstream_connect_states SET expires_at = 1 WHERE user_id = ?").bind(user.id).run();
    const expired = await browse(late, { cookie });
    expect(expired.status).toBe(400);
    expect(expired.html).toContain("expired");
    expect(await rowsOf(user.id)).toHaveLength(0);
  });

  it("signs in only back to the connect page (no open redirect), and refuses a cross-site headers form", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { headers: { "X-Api-Key": { perUser: true } } });
    const user = await createUser();
    const { cookie, location } = await signInAt(`${p.connectPath}?next=https://evil.example.com`, user);
    expect(location).toBe(p.connectPath);
    const crossSite = await browse(p.connectPath, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example.com" },
      body: "header%3AX-Api-Key=stolen",
      cookie,
    });
    expect(crossSite.status).toBe(403);
    const noToken = await browse(p.connectPath, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
      body: "header%3AX-Api-Key=stolen&csrf=nope",
      cookie,
    });
    expect(noToken.status).toBe(403);
    expect(await rowsOf(user.id)).toHaveLength(0);
  });

  for (const [mode, problem] of [
    ["ssrf-prm", /private or reserved address/],
    ["ssrf-as", /private or reserved address/],
    ["huge", /larger than/],
    ["redirect", /redirect/],
    ["wrongres", /another resource/],
    ["nos256", /S256/],
  ] as const) {
    it(`refuses an upstream whose authorization metadata is hostile (${mode})`, async () => {
      const p = await credPreset(oauthUpstream(mode), { auth: "oauth" });
      const user = await createUser();
      const { cookie } = await signInAt(p.connectPath, user);
      const page = await browse(p.connectPath, { cookie });
      expect(page.status).toBe(502);
      expect(page.location).toBeNull();
      expect(page.html).toMatch(problem);
    });
  }

  it("refuses to store a token larger than 8192 characters", async () => {
    const p = await credPreset(oauthUpstream("bigtoken"), { auth: "oauth" });
    const user = await createUser();
    const { done } = await connectAs(p, user, account("big"));
    expect(done.status).toBe(502);
    expect(await rowsOf(user.id)).toHaveLength(0);
  });

  it("caps the connection attempts under way per consumer", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth" });
    const user = await createUser();
    const insert = env.DB.prepare(
      "INSERT INTO upstream_connect_states (state_hash, user_id, server_id, issuer, resource, verifier_enc, return_label, expires_at) VALUES (?, ?, 'x', 'x', 'x', 'x', 'x', ?)",
    );
    await env.DB.batch(Array.from({ length: 20 }, (_, i) => insert.bind(`h-${user.id}-${i}`, user.id, Date.now() + 60_000)));
    const { cookie } = await signInAt(p.connectPath, user);
    const page = await browse(p.connectPath, { cookie });
    expect(page.status).toBe(400);
    expect(page.html).toContain("Too many");
  });

  it("refuses loopback authorization metadata unless ALLOW_INSECURE_UPSTREAMS is set", async () => {
    const { discoverAuthServer } = await import("../../src/credentials/discovery");
    const strict = { allowInsecure: false, fetch: (input: string, init?: RequestInit) => fetch(input, init) };
    await expect(discoverAuthServer(oauthUpstream("dcr"), strict)).rejects.toThrow(/localhost/);
    await expect(discoverAuthServer(oauthUpstream("dcr"), { ...strict, allowInsecure: true })).resolves.toMatchObject({
      issuer: `${env.OAUTH_UPSTREAM_BASE}/t/dcr`,
      resource: oauthUpstream("dcr"),
    });
  });
});

describe("bring your own key", () => {
  async function byoPreset(opts: { visibility?: "public" | "private"; members?: TestUser[] } = {}) {
    return credPreset(`${env.OAUTH_UPSTREAM_BASE}/byo/mcp`, { headers: { "X-Api-Key": { perUser: true }, "X-Team": "owner-secret" } }, opts);
  }

  it("stores each consumer's key sealed, sends it only for them, and never returns it", async () => {
    const p = await byoPreset();
    const view = await api("GET", `/servers/${p.server}`, { token: p.owner.token });
    expect(view.body).toMatchObject({ auth: "owner", userHeaders: ["X-Api-Key"], headers: { "X-Team": expect.not.stringContaining("owner-secret") } });
    const [alice, bob] = [await createUser(), await createUser()];
    const keyA = `key-${account("alice")}`;
    const keyB = `key-${account("bob")}`;
    const put = await api("PUT", `/connections/${p.owner.handle}/${p.slug}/${p.server}`, { token: alice.token, body: { headers: { "x-api-key": keyA } } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ kind: "headers", headerNames: ["X-Api-Key"], server: p.server });
    expect(JSON.stringify(put.body)).not.toContain(keyA);
    expect(
      (await api("PUT", `/connections/${p.owner.handle}/${p.slug}/${p.server}`, { token: bob.token, body: { headers: { "X-Api-Key": keyB } } })).status,
    ).toBe(200);

    expect((await resolve(p, alice.id)).headers).toEqual({ "X-Api-Key": keyA });
    expect((await resolve(p, bob.id)).headers).toEqual({ "X-Api-Key": keyB });
    expect(await whoamiWith(`${env.OAUTH_UPSTREAM_BASE}/byo/mcp`, (await resolve(p, alice.id)).headers)).toBe(`key:${keyA}`);

    for (const res of [
      await api("GET", "/connections", { token: alice.token }),
      await api("GET", `/servers/${p.server}`, { token: p.owner.token }),
      await api("GET", "/servers", { token: p.owner.token }),
      await api("GET", `/presets/${p.slug}`, { token: p.owner.token }),
      await api("GET", "/events", { token: p.owner.token }),
    ]) {
      expect(JSON.stringify(res.body)).not.toContain(keyA);
    }
    expect(JSON.stringify(await rowsOf(alice.id))).not.toContain(keyA);
    const { cookie } = await signInAt(p.connectPath, alice);
    const page = await browse(p.connectPath, { cookie });
    expect(page.status).toBe(200);
    expect(page.html).toContain("X-Api-Key");
    expect(page.html).not.toContain(keyA);
  });

  it("sets the key through the connect page's form", async () => {
    const p = await byoPreset();
    const user = await createUser();
    const { cookie } = await signInAt(p.connectPath, user);
    const page = await browse(p.connectPath, { cookie });
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.html)![1]!;
    const saved = await browse(p.connectPath, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
      body: new URLSearchParams({ csrf, "header:X-Api-Key": "from-the-form" }).toString(),
      cookie,
    });
    expect(saved.status).toBe(200);
    expect(saved.html).toContain("Saved.");
    expect((await resolve(p, user.id)).headers).toEqual({ "X-Api-Key": "from-the-form" });
  });

  it("refuses undeclared, missing, oversized and multi-line values, naming the field", async () => {
    const p = await byoPreset();
    const user = await createUser();
    const path = `/connections/${p.owner.handle}/${p.slug}/${p.server}`;
    const cases: [Record<string, string>, string][] = [
      [{ "X-Api-Key": "k", "X-Team": "hijack" }, "headers.X-Team"],
      [{}, "headers.X-Api-Key"],
      [{ "X-Api-Key": "x".repeat(5000) }, "headers.X-Api-Key"],
      [{ "X-Api-Key": "a\r\nX-Evil: 1" }, "headers.X-Api-Key"],
    ];
    for (const [headers, field] of cases) {
      const res = await api("PUT", path, { token: user.token, body: { headers } });
      expect(res.status).toBe(400);
      expect(res.body.error.field).toBe(field);
    }
    expect(await rowsOf(user.id)).toHaveLength(0);
  });

  it("caps the credentials one consumer may keep at 100", async () => {
    const p = await byoPreset();
    const user = await createUser();
    const now = Date.now();
    const server = env.DB.prepare("INSERT INTO servers (id, owner_id, name, url, created_at, updated_at) VALUES (?, ?, ?, 'https://x.example/mcp', ?, ?)");
    const cred = env.DB.prepare(
      "INSERT INTO upstream_credentials (user_id, server_id, kind, secret_enc, resource, created_at, updated_at) VALUES (?, ?, ?, 'v1.x.y', 'https://x.example/mcp', ?, ?)",
    );
    const ids = Array.from({ length: 50 }, (_, i) => `srv_cap_${user.id}_${i}`);
    await env.DB.batch(ids.map((id, i) => server.bind(id, p.owner.id, `cap${i}-${user.handle}`.slice(0, 32), now, now)));
    await env.DB.batch(ids.flatMap((id) => [cred.bind(user.id, id, "oauth", now, now), cred.bind(user.id, id, "headers", now, now)]));
    const res = await api("PUT", `/connections/${p.owner.handle}/${p.slug}/${p.server}`, { token: user.token, body: { headers: { "X-Api-Key": "k" } } });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("too_many_connections");
  });

  it("refuses a consumer without access to the preset, and asks a caller without a key to set one", async () => {
    const p = await byoPreset({ visibility: "private" });
    const stranger = await createUser();
    const res = await api("PUT", `/connections/${p.owner.handle}/${p.slug}/${p.server}`, { token: stranger.token, body: { headers: { "X-Api-Key": "k" } } });
    expect(res.status).toBe(403);
    const err = (await resolve(p, p.owner.id).catch((e: unknown) => e)) as CredentialsRequired;
    expect(err).toBeInstanceOf(CredentialsRequired);
    expect(err.message).toContain("X-Api-Key");
  });
});

describe("a server with both OAuth and a per-user header", () => {
  it("shows the headers form with a link that starts the OAuth connection, and needs both before a call", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth", headers: { "X-Org": { perUser: true } } });
    const user = await createUser();
    const { cookie, location } = await signInAt(`${p.connectPath}?step=oauth`, user);
    expect(location).toBe(`${p.connectPath}?step=oauth`);
    const page = await browse(p.connectPath, { cookie });
    expect(page.status).toBe(200);
    expect(page.html).toContain(`href="${p.connectPath}?step=oauth"`);
    const start = await browse(`${p.connectPath}?step=oauth`, { cookie });
    expect(start.status).toBe(302);
    const acct = account("kim");
    expect((await browse(await approveAtUpstream(start.location!, acct), { cookie })).status).toBe(200);
    const missing = (await resolve(p, user.id).catch((e: unknown) => e)) as CredentialsRequired;
    expect(missing).toBeInstanceOf(CredentialsRequired);
    expect(missing.message).toContain("X-Org");
    await api("PUT", `/connections/${p.owner.handle}/${p.slug}/${p.server}`, { token: user.token, body: { headers: { "X-Org": "org-1" } } });
    const id = await resolve(p, user.id);
    expect(id.headers).toEqual({ "X-Org": "org-1", Authorization: expect.stringMatching(new RegExp(`^Bearer at-${acct}-`)) });
    const kinds = (await api("GET", "/connections", { token: user.token })).body.connections.map((c: { kind: string }) => c.kind);
    expect(kinds.sort()).toEqual(["headers", "oauth"]);
  });
});

describe("servers declaring per-user credentials", () => {
  it("refuses an owner Authorization header on an oauth server and reports auth and userHeaders", async () => {
    const owner = await createUser();
    const bad = await api("POST", "/servers", {
      token: owner.token,
      body: { name: "o1", url: oauthUpstream("dcr"), auth: "oauth", headers: { Authorization: "Bearer x" } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("headers.Authorization");
    const bad2 = await api("POST", "/servers", { token: owner.token, body: { name: "o2", url: oauthUpstream("dcr"), headers: { "X-A": { perUser: false } } } });
    expect(bad2.status).toBe(400);
    const ok = await api("POST", "/servers", {
      token: owner.token,
      body: { name: "o3", url: oauthUpstream("dcr"), auth: "oauth", headers: { "X-Key": { perUser: true } } },
    });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ auth: "oauth", userHeaders: ["X-Key"], headers: {} });
    const withAuth = await api("POST", "/servers", {
      token: owner.token,
      body: { name: "o4", url: oauthUpstream("dcr"), headers: { Authorization: "Bearer x" } },
    });
    expect(withAuth.status).toBe(201);
    const flip = await api("PATCH", "/servers/o4", { token: owner.token, body: { auth: "oauth" } });
    expect(flip.status).toBe(400);
    expect(flip.body.error.field).toBe("auth");
  });
});
