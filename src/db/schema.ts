/** @module The D1 schema as drizzle sees it; migrations/*.sql are the source of truth. */
import { index, integer, primaryKey, sqliteTable, text, unique } from "drizzle-orm/sqlite-core";

/** Drizzle view of migrations/*.sql; the SQL files are the source of truth for the database. */
export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  handle: text("handle").notNull().unique(),
  email: text("email"),
  createdAt: integer("created_at").notNull(),
});

export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    userId: text("user_id").notNull(),
    name: text("name").notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    prefix: text("prefix").notNull(),
    createdAt: integer("created_at").notNull(),
    lastUsedAt: integer("last_used_at"),
    /** `manage`: the management API and the MCP endpoints; `mcp`: the MCP endpoints only. */
    scope: text("scope", { enum: ["manage", "mcp"] })
      .notNull()
      .default("manage"),
  },
  (t) => [index("api_tokens_user").on(t.userId)],
);

export const servers = sqliteTable(
  "servers",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull(),
    name: text("name").notNull(),
    url: text("url").notNull(),
    headersEnc: text("headers_enc"),
    headerNames: text("header_names").notNull().default("[]"),
    timeoutMs: integer("timeout_ms").notNull().default(30000),
    /** How calls authenticate upstream: the owner's headers, or each consumer's OAuth tokens (0010). */
    auth: text("auth").$type<ServerAuth>().notNull().default("owner"),
    /** JSON array of header names each consumer fills with their own value (0010). */
    userHeaders: text("user_headers").notNull().default("[]"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [unique().on(t.ownerId, t.name)],
);

export type ServerAuth = "owner" | "oauth";

export type Visibility = "public" | "private" | "invite_only";
/** Whose upstream MCP session a request goes on (upstream/session-scope.ts). */
export const SESSION_SCOPES = ["shared", "per-caller", "per-session"] as const;
export type SessionScope = (typeof SESSION_SCOPES)[number];
export const DEFAULT_SESSION_SCOPE: SessionScope = "per-caller";
export interface RateLimitSetting {
  requests: number;
  windowSeconds: number;
}
/** A preset's rate limit when it sets none (`presets.rate_limit` is null). */
export const DEFAULT_RATE_LIMIT: RateLimitSetting = { requests: 100, windowSeconds: 60 };
export type PresetStatus = "active" | "disabled" | "archived";
/** "on": exposed tools, prompts and templates are pinned and changes held for review; "off": served as listed. */
export type Pinning = "on" | "off";
/** What happens to an item no pin covers (a new tool): held for review, or pinned and exposed. */
export type NewTools = "hold" | "expose";

/** error_rate.high: raised when at least `threshold` (a fraction) of the calls in the last `windowMinutes` failed, once there were `minCalls`. */
export interface ErrorRateAlertSetting {
  threshold: number;
  windowMinutes: number;
  minCalls: number;
}
/** rate_limit.surge: raised when rate limits refused at least `threshold` requests in the last `windowMinutes`. */
export interface RateLimitSurgeAlertSetting {
  threshold: number;
  windowMinutes: number;
}
/** upstream.unreachable: raised after `failures` connection failures in a row of one upstream. */
export interface UnreachableAlertSetting {
  failures: number;
}
/** A preset's alert detectors, each one's setting or false when it is off. */
export interface AlertSettings {
  errorRate: ErrorRateAlertSetting | false;
  rateLimitSurge: RateLimitSurgeAlertSetting | false;
  upstreamUnreachable: UnreachableAlertSetting | false;
}
/** What a preset detects when it sets nothing (`presets.alert_thresholds` is null, or omits a detector). */
export const DEFAULT_ALERTS: AlertSettings = {
  errorRate: { threshold: 0.2, windowMinutes: 5, minCalls: 20 },
  rateLimitSurge: { threshold: 50, windowMinutes: 5 },
  upstreamUnreachable: { failures: 3 },
};
/** The detectors a preset runs: what it stored (`presets.alert_thresholds`), each detector it omits at its default. */
export function alertSettingsOf(stored: Partial<AlertSettings> | null | undefined): AlertSettings {
  return {
    errorRate: stored?.errorRate ?? DEFAULT_ALERTS.errorRate,
    rateLimitSurge: stored?.rateLimitSurge ?? DEFAULT_ALERTS.rateLimitSurge,
    upstreamUnreachable: stored?.upstreamUnreachable ?? DEFAULT_ALERTS.upstreamUnreachable,
  };
}

export const presets = sqliteTable(
  "presets",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull(),
    slug: text("slug").notNull(),
    name: text("name").notNull(),
    description: text("description"),
    visibility: text("visibility").$type<Visibility>().notNull(),
    status: text("status").$type<PresetStatus>().notNull().default("active"),
    /** Null means DEFAULT_RATE_LIMIT. */
    rateLimit: text("rate_limit", { mode: "json" }).$type<RateLimitSetting | null>(),
    toolNaming: text("tool_naming").$type<"prefixed" | "plain">().notNull().default("prefixed"),
    toolLimits: text("tool_limits", { mode: "json" }).$type<Record<string, RateLimitSetting> | null>(),
    /** Log every tools/call of this preset (migrations/0003_usage.sql). */
    auditCalls: integer("audit_calls", { mode: "boolean" }).notNull().default(false),
    /** Also log the calls' arguments (only with auditCalls). */
    auditArguments: integer("audit_arguments", { mode: "boolean" }).notNull().default(false),
    /** Tool pinning (migrations/0012_pinning.sql, src/pinning/). */
    pinning: text("pinning").$type<Pinning>().notNull().default("on"),
    newTools: text("new_tools").$type<NewTools>().notNull().default("hold"),
    /** The alert detectors' settings; null (or an omitted detector) means DEFAULT_ALERTS (migrations/0013_alert_thresholds.sql). */
    alertThresholds: text("alert_thresholds", { mode: "json" }).$type<Partial<AlertSettings> | null>(),
    /** "<handle>/<slug>" of the public preset this one was forked from, when it was (migrations/0015_preset_origin.sql). */
    forkedFrom: text("forked_from"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [unique().on(t.ownerId, t.slug)],
);

export const presetServers = sqliteTable(
  "preset_servers",
  {
    presetId: text("preset_id").notNull(),
    serverId: text("server_id").notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    /** JSON array of upstream tool names, or null for "every tool". */
    tools: text("tools", { mode: "json" }).$type<string[] | null>(),
    /** JSON array of upstream prompt names, or null for "every prompt" (migrations/0006_item_selection.sql). */
    prompts: text("prompts", { mode: "json" }).$type<string[] | null>(),
    /** JSON array of upstream resource URIs and URI templates, or null for "every resource". */
    resources: text("resources", { mode: "json" }).$type<string[] | null>(),
    overrides: text("overrides", { mode: "json" }).$type<Record<string, { name?: string; description?: string }> | null>(),
    /** Whose upstream session a request goes on (migrations/0009_session_scope.sql, upstream/session-scope.ts). */
    sessionScope: text("session_scope").$type<SessionScope>().notNull().default("per-caller"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.presetId, t.serverId] }), index("preset_servers_server").on(t.serverId)],
);

