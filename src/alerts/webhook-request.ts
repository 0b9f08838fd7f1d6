/**
 * @module One webhook request: the JSON body an alert becomes, and one signed POST of it to the
 * owner's URL. The URL passes the SSRF guard again at every attempt (shared/url-guard.ts: the
 * rules or the deployment may have changed since it was saved), redirects are not followed (a
 * redirect could lead past the guard; it counts as a failure), the exchange has a deadline that
 * cancels it, and the reply's body is never read.
 */

import { checkUpstreamUrl } from "../shared/url-guard";
import { GATEWAY_NAME, GATEWAY_VERSION } from "../shared/version";
import type { Alert } from "./alert";
import { signWebhook } from "./signing";

/** How long a receiver has to answer, in milliseconds. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
export const WEBHOOK_USER_AGENT = `${GATEWAY_NAME}-webhooks/${GATEWAY_VERSION}`;

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * The body every receiver gets: `{ type, timestamp, data: { id, preset, presetId, target, ... } }`.
 * `data` holds the alert's own fields (small and secret-free) with the alert's id, the preset
 * (`<handle>/<slug>`, null for account alerts) and the target on top of them.
 */
export function webhookBody(alert: Alert): string {
  return JSON.stringify({
    type: alert.type,
    timestamp: new Date(alert.at).toISOString(),
    data: { ...alert.data, id: alert.id, preset: alert.preset, presetId: alert.presetId, target: alert.target },
  });
}

export interface AttemptOutcome {
  delivered: boolean;
  /** The receiver's HTTP status, when it answered. */
  statusCode: number | null;
  /** Why it was not delivered, for the owner to read. */
  error: string | null;
  /** True when trying again cannot help (the URL is refused by the guard). */
  permanent: boolean;
}

export interface AttemptOptions {
  allowInsecure: boolean;
  fetch: FetchLike;
  now: number;
}

/** POSTs `body` to `url`, signed with `secret` as message `deliveryId`; never throws. */
export async function postWebhook(url: string, secret: string, deliveryId: string, body: string, opts: AttemptOptions): Promise<AttemptOutcome> {
  const check = checkUpstreamUrl(url, { allowInsecure: opts.allowInsecure });
  if (!check.ok) return { delivered: false, statusCode: null, error: `The URL ${check.reason}.`, permanent: true };
  const timestamp = Math.floor(opts.now / 1000);
  const headers = {
    "content-type": "application/json",
    "user-agent": WEBHOOK_USER_AGENT,
    "webhook-id": deliveryId,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": await signWebhook(secret, deliveryId, timestamp, body),
  };
  let res: Response;
  try {
    res = await opts.fetch(check.url.toString(), { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS) });
  } catch (e) {
    const timeout = e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError");
    return { delivered: false, statusCode: null, error: timeout ? `No answer within ${WEBHOOK_TIMEOUT_MS / 1000} s.` : "Could not connect.", permanent: false };
  }
  await res.body?.cancel().catch(() => {});
  if (res.status >= 200 && res.status < 300) return { delivered: true, statusCode: res.status, error: null, permanent: false };
  const redirect = res.status >= 300 && res.status < 400;
  return {
    delivered: false,
    statusCode: res.status,
    error: redirect ? `HTTP ${res.status}: redirects are not followed.` : `HTTP ${res.status}.`,
    permanent: false,
  };
}
