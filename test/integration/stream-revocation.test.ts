import { describe, expect, it } from "vitest";
import { api, createUser, givenPreset, type TestUser } from "../helpers";
import { listen, openSession, openStandalone, rpc, type SseReader } from "../mcp-raw";
import { authorizeInBrowser, authorizeUrl, pkce, registerClient, tokenRequest } from "../oauth-helpers";

/**
 * Finding 4 of issue 12: a caller that lost access kept its open standalone stream (log lines,
 * notifications) for up to 10 minutes, though its next POST was refused. Every access change now
 * decides again for each listener, and closes the streams that fail.
 */

/** Whether the stream is still open after `ms` (the gateway only closes it on its own after 10 min). */
async function staysOpen(reader: SseReader, ms = 300): Promise<boolean> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return !reader.ended;
}

async function newToken(user: TestUser): Promise<{ id: string; token: string }> {
  const res = await api("POST", "/tokens", { token: user.token, body: { name: "second" } });
  expect(res.status).toBe(201);
  return res.body;
}

describe("open standalone streams when access changes", () => {
  it("closes a removed member's stream at once and ends its session, and leaves the owner's open", async () => {
    const member = await createUser();
    const p = await givenPreset({ visibility: "invite_only", members: [member] });
    const memberSession = await openSession(p.url, { token: member.token });
    const ownerSession = await openSession(p.url, { token: p.owner.token });
    const memberReader = await openStandalone(memberSession);
    const ownerReader = await openStandalone(ownerSession);
    expect((await api("DELETE", `/presets/${p.slug}/members/${member.handle}`, { token: p.owner.token })).status).toBe(204);
    await memberReader.end(2_000);
    expect(await staysOpen(ownerReader)).toBe(true);
    // The member's session is gone; even a re-added member starts over.
    expect((await api("POST", `/presets/${p.slug}/members`, { token: p.owner.token, body: { handle: member.handle } })).status).toBe(201);
    await expect(rpc(memberSession, 2, "ping")).rejects.toThrow(/^ping: 404/);
    expect((await rpc(ownerSession, 3, "ping")).result).toEqual({});
    ownerReader.cancel();
  });

  it("closes every stream when the owner disables the preset", async () => {
    const p = await givenPreset();
    const reader = await openStandalone(await openSession(p.url));
    expect((await api("PATCH", `/presets/${p.slug}`, { token: p.owner.token, body: { status: "disabled" } })).status).toBe(200);
    await reader.end(2_000);
  });

  it("closes anonymous streams when a public preset becomes private, and keeps the owner's", async () => {
    const p = await givenPreset();
    const anonymous = await openStandalone(await openSession(p.url));
    const owner = await openStandalone(await openSession(p.url, { token: p.owner.token }));
    expect((await api("PATCH", `/presets/${p.slug}`, { token: p.owner.token, body: { visibility: "private" } })).status).toBe(200);
    await anonymous.end(2_000);
    expect(await staysOpen(owner)).toBe(true);
    owner.cancel();
  });

  it("closes the streams its user opened with API tokens when one is revoked; only a valid token resumes", async () => {
    const member = await createUser();
    const p = await givenPreset({ visibility: "invite_only", members: [member] });
    const second = await newToken(member);
    const revokedSession = await openSession(p.url, { token: second.token });
    const keptSession = await openSession(p.url, { token: member.token });
    const revoked = await openStandalone(revokedSession);
    const kept = await openStandalone(keptSession);
    expect((await api("DELETE", `/tokens/${second.id}`, { token: member.token })).status).toBe(204);
    // The object cannot tell the user's API tokens apart: it closes their streams, and each resumes with a token that still works.
    await revoked.end(2_000);
    await kept.end(2_000);
    expect((await listen(revokedSession, { lastEventId: revoked.events[0]!.id! })).status).toBe(401);
    const resumed = await listen(keptSession, { lastEventId: kept.events[0]!.id! });
    expect(resumed.status).toBe(200);
    await resumed.body?.cancel();
  });

  it("closes the stream opened with an OAuth access token whose grant is revoked", async () => {
    const p = await givenPreset({ visibility: "private" });
    const redirectUri = "http://localhost:7777/callback";
    const client = (await registerClient(redirectUri)).body;
    const { verifier, challenge } = await pkce();
    const back = await authorizeInBrowser(
      authorizeUrl({ client_id: client.client_id, redirect_uri: redirectUri, code_challenge: challenge, state: "s", resource: p.url }),
      p.owner.token,
    );
    const tokens = await tokenRequest({
      grant_type: "authorization_code",
      code: back.searchParams.get("code")!,
      redirect_uri: redirectUri,
      client_id: client.client_id,
      code_verifier: verifier,
      resource: p.url,
    });
    expect(tokens.status).toBe(200);
    const viaGrant = await openStandalone(await openSession(p.url, { token: tokens.body.access_token }));
    const viaApiToken = await openStandalone(await openSession(p.url, { token: p.owner.token }));
    const grants = await api("GET", "/grants", { token: p.owner.token });
    expect((await api("DELETE", `/grants/${grants.body.grants[0].id}`, { token: p.owner.token })).status).toBe(204);
    await viaGrant.end(2_000);
    expect(await staysOpen(viaApiToken)).toBe(true);
    viaApiToken.cancel();
  });
});
