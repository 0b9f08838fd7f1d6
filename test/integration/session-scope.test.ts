/**
 * Whose upstream session a request goes on (issue 14): an attached server's sessionScope, through
 * the real worker to real SDK upstreams. State lives in the upstream session: `beta`'s `grow`
 * adds a tool to the session that called it (test/fixtures/upstreams.mjs), so who sees a grown
 * tool says who shares that session.
 */
import { describe, expect, it, vi } from "vitest";
import { api, connectClient, createUser, EVENTUALLY, givenPreset, unique, upstreamStats, upstreamUrl } from "../helpers";
import { deleteSession, openSession, rpc } from "../mcp-raw";

type Scope = "shared" | "per-caller" | "per-session";

const names = async (client: Awaited<ReturnType<typeof connectClient>>) => (await client.listTools()).tools.map((t) => t.name);

/** A public preset over `beta` (every tool) with the given scope, and its fixture scope for counters. */
async function betaPreset(sessionScope: Scope | undefined, opts: { visibility?: "public" | "private" | "invite_only" } = {}) {
  const scope = unique("scope");
  const given = await givenPreset({
    visibility: opts.visibility ?? "public",
    // The tools clients grow at run time are exposed as they come (tool-pinning.test.ts holds new tools by default).
    newTools: "expose",
    servers: [{ name: "beta", url: upstreamUrl("beta", scope), tools: null, ...(sessionScope ? { sessionScope } : {}) }],
  });
  return { ...given, scope };
}

describe("upstream session scope", () => {
  it("keeps two anonymous clients' upstream state apart by default (per-caller): a tool one grows is neither listed to nor callable by the other", async () => {
    const { url, owner, slug } = await betaPreset(undefined);
    const view = await api("GET", `/presets/${slug}`, { token: owner.token });
    expect(view.body.servers[0].sessionScope).toBe("per-caller");
    const a = await connectClient(url);
    const b = await connectClient(url);
    await names(a);
    await names(b);
    await a.callTool({ name: "beta__grow", arguments: { name: "mine" } });
    await vi.waitFor(async () => expect(await names(a)).toContain("beta__mine"), EVENTUALLY);
    expect((await a.callTool({ name: "beta__mine", arguments: {} })).content).toEqual([{ type: "text", text: "mine says hi" }]);
    expect(await names(b)).not.toContain("beta__mine");
    const refused = await b.callTool({ name: "beta__mine", arguments: {} }).catch((e: Error) => e);
    expect(String(refused instanceof Error ? refused.message : JSON.stringify(refused))).toMatch(/not found|Unknown tool/i);
    await a.close();
    await b.close();
  });

  it("shares one upstream session between every client under shared: a tool one grows, the other sees and calls", async () => {
    const { url, scope } = await betaPreset("shared");
    const a = await connectClient(url);
    const b = await connectClient(url);
    await a.callTool({ name: "beta__grow", arguments: { name: "common" } });
    await vi.waitFor(async () => expect(await names(b)).toContain("beta__common"), EVENTUALLY);
    expect((await b.callTool({ name: "beta__common", arguments: {} })).content).toEqual([{ type: "text", text: "common says hi" }]);
    expect((await upstreamStats("beta", scope)).initializes).toBe(1);
    await a.close();
    await b.close();
  });

  it("gives a signed-in user one upstream session across their clients under per-caller, and another user another", async () => {
    const member = await createUser();
    const { url, owner, slug, scope } = await betaPreset("per-caller", { visibility: "invite_only" });
    expect((await api("POST", `/presets/${slug}/members`, { token: owner.token, body: { handle: member.handle } })).status).toBe(201);
    const first = await connectClient(url, { token: owner.token });
    const second = await connectClient(url, { token: owner.token });
    const other = await connectClient(url, { token: member.token });
    await first.callTool({ name: "beta__grow", arguments: { name: "owned" } });
    await vi.waitFor(async () => expect(await names(second)).toContain("beta__owned"), EVENTUALLY);
    expect((await second.callTool({ name: "beta__owned", arguments: {} })).content).toEqual([{ type: "text", text: "owned says hi" }]);
    expect(await names(other)).not.toContain("beta__owned");
    // One upstream session per user (all three clients declared the same capabilities).
    expect((await upstreamStats("beta", scope)).initializes).toBe(2);
    for (const c of [first, second, other]) await c.close();
  });

  it("gives each client session its own upstream session under per-session, even for one user, and ends it with the client's session", async () => {
    const { url, owner, scope } = await betaPreset("per-session", { visibility: "private" });
    const one = await openSession(url, { token: owner.token });
    const two = await openSession(url, { token: owner.token });
    await rpc(one, 1, "tools/call", { name: "beta__grow", arguments: { name: "solo" } });
    const calledOne = await rpc(one, 2, "tools/call", { name: "beta__solo", arguments: {} });
    expect(calledOne.result.content[0].text).toBe("solo says hi");
    const calledTwo = await rpc(two, 2, "tools/call", { name: "beta__solo", arguments: {} });
    expect(calledTwo.error ?? calledTwo.result?.isError).toBeTruthy();
    const before = await upstreamStats("beta", scope);
    expect(before.initializes).toBe(2);
    expect(before.sessions).toBe(2);
    // The client ends its session: the gateway ends that upstream session too (DELETE), not just forgets it.
    expect(await deleteSession(one)).toBe(204);
    await vi.waitFor(async () => expect((await upstreamStats("beta", scope)).sessions).toBe(1), EVENTUALLY);
  });

  it("refuses a sessionScope that is not one of the three, naming the field, and changes nothing", async () => {
    const { owner, slug } = await betaPreset("shared");
    const res = await api("PUT", `/presets/${slug}/servers/beta`, { token: owner.token, body: { sessionScope: "per-moon" } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain("sessionScope");
    expect((await api("GET", `/presets/${slug}`, { token: owner.token })).body.servers[0].sessionScope).toBe("shared");
  });
});
