import { env, evictDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { presetStub } from "../../src/edge/preset-stub";
import { api, EVENTUALLY, type GivenPreset, givenPreset, type PresetSpec, setUpstreamDown, unique, upstreamUrl } from "../helpers";
import { mcpPost, rawSession, toolCall } from "../mcp-raw";
import { closeIdleUpstreams } from "../preset-object";

let nextId = 1;
const call = (p: GivenPreset, session: string, name: string, args: Record<string, unknown> = {}) =>
  mcpPost(p.url, toolCall(nextId++, name, args), { sessionId: session });

const setAlerts = async (p: GivenPreset, alerts: Record<string, unknown>) => {
  const res = await api("PATCH", `/presets/${p.slug}`, { token: p.owner.token, body: { alerts } });
  expect(res.status).toBe(200);
};

const eventsOf = async (p: GivenPreset, type: string) =>
  (await api("GET", `/presets/${p.slug}/events?type=${type}`, { token: p.owner.token })).body.events as {
    type: string;
    target: string | null;
    payload: Record<string, any>;
  }[];

/** The events of `type` once there are `count` of them, checked again a little later to be sure no more come. */
async function settledEvents(p: GivenPreset, type: string, count: number) {
  await vi.waitFor(async () => expect((await eventsOf(p, type)).length).toBeGreaterThanOrEqual(count), EVENTUALLY);
  await new Promise((r) => setTimeout(r, 300));
  const events = await eventsOf(p, type);
  expect(events).toHaveLength(count);
  return events;
}

/** Nothing of `type`, after giving fire-and-forget writes time to land. */
async function noEvents(p: GivenPreset, type: string) {
  await new Promise((r) => setTimeout(r, 300));
  expect(await eventsOf(p, type)).toEqual([]);
}

const withBroken = (brokenUrl: string, extra: Partial<PresetSpec> = {}) =>
  givenPreset({
    ...extra,
    servers: [
      { name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] },
      { name: "broken", url: brokenUrl, timeoutMs: 1_000, tools: ["anything"] },
    ],
  });

describe("upstream.unreachable", () => {
  it("is raised once for an upstream that refuses connections, however often it is called", async () => {
    const p = await withBroken(env.DEAD_UPSTREAM);
    const session = await rawSession(p.url);
    for (let i = 0; i < 8; i++) expect((await call(p, session, "broken__anything")).json.error).toBeDefined();
    expect((await call(p, session, "alpha__echo", { text: "fine" })).json.result.content[0].text).toBe("fine");
    const [event] = await settledEvents(p, "upstream.unreachable", 1);
    expect(event).toMatchObject({
      target: "broken",
      payload: { server: "broken", serverId: p.servers.broken.id, failures: 3, reason: "unreachable", message: expect.stringContaining("'broken'") },
    });
  });

  it("remembers an announced upstream across a restart of the preset's object", async () => {
    const scope = unique("restart");
    const p = await givenPreset({ servers: [{ name: "beta", url: upstreamUrl("beta", scope), tools: ["reverse"] }] });
    await setAlerts(p, { upstreamUnreachable: { failures: 1 } });
    const session = await rawSession(p.url);
    const reverse = () => call(p, session, "beta__reverse", { text: "ab" });
    expect((await reverse()).json.result.content[0].text).toBe("ba");
    await setUpstreamDown("beta", scope, true);
    expect((await reverse()).json.error.data).toMatchObject({ upstream: "beta", reason: "http_error" });
    await settledEvents(p, "upstream.unreachable", 1);
    const stub = presetStub(env, p.owner.handle, p.slug);
    await closeIdleUpstreams(stub);
    await evictDurableObject(stub);
    // A fresh object would announce this failure (failures: 1); the restarted one knows it did.
    expect((await reverse()).json.error.data).toMatchObject({ upstream: "beta", reason: "http_error" });
    await settledEvents(p, "upstream.unreachable", 1);
  });

  it("counts HTTP 503 from in front of an upstream, and is raised again only after the upstream answered in between", async () => {
    const scope = unique("unreach");
    const p = await givenPreset({ servers: [{ name: "beta", url: upstreamUrl("beta", scope), tools: ["reverse"] }] });
    await setAlerts(p, { upstreamUnreachable: { failures: 2 } });
    const session = await rawSession(p.url);
    const reverse = () => call(p, session, "beta__reverse", { text: "ab" });
    expect((await reverse()).json.result.content[0].text).toBe("ba");
    await setUpstreamDown("beta", scope, true);
    for (let i = 0; i < 3; i++) expect((await reverse()).json.error).toBeDefined();
    const [first] = await settledEvents(p, "upstream.unreachable", 1);
    expect(first!.payload).toMatchObject({ server: "beta", failures: 2, reason: "http_error", status: 503 });
    await setUpstreamDown("beta", scope, false);
    expect((await reverse()).json.result.content[0].text).toBe("ba");
    await setUpstreamDown("beta", scope, true);
    for (let i = 0; i < 2; i++) expect((await reverse()).json.error).toBeDefined();
    await settledEvents(p, "upstream.unreachable", 2);
  });

  it("raises nothing for an upstream that answers, even with errors, nor when it is turned off", async () => {
    const p = await withBroken(upstreamUrl("error500"));
    const session = await rawSession(p.url);
    for (let i = 0; i < 6; i++) await call(p, session, "broken__anything");
    const off = await withBroken(env.DEAD_UPSTREAM);
    await setAlerts(off, { upstreamUnreachable: false });
    const offSession = await rawSession(off.url);
    for (let i = 0; i < 6; i++) await call(off, offSession, "broken__anything");
    await noEvents(p, "upstream.unreachable");
    await noEvents(off, "upstream.unreachable");
  });
});

