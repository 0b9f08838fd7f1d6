import { env, evictDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { presetStub } from "../../src/edge/preset-stub";
import { api, EVENTUALLY, givenPreset, setUpstreamDown, unique, upstreamStats, upstreamUrl } from "../helpers";
import { mcpPost, rawSession, toolCall } from "../mcp-raw";
import { closeIdleUpstreams } from "../preset-object";

/** A preset with a healthy alpha and a second server `other` at `otherUrl`, and a session on it. */
async function twoUpstreams(otherUrl: string, otherTools: string[] | null = null, otherTimeoutMs = 1_000) {
  const p = await givenPreset({
    servers: [
      { name: "alpha", url: upstreamUrl("alpha"), tools: ["echo", "fail"] },
      { name: "other", url: otherUrl, timeoutMs: otherTimeoutMs, tools: otherTools },
    ],
  });
  return { ...p, session: await rawSession(p.url) };
}

let nextId = 100;
const call = (url: string, session: string, name: string, args: Record<string, unknown> = {}) =>
  mcpPost(url, toolCall(nextId++, name, args), { sessionId: session });

describe("circuit breakers", () => {
  it("opens after repeated upstream failures, then fails fast naming the upstream while others keep working", async () => {
    const scope = unique("breaker");
    const p = await twoUpstreams(upstreamUrl("error500", scope), ["anything"]);
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) codes.push((await call(p.url, p.session, "other__anything")).json.error.code);
    expect(codes).toContain(-32010);
    expect(codes.at(-1)).toBe(-32013);
    const seen = (await upstreamStats("error500", scope)).requests;
    const fast = await call(p.url, p.session, "other__anything");
    expect(fast.json.error).toMatchObject({
      code: -32013,
      message: expect.stringMatching(/Upstream 'other' is failing.*paused until/),
      data: { upstream: "other", reason: "breaker_open", retryAt: expect.any(String) },
    });
    expect((await upstreamStats("error500", scope)).requests).toEqual(seen); // failed fast: nothing reached it
    expect((await call(p.url, p.session, "alpha__echo", { text: "fine" })).json.result.content[0].text).toBe("fine");
    const list = await mcpPost(p.url, { jsonrpc: "2.0", id: 1, method: "tools/list" }, { sessionId: p.session });
    expect(list.json.result.tools.map((t: { name: string }) => t.name)).toEqual(["alpha__echo", "alpha__fail"]);
  });

  it("reports each server's health in the preset and records breaker transitions as audit events", async () => {
    const p = await twoUpstreams(upstreamUrl("error500", unique("health")), ["anything"]);
    for (let i = 0; i < 8; i++) await call(p.url, p.session, "other__anything");
    await call(p.url, p.session, "alpha__echo", { text: "x" });
    const view = await api("GET", `/presets/${p.slug}`, { token: p.owner.token });
    const health = Object.fromEntries(view.body.servers.map((s: { name: string; health: unknown }) => [s.name, s.health]));
    expect(health.other).toMatchObject({
      status: "open",
      breaker: "open",
      breakerOpens: 1,
      lastError: { message: expect.stringContaining("HTTP 500") },
      retryAt: expect.any(String),
    });
    expect(health.alpha).toMatchObject({ status: "ok", breaker: "closed", lastError: null, lastSuccessAt: expect.any(String) });
    const opened = await vi.waitFor(async () => {
      const events = await api("GET", `/presets/${p.slug}/events`, { token: p.owner.token });
      const event = events.body.events.find((e: { type: string }) => e.type === "breaker.opened");
      expect(event).toBeDefined();
      return event;
    }, EVENTUALLY);
    expect(opened).toMatchObject({ target: "other", payload: { state: "open" } });
  });

  it("keeps listing a broken upstream's last known tools, from storage, after a restart", async () => {
    const scope = unique("lastknown");
    const p = await twoUpstreams(upstreamUrl("beta", scope));
    const list = () => mcpPost(p.url, { jsonrpc: "2.0", id: nextId++, method: "tools/list" }, { sessionId: p.session });
    const before = (await list()).json.result.tools.map((t: { name: string }) => t.name);
    expect(before).toEqual(expect.arrayContaining(["other__reverse", "other__shared"]));
    await setUpstreamDown("beta", scope, true);
    const stub = presetStub(env, p.owner.handle, p.slug);
    await closeIdleUpstreams(stub);
    await evictDurableObject(stub);
    const after = await list();
    expect(after.status).toBe(200);
    expect(after.json.result.tools.map((t: { name: string }) => t.name)).toEqual(before);
    const reversed = await call(p.url, p.session, "other__reverse", { text: "ab" });
    expect(reversed.json.error).toMatchObject({ code: -32010, data: { upstream: "other" } });
    await setUpstreamDown("beta", scope, false);
    expect((await call(p.url, p.session, "other__reverse", { text: "ab" })).json.result.content[0].text).toBe("ba");
  });

  it("counts isError results as successful calls", async () => {
    const p = await twoUpstreams(upstreamUrl("beta"));
    for (let i = 0; i < 12; i++) expect((await call(p.url, p.session, "alpha__fail")).json.result.isError).toBe(true);
    const view = await api("GET", `/presets/${p.slug}`, { token: p.owner.token });
    expect(view.body.servers.find((s: { name: string }) => s.name === "alpha").health).toMatchObject({ status: "ok", breaker: "closed" });
  });
});

