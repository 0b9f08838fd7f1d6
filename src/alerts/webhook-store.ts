/**
 * @module Webhooks and their deliveries in D1: sealing the signing secret (ENCRYPTION_KEY, bound to
 * the webhook's id, as upstream header secrets are), which webhooks an alert goes to, creating a
 * delivery per webhook once, and the deliveries page the API lists.
 */
import { and, desc, eq, lt, or } from "drizzle-orm";
import type { Db } from "../db/client";
import { webhookDeliveries, webhooks } from "../db/schema";
import type { Bindings } from "../shared/bindings";
import { decryptSecret, encryptSecret } from "../shared/crypto";
import { ApiError } from "../shared/errors";
import { newId } from "../shared/ids";
import type { Alert } from "./alert";
import { webhookBody } from "./webhook-request";

export type Webhook = typeof webhooks.$inferSelect;
export type Delivery = typeof webhookDeliveries.$inferSelect;

/** The most webhooks one owner may have. */
export const MAX_WEBHOOKS_PER_OWNER = 20;
/** Deliveries kept per webhook, and for how long (the hourly cron deletes the rest: jobs/retention.ts). */
export const DELIVERIES_KEPT_PER_WEBHOOK = 1000;
export const DELIVERY_RETENTION_DAYS = 30;

function sealingKey(env: Pick<Bindings, "ENCRYPTION_KEY">): string {
  if (!env.ENCRYPTION_KEY || env.ENCRYPTION_KEY.length < 16) {
    throw new ApiError(500, "server_misconfigured", "The gateway has no ENCRYPTION_KEY secret configured, so it cannot store webhook secrets.");
  }
  return env.ENCRYPTION_KEY;
}

const binding = (webhookId: string) => `webhook:${webhookId}`;

export function sealWebhookSecret(env: Pick<Bindings, "ENCRYPTION_KEY">, webhookId: string, secret: string): Promise<string> {
  return encryptSecret(sealingKey(env), secret, binding(webhookId));
}

export function openWebhookSecret(env: Pick<Bindings, "ENCRYPTION_KEY">, row: Pick<Webhook, "id" | "secretEnc">): Promise<string> {
  return decryptSecret(sealingKey(env), row.secretEnc, binding(row.id));
}

/**
 * Whether a webhook is told about an alert: `webhook.test` only reaches the webhook it names;
 * any other alert an enabled webhook subscribed to its type and, when the webhook is limited to
 * some presets, about one of them.
 */
export function wantsAlert(webhook: Pick<Webhook, "id" | "enabled" | "events" | "presets">, alert: Pick<Alert, "type" | "presetId" | "webhookId">): boolean {
  if (alert.type === "webhook.test") return alert.webhookId === webhook.id;
  if (!webhook.enabled || !webhook.events.includes(alert.type)) return false;
  return webhook.presets === null || (alert.presetId !== null && webhook.presets.includes(alert.presetId));
}

/** The owner's webhooks that are told about `alert`. */
export async function webhooksFor(db: Db, alert: Alert): Promise<Webhook[]> {
  const rows = await db.select().from(webhooks).where(eq(webhooks.ownerId, alert.ownerId));
  return rows.filter((w) => wantsAlert(w, alert));
}

/**
 * One pending delivery of `alert` per webhook; a webhook that already has one for this alert (the
 * queue delivered the message twice, or the API made it) keeps it. Resolves to the alert's
 * deliveries not attempted yet.
 */
export async function createDeliveries(db: Db, alert: Alert, webhookIds: readonly string[], now: number): Promise<Delivery[]> {
  if (webhookIds.length === 0) return [];
  const body = webhookBody(alert);
  const inserts = webhookIds.map((webhookId) =>
    db
      .insert(webhookDeliveries)
      .values({
        id: newId("msg", now),
        webhookId,
        alertId: alert.id,
        type: alert.type,
        body,
        status: "pending",
        attempts: 0,
        nextAttemptAt: now,
        createdAt: now,
      })
      .onConflictDoNothing(),
  );
  await db.batch(inserts as [(typeof inserts)[number], ...typeof inserts]);
  const rows = await db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.alertId, alert.id), eq(webhookDeliveries.status, "pending"), eq(webhookDeliveries.attempts, 0)));
  return rows.filter((r) => webhookIds.includes(r.webhookId));
}

/**
 * Queues a `webhook.test` alert for one webhook, with its delivery made at once so that its id can
 * be answered; a delivery whose alert could not be queued is marked failed and the error rethrown.
 */
export async function queueTestAlert(db: Db, queue: Queue, webhook: Webhook, now: number): Promise<{ alertId: string; deliveryId: string }> {
  const alert: Alert = {
    id: newId("alr", now),
    type: "webhook.test",
    ownerId: webhook.ownerId,
    presetId: null,
    preset: null,
    target: webhook.id,
    data: { message: "A test alert from mcpgate." },
    at: now,
    webhookId: webhook.id,
  };
  const [delivery] = await createDeliveries(db, alert, [webhook.id], now);
  if (!delivery) throw new Error("the test delivery was not created");
  try {
    await queue.send(alert, { contentType: "json" });
  } catch (e) {
    await db
      .update(webhookDeliveries)
      .set({ status: "failed", lastError: "The alert could not be queued.", nextAttemptAt: null })
      .where(eq(webhookDeliveries.id, delivery.id));
    throw e;
  }
  return { alertId: alert.id, deliveryId: delivery.id };
}

export interface DeliveryCursor {
  createdAt: number;
  id: string;
}

/** A webhook's deliveries, newest first, `limit` of them after `after`. */
export function listDeliveries(db: Db, webhookId: string, limit: number, after?: DeliveryCursor) {
  const where = after
    ? and(
        eq(webhookDeliveries.webhookId, webhookId),
        or(lt(webhookDeliveries.createdAt, after.createdAt), and(eq(webhookDeliveries.createdAt, after.createdAt), lt(webhookDeliveries.id, after.id))),
      )
    : eq(webhookDeliveries.webhookId, webhookId);
  return db.select().from(webhookDeliveries).where(where).orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id)).limit(limit);
}
