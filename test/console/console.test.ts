import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ASSET_VERSION } from "../../src/console/assets";
import { addPreset, api, connectClient, createUser, givenPreset, unique, upstreamUrl } from "../helpers";
import { ConsoleBrowser, csrfOf } from "./console-helpers";

const SESSION_COOKIE = "__Host-mcpgate_console";

async function signedIn() {
  const user = await createUser();
  const browser = new ConsoleBrowser();
  const res = await browser.signIn(user);
  expect(res.status).toBe(303);
  expect(res.headers.get("location")).toBe("/console");
  return { user, browser };
}

async function presetCount(userId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM presets WHERE owner_id = ?").bind(userId).first<{ n: number }>();
  return row?.n ?? 0;
}

describe("console pages", () => {
  it("sends a visitor without a session from / and /console to the sign-in page", async () => {
    const browser = new ConsoleBrowser();
    const root = await browser.get("/");
    expect(root.status).toBe(303);
    expect(root.headers.get("location")).toBe("/console");
    const list = await browser.get("/console");
    expect(list.status).toBe(303);
    expect(list.headers.get("location")).toBe("/console/signin");
    const preset = await browser.get("/console/presets/anything");
    expect(preset.headers.get("location")).toBe("/console/signin");
  });

  it("serves every page with a strict CSP: scripts and styles from 'self' only, no inline code, no framing", async () => {
    const { browser } = await signedIn();
    for (const path of ["/console", "/console/presets/new"]) {
      const res = await browser.get(path);
      expect(res.status).toBe(200);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("base-uri 'none'");
      expect(csp).toContain("form-action 'self'");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).not.toContain("unsafe-eval");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("same-origin");
      const html = await res.text();
      expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
      expect(html).not.toMatch(/<style|\sstyle=/);
    }
    const signIn = await new ConsoleBrowser().get("/console/signin");
    expect(signIn.headers.get("content-security-policy")).toContain("script-src 'self'");
  });

  it("sets the session cookie as __Host-, Secure, HttpOnly, SameSite=Lax, Path=/ and stores only its hash", async () => {
    const user = await createUser();
    const browser = new ConsoleBrowser();
    const page = await browser.get("/console/signin");
    const csrf = csrfOf(await page.text());
    const res = await browser.post("/console/signin", { csrf, token: user.token });
    const line = res.headers.getAll("set-cookie").find((l) => l.startsWith(`${SESSION_COOKIE}=`));
    expect(line).toBeDefined();
    expect(line).toMatch(/; Secure/);
    expect(line).toMatch(/; HttpOnly/);
    expect(line).toMatch(/; SameSite=Lax/);
    expect(line).toMatch(/; Path=\//);
    expect(line).not.toMatch(/Domain=/i);
    const value = browser.cookies.get(SESSION_COOKIE)!;
    const rows = await env.DB.prepare("SELECT id_hash, expires_at, created_at FROM console_sessions WHERE user_id = ?")
      .bind(user.id)
      .all<{ id_hash: string; expires_at: number; created_at: number }>();
    expect(rows.results).toHaveLength(1);
    expect(rows.results[0]!.id_hash).not.toBe(value);
    expect(rows.results[0]!.id_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows.results[0]!.expires_at - rows.results[0]!.created_at).toBe(7 * 24 * 3600_000);
  });

  it("refuses a token with scope 'mcp' and a wrong token, inline on the form", async () => {
    const user = await createUser();
    const mcp = await api("POST", "/tokens", { token: user.token, body: { name: unique("t"), scope: "mcp" } });
    expect(mcp.status).toBe(201);
    const browser = new ConsoleBrowser();
    const res = await browser.signIn({ token: mcp.body.token });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("scope &#39;mcp&#39;");
    const wrong = await browser.signIn({ token: `mcpg_${"x".repeat(40)}` });
    expect(wrong.status).toBe(400);
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(false);
  });

  it("refuses a sign-in without the form's CSRF token or from another origin", async () => {
    const user = await createUser();
    const browser = new ConsoleBrowser();
    const csrf = csrfOf(await (await browser.get("/console/signin")).text());
    expect((await browser.post("/console/signin", { token: user.token })).status).toBe(403);
    expect((await browser.post("/console/signin", { csrf, token: user.token }, { origin: "https://evil.example" })).status).toBe(403);
    expect((await browser.post("/console/signin", { csrf, token: user.token }, { origin: null })).status).toBe(403);
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(false);
  });

  it("creates a preset through the form, with its audit event, and shows its MCP URL and snippets", async () => {
    const { user, browser } = await signedIn();
    const csrf = await browser.csrf("/console/presets/new");
    const slug = unique("p");
    const res = await browser.post("/console/presets", { csrf, slug, name: "My tools", visibility: "private" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/console/presets/${slug}?created=1`);
    const page = await browser.get(`/console/presets/${slug}`);
    const html = await page.text();
    const url = `http://gateway.test/mcp/${user.handle}/${slug}`;
    expect(html).toContain(url);
    expect(html).toContain(`claude mcp add --transport http ${slug} ${url}`);
    expect(html).toContain(`data-copy="${url}"`);
    const events = await api("GET", `/presets/${slug}/events`, { token: user.token });
    expect(events.body.events.map((e: { type: string }) => e.type)).toContain("preset.created");
    const list = await (await browser.get("/console")).text();
    expect(list).toContain(`/console/presets/${slug}`);
    expect(list).toContain("0 calls, 0 errors in the last 24 hours");
  });

  it("lists each preset with its own calls, errors and health, read for the whole list at once", async () => {
    const { user, browser } = await signedIn();
    const server = { name: "alpha", url: upstreamUrl("alpha"), tools: ["echo", "fail"] };
    const busy = await givenPreset({ owner: user, slug: unique("busy"), servers: [server] });
    const quiet = await givenPreset({ owner: user, slug: unique("quiet") });
    expect((await api("PUT", `/presets/${quiet.slug}/servers/alpha`, { token: user.token, body: { tools: ["echo"] } })).status).toBe(201);
    const idle = await givenPreset({ owner: user, slug: unique("idle") });
    const busyClient = await connectClient(busy.url, { token: user.token });
    for (let i = 0; i < 3; i++) await busyClient.callTool({ name: "alpha__echo", arguments: { text: `b${i}` } });
    await busyClient.callTool({ name: "alpha__fail", arguments: {} });
    await busyClient.close();
    const quietClient = await connectClient(quiet.url, { token: user.token });
    await quietClient.callTool({ name: "alpha__echo", arguments: { text: "q" } });
    await quietClient.close();
    // The stats API flushes each preset's pending usage into D1, where the list reads it.
    for (const p of [busy, quiet]) expect((await api("GET", `/presets/${p.slug}/stats?window=1h`, { token: user.token })).status).toBe(200);
    const html = await (await browser.get("/console")).text();
    const card = (slug: string) => html.split('<li class="card">').find((c) => c.includes(`<code>${slug}</code>`)) ?? "";
    expect(card(busy.slug)).toContain("4 calls, 1 errors (24 h)");
    expect(card(quiet.slug)).toContain("1 calls, 0 errors (24 h)");
    expect(card(idle.slug)).toContain("0 calls, 0 errors (24 h)");
    expect(card(busy.slug)).toContain("alpha: ok");
    expect(card(idle.slug)).toContain("No servers attached.");
    // The API's list comes from the same two queries: same presets, same servers.
    const listed = await api("GET", "/presets", { token: user.token });
    expect(listed.body.presets.map((p: { slug: string }) => p.slug)).toEqual([busy.slug, idle.slug, quiet.slug].sort());
    const quietJson = listed.body.presets.find((p: { slug: string }) => p.slug === quiet.slug);
    expect(quietJson.servers.map((s: { name: string; tools: string[] }) => [s.name, s.tools])).toEqual([["alpha", ["echo"]]]);
  });

  it("shows the API's validation errors inline and creates nothing", async () => {
    const { user, browser } = await signedIn();
    const csrf = await browser.csrf("/console/presets/new");
    const res = await browser.post("/console/presets", { csrf, slug: "A!", name: "", visibility: "everyone" });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('id="slug-error"');
    expect(html).toContain('id="name-error"');
    expect(html).toContain('id="visibility-error"');
    expect(html).toContain('aria-invalid="true"');
    expect(await presetCount(user.id)).toBe(0);
    const slug = unique("dup");
    await addPreset(user, slug);
    const dup = await browser.post("/console/presets", { csrf, slug, name: "again", visibility: "public" });
    expect(dup.status).toBe(409);
    expect(await dup.text()).toContain("You already have a preset");
  });

  it("refuses a POST without the CSRF token, with another session's token or from a foreign Origin: 403, nothing created", async () => {
    const { user, browser } = await signedIn();
    const other = await signedIn();
    const otherCsrf = await other.browser.csrf();
    const csrf = await browser.csrf();
    const fields = { slug: unique("p"), name: "x", visibility: "public" };
    expect((await browser.post("/console/presets", fields)).status).toBe(403);
    expect((await browser.post("/console/presets", { ...fields, csrf: otherCsrf })).status).toBe(403);
    expect((await browser.post("/console/presets", { ...fields, csrf }, { origin: "https://evil.example" })).status).toBe(403);
    expect((await browser.post("/console/presets", { ...fields, csrf }, { origin: null })).status).toBe(403);
    expect(await presetCount(user.id)).toBe(0);
    expect((await browser.post("/console/signout", {}, { origin: "https://evil.example" })).status).toBe(403);
    expect((await browser.get("/console")).status).toBe(200);
  });

  it("answers 404 for another user's preset page", async () => {
    const owner = await createUser();
    const slug = unique("mine");
    await addPreset(owner, slug, "public");
    const { browser } = await signedIn();
    const res = await browser.get(`/console/presets/${slug}`);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain(owner.handle);
  });

  it("ends the session at sign-out: the row is gone and the old cookie no longer works", async () => {
    const { user, browser } = await signedIn();
    const cookie = browser.cookies.get(SESSION_COOKIE)!;
    const csrf = await browser.csrf();
    const out = await browser.post("/console/signout", { csrf });
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/console/signin");
    expect(out.headers.getAll("set-cookie").some((l) => l.startsWith(`${SESSION_COOKIE}=;`) && /Max-Age=0/i.test(l))).toBe(true);
    const left = await env.DB.prepare("SELECT COUNT(*) AS n FROM console_sessions WHERE user_id = ?").bind(user.id).first<{ n: number }>();
    expect(left?.n).toBe(0);
    const replay = new ConsoleBrowser();
    replay.cookies.set(SESSION_COOKIE, cookie);
    expect((await replay.get("/console")).headers.get("location")).toBe("/console/signin");
  });

  it("ends a session past its absolute expiry or idle for 12 hours", async () => {
    const { user, browser } = await signedIn();
    await env.DB.prepare("UPDATE console_sessions SET last_seen = ? WHERE user_id = ?")
      .bind(Date.now() - 12 * 3600_000 - 1, user.id)
      .run();
    expect((await browser.get("/console")).headers.get("location")).toBe("/console/signin");
    const again = await signedIn();
    await env.DB.prepare("UPDATE console_sessions SET expires_at = ? WHERE user_id = ?")
      .bind(Date.now() - 1, again.user.id)
      .run();
    expect((await again.browser.get("/console")).headers.get("location")).toBe("/console/signin");
  });

  it("replaces the session of a browser that signs in again", async () => {
    const user = await createUser();
    const browser = new ConsoleBrowser();
    const csrf = csrfOf(await (await browser.get("/console/signin")).text());
    expect((await browser.post("/console/signin", { csrf, token: user.token })).status).toBe(303);
    const before = browser.cookies.get(SESSION_COOKIE);
    // The sign-in form of a second tab, opened before the first sign-in.
    expect((await browser.post("/console/signin", { csrf, token: user.token })).status).toBe(303);
    expect(browser.cookies.get(SESSION_COOKIE)).not.toBe(before);
    const n = await env.DB.prepare("SELECT COUNT(*) AS n FROM console_sessions WHERE user_id = ?").bind(user.id).first<{ n: number }>();
    expect(n?.n).toBe(1);
  });

  it("keeps at most 20 sessions per user, dropping the oldest", async () => {
    const user = await createUser();
    const first = new ConsoleBrowser();
    await first.signIn(user);
    for (let i = 0; i < 20; i++) await new ConsoleBrowser().signIn(user);
    const n = await env.DB.prepare("SELECT COUNT(*) AS n FROM console_sessions WHERE user_id = ?").bind(user.id).first<{ n: number }>();
    expect(n?.n).toBe(20);
    expect((await first.get("/console")).headers.get("location")).toBe("/console/signin");
  });

  it("signs in through the OIDC provider, ending in a console session", async () => {
    const email = `${unique("mail")}@example.test`;
    const user = await createUser({ email });
    const login = await fetch(`${env.IDP_BASE}/__login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email }) });
    const { login: loginId } = (await login.json()) as { login: string };
    const browser = new ConsoleBrowser();
    const page = await (await browser.get("/console/signin")).text();
    const link = /<a class="button" href="([^"]+)">Sign in with Test IdP<\/a>/.exec(page);
    expect(link).not.toBeNull();
    const start = await browser.get(link![1]!.replace(/&amp;/g, "&"));
    expect(start.status).toBe(302);
    const toIdp = new URL(start.headers.get("location")!);
    toIdp.searchParams.set("login", loginId);
    const idpAnswer = await fetch(toIdp, { redirect: "manual" });
    const callback = new URL(idpAnswer.headers.get("location")!);
    const done = await browser.get(callback.pathname + callback.search);
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe("/console/signin/oidc");
    const signedInRes = await browser.get("/console/signin/oidc");
    expect(signedInRes.status).toBe(303);
    expect(signedInRes.headers.get("location")).toBe("/console");
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(true);
    const list = await browser.get("/console");
    expect(list.status).toBe(200);
    expect(await list.text()).toContain(`Sign out ${user.handle}`);
  });

  it("refuses the OIDC return without a completed sign-in", async () => {
    const browser = new ConsoleBrowser();
    const res = await browser.get("/console/signin/oidc");
    expect(res.status).toBe(403);
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(false);
  });

  it("leaves the MCP endpoint, the API, OAuth metadata and /healthz as they were", async () => {
    const browser = new ConsoleBrowser();
    expect((await browser.get("/healthz")).status).toBe(200);
    const apiRes = await browser.get("/api/v1/presets");
    expect(apiRes.status).toBe(401);
    expect(apiRes.headers.get("content-type")).toContain("application/json");
    expect((await browser.get("/.well-known/oauth-authorization-server")).status).toBe(200);
    expect((await browser.get(`/console/assets/console.${ASSET_VERSION}.js`)).headers.get("content-type")).toContain("text/javascript");
  });
});
