import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { mcpCors, originGuard } from "../../src/edge/mcp-cors";
import worker from "../../src/index";
import { addPreset, addServer, api, attach, createUser, ORIGIN, presetUrl, type TestUser, unique, upstreamUrl } from "../helpers";
import { INIT, mcpPost, rawSession } from "../mcp-raw";
import { authorizeInBrowser, authorizeUrl, browse, loginForm, pkce, registerClient, signInWithToken, tokenRequest } from "../oauth-helpers";

/**
 * @module The exact answers of the pieces built on hono's middleware and helpers (cors, cookie,
 * html, onError) and on jose's decodeJwt: what the hand-written code before them answered,
 * header by header, so a change in the library or in its options shows here.
 */

const ALLOWED = "http://localhost:6274";
const ALLOW_METHODS = "GET, POST, DELETE, OPTIONS";
const ALLOW_HEADERS = "Authorization, Content-Type, Accept, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID";
const EXPOSED = "Mcp-Session-Id, WWW-Authenticate, MCP-Protocol-Version, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After";
const REDIRECT = "http://localhost:7777/callback";

async function preset(visibility = "public"): Promise<{ owner: TestUser; slug: string; url: string }> {
  return presetOf(await createUser(), visibility);
}

async function presetOf(owner: TestUser, visibility: string): Promise<{ owner: TestUser; slug: string; url: string }> {
  const server = unique("alpha");
  await addServer(owner, server, upstreamUrl("alpha"));
  const slug = unique("p");
  await addPreset(owner, slug, visibility);
  await attach(owner, slug, server, ["echo"]);
  return { owner, slug, url: presetUrl(owner.handle, slug) };
}

/** The CORS-related headers of a response, by name; absent ones are left out. */
function corsOf(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) if (name.startsWith("access-control-") || name === "vary") out[name] = value;
  return out;
}

const simpleCors = { "access-control-allow-origin": ALLOWED, "access-control-expose-headers": EXPOSED, vary: "Origin" };

