import { env, SELF } from "cloudflare:test";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { decodeJwt, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { signingKey } from "../../src/oauth/keys";
import { api, createUser, givenPreset, ORIGIN, type PresetSpec, type TestUser, upstreamUrl } from "../helpers";
import { INIT, mcpPost } from "../mcp-raw";
import { authorizeInBrowser, authorizeUrl, pkce, registerClient, TestOAuthProvider, tokenRequest } from "../oauth-helpers";

/** A preset (private unless told) exposing alpha's echo and whoami. */
const privatePreset = (visibility: PresetSpec["visibility"] = "private") =>
  givenPreset({ visibility, servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo", "whoami"] }] });

function sdkTransport(url: string, provider: TestOAuthProvider) {
  return new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch: (input, init) => SELF.fetch(input as string, init) });
}

/** A hand-made authorization for `user` on `resource`: registered client, PKCE, browser approval. */
async function authorize(user: TestUser, resource: string, redirectUri = "http://localhost:7777/callback") {
  const client = (await registerClient(redirectUri)).body;
  const { verifier, challenge } = await pkce();
  const back = await authorizeInBrowser(
    authorizeUrl({ client_id: client.client_id, redirect_uri: redirectUri, code_challenge: challenge, state: "s-1", resource }),
    user.token,
  );
  return { clientId: client.client_id as string, verifier, code: back.searchParams.get("code")!, back, redirectUri, resource };
}

async function exchange(a: Awaited<ReturnType<typeof authorize>>, overrides: Record<string, string> = {}) {
  return tokenRequest({
    grant_type: "authorization_code",
    code: a.code,
    redirect_uri: a.redirectUri,
    client_id: a.clientId,
    code_verifier: a.verifier,
    resource: a.resource,
    ...overrides,
  });
}

const initWith = (url: string, token: string) => mcpPost(url, INIT(), { token });

describe("OAuth discovery", () => {
  it("answers a token-less request to a private preset with a 401 pointing at its protected resource metadata", async () => {
    const p = await privatePreset();
    const res = await mcpPost(p.url, INIT());
    expect(res.status).toBe(401);
    const challenge = res.headers.get("www-authenticate")!;
    const metadataUrl = `${ORIGIN}/.well-known/oauth-protected-resource/mcp/${p.owner.handle}/${p.slug}`;
    expect(challenge).toContain(`resource_metadata="${metadataUrl}"`);
    expect(challenge).toContain('scope="mcp"');
    const prm = await (await SELF.fetch(metadataUrl)).json();
    expect(prm).toMatchObject({ resource: p.url, authorization_servers: [ORIGIN], scopes_supported: ["mcp"] });
  });

  it("publishes RFC 8414 metadata at the root (where 2025-03-26 clients look) and as OpenID discovery, and the JWKS", async () => {
    for (const path of ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]) {
      const meta = await (await SELF.fetch(`${ORIGIN}${path}`)).json<Record<string, unknown>>();
      expect(meta).toMatchObject({
        issuer: ORIGIN,
        authorization_endpoint: `${ORIGIN}/oauth/authorize`,
        token_endpoint: `${ORIGIN}/oauth/token`,
        registration_endpoint: `${ORIGIN}/oauth/register`,
        revocation_endpoint: `${ORIGIN}/oauth/revoke`,
        jwks_uri: `${ORIGIN}/oauth/jwks.json`,
        code_challenge_methods_supported: ["S256"],
        client_id_metadata_document_supported: true,
      });
    }
    const jwks = await (await SELF.fetch(`${ORIGIN}/oauth/jwks.json`)).json<{ keys: Record<string, string>[] }>();
    expect(jwks.keys[0]).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig", kid: expect.any(String) });
    expect(jwks.keys[0]).not.toHaveProperty("d");
  });

  it("has no protected resource metadata for a preset that does not exist", async () => {
    expect((await SELF.fetch(`${ORIGIN}/.well-known/oauth-protected-resource/mcp/nobody-${Date.now()}/nothing`)).status).toBe(404);
  });
});

