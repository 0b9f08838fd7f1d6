/**
 * @module The WEBHOOKS queue's consumer: fans an alert out to the owner's webhooks subscribed to it
 * (one delivery row each) and delivers them; a failed delivery is tried again later through the
 * same queue (a `{ deliveryId }` message sent with a delay) on the schedule of retry-schedule.ts,
 * until it is delivered or its retry window is over (`failed`). The delivery row is the source of
 * truth (attempts, next attempt, last status and error); a message about a delivery that is no
 * longer pending does nothing. Nothing here runs in a preset's Durable Object, so a slow receiver
 * holds nothing but this consumer.
 */
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { type Db, getDb } from "../db/client";
import { webhookDeliveries, webhooks } from "../db/schema";
import type { Bindings } from "../shared/bindings";
import type { Alert } from "./alert";
import { nextAttemptAt, type RetryPolicy, retryPolicy } from "./retry-schedule";
import { type FetchLike, postWebhook } from "./webhook-request";
import { createDeliveries, type Delivery, openWebhookSecret, type Webhook, webhooksFor } from "./webhook-store";

/** A message of the WEBHOOKS queue: an alert to fan out, or a delivery to try again. */
const AlertMessage = z.object({
  id: z.string(),
  type: z.string(),
  ownerId: z.string(),
  presetId: z.string().nullable(),
  preset: z.string().nullable(),
  target: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
  at: z.number(),
  webhookId: z.string().optional(),
});
const RetryMessage = z.object({ deliveryId: z.string() });

export type RetryMessageBody = z.infer<typeof RetryMessage>;

export interface DeliveryDeps {
  fetch: FetchLike;
  now: () => number;
  random: () => number;
}

const defaultDeps: DeliveryDeps = { fetch: (input, init) => fetch(input, init), now: () => Date.now(), random: () => Math.random() };

/** The queue handler: each message on its own; one that throws is retried by the queue (then dead-lettered). */
export async function consumeWebhooks(batch: MessageBatch<unknown>, env: Bindings, deps: DeliveryDeps = defaultDeps): Promise<void> {
  const ctx = new DeliveryRun(env, deps);
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        await ctx.handle(message.body);
        message.ack();
      } catch (e) {
        console.error("webhook message failed", message.id, e);
        message.retry();
      }
    }),
  );
}

class DeliveryRun {
  readonly #env: Bindings;
  readonly #deps: DeliveryDeps;
  readonly #db: Db;
  readonly #policy: RetryPolicy;

  constructor(env: Bindings, deps: DeliveryDeps) {
    this.#env = env;
    this.#deps = deps;
    this.#db = getDb(env.DB);
    this.#policy = retryPolicy(env);
  }

  async handle(body: unknown): Promise<void> {
    const retry = RetryMessage.safeParse(body);
    if (retry.success) return this.#retry(retry.data.deliveryId);
    const alert = AlertMessage.safeParse(body);
    if (alert.success) return this.#fanOut(alert.data as Alert);
    console.error("webhook message of unknown shape dropped");
  }

  async #fanOut(alert: Alert): Promise<void> {
    const targets = await webhooksFor(this.#db, alert);
    const deliveries = await createDeliveries(
      this.#db,
      alert,
      targets.map((w) => w.id),
      this.#deps.now(),
    );
    const byId = new Map(targets.map((w) => [w.id, w]));
    await Promise.all(deliveries.map((d) => this.#attempt(d, byId.get(d.webhookId)!)));
  }

  async #retry(deliveryId: string): Promise<void> {
    const delivery = await this.#db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, deliveryId)).get();
    if (delivery?.status !== "pending") return;
    const webhook = await this.#db.select().from(webhooks).where(eq(webhooks.id, delivery.webhookId)).get();
    if (!webhook) return;
    if (!webhook.enabled && delivery.type !== "webhook.test") {
      await this.#record(delivery, { status: "failed", lastError: "The webhook was disabled.", nextAttemptAt: null });
      return;
    }
    await this.#attempt(delivery, webhook);
  }

  /** One attempt of a pending delivery, recorded; schedules the next one when there is time left. */
  async #attempt(delivery: Delivery, webhook: Webhook): Promise<void> {
    const now = this.#deps.now();
    const secret = await openWebhookSecret(this.#env, webhook);
    const outcome = await postWebhook(webhook.url, secret, delivery.id, delivery.body, {
      allowInsecure: this.#env.ALLOW_INSECURE_UPSTREAMS === "true",
      fetch: this.#deps.fetch,
      now,
    });
    const attempts = delivery.attempts + 1;
    const done = this.#deps.now();
    const common = { attempts, lastStatusCode: outcome.statusCode, lastError: outcome.error };
    if (outcome.delivered) {
      await this.#record(delivery, { ...common, status: "delivered", deliveredAt: done, nextAttemptAt: null });
      return;
    }
    const next = outcome.permanent ? null : nextAttemptAt(delivery.createdAt, attempts, done, this.#policy, this.#deps.random());
    if (next === null) {
      await this.#record(delivery, { ...common, status: "failed", nextAttemptAt: null });
      return;
    }
    if (!(await this.#record(delivery, { ...common, nextAttemptAt: next }))) return;
    const message: RetryMessageBody = { deliveryId: delivery.id };
    if (!this.#env.WEBHOOKS) throw new Error("no WEBHOOKS queue to retry on");
    await this.#env.WEBHOOKS.send(message, { contentType: "json", delaySeconds: Math.max(1, Math.ceil((next - done) / 1000)) });
  }

  /**
   * Writes an attempt's result, only if the row is still as this run read it (no other consumer
   * recorded an attempt meanwhile); false if it was not.
   */
  async #record(delivery: Delivery, change: Partial<Delivery>): Promise<boolean> {
    const result = await this.#db
      .update(webhookDeliveries)
      .set(change)
      .where(and(eq(webhookDeliveries.id, delivery.id), eq(webhookDeliveries.status, "pending"), eq(webhookDeliveries.attempts, delivery.attempts)))
      .run();
    return result.meta.changes > 0;
  }
}
