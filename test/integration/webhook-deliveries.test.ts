import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { api, createUser, givenPreset, type TestUser, unique, upstreamUrl } from "../helpers";
import { mcpPost, rawSession, toolCall } from "../mcp-raw";
import { authorizeInBrowser, authorizeUrl, pkce, registerClient, tokenRequest } from "../oauth-helpers";
import { createWebhook, DELIVERED, deliveries, failReceiver, received, receiverPath, verifySignature, waitForRequests } from "../webhook-helpers";

/** Queues a webhook.test and resolves to the API's answer. */
async function sendTest(owner: TestUser, webhookId: string): Promise<{ alertId: string; deliveryId: string }> {
  const res = await api("POST", `/webhooks/${webhookId}/test`, { token: owner.token });
  expect(res.status).toBe(202);
  return res.body;
}

/** Waits until the delivery's row satisfies `check`, and returns it. */
async function waitForDelivery(owner: TestUser, webhookId: string, deliveryId: string, check: (d: Awaited<ReturnType<typeof deliveries>>[number]) => void) {
  return vi.waitFor(async () => {
    const d = (await deliveries(owner, webhookId)).find((x) => x.id === deliveryId);
    expect(d).toBeDefined();
    check(d!);
    return d!;
  }, DELIVERED);
}

