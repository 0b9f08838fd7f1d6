/**
 * @module Webhooks routes: an owner's endpoints for alerts (create with the signing secret shown
 * once, list, read, change, delete, rotate the secret), their deliveries, and a test alert.
 */
import { and, count, eq, inArray } from "drizzle-orm";
import type { Context } from "hono";
import { newWebhookSecret } from "../alerts/signing";
import { listDeliveries, MAX_WEBHOOKS_PER_OWNER, queueTestAlert, sealWebhookSecret, type Webhook } from "../alerts/webhook-store";
import { getDb } from "../db/client";
import { insertEvent } from "../db/events-repository";
import { presets, webhookDeliveries, webhooks } from "../db/schema";
import type { AppEnv } from "../edge/app-env";
import { decodeCursor, encodeCursor } from "../shared/cursor";
import { ApiError, conflict, invalidField, notFound } from "../shared/errors";
import { newId } from "../shared/ids";
import { checkUpstreamUrl } from "../shared/url-guard";
import { iso } from "./json-views";
import { defineRoute } from "./route";
import { list } from "./schemas";
import {
  CreatedWebhook,
  CreateWebhookBody,
  DeliveriesQuery,
  DeliveryPage,
  QueuedTest,
  RotatedSecret,
  UpdateWebhookBody,
  Webhook as WebhookJson,
  WebhookParams,
} from "./webhook-schemas";

function assertWebhookUrl(c: Context<AppEnv>, url: string): string {
  const check = checkUpstreamUrl(url, { allowInsecure: c.env.ALLOW_INSECURE_UPSTREAMS === "true" });
  if (!check.ok) throw invalidField("url", check.reason);
  return check.url.toString();
}

async function findOwnWebhook(c: Context<AppEnv>, id: string): Promise<Webhook> {
  const row = await getDb(c.env.DB)
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.id, id), eq(webhooks.ownerId, c.get("userId"))))
    .get();
  if (!row) throw notFound("Webhook");
  return row;
}

/** The owner's preset ids for `slugs`, refusing a slug that is not one of theirs. */
async function presetIds(c: Context<AppEnv>, slugs: string[] | null | undefined): Promise<string[] | null> {
  if (!slugs) return null;
  if (slugs.length === 0) throw invalidField("presets", "must name at least one preset, or be null for every preset");
  const rows = await getDb(c.env.DB)
    .select({ id: presets.id, slug: presets.slug })
    .from(presets)
    .where(and(eq(presets.ownerId, c.get("userId")), inArray(presets.slug, slugs)));
  const bySlug = new Map(rows.map((r) => [r.slug, r.id]));
  const missing = slugs.find((s) => !bySlug.has(s));
  if (missing) throw invalidField("presets", `you have no preset '${missing}'`);
  return slugs.map((s) => bySlug.get(s)!);
}

/** The owner's preset slugs by id, to show webhooks' preset filters (a deleted preset drops out). */
async function slugsById(c: Context<AppEnv>): Promise<Map<string, string>> {
  const rows = await getDb(c.env.DB)
    .select({ id: presets.id, slug: presets.slug })
    .from(presets)
    .where(eq(presets.ownerId, c.get("userId")));
  return new Map(rows.map((r) => [r.id, r.slug]));
}

function webhookJson(w: Webhook, slugs: Map<string, string>) {
  return {
    id: w.id,
    url: w.url,
    events: w.events,
    presets: w.presets === null ? null : w.presets.flatMap((id) => slugs.get(id) ?? []),
    description: w.description ?? null,
    enabled: w.enabled,
    createdAt: iso(w.createdAt)!,
    updatedAt: iso(w.updatedAt)!,
  };
}

/** What an audit event says about a webhook: where it points and what it hears, never its secret. */
const webhookAudit = (w: Webhook) => ({ webhookId: w.id, origin: new URL(w.url).origin, events: w.events, enabled: w.enabled });

const isCursor = (v: unknown): v is { createdAt: number; id: string } =>
  !!v && typeof v === "object" && typeof (v as { createdAt?: unknown }).createdAt === "number" && typeof (v as { id?: unknown }).id === "string";

const ID = { params: WebhookParams };

