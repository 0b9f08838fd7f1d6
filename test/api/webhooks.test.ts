import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { ALERT_TYPES } from "../../src/alerts/alert";
import { retentionJobs, runBounded } from "../../src/jobs/retention";
import { type ApiResult, api, createUser, givenPreset, type TestUser } from "../helpers";
import { createWebhook, receiverPath } from "../webhook-helpers";

let doc: any;
beforeAll(async () => {
  doc = (await api("GET", "/openapi.json")).body;
});

/** The response matches what the OpenAPI document says the route answers with that status (required keys only). */
function expectDocumentedKeys(method: string, path: string, res: ApiResult): void {
  const documented = doc.paths[`/api/v1${path}`][method].responses[String(res.status)];
  expect(documented, `${method} ${path} documents ${res.status}`).toBeDefined();
  const schema = documented.content?.["application/json"]?.schema;
  if (schema?.required) expect(Object.keys(res.body).sort()).toEqual([...schema.required].sort());
}

/** Every alert a webhook may subscribe to. */
const ALL_TYPES = [...ALERT_TYPES];

describe("webhooks API", () => {
  let owner: TestUser;
  beforeAll(async () => {
    owner = await createUser();
  });

  it("creates a webhook and shows its signing secret once, never again", async () => {
    const { url } = receiverPath();
    const created = await api("POST", "/webhooks", { token: owner.token, body: { url, events: ["breaker.opened", "member.joined"], description: "pager" } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^whk_/),
      url,
      events: ["breaker.opened", "member.joined"],
      presets: null,
      description: "pager",
      enabled: true,
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expectDocumentedKeys("post", "/webhooks", created);
    const { secret, ...shown } = created.body;
    const one = await api("GET", `/webhooks/${created.body.id}`, { token: owner.token });
    expect(one.body).toEqual(shown);
    const all = await api("GET", "/webhooks", { token: owner.token });
    expect(all.body.webhooks).toContainEqual(shown);
    for (const res of [one, all]) expect(JSON.stringify(res.body)).not.toContain(secret.slice(6));
    const events = await api("GET", "/events?type=webhook.*", { token: owner.token });
    expect(events.body.events[0]).toMatchObject({
      type: "webhook.created",
      target: created.body.id,
      payload: { webhookId: created.body.id, events: shown.events },
    });
    expect(JSON.stringify(events.body)).not.toContain(secret.slice(6));
  });

  it("changes url, events, presets, description and enabled, and deletes", async () => {
    const p = await givenPreset({ owner });
    const hook = await createWebhook(owner, { url: receiverPath().url, events: ALL_TYPES });
    const next = receiverPath().url;
    const patched = await api("PATCH", `/webhooks/${hook.id}`, {
      token: owner.token,
      body: { url: next, events: ["member.joined"], presets: [p.slug], description: "only joins", enabled: false },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id: hook.id, url: next, events: ["member.joined"], presets: [p.slug], description: "only joins", enabled: false });
    expect(patched.body.secret).toBeUndefined();
    const cleared = await api("PATCH", `/webhooks/${hook.id}`, { token: owner.token, body: { presets: null, description: null } });
    expect(cleared.body).toMatchObject({ presets: null, description: null, enabled: false });
    expect((await api("DELETE", `/webhooks/${hook.id}`, { token: owner.token })).status).toBe(204);
    expect((await api("GET", `/webhooks/${hook.id}`, { token: owner.token })).status).toBe(404);
    expect((await api("DELETE", `/webhooks/${hook.id}`, { token: owner.token })).status).toBe(404);
    const events = await api("GET", "/events?type=webhook.*", { token: owner.token });
    expect(events.body.events.filter((e: { target: string }) => e.target === hook.id).map((e: { type: string }) => e.type)).toEqual([
      "webhook.deleted",
      "webhook.updated",
      "webhook.updated",
      "webhook.created",
    ]);
  });

  it("rotates the secret: a new one, shown once", async () => {
    const hook = await createWebhook(owner, { url: receiverPath().url, events: ["member.joined"] });
    const rotated = await api("POST", `/webhooks/${hook.id}/rotate-secret`, { token: owner.token });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toEqual({ id: hook.id, secret: expect.stringMatching(/^whsec_/) });
    expect(rotated.body.secret).not.toBe(hook.secret);
  });

  it("lists deliveries newest first in pages", async () => {
    const hook = await createWebhook(owner, { url: receiverPath().url, events: ["member.joined"] });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await api("POST", `/webhooks/${hook.id}/test`, { token: owner.token })).body.deliveryId);
    const first = await api("GET", `/webhooks/${hook.id}/deliveries?limit=2`, { token: owner.token });
    expect(first.body.deliveries.map((d: { id: string }) => d.id)).toEqual([ids[2], ids[1]]);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await api("GET", `/webhooks/${hook.id}/deliveries?limit=2&cursor=${first.body.nextCursor}`, { token: owner.token });
    expect(second.body.deliveries.map((d: { id: string }) => d.id)).toEqual([ids[0]]);
    expect(second.body.nextCursor).toBeNull();
    expect((await api("GET", `/webhooks/${hook.id}/deliveries?cursor=nope!`, { token: owner.token })).body.error.field).toBe("cursor");
  });

  it.each([
    [{ events: ["member.joined"] }, "url", "is required"],
    [{ url: "not a url", events: ["member.joined"] }, "url", "is not a valid absolute URL"],
    [{ url: `https://hooks.example.com/${"x".repeat(2048)}`, events: ["member.joined"] }, "url", "2048"],
    [{ url: "https://hooks.example.com/in" }, "events", "is required"],
    [{ url: "https://hooks.example.com/in", events: [] }, "events", "at least one"],
    [{ url: "https://hooks.example.com/in", events: ["member.left"] }, "events.0", "must be one of"],
    [{ url: "https://hooks.example.com/in", events: ["webhook.test"] }, "events.0", "must be one of"],
    [{ url: "https://hooks.example.com/in", events: ["member.joined", "member.joined"] }, "events", "twice"],
    [{ url: "https://hooks.example.com/in", events: ["member.joined"], presets: ["no-such-preset"] }, "presets", "no-such-preset"],
    [{ url: "https://hooks.example.com/in", events: ["member.joined"], presets: [] }, "presets", "at least one"],
    [{ url: "https://hooks.example.com/in", events: ["member.joined"], description: "d".repeat(201) }, "description", "200"],
    [{ url: "https://hooks.example.com/in", events: ["member.joined"], secret: "mine" }, "secret", "Unknown field"],
  ])("refuses %j with 400 naming %s", async (body, field, message) => {
    const res = await api("POST", "/webhooks", { token: owner.token, body });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe(field);
    expect(res.body.error.message).toContain(message);
  });

  it.each([
    ["http://169.254.169.254/latest/meta-data/", "may use plain http only on loopback"],
    ["https://169.254.169.254/latest/meta-data/", "private or reserved"],
    ["https://10.1.2.3/hook", "private or reserved"],
    ["https://192.168.0.10/hook", "private or reserved"],
    ["https://[fd12::1]/hook", "private or reserved"],
    ["https://[::ffff:10.0.0.1]/hook", "private or reserved"],
    ["https://metadata.google.internal/hook", "public host name"],
    ["https://intranet/hook", "public host name"],
    ["http://hooks.example.com/hook", "may use plain http only on loopback"],
    ["ftp://hooks.example.com/hook", "must use https"],
    ["https://user:pw@hooks.example.com/hook", "credentials"],
  ])("refuses the webhook url %s (SSRF guard)", async (url, reason) => {
    const res = await api("POST", "/webhooks", { token: owner.token, body: { url, events: ["member.joined"] } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "invalid_field", field: "url", message: expect.stringContaining(reason) });
    const hook = await createWebhook(owner, { url: receiverPath().url, events: ["member.joined"] });
    const patched = await api("PATCH", `/webhooks/${hook.id}`, { token: owner.token, body: { url } });
    expect(patched.body.error).toMatchObject({ field: "url" });
    await api("DELETE", `/webhooks/${hook.id}`, { token: owner.token });
  });

  it("refuses a preset of another owner by its slug, and an empty PATCH", async () => {
    const stranger = await createUser();
    const theirs = await givenPreset({ owner: stranger });
    const res = await api("POST", "/webhooks", { token: owner.token, body: { url: receiverPath().url, events: ["member.joined"], presets: [theirs.slug] } });
    expect(res.body.error).toMatchObject({ field: "presets", message: expect.stringContaining(theirs.slug) });
    const hook = await createWebhook(owner, { url: receiverPath().url, events: ["member.joined"] });
    expect((await api("PATCH", `/webhooks/${hook.id}`, { token: owner.token, body: {} })).status).toBe(400);
  });

  it("allows at most 20 webhooks per owner", async () => {
    const busy = await createUser();
    for (let i = 0; i < 20; i++) await createWebhook(busy, { url: receiverPath().url, events: ["member.joined"] });
    const res = await api("POST", "/webhooks", { token: busy.token, body: { url: receiverPath().url, events: ["member.joined"] } });
    expect(res.status).toBe(409);
    expect((await api("GET", "/webhooks", { token: busy.token })).body.webhooks).toHaveLength(20);
  });

  it("answers 404 to another owner for every route of your webhook, and changes nothing", async () => {
    const hook = await createWebhook(owner, { url: receiverPath().url, events: ["member.joined"] });
    const stranger = await createUser();
    const tries: [string, string, unknown?][] = [
      ["GET", `/webhooks/${hook.id}`],
      ["PATCH", `/webhooks/${hook.id}`, { enabled: false }],
      ["DELETE", `/webhooks/${hook.id}`],
      ["POST", `/webhooks/${hook.id}/rotate-secret`],
      ["GET", `/webhooks/${hook.id}/deliveries`],
      ["POST", `/webhooks/${hook.id}/test`],
    ];
    for (const [method, path, body] of tries) {
      const res = await api(method, path, { token: stranger.token, body });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body.error.code).toBe("not_found");
    }
    expect((await api("GET", "/webhooks", { token: stranger.token })).body.webhooks).toEqual([]);
    const mine = await api("GET", `/webhooks/${hook.id}`, { token: owner.token });
    expect(mine.body).toMatchObject({ enabled: true });
    expect((await api("GET", `/webhooks/${hook.id}/deliveries`, { token: owner.token })).body.deliveries).toEqual([]);
  });

  it("needs a user token", async () => {
    expect((await api("GET", "/webhooks")).status).toBe(401);
  });
});