describe("CORS on the MCP endpoint", () => {
  it("answers a preflight from an allowed origin with 204 and exactly the CORS headers it always sent", async () => {
    const { url } = await preset();
    const res = await SELF.fetch(url, {
      method: "OPTIONS",
      headers: { origin: ALLOWED, "access-control-request-method": "POST", "access-control-request-headers": "content-type, x-custom" },
    });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe("");
    expect(corsOf(res.headers)).toEqual({
      ...simpleCors,
      "access-control-allow-methods": ALLOW_METHODS,
      "access-control-allow-headers": ALLOW_HEADERS,
      "access-control-max-age": "86400",
    });
    expect(res.headers.get("content-type")).toBeNull();
  });

  it("answers a preflight even for a path that names no preset (CORS comes before the path check)", async () => {
    const res = await SELF.fetch(`${ORIGIN}/mcp/Not_A_Handle/x`, { method: "OPTIONS", headers: { origin: ALLOWED, "access-control-request-method": "POST" } });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED);
  });

  it("answers an OPTIONS without Origin with 204, the Allow-* headers and Max-Age, and nothing origin-related", async () => {
    const { url } = await preset();
    const res = await SELF.fetch(url, { method: "OPTIONS" });
    expect(res.status).toBe(204);
    expect(corsOf(res.headers)).toEqual({
      "access-control-allow-methods": ALLOW_METHODS,
      "access-control-allow-headers": ALLOW_HEADERS,
      "access-control-max-age": "86400",
    });
  });

  it("gives an allowed origin exactly Allow-Origin, Expose-Headers and Vary on replies, errors and 401s alike", async () => {
    const pub = await preset();
    const ok = await mcpPost(pub.url, INIT(), { headers: { origin: ALLOWED } });
    expect(ok.status).toBe(200);
    expect(corsOf(ok.headers)).toEqual(simpleCors);
    expect(ok.headers.get("mcp-session-id")).toBeTruthy();

    const notFound = await mcpPost(`${ORIGIN}/mcp/Not_A_Handle/x`, INIT(), { headers: { origin: ALLOWED } });
    expect(notFound.status).toBe(404);
    expect(corsOf(notFound.headers)).toEqual(simpleCors);
    const badType = await mcpPost(pub.url, "{}", { headers: { origin: ALLOWED, "content-type": "text/plain" } });
    expect(badType.status).toBe(415);
    expect(corsOf(badType.headers)).toEqual(simpleCors);

    const priv = await preset("private");
    const anonymous = await mcpPost(priv.url, INIT(), { headers: { origin: ALLOWED } });
    expect(anonymous.status).toBe(401);
    expect(corsOf(anonymous.headers)).toEqual(simpleCors);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Bearer /);
    const badToken = await mcpPost(priv.url, INIT(), { token: "mcpg_not-a-token", headers: { origin: ALLOWED } });
    expect(badToken.status).toBe(401);
    expect(corsOf(badToken.headers)).toEqual(simpleCors);
    expect(badToken.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(badToken.json).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32003, message: "The bearer token is not valid for this preset." } });
  });

  it("keeps CORS headers and the content type on a GET stream and a DELETE for an allowed origin", async () => {
    const { url } = await preset();
    const session = await rawSession(url);
    const stream = await SELF.fetch(url, { headers: { origin: ALLOWED, accept: "text/event-stream", "mcp-session-id": session } });
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toBe("text/event-stream");
    expect(corsOf(stream.headers)).toEqual(simpleCors);
    await stream.body?.cancel();
    const ended = await SELF.fetch(url, { method: "DELETE", headers: { origin: ALLOWED, "mcp-session-id": session } });
    expect(corsOf(ended.headers)).toEqual(simpleCors);
    await ended.body?.cancel();
  });

  it("refuses a disallowed Origin with 403, the JSON-RPC error and no CORS headers, even on a preflight", async () => {
    const { url } = await preset();
    const post = await mcpPost(url, INIT(), { headers: { origin: "https://evil.example" } });
    expect(post.status).toBe(403);
    expect(post.headers.get("content-type")).toBe("application/json");
    expect(post.json).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32000, message: "Origin https://evil.example is not allowed." } });
    expect(corsOf(post.headers)).toEqual({});
    const preflight = await SELF.fetch(url, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
    expect(preflight.status).toBe(403);
    expect(corsOf(preflight.headers)).toEqual({});
    await preflight.body?.cancel();
  });

  it("sends no CORS headers (and no Vary) to a request without Origin, success or error", async () => {
    const { url } = await preset();
    const ok = await mcpPost(url, INIT());
    expect(ok.status).toBe(200);
    expect(corsOf(ok.headers)).toEqual({});
    const bad = await mcpPost(url, "not json");
    expect(bad.status).toBe(400);
    expect(corsOf(bad.headers)).toEqual({});
  });

  it("leaves CORS headers off a reply the app's error handler made from a thrown error, as before", async () => {
    const app = new Hono();
    app.all("/mcp/:user/:slug", originGuard, mcpCors, () => {
      throw new Error("boom");
    });
    app.onError((_e, c) => c.json({ error: { code: "internal_error", message: "Internal error." } }, 500));
    const res = await app.request("/mcp/a/b", { method: "POST", headers: { origin: ALLOWED } }, { ALLOWED_ORIGINS: ALLOWED });
    expect(res.status).toBe(500);
    expect(corsOf(res.headers)).toEqual({});
    expect(await res.json()).toEqual({ error: { code: "internal_error", message: "Internal error." } });
  });

  it("answers other methods with 405 and Allow, after the path and header checks", async () => {
    const { url } = await preset();
    const put = await SELF.fetch(url, { method: "PUT", headers: { origin: ALLOWED } });
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, POST, DELETE");
    expect(corsOf(put.headers)).toEqual(simpleCors);
    expect(await put.json()).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32000, message: "PUT is not supported here." } });
    const head = await SELF.fetch(url, { method: "HEAD" });
    expect(head.status).toBe(405);
    expect((await SELF.fetch(`${ORIGIN}/mcp/Not_A_Handle/x`, { method: "PUT" })).status).toBe(404);
    const badVersion = await SELF.fetch(url, { method: "PUT", headers: { "mcp-protocol-version": "1999-01-01" } });
    expect(badVersion.status).toBe(400);
    await badVersion.body?.cancel();
  });
});