describe("webhook deliveries", () => {
  it("delivers a signed webhook.test to the webhook the test names, which the receiver verifies", async () => {
    const owner = await createUser();
    const { path, url } = receiverPath();
    const hook = await createWebhook(owner, { url, events: ["breaker.opened"] });
    const queued = await sendTest(owner, hook.id);
    expect(queued).toEqual({ alertId: expect.stringMatching(/^alr_/), deliveryId: expect.stringMatching(/^msg_/) });
    const [request] = await waitForRequests(path);
    expect(request!.headers).toMatchObject({
      "content-type": "application/json",
      "user-agent": expect.stringMatching(/^mcpgate-webhooks\/\d/),
      "webhook-id": queued.deliveryId,
      "webhook-timestamp": expect.stringMatching(/^\d{10}$/),
    });
    expect(Math.abs(Number(request!.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(60);
    expect(await verifySignature(hook.secret, request!)).toBe(true);
    expect(await verifySignature(hook.secret, { ...request!, body: request!.body.replace("test", "tset") })).toBe(false);
    expect(JSON.parse(request!.body)).toEqual({
      type: "webhook.test",
      timestamp: expect.any(String),
      data: { id: queued.alertId, preset: null, presetId: null, target: hook.id, message: expect.any(String) },
    });
    await waitForDelivery(owner, hook.id, queued.deliveryId, (d) =>
      expect(d).toMatchObject({
        alertId: queued.alertId,
        type: "webhook.test",
        status: "delivered",
        attempts: 1,
        lastStatusCode: 200,
        lastError: null,
        nextAttemptAt: null,
        deliveredAt: expect.any(String),
      }),
    );
  });

  it("retries a delivery the receiver refused and delivers it once the receiver is back", async () => {
    const owner = await createUser();
    const { path, url } = receiverPath();
    await failReceiver(path, 2, 503);
    const hook = await createWebhook(owner, { url, events: ["member.joined"] });
    const queued = await sendTest(owner, hook.id);
    const requests = await waitForRequests(path, 3);
    expect(requests.map((r) => r.status)).toEqual([503, 503, 200]);
    expect(new Set(requests.map((r) => r.headers["webhook-id"]))).toEqual(new Set([queued.deliveryId]));
    for (const r of requests) expect(await verifySignature(hook.secret, r)).toBe(true);
    expect(requests[2]!.at - requests[1]!.at).toBeGreaterThanOrEqual(requests[1]!.at - requests[0]!.at - 500); // backing off, not hammering
    await waitForDelivery(owner, hook.id, queued.deliveryId, (d) =>
      expect(d).toMatchObject({ status: "delivered", attempts: 3, lastStatusCode: 200, lastError: null }),
    );
  });

  it("shows a failing delivery as pending with its error and next attempt, then failed once its retry window is over", async () => {
    const owner = await createUser();
    const { path, url } = receiverPath();
    await failReceiver(path, undefined, 500);
    const hook = await createWebhook(owner, { url, events: ["member.joined"] });
    const queued = await sendTest(owner, hook.id);
    const pending = await waitForDelivery(owner, hook.id, queued.deliveryId, (d) => expect(d.attempts).toBeGreaterThanOrEqual(1));
    expect(pending).toMatchObject({ status: "pending", lastStatusCode: 500, lastError: "HTTP 500.", nextAttemptAt: expect.any(String), deliveredAt: null });
    // As if the delivery had been failing for 25 hours: the next attempt is its last.
    await env.DB.prepare("UPDATE webhook_deliveries SET created_at = ? WHERE id = ?")
      .bind(Date.now() - 25 * 3_600_000, queued.deliveryId)
      .run();
    const failed = await waitForDelivery(owner, hook.id, queued.deliveryId, (d) => expect(d.status).toBe("failed"));
    expect(failed).toMatchObject({ lastStatusCode: 500, nextAttemptAt: null, deliveredAt: null });
    const attempts = failed.attempts;
    expect((await received(path)).length).toBe(attempts);
  });

  it("counts a redirect as a failed attempt and does not follow it", async () => {
    const owner = await createUser();
    const { path, url } = receiverPath();
    await failReceiver(path, 1, 307);
    const hook = await createWebhook(owner, { url, events: ["member.joined"] });
    const queued = await sendTest(owner, hook.id);
    const d = await waitForDelivery(owner, hook.id, queued.deliveryId, (x) => expect(x.status).toBe("delivered"));
    expect(d.attempts).toBe(2);
    expect((await received(path)).map((r) => r.status)).toEqual([307, 200]);
  });

  it("tells a subscribed webhook when a member joins, and not the webhook of another preset or type", async () => {
    const owner = await createUser();
    const member = await createUser();
    const a = await givenPreset({ owner, visibility: "invite_only" });
    const b = await givenPreset({ owner, visibility: "invite_only" });
    const forA = receiverPath("a");
    const forB = receiverPath("b");
    const otherType = receiverPath("type");
    const hookA = await createWebhook(owner, { url: forA.url, events: ["member.joined"], presets: [a.slug] });
    const hookB = await createWebhook(owner, { url: forB.url, events: ["member.joined"], presets: [b.slug] });
    const hookType = await createWebhook(owner, { url: otherType.url, events: ["breaker.opened", "grant.revoked"] });
    expect((await api("POST", `/presets/${a.slug}/members`, { token: owner.token, body: { handle: member.handle } })).status).toBe(201);
    const [request] = await waitForRequests(forA.path);
    expect(await verifySignature(hookA.secret, request!)).toBe(true);
    expect(JSON.parse(request!.body)).toEqual({
      type: "member.joined",
      timestamp: expect.any(String),
      data: {
        id: expect.stringMatching(/^alr_/),
        preset: `${owner.handle}/${a.slug}`,
        presetId: a.presetId,
        target: member.handle,
        userId: member.id,
        handle: member.handle,
      },
    });
    // One consumer run made every delivery of the alert: the others have none.
    expect(await deliveries(owner, hookB.id)).toEqual([]);
    expect(await deliveries(owner, hookType.id)).toEqual([]);
    expect(await received(forB.path)).toEqual([]);
    expect(await received(otherType.path)).toEqual([]);
  });

  it("sends nothing to a disabled webhook", async () => {
    const owner = await createUser();
    const p = await givenPreset({ owner, visibility: "invite_only" });
    const off = receiverPath("off");
    const on = receiverPath("on");
    const hookOff = await createWebhook(owner, { url: off.url, events: ["member.joined"] });
    await createWebhook(owner, { url: on.url, events: ["member.joined"] });
    expect((await api("PATCH", `/webhooks/${hookOff.id}`, { token: owner.token, body: { enabled: false } })).status).toBe(200);
    await api("POST", `/presets/${p.slug}/members`, { token: owner.token, body: { handle: (await createUser()).handle } });
    await waitForRequests(on.path);
    expect(await deliveries(owner, hookOff.id)).toEqual([]);
  });

  it("tells a webhook subscribed to breaker.opened when a preset's upstream keeps failing", async () => {
    const owner = await createUser();
    const { path, url } = receiverPath("breaker");
    const p = await givenPreset({ owner, servers: [{ name: "dead", url: env.DEAD_UPSTREAM, timeoutMs: 500, tools: ["anything"] }] });
    const hook = await createWebhook(owner, { url, events: ["breaker.opened"], presets: [p.slug] });
    const session = await rawSession(p.url);
    let code = 0;
    for (let i = 0; i < 10 && code !== -32013; i++)
      code = (await mcpPost(p.url, toolCall(i + 1, "dead__anything", {}), { sessionId: session })).json.error.code;
    expect(code).toBe(-32013); // the breaker is open
    const [request] = await waitForRequests(path);
    expect(await verifySignature(hook.secret, request!)).toBe(true);
    expect(JSON.parse(request!.body)).toMatchObject({
      type: "breaker.opened",
      data: { preset: `${owner.handle}/${p.slug}`, presetId: p.presetId, target: "dead", server: "dead", state: "open" },
    });
  });

  it("tells a webhook subscribed to grant.revoked when an OAuth grant is revoked", async () => {
    const owner = await createUser();
    const p = await givenPreset({ owner, visibility: "private", servers: [{ name: "alpha", url: upstreamUrl("alpha"), tools: ["echo"] }] });
    const { path, url } = receiverPath("grant");
    const hook = await createWebhook(owner, { url, events: ["grant.revoked"] });
    const client = (await registerClient()).body;
    const { verifier, challenge } = await pkce();
    const redirectUri = "http://localhost:7777/callback";
    const back = await authorizeInBrowser(
      authorizeUrl({ client_id: client.client_id, redirect_uri: redirectUri, code_challenge: challenge, state: unique("s"), resource: p.url }),
      owner.token,
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
    const grant = (await api("GET", "/grants", { token: owner.token })).body.grants[0];
    expect((await api("DELETE", `/grants/${grant.id}`, { token: owner.token })).status).toBe(204);
    const [request] = await waitForRequests(path);
    expect(await verifySignature(hook.secret, request!)).toBe(true);
    expect(JSON.parse(request!.body)).toMatchObject({
      type: "grant.revoked",
      data: { preset: `${owner.handle}/${p.slug}`, target: client.client_id, grantId: grant.id, reason: "revoked_by_user" },
    });
  });
});
