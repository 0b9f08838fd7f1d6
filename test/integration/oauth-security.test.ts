import { createExecutionContext, createScheduledController, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { createUser, givenPreset, ORIGIN, presetUrl, unique, upstreamUrl } from "../helpers";
import { INIT, mcpPost } from "../mcp-raw";
import {
  authorizeInBrowser,
  authorizeUrl,
  browse,
  cookieOf,
  field,
  form,
  freshIp,
  loginForm,
  pkce,
  registerClient,
  signInWithToken,
  tokenRequest,
} from "../oauth-helpers";

/**
 * Attacks on the gateway's authorization server (issue 12), each through the real worker: the
 * storage flood through dynamic registration, login CSRF, concurrent refreshes, unbounded bodies,
 * unverified emails from the identity provider, and the unauthenticated metadata-document fetch.
 */

const REDIRECT = "http://localhost:7777/callback";
const HOUR = 3_600_000;

async function register(body: BodyInit, ip = freshIp(), headers: Record<string, string> = {}) {
  const res = await SELF.fetch(`${ORIGIN}/oauth/register`, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": ip, ...headers },
    body,
  });
  const text = await res.text();
  let json: Record<string, any> = {};
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, body: json, text };
}

const storedClient = (id: string) =>
  env.DB.prepare("SELECT metadata, length(metadata) AS size FROM oauth_clients WHERE id = ?").bind(id).first<{ metadata: string; size: number }>();
const clientCount = async () => (await env.DB.prepare("SELECT count(*) AS n FROM oauth_clients").first<{ n: number }>())!.n;

