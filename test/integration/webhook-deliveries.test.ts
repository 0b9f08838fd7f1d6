import { describe, expect, it, vi } from "vitest";
import { api, createUser } from "../helpers";
import { createWebhook, DELIVERED, deliveries, receiverPath, verifySignature, waitForRequests } from "../webhook-helpers";

describe("webhook deliveries", () => {
  it("delivers a signed webhook.test to the webhook the test names, which the receiver verifies", async () => {
    const owner = await createUser();
    const { path, url } = receiverPath();
    const hook = await createWebhook(owner, { url, events: ["breaker.opened"] });
    const queued = await api("POST", `/webhooks/${hook.id}/test`, { token: owner.token });
    expect(queued.status).toBe(202);
    expect(queued.body).toEqual({ alertId: expect.stringMatching(/^alr_/), deliveryId: expect.stringMatching(/^msg_/) });
    const [request] = await waitForRequests(path);
    expect(request!.headers).toMatchObject({
      "content-type": "application/json",
      "user-agent": expect.stringMatching(/^mcpgate-webhooks\//),
      "webhook-id": queued.body.deliveryId,
      "webhook-timestamp": expect.stringMatching(/^\d{10}$/),
    });
    expect(Math.abs(Number(request!.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(60);
    expect(verifySignature(hook.secret, request!)).toBe(true);
    expect(verifySignature(hook.secret, { ...request!, body: request!.body.replace("test", "tset") })).toBe(false);
    expect(JSON.parse(request!.body)).toEqual({
      type: "webhook.test",
      timestamp: expect.any(String),
      data: { id: queued.body.alertId, preset: null, presetId: null, target: hook.id, message: expect.any(String) },
    });
    await vi.waitFor(async () => {
      expect(await deliveries(owner, hook.id)).toEqual([
        expect.objectContaining({ id: queued.body.deliveryId, alertId: queued.body.alertId, type: "webhook.test", status: "delivered", attempts: 1, lastStatusCode: 200 }),
      ]);
    }, DELIVERED);
  });
});
