/** Helpers of the webhook tests: the fixture receiver (test/fixtures/webhook-receiver.mjs) and webhooks made through the API. */

import { env } from "cloudflare:test";
import { expect, vi } from "vitest";
import { api, type TestUser, unique } from "./helpers";
import type { Received } from "./webhook-signature";

export { verifySignature } from "./webhook-signature";

/** How long a test waits for a delivery the queue consumer makes (batches wait up to 1 s). */
export const DELIVERED = { timeout: 15_000, interval: 100 };

/** A path of the receiver no other test uses, and its URL. */
export function receiverPath(prefix = "hook"): { path: string; url: string } {
  const path = unique(prefix);
  return { path, url: `${env.WEBHOOK_RECEIVER_BASE}/${path}` };
}

/** What the receiver got at `path`, oldest first. */
export async function received(path: string): Promise<Received[]> {
  return (await fetch(`${env.WEBHOOK_RECEIVER_BASE}/__requests/${path}`)).json();
}

/** Makes the next `times` requests to `path` fail with `status` (times undefined: until told otherwise; 0: stop failing). */
export async function failReceiver(path: string, times?: number, status = 500): Promise<void> {
  const q = new URLSearchParams({ status: String(status), ...(times === undefined ? {} : { times: String(times) }) });
  await fetch(`${env.WEBHOOK_RECEIVER_BASE}/__fail/${path}?${q}`, { method: "POST" });
}

/** Waits until the receiver got at least `n` requests at `path` and returns them. */
export async function waitForRequests(path: string, n = 1): Promise<Received[]> {
  return vi.waitFor(async () => {
    const got = await received(path);
    expect(got.length).toBeGreaterThanOrEqual(n);
    return got;
  }, DELIVERED);
}

/** Creates a webhook, failing the test on anything but 201; resolves to the API's answer (with the secret). */
export async function createWebhook(user: TestUser, body: Record<string, unknown>) {
  const res = await api("POST", "/webhooks", { token: user.token, body });
  if (res.status !== 201) throw new Error(`createWebhook: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; secret: string; url: string; events: string[]; presets: string[] | null };
}

/** The webhook's deliveries as the API lists them, newest first. */
export async function deliveries(user: TestUser, webhookId: string) {
  const res = await api("GET", `/webhooks/${webhookId}/deliveries`, { token: user.token });
  expect(res.status).toBe(200);
  return res.body.deliveries as {
    id: string;
    alertId: string;
    type: string;
    status: string;
    attempts: number;
    lastStatusCode: number | null;
    lastError: string | null;
    nextAttemptAt: string | null;
    createdAt: string;
    deliveredAt: string | null;
  }[];
}