/** Runs the worker's scheduled handler as the cron trigger would, at `now`. */
async function runCron(now: number) {
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  const ctx = createExecutionContext();
  await worker.scheduled!(createScheduledController({ scheduledTime: now, cron: "17 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
  log.mockRestore();
}

describe("dynamic client registration cannot flood storage (finding 1)", () => {
  it("refuses a 2 MB body with 413 before parsing it, and stores nothing", async () => {
    const before = await clientCount();
    const res = await register(JSON.stringify({ redirect_uris: [REDIRECT], junk: "x".repeat(2 * 1024 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.body.error).toBe("invalid_client_metadata");
    expect(res.body.error_description).toContain("16384 bytes");
    expect(await clientCount()).toBe(before);
  });

  it("refuses a 3 MiB body sent without a length (chunked) with 413, not a 500", async () => {
    const chunk = new TextEncoder().encode(`{"redirect_uris":["${REDIRECT}"],"junk":"${"y".repeat(64 * 1024)}`);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 48) return controller.close();
        sent++;
        controller.enqueue(sent === 1 ? chunk : new TextEncoder().encode("y".repeat(64 * 1024)));
      },
    });
    const res = await register(stream);
    expect(res.status).toBe(413);
    expect(sent).toBeLessThan(48);
  });

  it("answers a 100,000-deep body with a 4xx JSON error, not a 500", async () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    const res = await register(`{"redirect_uris":["${REDIRECT}"],"x":${deep}}`);
    expect(res.status).toBe(413);
    const within = `${"[".repeat(7_000)}${"]".repeat(7_000)}`;
    for (const body of [`{"redirect_uris":["${REDIRECT}"],"contacts":${within}}`, within]) {
      const r = await register(body);
      expect(r.status, r.text).toBe(400);
      expect(r.body.error).toBe("invalid_client_metadata");
    }
  });

  it("drops fields outside RFC 7591: not stored, not echoed, deep ones included", async () => {
    const within = `${'{"a":'.repeat(2_000)}1${"}".repeat(2_000)}`;
    const res = await register(`{"redirect_uris":["${REDIRECT}"],"client_name":"Tidy","software_id":"sw-1","evil":"${"z".repeat(500)}","nested":${within}}`);
    expect(res.status, res.text).toBe(201);
    expect(res.body).not.toHaveProperty("evil");
    expect(res.body).not.toHaveProperty("nested");
    expect(res.body).toMatchObject({ client_name: "Tidy", software_id: "sw-1", redirect_uris: [REDIRECT] });
    const row = await storedClient(res.body.client_id);
    expect(row!.size).toBeLessThan(1_000);
    expect(JSON.parse(row!.metadata)).not.toHaveProperty("evil");
  });

  it.each([
    ["a 201-character client_name", { client_name: "n".repeat(201) }, "client_name"],
    ["six contacts", { contacts: ["a@x", "b@x", "c@x", "d@x", "e@x", "f@x"] }, "contacts"],
    ["a 2001-character logo_uri", { logo_uri: `https://x.test/${"l".repeat(1990)}` }, "logo_uri"],
    ["eleven redirect URIs", { redirect_uris: Array.from({ length: 11 }, (_, i) => `https://app.test/${i}`) }, "redirect_uris"],
    ["six grant types", { grant_types: Array(6).fill("refresh_token") }, "grant_types"],
  ])("refuses %s with 400 naming the field", async (_label, extra, field) => {
    const res = await register(JSON.stringify({ redirect_uris: [REDIRECT], ...extra }));
    expect(res.status).toBe(400);
    expect(res.body.error_description).toMatch(new RegExp(`^${field}`));
  });

  it("allows 20 registrations per address per hour, then 429 with Retry-After; another address is not affected", async () => {
    const ip = freshIp();
    for (let i = 0; i < 20; i++) expect((await registerClient(REDIRECT, {}, ip)).status).toBe(201);
    const refused = await register(JSON.stringify({ redirect_uris: [REDIRECT] }), ip);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toBe("rate_limited");
    const retry = Number(refused.headers.get("retry-after"));
    expect(retry).toBeGreaterThan(3_500);
    expect(retry).toBeLessThanOrEqual(3_600);
    expect((await registerClient(REDIRECT, {}, freshIp())).status).toBe(201);
  });

  it("counts exactly under concurrency: 30 parallel registrations from one address give 20 clients", async () => {
    const ip = freshIp();
    const results = await Promise.all(Array.from({ length: 30 }, () => registerClient(REDIRECT, {}, ip)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(20);
    expect(results.filter((r) => r.status === 429)).toHaveLength(10);
  });

  it("counts an IPv6 /64 as one address, and a garbage header as one shared bucket", async () => {
    const prefix = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:${Math.floor(Math.random() * 0xffff).toString(16)}`;
    for (let i = 0; i < 20; i++) expect((await registerClient(REDIRECT, {}, `${prefix}:${i.toString(16)}::${(i * 7).toString(16)}`)).status).toBe(201);
    expect((await registerClient(REDIRECT, {}, `${prefix}:ffff:1:2:3`)).status).toBe(429);
    expect((await registerClient(REDIRECT, {}, `${prefix.replace(/:[^:]+$/, ":1")}::1`)).status).toBe(201);
    const garbage = await Promise.all(Array.from({ length: 21 }, (_, i) => registerClient(REDIRECT, {}, `not-an-ip-${i}`)));
    expect(garbage.filter((r) => r.status === 429)).toHaveLength(1);
  });

  it("deletes clients that got no grant within 24 h, keeps the ones with a grant and the young ones", async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await registerClient(REDIRECT)).body.client_id as string);
    const [unused, granted, young] = ids as [string, string, string];
    const user = await createUser();
    const old = Date.now() - 25 * HOUR;
    await env.DB.prepare("UPDATE oauth_clients SET created_at = ? WHERE id IN (?, ?)").bind(old, unused, granted).run();
    await env.DB.prepare("INSERT INTO oauth_grants (id, user_id, client_id, preset_id, resource, scope, created_at) VALUES (?, ?, ?, 'prs-x', 'r', 'mcp', ?)")
      .bind(`grt-${crypto.randomUUID()}`, user.id, granted, old)
      .run();
    await runCron(Date.now());
    const left = (await env.DB.prepare("SELECT id FROM oauth_clients WHERE id IN (?, ?, ?)").bind(unused, granted, young).all<{ id: string }>()).results.map(
      (r) => r.id,
    );
    expect(left.sort()).toEqual([granted, young].sort());
  });
});

/** A body of `chunks` × 64 KiB sent without a length; `sent()` tells how much the worker pulled. */
function endless(prefix: string, chunks = 64) {
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= chunks) return controller.close();
      sent++;
      controller.enqueue(new TextEncoder().encode(sent === 1 ? prefix.padEnd(64 * 1024, "a") : "a".repeat(64 * 1024)));
    },
  });
  return { body, sent: () => sent };
}

const FORM = { "content-type": "application/x-www-form-urlencoded" };

describe("OAuth endpoints read bodies with a bound (finding 13)", () => {
  it.each(["/oauth/token", "/oauth/revoke"])("refuses a 20 KiB body at %s with 413 invalid_request", async (path) => {
    const res = await SELF.fetch(`${ORIGIN}${path}`, { method: "POST", headers: FORM, body: `client_id=x&junk=${"j".repeat(20 * 1024)}` });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toBe("invalid_request");
  });

  it.each(["/oauth/token", "/oauth/revoke"])("stops reading an endless body at %s after 16 KiB", async (path) => {
    const s = endless("client_id=x&junk=");
    const res = await SELF.fetch(`${ORIGIN}${path}`, { method: "POST", headers: FORM, body: s.body });
    expect(res.status).toBe(413);
    await res.body?.cancel();
    expect(s.sent()).toBeLessThan(64);
  });

  it.each(["/oauth/login", "/oauth/consent"])("refuses a 100 KiB form at %s with a 413 page, and an endless one early", async (path) => {
    const res = await SELF.fetch(`${ORIGIN}${path}`, {
      method: "POST",
      headers: { ...FORM, origin: ORIGIN },
      body: `request=x&token=${"t".repeat(100 * 1024)}`,
    });
    expect(res.status).toBe(413);
    expect(await res.text()).toContain("larger than 65536 bytes");
    const s = endless("request=x&token=");
    const endlessRes = await SELF.fetch(`${ORIGIN}${path}`, { method: "POST", headers: { ...FORM, origin: ORIGIN }, body: s.body });
    expect(endlessRes.status).toBe(413);
    await endlessRes.body?.cancel();
    expect(s.sent()).toBeLessThan(64);
  });
});

/** An authorization request for a fresh private preset of a fresh owner; its sign-in page. */
async function signInPage() {
  const owner = await createUser();
  const { slug } = await givenPreset({ owner, visibility: "private", servers: [{ name: unique("alpha"), url: upstreamUrl("alpha"), tools: ["echo"] }] });
  const clientId = (await registerClient(REDIRECT)).body.client_id as string;
  const { verifier, challenge } = await pkce();
  const resource = presetUrl(owner.handle, slug);
  const url = authorizeUrl({ client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, state: "s", resource });
  const page = await browse(url);
  expect(page.status, page.html).toBe(200);
  return { owner, clientId, verifier, resource, url, page };
}

describe("the sign-in form refuses login CSRF (finding 11)", () => {
  it("refuses a cross-site POST of the attacker's own valid sign-in with 403, setting no session", async () => {
    const attacker = await signInPage();
    const init = loginForm(attacker.page, attacker.owner.token);
    const res = await browse("/oauth/login", { ...init, headers: { ...(init.headers as Record<string, string>), origin: "https://evil.example" } });
    expect(res.status).toBe(403);
    expect(res.html).toContain("Request refused");
    expect(res.headers.get("set-cookie")).toBeNull();
  });

  it("refuses a POST that names no origin at all (no Origin, no Sec-Fetch-Site)", async () => {
    const attacker = await signInPage();
    const init = loginForm(attacker.page, attacker.owner.token);
    const { origin: _dropped, ...headers } = init.headers as Record<string, string>;
    const res = await browse("/oauth/login", { ...init, headers });
    expect(res.status).toBe(403);
    expect(res.headers.get("set-cookie")).toBeNull();
  });

  it("refuses the attacker's form token without the pre-sign-in cookie it is bound to (missing or another browser's)", async () => {
    const attacker = await signInPage();
    const victim = await browse(attacker.url);
    expect(cookieOf(victim)).toMatch(/^__Host-mcpgate_signin=[\w-]{43}$/);
    const init = loginForm(attacker.page, attacker.owner.token);
    for (const cookie of [undefined, cookieOf(victim)]) {
      const res = await browse("/oauth/login", { ...init, cookie });
      expect(res.status).toBe(403);
      expect(res.headers.get("set-cookie")).toBeNull();
    }
    expect((await browse("/oauth/login", form({ request: field(attacker.page.html, "request"), token: attacker.owner.token }))).status).toBe(403);
  });

  it("sets the pre-sign-in cookie as __Host-, Secure, HttpOnly, SameSite=Lax, 15 min; its own form signs in", async () => {
    const { page, owner } = await signInPage();
    const line = page.headers.get("set-cookie")!;
    expect(line).toMatch(/^__Host-mcpgate_signin=[\w-]{43}; Max-Age=900; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    const res = await browse("/oauth/login", loginForm(page, owner.token));
    expect(res.status, res.html).toBe(303);
  });

  it("refuses a cross-site consent POST even with the right tokens", async () => {
    const { url, owner } = await signInPage();
    const { cookie, next } = await signInWithToken(url, owner.token);
    const values = { request: field(next.html, "request"), csrf: field(next.html, "csrf"), decision: "approve" };
    const init = form(values);
    const res = await browse("/oauth/consent", { ...init, headers: { ...(init.headers as Record<string, string>), origin: "https://evil.example" }, cookie });
    expect(res.status).toBe(403);
    expect(res.location).toBeNull();
  });
});

async function sha256Hex(s: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Tokens of a fresh grant: the whole browser flow, then the code exchange. */
async function grantTokens() {
  const s = await signInPage();
  const back = await authorizeInBrowser(s.url, s.owner.token);
  const res = await tokenRequest({
    grant_type: "authorization_code",
    code: back.searchParams.get("code")!,
    redirect_uri: REDIRECT,
    client_id: s.clientId,
    code_verifier: s.verifier,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return { ...s, tokens: res.body };
}

const refresh = (clientId: string, token: string) => tokenRequest({ grant_type: "refresh_token", refresh_token: token, client_id: clientId });
/** Moves a used refresh token's use `ms` into the past. */
const ageUse = async (token: string, ms: number) =>
  env.DB.prepare("UPDATE oauth_refresh_tokens SET used_at = used_at - ? WHERE token_hash = ?")
    .bind(ms, await sha256Hex(token))
    .run();

describe("a double-fired refresh keeps its grant (finding 12)", () => {
  it("answers two concurrent refreshes with the same token with the same new pair, and the grant lives on", async () => {
    const g = await grantTokens();
    const [a, b] = await Promise.all([refresh(g.clientId, g.tokens.refresh_token), refresh(g.clientId, g.tokens.refresh_token)]);
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(b.status, JSON.stringify(b.body)).toBe(200);
    expect(b.body).toEqual(a.body);
    expect(a.body.refresh_token).not.toBe(g.tokens.refresh_token);
    expect((await mcpPost(g.resource, INIT(), { token: a.body.access_token })).status).toBe(200);
    const next = await refresh(g.clientId, a.body.refresh_token);
    expect(next.status, JSON.stringify(next.body)).toBe(200);
    const row = await env.DB.prepare("SELECT successor_sealed AS s FROM oauth_refresh_tokens WHERE token_hash = ?")
      .bind(await sha256Hex(g.tokens.refresh_token))
      .first<{ s: string }>();
    expect(row!.s).toMatch(/^v1\./);
    expect(row!.s).not.toContain(a.body.refresh_token);
  });

  it("answers a retry 9 s later with the same pair, and revokes the grant on a reuse 11 s after", async () => {
    const g = await grantTokens();
    const first = await refresh(g.clientId, g.tokens.refresh_token);
    expect(first.status).toBe(200);
    await ageUse(g.tokens.refresh_token, 9_000);
    const retry = await refresh(g.clientId, g.tokens.refresh_token);
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(first.body);
    await ageUse(g.tokens.refresh_token, 2_000);
    const late = await refresh(g.clientId, g.tokens.refresh_token);
    expect(late.status).toBe(400);
    expect(late.body.error_description).toContain("already used");
    expect((await refresh(g.clientId, first.body.refresh_token)).body.error).toBe("invalid_grant");
    expect((await mcpPost(g.resource, INIT(), { token: first.body.access_token })).status).toBe(401);
  });

  it("clears a used token's sealed reply once its window is long over", async () => {
    const g = await grantTokens();
    expect((await refresh(g.clientId, g.tokens.refresh_token)).status).toBe(200);
    await ageUse(g.tokens.refresh_token, 61_000);
    await runCron(Date.now());
    const row = await env.DB.prepare("SELECT successor_sealed AS s, used_at AS u FROM oauth_refresh_tokens WHERE token_hash = ?")
      .bind(await sha256Hex(g.tokens.refresh_token))
      .first<{ s: string | null; u: number }>();
    expect(row).toMatchObject({ s: null, u: expect.any(Number) });
  });
});

/** Tells the fake IdP who is "logged in" next; returns the login id for its authorize URL. */
async function idpLogin(claims: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${env.IDP_BASE}/__login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(claims) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { login: string }).login;
}

/** Signs in through the fake IdP from a fresh sign-in page; the gateway's callback answer. */
async function oidcSignIn(email: string, claims: Record<string, unknown>) {
  const owner = await createUser({ email });
  const { slug } = await givenPreset({ owner, visibility: "private", servers: [{ name: unique("alpha"), url: upstreamUrl("alpha"), tools: ["echo"] }] });
  const clientId = (await registerClient(REDIRECT)).body.client_id as string;
  const url = authorizeUrl({ client_id: clientId, redirect_uri: REDIRECT, code_challenge: (await pkce()).challenge, resource: presetUrl(owner.handle, slug) });
  const page = await browse(url);
  const link = /<a class="button" href="([^"]+)">/.exec(page.html)![1]!.replace(/&amp;/g, "&");
  const start = await browse(link);
  const toIdp = new URL(start.location!);
  toIdp.searchParams.set("login", await idpLogin({ email, ...claims }));
  const idpAnswer = await fetch(toIdp, { redirect: "manual" });
  return browse(idpAnswer.headers.get("location")!, { cookie: cookieOf(start) });
}

describe("OpenID Connect binds accounts by verified email only (finding 14)", () => {
  it.each([
    ["without email_verified", { misbehave: "no-email-verified" }],
    ['with email_verified "true" (a string)', { email_verified: "true" }],
    ["with email_verified false", { email_verified: false }],
  ])("refuses an ID token %s with 403 and no session", async (_label, claims) => {
    const done = await oidcSignIn(`${unique("mail")}@example.test`, claims);
    expect(done.status).toBe(403);
    expect(done.html).toContain("not verified");
    expect(done.headers.getAll("set-cookie").some((c) => c.startsWith("__Host-mcpgate_session="))).toBe(false);
  });

  it("signs in with email_verified true", async () => {
    const done = await oidcSignIn(`${unique("mail")}@example.test`, { email_verified: true });
    expect(done.status, done.html).toBe(303);
  });
});

describe("unauthenticated metadata-document fetches and Host-derived metadata (finding 16)", () => {
  const cimdUrl = (name: string) => `${env.IDP_BASE}/cimd/${unique("c")}/${name}.json`;
  const hits = (url: string) => env.DB.prepare("SELECT failed_at AS t FROM oauth_cimd_failures WHERE url = ?").bind(url).first<{ t: number }>();

  async function authorizeWith(clientId: string) {
    const url = authorizeUrl({
      client_id: clientId,
      redirect_uri: "http://localhost:7788/callback",
      code_challenge: (await pkce()).challenge,
      resource: `${ORIGIN}/mcp/x/y`,
    });
    return browse(url);
  }

  it("answers every way a fetch can fail with one message, and does not refetch a failed URL for 60 s", async () => {
    const pages = [];
    for (const name of ["missing", "notjson", "huge", "redirect"]) pages.push(await authorizeWith(cimdUrl(name)));
    const dead = `${env.DEAD_UPSTREAM.replace(/\/mcp$/, "")}/cimd/client.json`;
    pages.push(await authorizeWith(dead));
    const bodies = new Set(pages.map((p) => /<p class="error">([^<]*)<\/p>/.exec(p.html)?.[1]));
    expect(pages.map((p) => p.status)).toEqual([400, 400, 400, 400, 400]);
    expect([...bodies]).toEqual(["The client&#39;s metadata document could not be fetched, or is not a valid one for this gateway."]);

    const missing = cimdUrl("missing");
    await authorizeWith(missing);
    const first = (await hits(missing))!.t;
    await authorizeWith(missing);
    expect((await hits(missing))!.t, "answered from the failure cache, not fetched again").toBe(first);
    await env.DB.prepare("UPDATE oauth_cimd_failures SET failed_at = failed_at - 61000 WHERE url = ?").bind(missing).run();
    await authorizeWith(missing);
    expect((await hits(missing))!.t).toBeGreaterThan(first - 61_000);
  });

  it("does not cache a Host-derived issuer: AS and resource metadata without PUBLIC_URL are no-store", async () => {
    for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]) {
      const res = await SELF.fetch(`https://evil.example${path}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { issuer: string }).issuer).toBe("https://evil.example");
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
    const owner = await createUser();
    const { slug } = await givenPreset({ owner, visibility: "public", servers: [{ name: unique("alpha"), url: upstreamUrl("alpha"), tools: ["echo"] }] });
    const prm = await SELF.fetch(`https://evil.example/.well-known/oauth-protected-resource/mcp/${owner.handle}/${slug}`);
    expect(prm.status).toBe(200);
    expect(prm.headers.get("cache-control")).toBe("no-store");
  });

  it("lets metadata be cached publicly when PUBLIC_URL names the issuer", async () => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("https://evil.example/.well-known/oauth-authorization-server"),
      { ...env, PUBLIC_URL: "https://gw.example" },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(((await res.json()) as { issuer: string }).issuer).toBe("https://gw.example");
    expect(res.headers.get("cache-control")).toBe("public, max-age=3600");
  });
});
