import { env, evictDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { presetStub } from "../../src/edge/preset-stub";
import { api, createUser, EVENTUALLY, givenPreset, type PresetSpec, type TestUser, upstreamUrl } from "../helpers";
import { INIT, mcpPost, rawSession, toolCall } from "../mcp-raw";
import { closeIdleUpstreams } from "../preset-object";

/** A public preset exposing alpha's echo and add, with these limits. */
const limitedPreset = (limits: Pick<PresetSpec, "rateLimit" | "toolLimits">) =>
  givenPreset({ ...limits, servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo", "add"] }] });

const echo = (id: number | string, text = "x") => toolCall(id, "alpha__echo", { text });

describe("rate limits", () => {
  it("lets exactly 20 of 50 parallel calls through a limit of 20 and refuses the rest with 429", async () => {
    const p = await limitedPreset({ rateLimit: { requests: 20, windowSeconds: 60 } });
    const session = await rawSession(p.url);
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => mcpPost(p.url, echo(i + 1, `n${i}`), { sessionId: session })));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    expect(ok).toHaveLength(20);
    expect(refused).toHaveLength(30);
    for (const r of ok) expect(r.json.result.content[0].text).toMatch(/^n\d+$/);
    for (const r of refused) {
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(Number(r.headers.get("retry-after"))).toBeLessThanOrEqual(60);
      expect(r.json.error.code).toBe(-32029);
      expect(r.json.error.message).toMatch(/20 tool calls per 60 s.*Retry in \d+ s/);
      expect(r.json.error.data.retryAfterSeconds).toBe(Number(r.headers.get("retry-after")));
      expect(r.headers.get("ratelimit-remaining")).toBe("0");
    }
    // Each refusal answers its own request's id.
    expect(new Set(refused.map((r) => r.json.id)).size).toBe(30);
  });

  it("puts RateLimit headers on every MCP response and counts calls down", async () => {
    const p = await limitedPreset({ rateLimit: { requests: 5, windowSeconds: 30 } });
    const init = await mcpPost(p.url, INIT());
    const session = init.headers.get("mcp-session-id")!;
    expect(init.headers.get("ratelimit-limit")).toBe("100"); // the control budget: 10 × 5, at least 100
    const first = await mcpPost(p.url, echo(2), { sessionId: session });
    expect(first.headers.get("ratelimit-limit")).toBe("5");
    expect(first.headers.get("ratelimit-remaining")).toBe("4");
    expect(Number(first.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
    const second = await mcpPost(p.url, echo(3), { sessionId: session });
    expect(second.headers.get("ratelimit-remaining")).toBe("3");
    const note = await mcpPost(p.url, { jsonrpc: "2.0", method: "notifications/initialized" }, { sessionId: session });
    expect(note.status).toBe(202);
    expect(note.headers.get("ratelimit-limit")).toBe("100");
  });

  it("keeps list and ping working when the call budget is spent (a separate budget)", async () => {
    const p = await limitedPreset({ rateLimit: { requests: 2, windowSeconds: 60 } });
    const session = await rawSession(p.url);
    for (const id of [1, 2]) expect((await mcpPost(p.url, echo(id), { sessionId: session })).status).toBe(200);
    expect((await mcpPost(p.url, echo(3), { sessionId: session })).status).toBe(429);
    const list = await mcpPost(p.url, { jsonrpc: "2.0", id: 4, method: "tools/list" }, { sessionId: session });
    expect(list.status).toBe(200);
    expect(list.json.result.tools).toHaveLength(2);
    expect((await mcpPost(p.url, { jsonrpc: "2.0", id: 5, method: "ping" }, { sessionId: session })).status).toBe(200);
  });

  it("applies a per-tool limit on top of the preset's, without spending the other tools' budget", async () => {
    const p = await limitedPreset({ rateLimit: { requests: 10, windowSeconds: 60 }, toolLimits: { alpha__echo: { requests: 2, windowSeconds: 60 } } });
    const session = await rawSession(p.url);
    expect((await mcpPost(p.url, echo(1), { sessionId: session })).status).toBe(200);
    expect((await mcpPost(p.url, echo(2), { sessionId: session })).status).toBe(200);
    const third = await mcpPost(p.url, echo(3), { sessionId: session });
    expect(third.status).toBe(429);
    expect(third.json.error.message).toMatch(/2 calls of alpha__echo per 60 s/);
    const add = await mcpPost(p.url, toolCall(4, "alpha__add", { a: 1, b: 2 }), { sessionId: session });
    expect(add.status).toBe(200);
    // The refused echo did not count against the preset-wide budget: 10 - 3 calls that passed.
    expect(add.headers.get("ratelimit-remaining")).toBe("7");
  });

  it("counts each user, and each anonymous client address, separately", async () => {
    const p = await limitedPreset({ rateLimit: { requests: 1, windowSeconds: 60 } });
    const other = await createUser();
    const callAs = async (user: TestUser | null, ip?: string) => {
      const headers = ip ? { "cf-connecting-ip": ip } : undefined;
      const session = (await mcpPost(p.url, INIT(), { token: user?.token, headers })).headers.get("mcp-session-id")!;
      return (await mcpPost(p.url, echo(2), { sessionId: session, token: user?.token, headers })).status;
    };
    expect(await callAs(p.owner)).toBe(200);
    expect(await callAs(p.owner)).toBe(429);
    expect(await callAs(other)).toBe(200);
    expect(await callAs(null, "203.0.113.7")).toBe(200);
    expect(await callAs(null, "203.0.113.7")).toBe(429);
    expect(await callAs(null, "203.0.113.8")).toBe(200);
  });

  /** Calls one tool as an anonymous caller whose request says CF-Connecting-IP: `ip`; the call's HTTP status. */
  const anonymousCall = async (url: string, ip: string) => {
    const headers = { "cf-connecting-ip": ip };
    const session = (await mcpPost(url, INIT(), { headers })).headers.get("mcp-session-id")!;
    return (await mcpPost(url, echo(2), { sessionId: session, headers })).status;
  };

  it("counts anonymous callers of one IPv6 /64 as one caller, however they rotate the address", async () => {
    const p = await limitedPreset({ rateLimit: { requests: 1, windowSeconds: 60 } });
    expect(await anonymousCall(p.url, "2001:db8:77:1::1")).toBe(200);
    for (const rotated of ["2001:db8:77:1::2", "2001:db8:77:1:ffff:ffff:ffff:ffff", "2001:0db8:0077:0001:1234::9"]) {
      expect(await anonymousCall(p.url, rotated)).toBe(429);
    }
    expect(await anonymousCall(p.url, "2001:db8:77:2::1")).toBe(200);
  });

  it("counts every malformed CF-Connecting-IP as one shared anonymous caller", async () => {
    const p = await limitedPreset({ rateLimit: { requests: 1, windowSeconds: 60 } });
    expect(await anonymousCall(p.url, "not-an-address-1")).toBe(200);
    for (const bad of ["not-an-address-2", "203.0.113.7, 198.51.100.1", "999.1.1.1", "fe80::1%eth0"]) {
      expect(await anonymousCall(p.url, bad)).toBe(429);
    }
  });

  it("ignores CF-Connecting-IP unless TRUST_CF_CONNECTING_IP is true: every anonymous caller shares one bucket", async () => {
    const p = await limitedPreset({ rateLimit: { requests: 1, windowSeconds: 60 } });
    const saved = env.TRUST_CF_CONNECTING_IP;
    env.TRUST_CF_CONNECTING_IP = "false";
    try {
      expect(await anonymousCall(p.url, "203.0.113.20")).toBe(200);
      expect(await anonymousCall(p.url, "203.0.113.21")).toBe(429);
      expect(await anonymousCall(p.url, "198.51.100.99")).toBe(429);
    } finally {
      env.TRUST_CF_CONNECTING_IP = saved;
    }
  });

  it("writes one auth.failed event for a bad token sent from 20 rotated addresses of one /64 and 20 forged junk addresses", async () => {
    const p = await limitedPreset({});
    const badToken = `mcpg_${"z".repeat(40)}`;
    for (let i = 0; i < 20; i++) {
      for (const ip of [`2001:db8:99:1::${(i + 1).toString(16)}`, `junk-${i}`]) {
        expect((await mcpPost(p.url, INIT(), { token: badToken, headers: { "cf-connecting-ip": ip } })).status).toBe(401);
      }
    }
    const targets = await vi.waitFor(async () => {
      const events = (await api("GET", `/presets/${p.slug}/events?type=auth.failed`, { token: p.owner.token })).body.events;
      expect(events.length).toBeGreaterThanOrEqual(2);
      return events.map((e: { target: string }) => e.target);
    }, EVENTUALLY);
    await new Promise((r) => setTimeout(r, 100));
    expect(targets.sort()).toEqual(["ip:2001:db8:99:1::/64", "ip:unknown"]);
  });

  it("keeps counting across an eviction of the preset's Durable Object", async () => {
    const p = await limitedPreset({ rateLimit: { requests: 3, windowSeconds: 600 } });
    const session = await rawSession(p.url);
    for (const id of [1, 2, 3]) expect((await mcpPost(p.url, echo(id), { sessionId: session })).status).toBe(200);
    const stub = presetStub(env, p.owner.handle, p.slug);
    await closeIdleUpstreams(stub);
    await evictDurableObject(stub);
    expect((await mcpPost(p.url, echo(4), { sessionId: session })).status).toBe(429);
  });

  it("writes one audit event per caller and window however many calls it refuses", async () => {
    const p = await limitedPreset({ rateLimit: { requests: 1, windowSeconds: 60 } });
    const session = await rawSession(p.url);
    for (let i = 0; i < 6; i++) await mcpPost(p.url, echo(i), { sessionId: session });
    const refusals = await vi.waitFor(async () => {
      const events = await api("GET", `/presets/${p.slug}/events`, { token: p.owner.token });
      const refused = events.body.events.filter((e: { type: string }) => e.type === "rate_limit.refused");
      expect(refused.length).toBeGreaterThan(0);
      return refused;
    }, EVENTUALLY);
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ target: expect.stringMatching(/^ip:/), payload: { method: "tools/call" } });
  });

  it("shows and changes the preset's limits through the API, validating them", async () => {
    const p = await limitedPreset({});
    const view = await api("GET", `/presets/${p.slug}`, { token: p.owner.token });
    expect(view.body.rateLimit).toEqual({ requests: 100, windowSeconds: 60 });
    expect(view.body.toolLimits).toEqual({});
    const bad = await api("PATCH", `/presets/${p.slug}`, { token: p.owner.token, body: { rateLimit: { requests: 0, windowSeconds: 60 } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("rateLimit.requests");
    const patched = await api("PATCH", `/presets/${p.slug}`, { token: p.owner.token, body: { rateLimit: { requests: 1, windowSeconds: 5 } } });
    expect(patched.body.rateLimit).toEqual({ requests: 1, windowSeconds: 5 });
    const session = await rawSession(p.url);
    expect((await mcpPost(p.url, echo(1), { sessionId: session })).status).toBe(200);
    expect((await mcpPost(p.url, echo(2), { sessionId: session })).status).toBe(429);
  });
});