describe("delivery retention", () => {
  it("keeps a webhook's newest 1000 deliveries of the last 30 days (the hourly cron)", async () => {
    const owner = await createUser();
    const hook = await createWebhook(owner, { url: receiverPath().url, events: ["member.joined"] });
    const now = Date.now();
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1003)
       INSERT INTO webhook_deliveries (id, webhook_id, alert_id, type, body, status, attempts, created_at)
       SELECT 'msg_r' || printf('%04d', i), ?1, 'alr_r' || i, 'member.joined', '{}', 'delivered', 1, ?2 + i FROM n`,
    )
      .bind(hook.id, now - 60_000)
      .run();
    await env.DB.prepare(
      "INSERT INTO webhook_deliveries (id, webhook_id, alert_id, type, body, status, attempts, created_at) VALUES ('msg_old', ?, 'alr_old', 'member.joined', '{}', 'failed', 9, ?)",
    )
      .bind(hook.id, now - 31 * 86_400_000)
      .run();
    const report = await runBounded(retentionJobs(env.DB, now, 90), 40);
    expect(report.rows).toMatchObject({ webhookDeliveries: 1, excessDeliveries: 3 });
    const left = await env.DB.prepare("SELECT count(*) AS n, min(id) AS oldest FROM webhook_deliveries WHERE webhook_id = ?").bind(hook.id).first();
    expect(left).toEqual({ n: 1000, oldest: "msg_r0004" });
  });
});
