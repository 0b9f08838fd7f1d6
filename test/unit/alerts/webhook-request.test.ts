import { describe, expect, it } from "vitest";
import type { Alert } from "../../../src/alerts/alert";
import { newWebhookSecret } from "../../../src/alerts/signing";
import { type FetchLike, postWebhook, WEBHOOK_USER_AGENT, webhookBody } from "../../../src/alerts/webhook-request";
import { wantsAlert } from "../../../src/alerts/webhook-store";
import { verifySignature } from "../../webhook-signature";

const NOW = Date.UTC(2026, 10, 22, 4, 41, 7);

const alert: Alert = {
  id: "alr_1",
  type: "breaker.opened",
  ownerId: "usr_1",
  presetId: "prs_1",
  preset: "alice/research",
  target: "search",
  data: { serverId: "srv_1", state: "open", id: "not the alert's" },
  at: NOW,
};

/** A fetch that records its calls and answers what `reply` gives. */
function fakeFetch(reply: () => Response | Promise<Response>) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fetch: FetchLike = async (url, init = {}) => {
    calls.push({ url, init });
    return reply();
  };
  return { fetch, calls };
}

describe("webhook body", () => {
  it("is { type, timestamp, data } with the alert's id, preset and target over its own data", () => {
    expect(JSON.parse(webhookBody(alert))).toEqual({
      type: "breaker.opened",
      timestamp: "2026-11-22T04:41:07.000Z",
      data: { serverId: "srv_1", state: "open", id: "alr_1", preset: "alice/research", presetId: "prs_1", target: "search" },
    });
  });
});

describe("postWebhook", () => {
  const opts = (fetch: FetchLike, allowInsecure = false) => ({ fetch, allowInsecure, now: NOW });

  it("POSTs the body with the Standard Webhooks headers, signed with the secret", async () => {
    const secret = newWebhookSecret();
    const { fetch, calls } = fakeFetch(() => new Response(null, { status: 204 }));
    const body = webhookBody(alert);
    const outcome = await postWebhook("https://hooks.example.com/in", secret, "msg_1", body, opts(fetch));
    expect(outcome).toEqual({ delivered: true, statusCode: 204, error: null, permanent: false });
    const { url, init } = calls[0]!;
    expect(url).toBe("https://hooks.example.com/in");
    expect(init).toMatchObject({ method: "POST", body, redirect: "manual" });
    const headers = init.headers as Record<string, string>;
    const ts = Math.floor(NOW / 1000);
    expect(headers).toEqual({
      "content-type": "application/json",
      "user-agent": WEBHOOK_USER_AGENT,
      "webhook-id": "msg_1",
      "webhook-timestamp": String(ts),
      "webhook-signature": expect.stringMatching(/^v1,[A-Za-z0-9+/]{43}=$/),
    });
    expect(await verifySignature(secret, { headers, body })).toBe(true);
    expect(WEBHOOK_USER_AGENT).toMatch(/^mcpgate-webhooks\/\d+\.\d+\.\d+$/);
  });

  it("counts a redirect as a failure and does not follow it", async () => {
    const { fetch, calls } = fakeFetch(() => new Response(null, { status: 302, headers: { location: "http://169.254.169.254/" } }));
    const outcome = await postWebhook("https://hooks.example.com/in", newWebhookSecret(), "msg_1", "{}", opts(fetch));
    expect(outcome).toMatchObject({ delivered: false, statusCode: 302, error: expect.stringContaining("redirects are not followed"), permanent: false });
    expect(calls).toHaveLength(1);
  });

  it("reports an error status, a refused connection and a timeout as retryable failures", async () => {
    const secret = newWebhookSecret();
    const e500 = await postWebhook(
      "https://h.example.com/",
      secret,
      "m",
      "{}",
      opts(fakeFetch(() => new Response("x".repeat(100_000), { status: 500 })).fetch),
    );
    expect(e500).toEqual({ delivered: false, statusCode: 500, error: "HTTP 500.", permanent: false });
    const refused = await postWebhook(
      "https://h.example.com/",
      secret,
      "m",
      "{}",
      opts(fakeFetch(() => Promise.reject(new TypeError("connect ECONNREFUSED"))).fetch),
    );
    expect(refused).toEqual({ delivered: false, statusCode: null, error: "Could not connect.", permanent: false });
    const timeout = await postWebhook(
      "https://h.example.com/",
      secret,
      "m",
      "{}",
      opts(fakeFetch(() => Promise.reject(new DOMException("timed out", "TimeoutError"))).fetch),
    );
    expect(timeout).toMatchObject({ delivered: false, statusCode: null, error: "No answer within 10 s." });
  });

  it.each([
    ["http://169.254.169.254/latest/meta-data", false],
    ["https://10.0.0.7/hook", false],
    ["https://192.168.1.1/hook", false],
    ["https://[fd00::1]/hook", false],
    ["https://metadata.internal/hook", false],
    ["http://localhost:8080/hook", false],
    ["http://hooks.example.com/hook", false],
    ["https://10.0.0.7/hook", true],
    ["http://169.254.169.254/latest/meta-data", true],
    ["http://hooks.example.com/hook", true],
  ])("refuses %s (insecure loopback allowed: %s) without fetching it, for good", async (url, allowInsecure) => {
    const { fetch, calls } = fakeFetch(() => new Response("ok"));
    const outcome = await postWebhook(url, newWebhookSecret(), "m", "{}", opts(fetch, allowInsecure));
    expect(outcome).toMatchObject({ delivered: false, statusCode: null, permanent: true, error: expect.stringMatching(/^The URL /) });
    expect(calls).toHaveLength(0);
  });

  it("reaches loopback over http only when insecure upstreams are allowed (local development)", async () => {
    const { fetch, calls } = fakeFetch(() => new Response("ok"));
    expect((await postWebhook("http://127.0.0.1:9/hook", newWebhookSecret(), "m", "{}", opts(fetch, true))).delivered).toBe(true);
    expect((await postWebhook("http://127.0.0.1:9/hook", newWebhookSecret(), "m", "{}", opts(fetch, false))).permanent).toBe(true);
    expect(calls).toHaveLength(1);
  });
});

describe("which webhooks an alert goes to", () => {
  const hook = { id: "whk_1", enabled: true, events: ["breaker.opened", "member.joined"], presets: null as string[] | null };

  it("goes to enabled webhooks subscribed to its type", () => {
    expect(wantsAlert(hook, alert)).toBe(true);
    expect(wantsAlert({ ...hook, enabled: false }, alert)).toBe(false);
    expect(wantsAlert({ ...hook, events: ["breaker.closed"] }, alert)).toBe(false);
  });

  it("respects a webhook's preset filter; account alerts pass only unfiltered webhooks", () => {
    expect(wantsAlert({ ...hook, presets: ["prs_1"] }, alert)).toBe(true);
    expect(wantsAlert({ ...hook, presets: ["prs_2"] }, alert)).toBe(false);
    expect(wantsAlert({ ...hook, presets: ["prs_1"] }, { ...alert, presetId: null })).toBe(false);
    expect(wantsAlert(hook, { ...alert, presetId: null })).toBe(true);
  });

  it("sends webhook.test only to the webhook it names, whatever it subscribed to", () => {
    const test = { ...alert, type: "webhook.test" as const, webhookId: "whk_1" };
    expect(wantsAlert({ ...hook, events: [] }, test)).toBe(true);
    expect(wantsAlert({ ...hook, id: "whk_2" }, test)).toBe(false);
  });
});
