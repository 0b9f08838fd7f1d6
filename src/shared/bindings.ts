/**
 * @module The worker's bindings and settings (see wrangler.toml and .dev.vars.example), as every
 * library module sees them. The Durable Object namespace is not here: only the entry and the preset
 * stub (edge/preset-stub.ts, whose `Env` adds it) reach the preset's object.
 */
export interface Bindings {
  DB: D1Database;
  /** Bootstrap credential: the only one that may create users. A secret. */
  ADMIN_TOKEN?: string;
  /** Key material for encrypting upstream header secrets at rest. A secret. */
  ENCRYPTION_KEY?: string;
  /** "true" lets upstream URLs be plain http on loopback (local development only). */
  ALLOW_INSECURE_UPSTREAMS?: string;
  /**
   * "true" when the worker runs behind Cloudflare, whose edge sets CF-Connecting-IP: only then is
   * that header a client's address (see shared/client-address.ts). Anything else: anonymous
   * callers share one identity for rate limits and audit.
   */
  TRUST_CF_CONNECTING_IP?: string;
  /** Comma-separated browser origins allowed on the MCP endpoint besides the gateway's own; "*" allows any. */
  ALLOWED_ORIGINS?: string;
  /** Largest MCP POST body accepted, in bytes (default 1 MiB). */
  MCP_MAX_BODY_BYTES?: string;
  /** Secret the OAuth signing key (Ed25519) is derived from; defaults to ENCRYPTION_KEY. */
  OAUTH_SIGNING_KEY?: string;
  /** The previous signing secret during a key rotation: still verifies, still in the JWKS. */
  OAUTH_SIGNING_KEY_PREVIOUS?: string;
  /** External OpenID Connect provider for signing in to approve OAuth clients (optional). */
  OIDC_ISSUER?: string;
  OIDC_CLIENT_ID?: string;
  OIDC_CLIENT_SECRET?: string;
  /** The ID token claim that identifies the user (default "email"). */
  OIDC_USER_CLAIM?: string;
  /** Which user field that claim is matched against: "email" (default) or "handle". */
  OIDC_USER_FIELD?: string;
  /** Label of the sign-in button (default "your identity provider"). */
  OIDC_NAME?: string;
  /** Canonical public base URL (e.g. https://gateway.example.com); defaults to the request's origin. */
  PUBLIC_URL?: string;
  /** Workers Analytics Engine dataset: one data point per tools/call. Optional: stats work without it. */
  METRICS?: AnalyticsEngineDataset;
  /** Days events, call-log rows and usage rollups are kept (default 90); see src/jobs/retention.ts. */
  RETENTION_DAYS?: string;
  /** Alerts for owners' webhooks (alerts/alert.ts): a Cloudflare Queue this worker also consumes. Optional: without it no webhook is sent. */
  WEBHOOKS?: Queue;
  /** Seconds before the first retry of a failed webhook delivery (default 30; it doubles, at most 1 h). For tests. */
  WEBHOOK_RETRY_BASE_SECONDS?: string;
  /** Seconds after its creation a webhook delivery is still retried (default 86400: 24 h). For tests. */
  WEBHOOK_RETRY_WINDOW_SECONDS?: string;
}