/** A freshly registered public client's authorization request for the preset at `resource`. */
async function authorization(resource: string, metadata: Record<string, unknown> = {}) {
  const client = (await registerClient(REDIRECT, metadata)).body;
  const { verifier, challenge } = await pkce();
  const url = authorizeUrl({ client_id: client.client_id, redirect_uri: REDIRECT, code_challenge: challenge, state: "s", resource });
  return { client, verifier, url };
}

/** `name=value` and the attributes of a Set-Cookie line, attribute names lower-cased. */
function parseSetCookie(line: string): { pair: string; attrs: Record<string, string> } {
  const [pair, ...rest] = line.split(";").map((s) => s.trim());
  const attrs: Record<string, string> = {};
  for (const a of rest) {
    const eq = a.indexOf("=");
    attrs[(eq < 0 ? a : a.slice(0, eq)).toLowerCase()] = eq < 0 ? "" : a.slice(eq + 1);
  }
  return { pair: pair!, attrs };
}

describe("OAuth cookies", () => {
  it("sets the session cookie with exactly __Host-, Path=/, Secure, HttpOnly, SameSite=Lax and a 12 h Max-Age", async () => {
    const p = await preset("private");
    const signIn = await browse((await authorization(p.url)).url);
    const posted = await browse("/oauth/login", loginForm(signIn, p.owner.token));
    expect(posted.status).toBe(303);
    expect(posted.location).toMatch(/^\/oauth\/authorize\?/);
    expect(posted.headers.get("cache-control")).toBe("no-store");
    const lines = posted.headers.getAll("set-cookie");
    expect(lines).toHaveLength(1);
    const { pair, attrs } = parseSetCookie(lines[0]!);
    expect(pair).toMatch(/^__Host-mcpgate_session=[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(attrs).toEqual({ path: "/", secure: "", httponly: "", samesite: "Lax", "max-age": String(12 * 3600) });
  });

  it("sets and clears the OpenID Connect flow cookie with the same attributes", async () => {
    const email = `${unique("mail")}@example.test`;
    const handle = unique("u");
    const created = await api("POST", "/users", { token: env.ADMIN_TOKEN, body: { handle, email } });
    expect(created.status).toBe(201);
    const owner: TestUser = { id: created.body.user.id, handle, token: created.body.token };
    const signIn = await browse((await authorization((await presetOf(owner, "private")).url)).url);
    const link = /<a class="button" href="([^"]+)">/.exec(signIn.html)![1]!.replace(/&amp;/g, "&");
    const start = await browse(link);
    expect(start.status).toBe(302);
    expect(start.headers.get("cache-control")).toBe("no-store");
    const lines = start.headers.getAll("set-cookie");
    expect(lines).toHaveLength(1);
    const set = parseSetCookie(lines[0]!);
    expect(set.pair).toMatch(/^__Host-mcpgate_oidc=[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(set.attrs).toEqual({ path: "/", secure: "", httponly: "", samesite: "Lax", "max-age": "600" });

    // A callback refused before sign-in leaves the flow cookie alone.
    const bad = await browse(`/oauth/oidc/callback?state=x&code=y`, { cookie: set.pair });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("set-cookie")).toBeNull();

    const login = await fetch(`${env.IDP_BASE}/__login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email }) });
    const toIdp = new URL(start.location!);
    toIdp.searchParams.set("login", ((await login.json()) as { login: string }).login);
    const answer = await fetch(toIdp, { redirect: "manual" });
    await answer.body?.cancel();
    const done = await browse(answer.headers.get("location")!, { cookie: set.pair });
    expect(done.status).toBe(303);
    expect(done.headers.get("cache-control")).toBe("no-store");
    const cookies = Object.fromEntries(
      done.headers.getAll("set-cookie").map((line) => {
        const { pair, attrs } = parseSetCookie(line);
        return [pair.slice(0, pair.indexOf("=")), { value: pair.slice(pair.indexOf("=") + 1), attrs }];
      }),
    );
    expect(Object.keys(cookies).sort()).toEqual(["__Host-mcpgate_oidc", "__Host-mcpgate_session"]);
    expect(cookies["__Host-mcpgate_oidc"]).toEqual({ value: "", attrs: { path: "/", secure: "", httponly: "", samesite: "Lax", "max-age": "0" } });
    expect(cookies["__Host-mcpgate_session"]!.attrs).toEqual({ path: "/", secure: "", httponly: "", samesite: "Lax", "max-age": String(12 * 3600) });
  });

  it("reads the session cookie among other cookies, and ignores one without the __Host- prefix", async () => {
    const p = await preset("private");
    const { url } = await authorization(p.url);
    const { cookie } = await signInWithToken(url, p.owner.token);
    const withOthers = await browse(url, { cookie: `a=1; ${cookie}; b="2"` });
    expect(withOthers.html).toContain("Allow access");
    const unprefixed = await browse(url, { cookie: cookie.replace("__Host-", "") });
    expect(unprefixed.html).toContain("Sign in to mcpgate");
  });
});

describe("OAuth pages", () => {
  it("escapes a hostile client_name on the sign-in and consent pages", async () => {
    const p = await preset("private");
    const hostile = `<script>alert("x'&")</script>`;
    const { client, url } = await authorization(p.url, { client_name: hostile });
    expect(client.client_name).toBe(hostile);
    const escaped = "&lt;script&gt;alert(&quot;x&#39;&amp;&quot;)&lt;/script&gt;";
    const signIn = await browse(url);
    expect(signIn.status).toBe(200);
    expect(signIn.html).toContain(`<strong>${escaped}</strong> wants to use the preset`);
    expect(signIn.html).not.toContain("<script>");
    expect(signIn.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(signIn.headers.get("content-security-policy")).toBe("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'");
    expect(signIn.headers.get("referrer-policy")).toBe("no-referrer");
    expect(signIn.html.startsWith('<!doctype html><html lang="en"><head><meta charset="utf-8">')).toBe(true);
    expect(signIn.html).toContain("<title>Sign in to mcpgate</title><style>body{font:16px/1.5 system-ui,sans-serif;");

    const { next } = await signInWithToken(url, p.owner.token);
    expect(next.status).toBe(200);
    expect(next.html).toContain(`<p><strong>${escaped}</strong> (<code>${client.client_id}</code>)</p>`);
    expect(next.html).not.toContain("<script>");
  });

  it("escapes what an error page repeats from the request", async () => {
    const page = await browse(`/oauth/authorize?client_id=${encodeURIComponent("<b>nope</b>")}`);
    expect(page.status).toBe(400);
    expect(page.html).toContain("<h1>Unknown application</h1>");
    expect(page.html).not.toContain("<b>nope</b>");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
  });
});

describe("OAuth errors through the sub-app's onError", () => {
  const expectOAuthError = async (res: Response, status: number, error: string) => {
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["error", "error_description"]);
    expect(body.error).toBe(error);
    expect(body.error_description).toEqual(expect.any(String));
    return body;
  };
  const post = (path: string, body: string, headers: Record<string, string>) => SELF.fetch(`${ORIGIN}${path}`, { method: "POST", headers, body });

  it("answers an OAuthError thrown at /oauth/token as its JSON error, with CORS for any origin", async () => {
    const formType = { "content-type": "application/x-www-form-urlencoded" };
    const wrongType = await post("/oauth/token", "{}", { "content-type": "application/json", origin: "https://app.example" });
    await expectOAuthError(wrongType, 400, "invalid_request");
    expect(wrongType.headers.get("access-control-allow-origin")).toBe("*");
    const unknownClient = await post("/oauth/token", "grant_type=authorization_code&client_id=nobody", formType);
    await expectOAuthError(unknownClient, 401, "invalid_client");
    expect(unknownClient.headers.get("www-authenticate")).toBe('Basic realm="mcpgate"');
    const client = (await registerClient(REDIRECT)).body;
    const grant = await post("/oauth/token", `grant_type=password&client_id=${client.client_id}`, formType);
    expect(await expectOAuthError(grant, 400, "unsupported_grant_type")).toEqual({
      error: "unsupported_grant_type",
      error_description: "Supported grant types: authorization_code, refresh_token.",
    });
  });

  it("answers an OAuthError thrown at /oauth/register and /oauth/revoke as its JSON error", async () => {
    const json = { "content-type": "application/json" };
    expect(await expectOAuthError(await post("/oauth/register", "{not json", json), 400, "invalid_client_metadata")).toEqual({
      error: "invalid_client_metadata",
      error_description: "The body must be a JSON object.",
    });
    await expectOAuthError(await post("/oauth/register", JSON.stringify({ redirect_uris: ["http://evil.example/cb"] }), json), 400, "invalid_redirect_uri");
    await expectOAuthError(await post("/oauth/revoke", "token=x", json), 400, "invalid_request");
  });

  it("lets an error that is not an OAuthError reach the app's 500 handler unchanged", async () => {
    // A gateway without a signing secret cannot serve its JWKS: a plain Error, not an OAuthError.
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(`${ORIGIN}/oauth/jwks.json`), { ...env, OAUTH_SIGNING_KEY: undefined, ENCRYPTION_KEY: undefined }, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: "internal_error", message: "Internal error." } });
  });

  it("answers malformed percent-encoding in Basic credentials with 401 invalid_client, not a 500", async () => {
    const res = await post("/oauth/token", "grant_type=refresh_token", {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${btoa("%:x")}`,
    });
    await expectOAuthError(res, 401, "invalid_client");
  });
});