describe("timeouts and cancellation", () => {
  it("cancels the upstream call when the client sends notifications/cancelled", async () => {
    const scope = unique("cancel");
    const p = await twoUpstreams(upstreamUrl("alpha", scope), ["sleep"], 30_000);
    const started = Date.now();
    const pending = mcpPost(p.url, toolCall("slow-1", "other__sleep", { ms: 20_000 }), { sessionId: p.session });
    await vi.waitFor(async () => expect((await upstreamStats("alpha", scope)).requests["tools/call"] ?? 0).toBeGreaterThanOrEqual(1), EVENTUALLY);
    const note = await mcpPost(
      p.url,
      { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "slow-1", reason: "user pressed stop" } },
      { sessionId: p.session },
    );
    expect(note.status).toBe(202);
    const res = await pending;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(res.json).toMatchObject({ id: "slow-1", error: { code: -32800, data: { upstream: "other", reason: "cancelled" } } });
    const stats = await vi.waitFor(async () => {
      const s = await upstreamStats("alpha", scope);
      expect(s.requests["notifications/cancelled"] ?? 0).toBeGreaterThanOrEqual(1);
      return s;
    }, EVENTUALLY);
    expect(stats.requests["notifications/cancelled"]).toBe(1);
  });

  it("cancels the upstream call on timeout and never retries a tools/call", async () => {
    const scope = unique("timeout");
    const p = await twoUpstreams(upstreamUrl("alpha", scope), ["sleep"], 300);
    const res = await call(p.url, p.session, "other__sleep", { ms: 5_000 });
    expect(res.json.error).toMatchObject({ code: -32011, data: { reason: "timeout" } });
    const stats = await vi.waitFor(async () => {
      const s = await upstreamStats("alpha", scope);
      expect(s.requests["notifications/cancelled"] ?? 0).toBeGreaterThanOrEqual(1);
      return s;
    }, EVENTUALLY);
    expect(stats.requests["tools/call"]).toBe(1);
    expect(stats.requests["notifications/cancelled"]).toBe(1);
  });
});

describe("hostile upstreams", () => {
  it("refuses a 10 MB result with a clear error and keeps serving", async () => {
    const p = await twoUpstreams(upstreamUrl("hostile"), ["blob"], 10_000);
    const res = await call(p.url, p.session, "other__blob", { mb: 10 });
    expect(res.status).toBe(200);
    expect(res.json.error).toMatchObject({
      code: -32012,
      message: expect.stringMatching(/'other' answered more than 8 MiB/),
      data: { reason: "bad_response" },
    });
    expect((await call(p.url, p.session, "other__blob", { mb: 0.001 })).json.result.content[0].text).toHaveLength(1049);
    expect((await call(p.url, p.session, "alpha__echo", { text: "alive" })).json.result.content[0].text).toBe("alive");
  });

  it("ends a reply stream that never finishes at the timeout and keeps serving", async () => {
    const p = await twoUpstreams(upstreamUrl("hostile"), ["forever"], 400);
    const started = Date.now();
    const res = await call(p.url, p.session, "other__forever");
    expect(res.json.error).toMatchObject({ code: -32011, data: { upstream: "other", reason: "timeout" } });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await call(p.url, p.session, "alpha__echo", { text: "alive" })).json.result.content[0].text).toBe("alive");
  });

  it("reports an upstream that closes the connection mid-reply, without waiting for the timeout", async () => {
    const p = await twoUpstreams(upstreamUrl("midclose"), ["cut"], 20_000);
    const started = Date.now();
    const res = await call(p.url, p.session, "other__cut");
    expect(res.json.error).toMatchObject({ code: -32010, message: expect.stringContaining("'other'"), data: { upstream: "other" } });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await call(p.url, p.session, "alpha__echo", { text: "alive" })).json.result.content[0].text).toBe("alive");
  });
});