export const webhookRoutes = [
  defineRoute({
    method: "post",
    path: "/webhooks",
    tag: "Webhooks",
    summary: "Create a webhook for alerts; its signing secret is returned once",
    auth: "user",
    body: CreateWebhookBody,
    responses: { 201: { description: "Created", schema: CreatedWebhook }, 409: { description: `Already ${MAX_WEBHOOKS_PER_OWNER} webhooks` } },
    async handler(c, { body }) {
      const url = assertWebhookUrl(c, body.url);
      const ownerId = c.get("userId");
      const presetFilter = await presetIds(c, body.presets);
      const db = getDb(c.env.DB);
      const [existing] = await db.select({ n: count() }).from(webhooks).where(eq(webhooks.ownerId, ownerId));
      if ((existing?.n ?? 0) >= MAX_WEBHOOKS_PER_OWNER) throw conflict(`You already have ${MAX_WEBHOOKS_PER_OWNER} webhooks, the most allowed.`);
      const now = Date.now();
      const id = newId("whk", now);
      const secret = newWebhookSecret();
      const row: Webhook = {
        id,
        ownerId,
        url,
        events: body.events,
        presets: presetFilter,
        description: body.description ?? null,
        enabled: true,
        secretEnc: await sealWebhookSecret(c.env, id, secret),
        createdAt: now,
        updatedAt: now,
      };
      await db.batch([
        db.insert(webhooks).values(row),
        insertEvent(db, { ownerId, presetId: null, actorId: ownerId, type: "webhook.created", target: id, payload: webhookAudit(row) }, now),
      ]);
      return c.json({ ...webhookJson(row, await slugsById(c)), secret }, 201);
    },
  }),
  defineRoute({
    method: "get",
    path: "/webhooks",
    tag: "Webhooks",
    summary: "List your webhooks (never their secrets)",
    auth: "user",
    responses: { 200: { description: "Webhooks, oldest first", schema: list("webhooks", WebhookJson) } },
    async handler(c) {
      const rows = await getDb(c.env.DB)
        .select()
        .from(webhooks)
        .where(eq(webhooks.ownerId, c.get("userId")))
        .orderBy(webhooks.createdAt, webhooks.id);
      const slugs = await slugsById(c);
      return c.json({ webhooks: rows.map((w) => webhookJson(w, slugs)) });
    },
  }),
  defineRoute({
    method: "get",
    path: "/webhooks/:id",
    tag: "Webhooks",
    summary: "One of your webhooks",
    auth: "user",
    ...ID,
    responses: { 200: { description: "The webhook", schema: WebhookJson }, 404: { description: "Not found" } },
    async handler(c, { params }) {
      return c.json(webhookJson(await findOwnWebhook(c, params.id), await slugsById(c)));
    },
  }),
  defineRoute({
    method: "patch",
    path: "/webhooks/:id",
    tag: "Webhooks",
    summary: "Change a webhook's url, alert types, presets, description, or turn it off",
    auth: "user",
    ...ID,
    body: UpdateWebhookBody,
    responses: { 200: { description: "Updated", schema: WebhookJson }, 404: { description: "Not found" } },
    async handler(c, { params, body }) {
      const current = await findOwnWebhook(c, params.id);
      const now = Date.now();
      const next: Webhook = {
        ...current,
        url: body.url !== undefined ? assertWebhookUrl(c, body.url) : current.url,
        events: body.events ?? current.events,
        presets: body.presets !== undefined ? await presetIds(c, body.presets) : current.presets,
        enabled: body.enabled ?? current.enabled,
        description: body.description !== undefined ? body.description : current.description,
        updatedAt: now,
      };
      const { id: _id, ownerId: _owner, secretEnc: _secret, createdAt: _created, ...change } = next;
      const db = getDb(c.env.DB);
      await db.batch([
        db.update(webhooks).set(change).where(eq(webhooks.id, current.id)),
        insertEvent(
          db,
          { ownerId: current.ownerId, presetId: null, actorId: c.get("userId"), type: "webhook.updated", target: current.id, payload: webhookAudit(next) },
          now,
        ),
      ]);
      return c.json(webhookJson(next, await slugsById(c)));
    },
  }),
  defineRoute({
    method: "delete",
    path: "/webhooks/:id",
    tag: "Webhooks",
    summary: "Delete a webhook and its deliveries; pending retries are dropped",
    auth: "user",
    ...ID,
    responses: { 204: { description: "Deleted" }, 404: { description: "Not found" } },
    async handler(c, { params }) {
      const current = await findOwnWebhook(c, params.id);
      const db = getDb(c.env.DB);
      await db.batch([
        db.delete(webhookDeliveries).where(eq(webhookDeliveries.webhookId, current.id)),
        db.delete(webhooks).where(eq(webhooks.id, current.id)),
        insertEvent(db, {
          ownerId: current.ownerId,
          presetId: null,
          actorId: c.get("userId"),
          type: "webhook.deleted",
          target: current.id,
          payload: webhookAudit(current),
        }),
      ]);
      return c.body(null, 204);
    },
  }),
  defineRoute({
    method: "post",
    path: "/webhooks/:id/rotate-secret",
    tag: "Webhooks",
    summary: "Replace a webhook's signing secret; the new one is returned once",
    auth: "user",
    ...ID,
    responses: { 200: { description: "The new secret", schema: RotatedSecret }, 404: { description: "Not found" } },
    async handler(c, { params }) {
      const current = await findOwnWebhook(c, params.id);
      const secret = newWebhookSecret();
      const db = getDb(c.env.DB);
      const now = Date.now();
      await db.batch([
        db
          .update(webhooks)
          .set({ secretEnc: await sealWebhookSecret(c.env, current.id, secret), updatedAt: now })
          .where(eq(webhooks.id, current.id)),
        insertEvent(
          db,
          {
            ownerId: current.ownerId,
            presetId: null,
            actorId: c.get("userId"),
            type: "webhook.updated",
            target: current.id,
            payload: { webhookId: current.id, secretRotated: true },
          },
          now,
        ),
      ]);
      return c.json({ id: current.id, secret });
    },
  }),
  defineRoute({
    method: "get",
    path: "/webhooks/:id/deliveries",
    tag: "Webhooks",
    summary: "A webhook's deliveries, newest first, with their attempts and last error",
    auth: "user",
    ...ID,
    query: DeliveriesQuery,
    responses: { 200: { description: "Deliveries", schema: DeliveryPage }, 404: { description: "Not found" } },
    async handler(c, { params, query }) {
      const webhook = await findOwnWebhook(c, params.id);
      const after = query.cursor ? decodeCursor(query.cursor, isCursor) : undefined;
      if (after === null) throw invalidField("cursor", "is not a cursor this API issued");
      const limit = query.limit ?? 50;
      const rows = await listDeliveries(getDb(c.env.DB), webhook.id, limit, after);
      const last = rows.at(-1);
      return c.json({
        deliveries: rows.map((d) => ({
          id: d.id,
          alertId: d.alertId,
          type: d.type,
          status: d.status,
          attempts: d.attempts,
          lastStatusCode: d.lastStatusCode,
          lastError: d.lastError,
          nextAttemptAt: d.status === "pending" ? iso(d.nextAttemptAt) : null,
          createdAt: iso(d.createdAt)!,
          deliveredAt: iso(d.deliveredAt),
        })),
        nextCursor: rows.length === limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
      });
    },
  }),
  defineRoute({
    method: "post",
    path: "/webhooks/:id/test",
    tag: "Webhooks",
    summary: "Send a webhook.test alert to this webhook only",
    auth: "user",
    ...ID,
    responses: { 202: { description: "Queued", schema: QueuedTest }, 404: { description: "Not found" }, 503: { description: "No queue configured" } },
    async handler(c, { params }) {
      const webhook = await findOwnWebhook(c, params.id);
      const queue = c.env.WEBHOOKS;
      if (!queue) throw new ApiError(503, "webhooks_unavailable", "This gateway has no WEBHOOKS queue, so it cannot send webhooks.");
      try {
        return c.json(await queueTestAlert(getDb(c.env.DB), queue, webhook, Date.now()), 202);
      } catch (e) {
        throw new ApiError(503, "webhooks_unavailable", "The test alert could not be queued; try again later.", e);
      }
    },
  }),
];