describe("an MCP client that only knows the preset URL", () => {
  it("discovers, registers, gets the user's approval, exchanges the code with PKCE and calls tools (SDK auth flow)", async () => {
    const p = await privatePreset();
    const provider = new TestOAuthProvider();
    const first = new Client({ name: "oauth-test", version: "1" });
    await expect(first.connect(sdkTransport(p.url, provider))).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.client?.client_id).toMatch(/^mcpc_/); // dynamic registration happened
    const authUrl = provider.authorizationUrl!;
    expect(authUrl.searchParams.get("resource")).toBe(p.url);
    expect(authUrl.searchParams.get("code_challenge_method")).toBe("S256");

    const back = await authorizeInBrowser(authUrl.pathname + authUrl.search, p.owner.token);
    expect(back.origin + back.pathname).toBe(provider.redirectUrl);
    expect(back.searchParams.get("state")).toBe(authUrl.searchParams.get("state"));
    expect(back.searchParams.get("iss")).toBe(ORIGIN);
    const transport = sdkTransport(p.url, provider);
    await transport.finishAuth(back.searchParams.get("code")!);

    const claims = decodeJwt(provider.savedTokens!.access_token);
    expect(claims).toMatchObject({ iss: ORIGIN, aud: p.url, sub: p.owner.id, scope: "mcp" });
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(3600);

    const client = new Client({ name: "oauth-test", version: "1" });
    await client.connect(sdkTransport(p.url, provider));
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(["alpha__echo", "alpha__whoami"]);
    expect((await client.callTool({ name: "alpha__echo", arguments: { text: "via oauth" } })).content).toEqual([{ type: "text", text: "via oauth" }]);
    // The client's token is never forwarded upstream.
    const seen = JSON.parse(((await client.callTool({ name: "alpha__whoami", arguments: {} })).content as { text: string }[])[0]!.text);
    expect(seen.authorization).toBeNull();
    await client.close();
  });

  it("rotates refresh tokens and revokes the whole grant when an old one is reused after the 10 s grace window", async () => {
    const p = await privatePreset();
    const a = await authorize(p.owner, p.url);
    const tokens = (await exchange(a)).body;
    expect(tokens).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope: "mcp", refresh_token: expect.stringMatching(/^mcpr_/) });
    const refreshed = await tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: a.clientId });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(tokens.refresh_token);
    expect((await initWith(p.url, refreshed.body.access_token)).status).toBe(200);

    // Within the grace window (10 s) a retry gets the same pair; after it, reuse means a leak.
    const retried = await tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: a.clientId });
    expect(retried.body).toEqual(refreshed.body);
    await env.DB.prepare("UPDATE oauth_refresh_tokens SET used_at = used_at - 11000 WHERE used_at IS NOT NULL AND grant_id = ?")
      .bind(decodeJwt(refreshed.body.access_token).gid as string)
      .run();
    const reused = await tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: a.clientId });
    expect(reused.status).toBe(400);
    expect(reused.body.error).toBe("invalid_grant");
    // The grant is gone: the newest refresh token and the live access token stop working too.
    expect((await tokenRequest({ grant_type: "refresh_token", refresh_token: refreshed.body.refresh_token, client_id: a.clientId })).body.error).toBe(
      "invalid_grant",
    );
    expect((await initWith(p.url, refreshed.body.access_token)).status).toBe(401);
    const grants = await api("GET", "/grants", { token: p.owner.token });
    expect(grants.body.grants[0]).toMatchObject({ revokedReason: "refresh_token_reused", revokedAt: expect.any(String) });
  });

  it("keeps API tokens working beside OAuth access tokens", async () => {
    const p = await privatePreset();
    const tokens = (await exchange(await authorize(p.owner, p.url))).body;
    expect((await initWith(p.url, tokens.access_token)).status).toBe(200);
    expect((await initWith(p.url, p.owner.token)).status).toBe(200);
  });
});