export const presetMembers = sqliteTable(
  "preset_members",
  {
    presetId: text("preset_id").notNull(),
    userId: text("user_id").notNull(),
    addedBy: text("added_by").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.presetId, t.userId] })],
);

export const events = sqliteTable(
  "events",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull(),
    presetId: text("preset_id"),
    actorId: text("actor_id"),
    type: text("type").notNull(),
    target: text("target"),
    payload: text("payload", { mode: "json" }).$type<Record<string, unknown>>().notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("events_preset_time").on(t.presetId, t.createdAt, t.id)],
);

/**
 * The optional per-preset call log (migrations/0003_usage.sql). Usage rollups (`usage_rollups`,
 * `usage_flushes`) are read and written with plain SQL in db/usage-repository.ts and
 * usage-recorder.ts, because their histogram columns are generated from one list.
 */
export const callLog = sqliteTable(
  "call_log",
  {
    id: text("id").primaryKey(),
    presetId: text("preset_id").notNull(),
    userId: text("user_id"),
    clientIp: text("client_ip"),
    tool: text("tool").notNull(),
    upstream: text("upstream"),
    outcome: text("outcome").notNull(),
    latencyMs: integer("latency_ms").notNull(),
    requestBytes: integer("request_bytes").notNull(),
    responseBytes: integer("response_bytes").notNull(),
    argumentsSha256: text("arguments_sha256").notNull(),
    arguments: text("arguments"),
    argumentsTruncated: integer("arguments_truncated", { mode: "boolean" }).notNull().default(false),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("call_log_preset_time").on(t.presetId, t.createdAt, t.id)],
);

// ---- OAuth (migrations/0004_oauth.sql)

export const oauthClients = sqliteTable("oauth_clients", {
  id: text("id").primaryKey(),
  kind: text("kind").$type<"registered" | "metadata_document">().notNull(),
  name: text("name"),
  redirectUris: text("redirect_uris").notNull(),
  tokenEndpointAuthMethod: text("token_endpoint_auth_method").$type<"none" | "client_secret_post" | "client_secret_basic">().notNull(),
  secretHash: text("secret_hash"),
  metadata: text("metadata").notNull(),
  createdAt: integer("created_at").notNull(),
  fetchedAt: integer("fetched_at"),
  /** Hashed rate-limit key of the address that registered it (migrations/0008_oauth_hardening.sql). */
  registeredBy: text("registered_by"),
});

/** Metadata-document URLs whose last fetch failed, and when (migrations/0008_oauth_hardening.sql). */
export const oauthCimdFailures = sqliteTable("oauth_cimd_failures", {
  url: text("url").primaryKey(),
  failedAt: integer("failed_at").notNull(),
});

