/** @module The shapes of the /webhooks routes: an owner's webhooks and their deliveries. */
import { z } from "zod";
import { ALERT_TYPES } from "../alerts/alert";
import { Slug } from "./schemas";

export const WebhookUrl = z
  .string()
  .max(2048, "must be at most 2048 characters")
  .describe("Where alerts are POSTed: https on a public host (the same rules as upstream URLs).");

export const WebhookEvents = z
  .array(z.enum(ALERT_TYPES))
  .min(1, "must name at least one alert type")
  .refine((a) => new Set(a).size === a.length, "must not name an alert type twice")
  .describe(`The alert types the webhook is told about: ${ALERT_TYPES.join(", ")}.`);

export const WebhookPresets = z
  .array(Slug)
  .max(100, "may list at most 100 presets")
  .refine((a) => new Set(a).size === a.length, "must not name a preset twice")
  .nullable()
  .describe("Only alerts about these presets of yours (slugs); null or omitted: every preset, and alerts about your account.");

export const WebhookDescription = z.string().max(200, "must be at most 200 characters");

export const CreateWebhookBody = z.strictObject({
  url: WebhookUrl,
  events: WebhookEvents,
  presets: WebhookPresets.optional(),
  description: WebhookDescription.optional(),
});

export const UpdateWebhookBody = z
  .strictObject({
    url: WebhookUrl.optional(),
    events: WebhookEvents.optional(),
    presets: WebhookPresets.optional(),
    enabled: z.boolean().optional().describe("false: no alert is sent to it (deliveries pending are given up)."),
    description: WebhookDescription.nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, "must change at least one field");

export const WebhookParams = z.object({ id: z.string().min(1).max(64) });

export const DeliveriesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1, "must be at least 1").max(200, "must be at most 200").optional().describe("Items per page: default 50, at most 200."),
  cursor: z.string().max(200).optional().describe("nextCursor of the previous page."),
});

const Timestamp = z.string().describe("ISO 8601 time.");

export const Webhook = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  presets: z.array(z.string()).nullable().describe("Slugs of the presets it is limited to; null: every preset."),
  description: z.string().nullable(),
  enabled: z.boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

export const CreatedWebhook = Webhook.extend({
  secret: z.string().describe("The signing secret, whsec_<base64>: shown only here (and when rotated). Verify webhook-signature with it."),
});

export const RotatedSecret = z.object({ id: z.string(), secret: z.string().describe("The new signing secret, shown once; the old one stops at once.") });

export const QueuedTest = z.object({
  alertId: z.string(),
  deliveryId: z.string().describe("The delivery's id: the webhook-id header of the request, and its row in the deliveries list."),
});

export const Delivery = z.object({
  id: z.string().describe("The webhook-id header of its requests."),
  alertId: z.string(),
  type: z.string(),
  status: z.enum(["pending", "delivered", "failed"]),
  attempts: z.number(),
  lastStatusCode: z.number().nullable(),
  lastError: z.string().nullable(),
  nextAttemptAt: Timestamp.nullable(),
  createdAt: Timestamp,
  deliveredAt: Timestamp.nullable(),
});

export const DeliveryPage = z.object({ deliveries: z.array(Delivery), nextCursor: z.string().nullable() });