describe("revocation", () => {
  const revoke = (token: string, clientId: string) =>
    SELF.fetch(`${ORIGIN}/oauth/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token, client_id: clientId }).toString(),
    });

  it("answers 200 to garbage and foreign tokens (RFC 7009), whatever their payload", async () => {
    const client = (await registerClient(REDIRECT)).body;
    const b64u = (s: string) => btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    for (const token of [
      "x",
      "a.b.c",
      "x.!!!.y",
      `e30.${b64u("null")}.x`,
      `e30.${b64u('{"aud":["a","b"]}')}.x`,
      `e30.${b64u('{"aud":7}')}.x`,
      "a.b.c.d.e",
      "mcpr_nope",
    ]) {
      const res = await revoke(token, client.client_id);
      expect(res.status, token).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(await res.text()).toBe("");
    }
  });

  it("revokes the whole grant with an access token, whose audience names the preset", async () => {
    const p = await preset("private");
    const { client, verifier, url } = await authorization(p.url);
    const back = await authorizeInBrowser(url, p.owner.token);
    const code = back.searchParams.get("code")!;
    const tokens = (
      await tokenRequest({
        grant_type: "authorization_code",
        code,
        redirect_uri: REDIRECT,
        client_id: client.client_id,
        code_verifier: verifier,
        resource: p.url,
      })
    ).body;
    expect((await mcpPost(p.url, INIT(), { token: tokens.access_token })).status).toBe(200);
    // Another client cannot revoke it (and is not told).
    const other = (await registerClient(REDIRECT)).body;
    expect((await revoke(tokens.access_token, other.client_id)).status).toBe(200);
    expect((await mcpPost(p.url, INIT(), { token: tokens.access_token })).status).toBe(200);
    expect((await revoke(tokens.access_token, client.client_id)).status).toBe(200);
    expect((await mcpPost(p.url, INIT(), { token: tokens.access_token })).status).toBe(401);
    const refreshed = await tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id });
    expect(refreshed.status).toBe(400);
  });
});