export const oauthGrants = sqliteTable("oauth_grants", {
  id: text("id").primaryKey(),
  userId: text("user_id").notNull(),
  clientId: text("client_id").notNull(),
  presetId: text("preset_id").notNull(),
  resource: text("resource").notNull(),
  scope: text("scope").notNull(),
  createdAt: integer("created_at").notNull(),
  revokedAt: integer("revoked_at"),
  revokedReason: text("revoked_reason"),
});

export const oauthCodes = sqliteTable("oauth_codes", {
  codeHash: text("code_hash").primaryKey(),
  grantId: text("grant_id").notNull(),
  redirectUri: text("redirect_uri").notNull(),
  codeChallenge: text("code_challenge").notNull(),
  expiresAt: integer("expires_at").notNull(),
  usedAt: integer("used_at"),
});

export const oauthRefreshTokens = sqliteTable("oauth_refresh_tokens", {
  tokenHash: text("token_hash").primaryKey(),
  grantId: text("grant_id").notNull(),
  createdAt: integer("created_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
  usedAt: integer("used_at"),
  /** The hash of the refresh token its use gave, and that reply sealed for the grace window (0008). */
  successorHash: text("successor_hash"),
  successorSealed: text("successor_sealed"),
});

export const oauthConsents = sqliteTable(
  "oauth_consents",
  {
    userId: text("user_id").notNull(),
    clientId: text("client_id").notNull(),
    presetId: text("preset_id").notNull(),
    scope: text("scope").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.clientId, t.presetId] })],
);

// ---- Per-user upstream credentials (migrations/0010_upstream_credentials.sql)

export type CredentialKind = "oauth" | "headers";

export const upstreamCredentials = sqliteTable(
  "upstream_credentials",
  {
    userId: text("user_id").notNull(),
    serverId: text("server_id").notNull(),
    kind: text("kind").$type<CredentialKind>().notNull(),
    /** Sealed JSON, bound to `<userId>:<serverId>:<kind>` (credentials/credential-store.ts). */
    secretEnc: text("secret_enc").notNull(),
    /** The upstream URL the secret was given for. */
    resource: text("resource").notNull(),
    issuer: text("issuer"),
    scope: text("scope"),
    headerNames: text("header_names").notNull().default("[]"),
    expiresAt: integer("expires_at"),
    version: integer("version").notNull().default(1),
    refreshLease: integer("refresh_lease"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.serverId, t.kind] }), index("upstream_credentials_server").on(t.serverId)],
);

export const upstreamOAuthClients = sqliteTable(
  "upstream_oauth_clients",
  {
    serverId: text("server_id").notNull(),
    issuer: text("issuer").notNull(),
    registration: text("registration").$type<"metadata_document" | "dynamic">().notNull(),
    clientId: text("client_id").notNull(),
    clientSecretEnc: text("client_secret_enc"),
    tokenEndpointAuthMethod: text("token_endpoint_auth_method").$type<"none" | "client_secret_post" | "client_secret_basic">().notNull(),
    authorizationEndpoint: text("authorization_endpoint").notNull(),
    tokenEndpoint: text("token_endpoint").notNull(),
    revocationEndpoint: text("revocation_endpoint"),
    redirectUri: text("redirect_uri").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.serverId, t.issuer] })],
);

export const upstreamConnectStates = sqliteTable("upstream_connect_states", {
  stateHash: text("state_hash").primaryKey(),
  userId: text("user_id").notNull(),
  serverId: text("server_id").notNull(),
  issuer: text("issuer").notNull(),
  resource: text("resource").notNull(),
  verifierEnc: text("verifier_enc").notNull(),
  returnLabel: text("return_label").notNull(),
  expiresAt: integer("expires_at").notNull(),
});

// ---- Webhooks (migrations/0011_webhooks.sql)

export type DeliveryStatus = "pending" | "delivered" | "failed";

export const webhooks = sqliteTable(
  "webhooks",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id").notNull(),
    url: text("url").notNull(),
    /** Alert types the webhook is told about. */
    events: text("events", { mode: "json" }).$type<string[]>().notNull(),
    /** Preset ids it is limited to, or null for every preset (and account-level alerts). */
    presets: text("presets", { mode: "json" }).$type<string[] | null>(),
    description: text("description"),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    /** The signing secret, sealed bound to the webhook's id (alerts/webhook-secret.ts). */
    secretEnc: text("secret_enc").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("webhooks_owner").on(t.ownerId, t.createdAt)],
);

export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    webhookId: text("webhook_id").notNull(),
    alertId: text("alert_id").notNull(),
    type: text("type").notNull(),
    /** The JSON body sent, the same on every attempt. */
    body: text("body").notNull(),
    status: text("status").$type<DeliveryStatus>().notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    nextAttemptAt: integer("next_attempt_at"),
    createdAt: integer("created_at").notNull(),
    deliveredAt: integer("delivered_at"),
  },
  (t) => [unique().on(t.webhookId, t.alertId), index("webhook_deliveries_list").on(t.webhookId, t.createdAt, t.id)],
);
