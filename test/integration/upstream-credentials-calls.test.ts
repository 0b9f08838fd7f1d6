/**
 * Each consumer's own upstream credentials, end to end (issue 14): real SDK clients call a preset
 * over an upstream that wants each caller's own OAuth token (or API key), through the worker and
 * the preset's Durable Object. Checked on the upstream side (test/fixtures/oauth-upstream.mjs
 * records which token every request carried): a consumer's token never rides another's call.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { McpError } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { byoUpstream, connectAs, credPreset, oauthStats, oauthUpstream } from "../credentials-helpers";
import { api, connectClient, createUser, ORIGIN, presetUrl, textOf } from "../helpers";

const account = (name: string) => `${name}${crypto.randomUUID().slice(0, 8)}`;

async function callError(client: Client, name: string): Promise<McpError> {
  const error = await client.callTool({ name, arguments: {} }).then(
    (r) => new Error(`expected an error, got ${JSON.stringify(r)}`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(McpError);
  return error as McpError;
}

describe("calls with each consumer's own upstream credentials", () => {
  it("sends each consumer's own OAuth token on their calls, and never one consumer's on another's", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth" });
    const url = presetUrl(p.owner.handle, p.slug);
    const alice = await createUser();
    const bob = await createUser();
    const [a, b] = [account("alice"), account("bob")];
    await connectAs(p, alice, a);
    await connectAs(p, bob, b);
    const clientA = await connectClient(url, { token: alice.token });
    const clientB = await connectClient(url, { token: bob.token });
    const whoami = `${p.server}__whoami`;
    expect((await clientA.listTools()).tools.map((t) => t.name)).toContain(whoami);
    for (let i = 0; i < 3; i++) {
      expect(textOf(await clientA.callTool({ name: whoami, arguments: {} }))).toContain(a);
      expect(textOf(await clientB.callTool({ name: whoami, arguments: {} }))).toContain(b);
    }
    // Upstream side: everything that came as alice carried alice's token, and likewise for bob.
    const seenA = (await oauthStats(a)).seen;
    const seenB = (await oauthStats(b)).seen;
    expect(seenA.length).toBeGreaterThanOrEqual(3);
    expect(seenB.length).toBeGreaterThanOrEqual(3);
    expect(seenA.every((s) => s.account === a && s.token.startsWith(`at-${a}-`))).toBe(true);
    expect(seenB.every((s) => s.account === b && s.token.startsWith(`at-${b}-`))).toBe(true);
    await clientA.close();
    await clientB.close();
  });

  it("sends an unconnected caller to the connect page (as a URL elicitation where the client takes one), and the call proceeds once connected", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth" });
    const url = presetUrl(p.owner.handle, p.slug);
    const carol = await createUser();
    const whoami = `${p.server}__whoami`;
    const connectUrl = `${ORIGIN}/connect/${p.owner.handle}/${p.slug}/${p.server}`;

    const withUrl = await connectClient(url, { token: carol.token, capabilities: { elicitation: { url: {} } } });
    const elicitation = await callError(withUrl, whoami);
    expect(elicitation.code).toBe(-32042);
    expect(JSON.stringify(elicitation.data)).toContain(connectUrl);
    const plain = await connectClient(url, { token: carol.token });
    const refused = await callError(plain, whoami);
    expect(refused.code).toBe(-32005);
    expect(refused.message).toContain(connectUrl);
    expect((refused.data as { connectUrl?: string }).connectUrl).toBe(connectUrl);

    const c = account("carol");
    await connectAs(p, carol, c);
    expect(textOf(await plain.callTool({ name: whoami, arguments: {} }))).toContain(c);
    await withUrl.close();
    await plain.close();
  });

  it("stops using a consumer's token the moment they disconnect", async () => {
    const p = await credPreset(oauthUpstream("dcr"), { auth: "oauth" });
    const url = presetUrl(p.owner.handle, p.slug);
    const dave = await createUser();
    const d = account("dave");
    await connectAs(p, dave, d);
    const client = await connectClient(url, { token: dave.token });
    const whoami = `${p.server}__whoami`;
    expect(textOf(await client.callTool({ name: whoami, arguments: {} }))).toContain(d);
    const seenBefore = (await oauthStats(d)).seen.length;
    expect((await api("DELETE", `/connections/${p.owner.handle}/${p.slug}/${p.server}`, { token: dave.token })).status).toBe(204);
    expect((await callError(client, whoami)).code).toBe(-32005);
    expect((await oauthStats(d)).seen.length).toBe(seenBefore);
    await client.close();
  });

  it("sends each consumer's own API key, never another's, and asks a consumer without one to set it", async () => {
    const p = await credPreset(byoUpstream(), { headers: { "X-Api-Key": { perUser: true } } });
    const url = presetUrl(p.owner.handle, p.slug);
    const erin = await createUser();
    const frank = await createUser();
    const [keyE, keyF] = [`key-${crypto.randomUUID()}`, `key-${crypto.randomUUID()}`];
    for (const [user, key] of [
      [erin, keyE],
      [frank, keyF],
    ] as const) {
      const set = await api("PUT", `/connections/${p.owner.handle}/${p.slug}/${p.server}`, { token: user.token, body: { headers: { "X-Api-Key": key } } });
      expect(set.status).toBe(200);
      expect(JSON.stringify(set.body)).not.toContain(key);
    }
    const whoami = `${p.server}__whoami`;
    const clientE = await connectClient(url, { token: erin.token });
    const clientF = await connectClient(url, { token: frank.token });
    expect(textOf(await clientE.callTool({ name: whoami, arguments: {} }))).toContain(keyE);
    expect(textOf(await clientF.callTool({ name: whoami, arguments: {} }))).toContain(keyF);
    expect(textOf(await clientE.callTool({ name: whoami, arguments: {} }))).not.toContain(keyF);
    // A new key takes effect at once.
    const newKey = `key-${crypto.randomUUID()}`;
    await api("PUT", `/connections/${p.owner.handle}/${p.slug}/${p.server}`, { token: erin.token, body: { headers: { "X-Api-Key": newKey } } });
    expect(textOf(await clientE.callTool({ name: whoami, arguments: {} }))).toContain(newKey);
    const stranger = await connectClient(url, { token: (await createUser()).token });
    expect((await callError(stranger, whoami)).code).toBe(-32005);
    for (const c of [clientE, clientF, stranger]) await c.close();
  });
});
