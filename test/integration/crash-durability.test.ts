/**
 * Nothing a client saw answered is lost when the preset's object dies without a graceful end
 * (issue 17): its usage counts and rate-limit hits are durable before the reply leaves. The object
 * is aborted (`ctx.abort()`, as a crash: no timer, alarm or flush runs) right after the replies.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { presetStub } from "../../src/edge/preset-stub";
import { api, givenPreset, unique, upstreamUrl } from "../helpers";
import { mcpPost, rawSession, toolCall } from "../mcp-raw";

/** Kills the preset's object as a crash would: its memory goes, its storage stays. */
async function crash(handle: string, slug: string): Promise<void> {
  const stub = presetStub(env, handle, slug);
  await runInDurableObject(stub, (_instance, state) => state.abort("a crash, for a test")).catch(() => {});
}

describe("crash durability", () => {
  it("keeps every answered call in the usage stats when the object crashes right after the replies", async () => {
    const p = await givenPreset({ servers: [{ name: "alpha", url: upstreamUrl("alpha", unique("crash")), tools: ["echo"] }] });
    const session = await rawSession(p.url);
    const N = 7;
    for (let i = 1; i <= N; i++) expect((await mcpPost(p.url, toolCall(i, "alpha__echo", { text: `n${i}` }), { sessionId: session })).status).toBe(200);
    await crash(p.owner.handle, p.slug);
    const res = await api("GET", `/presets/${p.slug}/stats?window=1h`, { token: p.owner.token });
    expect(res.status).toBe(200);
    expect(res.body.totals.calls).toBe(N);
  });

  it("keeps a caller at its rate limit limited when the object crashes right after its calls", async () => {
    const p = await givenPreset({
      rateLimit: { requests: 3, windowSeconds: 600 },
      servers: [{ name: "alpha", url: upstreamUrl("alpha", unique("crash-rl")), tools: ["echo"] }],
    });
    const session = await rawSession(p.url);
    for (const id of [1, 2, 3]) expect((await mcpPost(p.url, toolCall(id, "alpha__echo", { text: "x" }), { sessionId: session })).status).toBe(200);
    await crash(p.owner.handle, p.slug);
    expect((await mcpPost(p.url, toolCall(4, "alpha__echo", { text: "x" }), { sessionId: session })).status).toBe(429);
  });
});
