/**
 * @module Alerts: the audit events an owner can be told about as they happen (webhooks). An alert
 * is written to the audit trail like any event and, besides, sent to the `WEBHOOKS` queue, whose
 * consumer (alerts/deliveries.ts) finds the owner's webhooks subscribed to it and delivers it.
 * Raising an alert never blocks or fails what raised it: a queue that is missing or refuses the
 * message is logged, and the audit event stays.
 */
import type { Bindings } from "../shared/bindings";
import { newId } from "../shared/ids";

/** Every alert a webhook can subscribe to (`webhook.test` only reaches the webhook it was sent to). */
export const ALERT_TYPES = [
  "tool.drifted",
  "tool.added",
  "breaker.opened",
  "breaker.closed",
  "upstream.unreachable",
  "error_rate.high",
  "rate_limit.surge",
  "grant.revoked",
  "member.joined",
] as const;

export type AlertType = (typeof ALERT_TYPES)[number];

/** One alert as it travels on the queue: what happened, to whose preset, and when. */
export interface Alert {
  /** The alert's own id (`alr_...`): webhook deliveries of it are named after it. */
  id: string;
  type: AlertType | "webhook.test";
  ownerId: string;
  /** null for alerts about the owner's account rather than one preset. */
  presetId: string | null;
  /** `<handle>/<slug>` of the preset, when there is one, so a receiver can tell presets apart. */
  preset: string | null;
  /** What the alert is about (a server or tool name, a grant id, a member's handle). */
  target: string | null;
  /** Small and secret-free, like an audit event's payload. */
  data: Record<string, unknown>;
  /** Milliseconds since the epoch. */
  at: number;
  /** Only for `webhook.test`: the one webhook to send it to. */
  webhookId?: string;
}

export type AlertInput = Omit<Alert, "id" | "at"> & { at?: number };

/** Queues an alert for the owner's webhooks. Never throws; call it off the response path (waitUntil). */
export async function raiseAlert(env: Pick<Bindings, "WEBHOOKS">, input: AlertInput): Promise<void> {
  const at = input.at ?? Date.now();
  const alert: Alert = { ...input, id: newId("alr", at), at };
  try {
    if (!env.WEBHOOKS) return;
    await env.WEBHOOKS.send(alert, { contentType: "json" });
  } catch (e) {
    console.error("alert not queued", alert.type, e);
  }
}