describe("refused tokens and codes", () => {
  it("refuses a wrong code_verifier", async () => {
    const p = await privatePreset();
    const a = await authorize(p.owner, p.url);
    const res = await exchange(a, { code_verifier: (await pkce()).verifier });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("invalid_grant");
  });

  it("refuses a reused code and revokes what the first exchange gave", async () => {
    const p = await privatePreset();
    const a = await authorize(p.owner, p.url);
    const first = await exchange(a);
    expect(first.status).toBe(200);
    const second = await exchange(a);
    expect(second.body.error).toBe("invalid_grant");
    expect((await initWith(p.url, first.body.access_token)).status).toBe(401);
    expect((await tokenRequest({ grant_type: "refresh_token", refresh_token: first.body.refresh_token, client_id: a.clientId })).body.error).toBe(
      "invalid_grant",
    );
  });

  it("refuses a mismatched redirect URI, at authorize (no redirect) and at the token endpoint", async () => {
    const p = await privatePreset();
    const client = (await registerClient("http://localhost:7777/callback")).body;
    const { challenge } = await pkce();
    const { browse } = await import("../oauth-helpers");
    const page = await browse(
      authorizeUrl({ client_id: client.client_id, redirect_uri: "http://localhost:7777/other", code_challenge: challenge, resource: p.url }),
    );
    expect(page.status).toBe(400);
    expect(page.location).toBeNull();
    const a = await authorize(p.owner, p.url);
    expect((await exchange(a, { redirect_uri: "http://localhost:7777/elsewhere" })).body.error).toBe("invalid_grant");
  });

  it("refuses a resource that is not one of the gateway's presets, and a token request for another resource", async () => {
    const p = await privatePreset();
    const other = await privatePreset();
    const client = (await registerClient()).body;
    const { challenge } = await pkce();
    const { browse } = await import("../oauth-helpers");
    for (const resource of ["https://elsewhere.example/mcp/x/y", `${ORIGIN}/api/v1/me`, `${ORIGIN}/mcp/${p.owner.handle}/no-such-preset`]) {
      const res = await browse(
        authorizeUrl({ client_id: client.client_id, redirect_uri: "http://localhost:7777/callback", code_challenge: challenge, state: "st", resource }),
      );
      expect(res.status).toBe(302);
      const back = new URL(res.location!);
      expect(back.searchParams.get("error")).toBe("invalid_target");
      expect(back.searchParams.get("state")).toBe("st");
    }
    const a = await authorize(p.owner, p.url);
    const res = await exchange(a, { resource: other.url });
    expect(res.body.error).toBe("invalid_target");
  });

  it("requires PKCE with S256", async () => {
    const p = await privatePreset();
    const client = (await registerClient()).body;
    const { browse } = await import("../oauth-helpers");
    const plain = await browse(
      authorizeUrl({
        client_id: client.client_id,
        redirect_uri: "http://localhost:7777/callback",
        code_challenge: "x".repeat(43),
        code_challenge_method: "plain",
        resource: p.url,
      }),
    );
    expect(new URL(plain.location!).searchParams.get("error")).toBe("invalid_request");
    const none = await browse(
      `/oauth/authorize?${new URLSearchParams({ response_type: "code", client_id: client.client_id, redirect_uri: "http://localhost:7777/callback", resource: p.url })}`,
    );
    expect(new URL(none.location!).searchParams.get("error")).toBe("invalid_request");
  });

  it("refuses an access token for another preset, expired, tampered with, unsigned, or signed with a key the gateway does not use", async () => {
    const p = await privatePreset();
    const other = await privatePreset();
    const good = (await exchange(await authorize(p.owner, p.url))).body.access_token as string;
    expect((await initWith(p.url, good)).status).toBe(200);
    expect((await initWith(other.url, good)).status).toBe(401);

    const key = await signingKey(env);
    const claims = decodeJwt(good);
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ ...claims, iat: now - 7200, nbf: now - 7200, exp: now - 3600 })
      .setProtectedHeader({ alg: "EdDSA", kid: key.kid, typ: "at+jwt" })
      .sign(key.privateKey);
    expect((await initWith(p.url, expired)).status).toBe(401);

    const [h, body, sig] = good.split(".");
    const flipped = sig!.slice(0, -2) + (sig!.endsWith("AA") ? "BB" : "AA");
    expect((await initWith(p.url, `${h}.${body}.${flipped}`)).status).toBe(401);
    const otherSub = btoa(JSON.stringify({ ...claims, sub: other.owner.id }))
      .replace(/=+$/, "")
      .replace(/\+/g, "-")
      .replace(/\//g, "_");
    expect((await initWith(p.url, `${h}.${otherSub}.${sig}`)).status).toBe(401);

    const none = `${btoa(JSON.stringify({ alg: "none", typ: "at+jwt" })).replace(/=+$/, "")}.${body}.`;
    expect((await initWith(p.url, none)).status).toBe(401);
    const hs = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: "HS256", kid: key.kid, typ: "at+jwt" })
      .sign(new TextEncoder().encode("a-shared-secret-someone-guessed!"));
    const res = await initWith(p.url, hs);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("cuts off a removed member at their next token refresh", async () => {
    const p = await privatePreset("invite_only");
    const member = await createUser();
    await api("POST", `/presets/${p.slug}/members`, { token: p.owner.token, body: { handle: member.handle } });
    const a = await authorize(member, p.url);
    const tokens = (await exchange(a)).body;
    expect((await initWith(p.url, tokens.access_token)).status).toBe(200);
    await api("DELETE", `/presets/${p.slug}/members/${member.handle}`, { token: p.owner.token });
    // Access is checked on every request, so even the live access token is refused at once.
    expect((await initWith(p.url, tokens.access_token)).status).toBe(403);
    const refresh = await tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: a.clientId });
    expect(refresh.status).toBe(400);
    expect(refresh.body.error).toBe("invalid_grant");
    // The refusal revoked the grant: the token now fails authentication itself.
    expect((await initWith(p.url, tokens.access_token)).status).toBe(401);
    const grants = await api("GET", "/grants", { token: member.token });
    expect(grants.body.grants[0].revokedReason).toBe("access_lost");
  });

  it("refuses authorization for a user without access to the preset", async () => {
    const p = await privatePreset();
    const stranger = await createUser();
    const client = (await registerClient()).body;
    const { challenge } = await pkce();
    const back = await authorizeInBrowser(
      authorizeUrl({ client_id: client.client_id, redirect_uri: "http://localhost:7777/callback", code_challenge: challenge, state: "z", resource: p.url }),
      stranger.token,
    );
    expect(back.searchParams.get("error")).toBe("access_denied");
    expect(back.searchParams.get("code")).toBeNull();
  });
});