describe("error_rate.high", () => {
  it("is raised once when the failed share of calls crosses the threshold, naming the failing upstream and tool", async () => {
    const p = await withBroken(upstreamUrl("error500"));
    await setAlerts(p, { errorRate: { threshold: 0.5, windowMinutes: 5, minCalls: 4 } });
    const session = await rawSession(p.url);
    for (let i = 0; i < 3; i++) await call(p, session, "alpha__echo", { text: "ok" });
    for (let i = 0; i < 8; i++) await call(p, session, "broken__anything"); // HTTP 500, then the breaker opens: all failures
    for (let i = 0; i < 2; i++) await call(p, session, "alpha__echo", { text: "ok" });
    const [event] = await settledEvents(p, "error_rate.high", 1);
    expect(event!.target).toBeNull();
    expect(event!.payload).toMatchObject({
      calls: 6,
      errors: 3,
      rate: 0.5,
      threshold: 0.5,
      windowMinutes: 5,
      minCalls: 4,
      topUpstreams: [{ upstream: "broken", errors: 3 }],
      topTools: [{ tool: "broken__anything", errors: 3 }],
    });
  });

  it("stays quiet below the threshold and before minCalls", async () => {
    const p = await withBroken(upstreamUrl("error500"));
    await setAlerts(p, { errorRate: { threshold: 0.5, windowMinutes: 5, minCalls: 8 } });
    const session = await rawSession(p.url);
    for (let i = 0; i < 3; i++) await call(p, session, "broken__anything"); // 3 of 3, fewer than minCalls
    for (let i = 0; i < 5; i++) await call(p, session, "alpha__echo", { text: "ok" }); // 3 of 8: below
    await noEvents(p, "error_rate.high");
  });

  it("stays quiet below the threshold, and tool errors (isError results) are not failures", async () => {
    const p = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo", "fail"] }] });
    await setAlerts(p, { errorRate: { threshold: 0.2, windowMinutes: 5, minCalls: 2 } });
    const session = await rawSession(p.url);
    for (let i = 0; i < 6; i++) expect((await call(p, session, "alpha__fail")).json.result.isError).toBe(true);
    await noEvents(p, "error_rate.high");
  });
});

describe("rate_limit.surge", () => {
  it("is raised once when refusals reach the threshold, naming the top callers", async () => {
    const p = await givenPreset({ rateLimit: { requests: 2, windowSeconds: 60 }, servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] });
    await setAlerts(p, { rateLimitSurge: { threshold: 5, windowMinutes: 5 } });
    const session = await rawSession(p.url);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await call(p, session, "alpha__echo", { text: "x" })).status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    const [event] = await settledEvents(p, "rate_limit.surge", 1);
    expect(event!.payload).toMatchObject({ refusals: 5, threshold: 5, windowMinutes: 5, topCallers: [{ caller: expect.any(String), refusals: 5 }] });
  });

  it("stays quiet below the threshold", async () => {
    const p = await givenPreset({ rateLimit: { requests: 2, windowSeconds: 60 }, servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] });
    await setAlerts(p, { rateLimitSurge: { threshold: 20, windowMinutes: 5 } });
    const session = await rawSession(p.url);
    for (let i = 0; i < 12; i++) await call(p, session, "alpha__echo", { text: "x" });
    await noEvents(p, "rate_limit.surge");
  });
});
