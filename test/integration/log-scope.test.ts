import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { presetStub } from "../../src/edge/preset-stub";
import { SUBSCRIPTIONS_PER_SESSION } from "../../src/preset/dispatch";
import { SESSION_IDLE_MS, SESSIONS_PER_CALLER } from "../../src/preset/session-store";
import { conformancePreset, EVENTUALLY, type GivenPreset, textOf, unique, upstreamStats } from "../helpers";
import { INIT, isMethod, mcpPost, openSession, openStandalone, post, type RawSession, readMessages, rpc, staysQuiet, toolCall } from "../mcp-raw";

/**
 * Finding 16 of issue 12 (the preset object's part): upstream log lines sent outside any call
 * reached every session that set a level, one anonymous `logging/setLevel debug` raised the level
 * asked of upstreams for everyone, and a session's level and subscriptions outlived it.
 */

async function callTool(session: RawSession, name: string, args: Record<string, unknown> = {}): Promise<any> {
  const messages = await readMessages(await post(session, toolCall(900, name, args)));
  return messages.find((m) => m.id === 900).result;
}

const setLevels = async (scope: string) => (await upstreamStats("conformance", scope)).requests["logging/setLevel"] ?? 0;

async function scoped(): Promise<GivenPreset & { scope: string }> {
  const scope = unique("logs");
  return { ...(await conformancePreset({ scope })), scope };
}

describe("upstream log lines outside any call", () => {
  it("reach the owner's listening session, never an anonymous caller's on the public preset", async () => {
    const p = await scoped();
    const owner = await openSession(p.url, { token: p.owner.token });
    const stranger = await openSession(p.url);
    expect((await rpc(owner, 1, "logging/setLevel", { level: "warning" })).result).toEqual({});
    expect((await rpc(stranger, 1, "logging/setLevel", { level: "debug" })).result).toEqual({});
    const ownerReader = await openStandalone(owner);
    const strangerReader = await openStandalone(stranger);
    expect(textOf(await callTool(stranger, "test_log_levels", { via: "session" }))).toMatch(/^Sent/);
    await ownerReader.until((r) => r.messages.filter(isMethod("notifications/message")).length >= 2, 3_000, "the owner's two log lines");
    expect(await staysQuiet(strangerReader, isMethod("notifications/message"), 300)).toBe(true);
    ownerReader.cancel();
    strangerReader.cancel();
  });

  it("are asked of upstreams at the level the owner's and members' sessions set, whatever an anonymous caller asks", async () => {
    const p = await scoped();
    const stranger = await openSession(p.url);
    expect((await rpc(stranger, 1, "logging/setLevel", { level: "debug" })).result).toEqual({});
    expect(await setLevels(p.scope)).toBe(0);
    const owner = await openSession(p.url, { token: p.owner.token });
    expect((await rpc(owner, 1, "logging/setLevel", { level: "error" })).result).toEqual({});
    expect(await setLevels(p.scope)).toBe(1);
    // The stranger's own calls still carry the lines it asked for, as far as the upstream sends them.
    expect((await rpc(stranger, 2, "logging/setLevel", { level: "debug" })).result).toEqual({});
    expect(await setLevels(p.scope)).toBe(1);
    // The owner's upstream level stands: the upstream filters its session-wide lines at error.
    const ownerReader = await openStandalone(owner);
    expect(textOf(await callTool(owner, "test_log_levels", { via: "session" }))).toMatch(/^Sent/);
    const line = await ownerReader.message(isMethod("notifications/message"));
    expect(line.params.level).toBe("error");
    expect(await staysQuiet(ownerReader, (m) => m.method === "notifications/message" && m.params.level !== "error", 200)).toBe(true);
    ownerReader.cancel();
  });
});

describe("what the object keeps beside a session", () => {
  /** A session subscribed to the watched resource: the upstream is subscribed for it alone. */
  async function subscribedSession(p: GivenPreset, ip: string): Promise<RawSession> {
    const res = await mcpPost(p.url, INIT(), { headers: { "cf-connecting-ip": ip } });
    const session: RawSession = { url: p.url, id: res.headers.get("mcp-session-id")!, version: "2025-11-25" };
    const uri = (await rpc(session, 1, "resources/list")).result.resources
      .map((r: { uri: string }) => r.uri)
      .find((u: string) => u.endsWith("watched-resource"));
    expect((await rpc(session, 2, "resources/subscribe", { uri })).result).toEqual({});
    expect((await rpc(session, 3, "logging/setLevel", { level: "info" })).result).toEqual({});
    return session;
  }

  it("goes when the session is evicted: its subscription is dropped upstream", async () => {
    const p = await scoped();
    await subscribedSession(p, "198.51.100.20");
    expect((await upstreamStats("conformance", p.scope)).requests["resources/unsubscribe"] ?? 0).toBe(0);
    for (let i = 0; i < SESSIONS_PER_CALLER; i++) {
      expect((await mcpPost(p.url, INIT(), { headers: { "cf-connecting-ip": "198.51.100.20" } })).status).toBe(200);
    }
    await vi.waitFor(async () => expect((await upstreamStats("conformance", p.scope)).requests["resources/unsubscribe"]).toBe(1), EVENTUALLY);
  });

  it("goes when the session expires: its subscription is dropped upstream", async () => {
    const p = await scoped();
    const session = await subscribedSession(p, "198.51.100.21");
    await runInDurableObject(presetStub(env, p.owner.handle, p.slug), (_i, state) => {
      state.storage.sql.exec("UPDATE sessions SET last_seen = ? WHERE id = ?", Date.now() - SESSION_IDLE_MS - 1, session.id);
    });
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(Date.now() + 120_000);
      expect((await mcpPost(p.url, INIT(), { headers: { "cf-connecting-ip": "198.51.100.22" } })).status).toBe(200);
    } finally {
      vi.useRealTimers();
    }
    await vi.waitFor(async () => expect((await upstreamStats("conformance", p.scope)).requests["resources/unsubscribe"]).toBe(1), EVENTUALLY);
    await expect(rpc(session, 4, "ping")).rejects.toThrow(/^ping: 404/);
  });

  it(`refuses a session's subscription past ${SUBSCRIPTIONS_PER_SESSION} resources with -32602`, async () => {
    const p = await scoped();
    const session = await openSession(p.url);
    const subscribe = (i: number) => rpc(session, 10 + i, "resources/subscribe", { uri: `test://template/${i}/data` });
    for (let i = 0; i < SUBSCRIPTIONS_PER_SESSION; i++) expect((await subscribe(i)).result).toEqual({});
    const refused = await subscribe(SUBSCRIPTIONS_PER_SESSION);
    expect(refused.error).toMatchObject({ code: -32602, message: expect.stringMatching(/at most 100 resources/) });
    // Subscribing again to one it holds is still fine.
    expect((await subscribe(0)).result).toEqual({});
  });
});