describe("grant revocation", () => {
  it("lets a user list and revoke their grants, and the access token stops working at once", async () => {
    const p = await privatePreset();
    const a = await authorize(p.owner, p.url);
    const tokens = (await exchange(a)).body;
    const grants = await api("GET", "/grants", { token: p.owner.token });
    expect(grants.body.grants).toHaveLength(1);
    expect(grants.body.grants[0]).toMatchObject({
      client: { id: a.clientId, name: "Hand-made client" },
      preset: { url: p.url },
      scope: "mcp",
      revokedAt: null,
    });
    expect((await api("DELETE", `/grants/${grants.body.grants[0].id}`, { token: p.owner.token })).status).toBe(204);
    expect((await initWith(p.url, tokens.access_token)).status).toBe(401);
    expect((await tokenRequest({ grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: a.clientId })).body.error).toBe("invalid_grant");
  });

  it("lets an owner see and revoke the grants members gave on their preset, and no one else", async () => {
    const p = await privatePreset("invite_only");
    const member = await createUser();
    await api("POST", `/presets/${p.slug}/members`, { token: p.owner.token, body: { handle: member.handle } });
    const tokens = (await exchange(await authorize(member, p.url))).body;
    const listed = await api("GET", `/presets/${p.slug}/grants`, { token: p.owner.token });
    expect(listed.body.grants.map((g: { user: { handle: string } }) => g.user.handle)).toEqual([member.handle]);
    const id = listed.body.grants[0].id;
    expect((await api("DELETE", `/grants/${id}`, { token: p.owner.token })).status).toBe(404); // not the owner's own grant
    expect((await api("GET", `/presets/${p.slug}/grants`, { token: member.token })).status).toBe(404);
    expect((await api("DELETE", `/presets/${p.slug}/grants/${id}`, { token: p.owner.token })).status).toBe(204);
    expect((await initWith(p.url, tokens.access_token)).status).toBe(401);
    const events = await api("GET", `/presets/${p.slug}/events`, { token: p.owner.token });
    expect(events.body.events.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(["grant.issued", "grant.revoked"]));
  });

  it("revokes a grant through /oauth/revoke (RFC 7009) with the refresh token", async () => {
    const p = await privatePreset();
    const a = await authorize(p.owner, p.url);
    const tokens = (await exchange(a)).body;
    const res = await SELF.fetch(`${ORIGIN}/oauth/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: tokens.refresh_token, client_id: a.clientId }).toString(),
    });
    expect(res.status).toBe(200);
    expect((await initWith(p.url, tokens.access_token)).status).toBe(401);
  });
});
