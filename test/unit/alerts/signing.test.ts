import { describe, expect, it } from "vitest";
import { newWebhookSecret, secretKeyBytes, signWebhook } from "../../../src/alerts/signing";
import { verifySignature } from "../../webhook-signature";

describe("webhook signing (Standard Webhooks)", () => {
  it("matches the Standard Webhooks reference vector", async () => {
    const signature = await signWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}');
    expect(signature).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("signs id.timestamp.body with the secret's decoded bytes, as a receiver checks it with node:crypto", async () => {
    const secret = newWebhookSecret();
    const body = JSON.stringify({ type: "webhook.test", data: { id: "alr_1" } });
    const signature = await signWebhook(secret, "msg_1", 1_700_000_000, body);
    const headers = { "webhook-id": "msg_1", "webhook-timestamp": "1700000000", "webhook-signature": signature };
    expect(await verifySignature(secret, { headers, body })).toBe(true);
    expect(await verifySignature(secret, { headers: { ...headers, "webhook-id": "msg_2" }, body })).toBe(false);
    expect(await verifySignature(newWebhookSecret(), { headers, body })).toBe(false);
    expect(await signWebhook(secret, "msg_1", 1_700_000_001, body)).not.toBe(signature);
  });

  it("makes secrets of 32 random bytes behind whsec_, never the same twice", () => {
    const a = newWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(secretKeyBytes(a)).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(a);
    expect(() => secretKeyBytes("mcpg_nope")).toThrow();
  });
});
