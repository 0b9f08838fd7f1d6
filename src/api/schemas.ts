/**
 * @module Every shape the management API accepts or returns. Routes validate with these and
 * api/openapi.ts documents them, so there is one definition of each.
 */
import { z } from "zod";
import { TOKEN_SCOPES } from "../accounts/api-tokens";
import { SESSION_SCOPES } from "../db/schema";

const SLUG_LIKE = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

export const Handle = z
  .string()
  .min(3, "must be at least 3 characters")
  .max(39, "must be at most 39 characters")
  .regex(SLUG_LIKE, "may contain only lowercase letters, digits and hyphens, and may not start or end with a hyphen")
  .describe("A user's handle: 3-39 lowercase letters, digits or hyphens, no leading or trailing hyphen.");

export const Slug = z
  .string()
  .min(3, "must be at least 3 characters")
  .max(50, "must be at most 50 characters")
  .regex(SLUG_LIKE, "may contain only lowercase letters, digits and hyphens, and may not start or end with a hyphen")
  .describe("A preset's slug: 3-50 lowercase letters, digits or hyphens, no leading or trailing hyphen.");

export const ServerName = z
  .string()
  .regex(
    /^[a-z0-9](?:[a-z0-9_-]{0,30}[a-z0-9])?$/,
    "must be 1-32 characters of lowercase letters, digits, '_' or '-', starting and ending with a letter or digit",
  )
  .refine((s) => !s.includes("__"), "may not contain '__', which separates server and tool names")
  .describe("The upstream's short name, used as the prefix of its exposed tools (`<name>__<tool>`).");

export const Visibility = z.enum(["public", "private", "invite_only"]);
export const SessionScopeField = z
  .enum(SESSION_SCOPES)
  .describe(
    "Whose upstream MCP session a request goes on: shared (one for every client: stateless upstreams), per-caller (one per signed-in user, or per client session for anonymous callers; the default), per-session (one per client session).",
  );
export const PresetStatus = z.enum(["active", "disabled", "archived"]);

/** Header names a server may not set: they belong to HTTP or to the MCP transport itself. */
const RESERVED_HEADERS = new Set([
  "host",
  "content-length",
  "content-type",
  "accept",
  "connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "keep-alive",
  "proxy-authorization",
  "mcp-session-id",
  "mcp-protocol-version",
  "last-event-id",
]);

export const HeaderName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, "is not a valid header name")
  .refine((n) => !RESERVED_HEADERS.has(n.toLowerCase()), "is reserved by HTTP or MCP and cannot be set");

export const HeaderValue = z
  .string()
  .max(4096, "must be at most 4096 characters")
  .regex(/^[^\r\n\0]*$/, "may not contain line breaks");

export const UpstreamHeaders = z
  .record(HeaderName, HeaderValue)
  .refine((h) => Object.keys(h).length <= 20, "may have at most 20 entries")
  .describe("Headers sent to the upstream on every request (e.g. Authorization). Stored encrypted, never returned.");

/** The most header names a server may leave to each consumer. */
export const MAX_USER_HEADERS = 5;

/** A header each consumer fills with their own value (bring your own key). */
export const PerUserHeader = z.strictObject({ perUser: z.literal(true) }).describe("Each consumer sets this header's value for themselves.");

export const ServerHeaders = z
  .record(HeaderName, z.union([HeaderValue, PerUserHeader]))
  .refine((h) => Object.keys(h).length <= 20, "may have at most 20 entries")
  .refine((h) => new Set(Object.keys(h).map((n) => n.toLowerCase())).size === Object.keys(h).length, "may not name a header twice (names are case-insensitive)")
  .refine((h) => Object.values(h).filter((v) => typeof v !== "string").length <= MAX_USER_HEADERS, `may leave at most ${MAX_USER_HEADERS} headers to consumers`)
  .describe(
    "Headers sent to the upstream on every request. A string value is the owner's secret (e.g. Authorization), stored encrypted and never returned; " +
      '{"perUser": true} makes each consumer set their own value (PUT /connections/{user}/{slug}/{server}).',
  );

export const ServerAuthField = z
  .enum(["owner", "oauth"])
  .describe(
    "owner (default): calls carry the owner's headers; oauth: each consumer connects their own account at the upstream's OAuth authorization server (GET /connect/{user}/{slug}/{server}).",
  );

export const TimeoutMs = z
  .number()
  .int("must be an integer")
  .min(100, "must be at least 100")
  .max(300_000, "must be at most 300000")
  .describe("How long a tools/call may take before the gateway gives up, in milliseconds.");

export const ToolName = z.string().min(1, "must not be empty").max(128, "must be at most 128 characters");

/** A list of upstream item names to expose, or null for all: at most 1000, none twice. */
const selectionOf = (item: z.ZodString, noun: string) =>
  z
    .array(item)
    .max(1000, `may list at most 1000 ${noun}s`)
    .refine((a) => new Set(a).size === a.length, `must not list a ${noun} twice`)
    .nullable();

export const ToolSelection = selectionOf(ToolName, "tool").describe("Upstream tool names to expose; null (or omitted) exposes every tool of the server.");

export const PromptSelection = selectionOf(z.string().min(1, "must not be empty").max(128, "must be at most 128 characters"), "prompt").describe(
  "Upstream prompt names to expose; null (or omitted) exposes every prompt of the server.",
);

export const ResourceSelection = selectionOf(z.string().min(1, "must not be empty").max(2048, "must be at most 2048 characters"), "resource").describe(
  "Upstream resource URIs and resource templates (the `uriTemplate` as the upstream lists it) to expose; a selected template " +
    "also exposes every URI that expands it. null (or omitted) exposes every resource and template of the server.",
);

export const RateLimit = z
  .strictObject({
    requests: z.number().int("must be an integer").min(1, "must be at least 1").max(1_000_000, "must be at most 1000000"),
    windowSeconds: z.number().int("must be an integer").min(1, "must be at least 1").max(86_400, "must be at most 86400"),
  })
  .describe("At most `requests` tools/call per caller in any `windowSeconds`.");

export const ToolLimits = z
  .record(z.string().regex(/^[A-Za-z0-9_.-]{1,200}$/, "is not an exposed tool name"), RateLimit)
  .refine((t) => Object.keys(t).length <= 200, "may have at most 200 entries")
  .describe("Per-tool limits by exposed tool name (`<server>__<tool>`), applied on top of `rateLimit`.");

const wholeMinutes = z.number().int("must be an integer").min(1, "must be at least 1").max(60, "must be at most 60");
/** One detector's setting, or false to turn it off. */
const detector = <T extends z.ZodType>(setting: T, shape: string) =>
  z.union([z.literal(false), setting], { error: `must be false (off) or an object ${shape}` }).optional();

export const ErrorRateAlert = z
  .strictObject({
    threshold: z.number().min(0.01, "must be at least 0.01").max(1, "must be at most 1"),
    windowMinutes: wholeMinutes,
    minCalls: z.number().int("must be an integer").min(1, "must be at least 1").max(100_000, "must be at most 100000"),
  })
  .describe(
    "error_rate.high when at least `threshold` (a fraction) of the calls in the last `windowMinutes` failed (upstream_error, timeout, " +
      "breaker_open; tool errors are answers, not failures), once the window holds `minCalls` calls.",
  );
export const RateLimitSurgeAlert = z
  .strictObject({
    threshold: z.number().int("must be an integer").min(1, "must be at least 1").max(1_000_000, "must be at most 1000000"),
    windowMinutes: wholeMinutes,
  })
  .describe("rate_limit.surge when rate limits refused at least `threshold` requests in the last `windowMinutes`.");
export const UnreachableAlert = z
  .strictObject({ failures: z.number().int("must be an integer").min(1, "must be at least 1").max(100, "must be at most 100") })
  .describe("upstream.unreachable after `failures` connection failures in a row (refused, DNS, TLS, reset, HTTP 502/503/504).");

export const AlertSettingsBody = z
  .strictObject({
    errorRate: detector(ErrorRateAlert, "{ threshold, windowMinutes, minCalls }"),
    rateLimitSurge: detector(RateLimitSurgeAlert, "{ threshold, windowMinutes }"),
    upstreamUnreachable: detector(UnreachableAlert, "{ failures }"),
  })
  .describe(
    "The alert detectors: each an object of its thresholds, or false (off); a detector left out runs with its default " +
      "(errorRate 0.2 over 5 min from 20 calls, rateLimitSurge 50 refusals in 5 min, upstreamUnreachable 3 failures in a row). " +
      "Each alert is raised once when crossed, then not again until it falls below half its threshold (or after 1 h still above).",
  );
export const AlertSettingsView = z
  .object({
    errorRate: z.union([z.literal(false), ErrorRateAlert]),
    rateLimitSurge: z.union([z.literal(false), RateLimitSurgeAlert]),
    upstreamUnreachable: z.union([z.literal(false), UnreachableAlert]),
  })
  .describe("The alert detectors the preset runs (defaults filled in); false: off.");

// ---- request bodies

export const CreateUserBody = z.strictObject({
  handle: Handle,
  email: z
    .email("must be an email address")
    .max(254)
    .transform((e) => e.toLowerCase())
    .optional()
    .describe("Stored lower-cased; matched case-insensitively (e.g. for sign-in through an identity provider)."),
});

export const TokenScopeField = z
  .enum(TOKEN_SCOPES)
  .describe("manage (default): the management API and the MCP endpoints; mcp: the MCP endpoints only, for client configurations.");

export const CreateTokenBody = z.strictObject({
  name: z.string().trim().min(1, "must not be empty").max(64, "must be at most 64 characters"),
  scope: TokenScopeField.default("manage"),
});

export const UrlField = z.string().max(2048, "must be at most 2048 characters").describe("The upstream's MCP endpoint (Streamable HTTP).");

export const CreateServerBody = z.strictObject({
  name: ServerName,
  url: UrlField,
  headers: ServerHeaders.optional(),
  auth: ServerAuthField.optional(),
  timeoutMs: TimeoutMs.optional(),
});

export const UpdateServerBody = z
  .strictObject({
    name: ServerName.optional(),
    url: UrlField.optional(),
    headers: ServerHeaders.optional().describe("Replaces all headers, per-user ones included; {} removes them."),
    auth: ServerAuthField.optional(),
    timeoutMs: TimeoutMs.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, "must change at least one field");

export const AuditCalls = z
  .boolean()
  .describe(
    "Log every tools/call: who called which tool, when, the outcome, the latency and the arguments' SHA-256 (GET /presets/{slug}/calls). Default false.",
  );
export const AuditArguments = z
  .boolean()
  .describe("Also log the calls' arguments, cut to 8192 characters; only with auditCalls. Arguments may contain secrets. Default false.");

export const ToolNaming = z
  .enum(["prefixed", "plain"])
  .describe("prefixed (default): tools are exposed as <server>__<tool>; plain: upstream names as they are (clashes are refused).");

export const PinningField = z
  .enum(["on", "off"])
  .describe(
    "on (default): the tools, prompts and resource templates the owner exposed are pinned, and a changed definition is held for review (GET /presets/{slug}/drift); off: served as the upstreams list them. Turn it off only for upstreams you control.",
  );
export const NewToolsField = z
  .enum(["hold", "expose"])
  .describe(
    "With pinning on, what happens to a tool (prompt, template) that appears after its server's pins were taken: hold (default) for review, or expose (pinned as first seen).",
  );

export const ToolOverrides = z
  .record(
    ToolName,
    z.strictObject({
      name: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 characters of letters, digits, '_' or '-'")
        .optional(),
      description: z.string().max(4000, "must be at most 4000 characters").optional(),
    }),
  )
  .refine((o) => Object.keys(o).length <= 1000, "may have at most 1000 entries")
  .describe("By upstream tool name: expose it under another name and/or with another description.");

export const CreatePresetBody = z.strictObject({
  slug: Slug,
  name: z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters"),
  description: z.string().max(2000, "must be at most 2000 characters").optional(),
  visibility: Visibility,
  rateLimit: RateLimit.optional().describe("Defaults to 100 requests per 60 s."),
  toolLimits: ToolLimits.optional(),
  auditCalls: AuditCalls.optional(),
  auditArguments: AuditArguments.optional(),
  toolNaming: ToolNaming.optional(),
  pinning: PinningField.optional(),
  newTools: NewToolsField.optional(),
  alerts: AlertSettingsBody.optional(),
});

export const UpdatePresetBody = z
  .strictObject({
    name: z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters").optional(),
    description: z.string().max(2000, "must be at most 2000 characters").nullable().optional(),
    visibility: Visibility.optional(),
    status: PresetStatus.optional().describe("`disabled` and `archived` presets answer 404 to MCP clients."),
    rateLimit: RateLimit.optional(),
    toolLimits: ToolLimits.nullable().optional().describe("null removes every per-tool limit."),
    alerts: AlertSettingsBody.nullable().optional().describe("Replaces the alert settings; null: every detector at its default."),
    auditCalls: AuditCalls.optional(),
    auditArguments: AuditArguments.optional(),
    toolNaming: ToolNaming.optional(),
    pinning: PinningField.optional(),
    newTools: NewToolsField.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, "must change at least one field");

export const AttachServerBody = z.strictObject({
  enabled: z.boolean().optional().describe("Defaults to true."),
  tools: ToolSelection.optional(),
  prompts: PromptSelection.optional(),
  resources: ResourceSelection.optional(),
  overrides: ToolOverrides.nullable().optional(),
  sessionScope: SessionScopeField.optional(),
});

export const AddMemberBody = z.strictObject({ handle: Handle });

export const DemoSeedBody = z.strictObject({
  upstreamUrl: UrlField,
});

// ---- path and query parameters

export const SlugParams = z.object({ slug: Slug });
export const ServerParams = z.object({ name: ServerName });
export const TokenParams = z.object({ id: z.string().min(1).max(64) });
export const AttachParams = z.object({ slug: Slug, name: ServerName });
export const MemberParams = z.object({ slug: Slug, handle: Handle });

/** Pages of JSON hold at most this many items; NDJSON exports up to NDJSON_MAX_LIMIT. */
export const JSON_MAX_LIMIT = 200;
export const NDJSON_MAX_LIMIT = 10_000;

/** limit, cursor, time bounds and format, shared by the event and call-log lists. */
export function listQuery<S extends z.ZodRawShape>(filters: S) {
  return z
    .strictObject({
      limit: z.coerce
        .number()
        .int()
        .min(1, "must be at least 1")
        .max(NDJSON_MAX_LIMIT, `must be at most ${NDJSON_MAX_LIMIT}`)
        .optional()
        .describe(`Items per page: default 50, at most ${JSON_MAX_LIMIT}; with format=ndjson default 1000, at most ${NDJSON_MAX_LIMIT}.`),
      cursor: z.string().max(200).optional().describe("nextCursor (or the X-Next-Cursor header) of the previous page."),
      since: z.iso
        .datetime({ offset: true, error: "must be an ISO 8601 time such as 2026-05-01T00:00:00Z" })
        .optional()
        .describe("Only items at or after this time."),
      until: z.iso
        .datetime({ offset: true, error: "must be an ISO 8601 time such as 2026-05-01T00:00:00Z" })
        .optional()
        .describe("Only items at or before this time."),
      format: z
        .enum(["json", "ndjson"])
        .optional()
        .describe(
          "ndjson: application/x-ndjson, one JSON object per line, newest first, for SIEM tools; the next page's cursor is in the X-Next-Cursor header.",
        ),
      ...filters,
    })
    .superRefine((value, ctx) => {
      const q = value as { format?: string; limit?: number };
      if (q.format !== "ndjson" && q.limit !== undefined && q.limit > JSON_MAX_LIMIT) {
        ctx.addIssue({ code: "custom", path: ["limit"], message: `must be at most ${JSON_MAX_LIMIT} (${NDJSON_MAX_LIMIT} with format=ndjson)` });
      }
    });
}

export const EventsQuery = listQuery({
  type: z
    .string()
    .max(1000)
    .regex(/^[a-z_]+\.(?:[a-z_]+|\*)(?:,[a-z_]+\.(?:[a-z_]+|\*))*$/, "must be a comma-separated list of event types (breaker.opened) or prefixes (breaker.*)")
    .optional()
    .describe("Only these event types, comma-separated; `prefix.*` matches a family (e.g. breaker.*)."),
});

// ---- responses

const Timestamp = z.string().describe("ISO 8601 time.");

export const User = z.object({ id: z.string(), handle: z.string(), email: z.string().nullable(), createdAt: Timestamp });
export const CreatedUser = z.object({ user: User, token: z.string().describe("The user's first API token. Shown once.") });
export const Token = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  scope: TokenScopeField,
  createdAt: Timestamp,
  lastUsedAt: Timestamp.nullable(),
});
export const CreatedToken = z.object({ id: z.string(), name: z.string(), scope: TokenScopeField, token: z.string().describe("Shown once.") });
export const Server = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string(),
  headers: z.record(z.string(), z.string()).describe("The owner's header names with masked values."),
  auth: ServerAuthField,
  userHeaders: z.array(z.string()).describe("Header names each consumer sets for themselves."),
  timeoutMs: z.number(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export const ServerHealth = z.object({
  status: z.enum(["ok", "degraded", "open"]).describe("open: the circuit breaker is open and calls fail fast."),
  breaker: z.enum(["closed", "open", "half_open"]),
  lastError: z.object({ message: z.string(), at: z.string() }).nullable(),
  lastSuccessAt: z.string().nullable(),
  breakerOpens: z.number(),
  retryAt: z.string().nullable().describe("When an open breaker lets its next probe through."),
});
export const AttachedServer = z.object({
  name: z.string(),
  serverId: z.string(),
  enabled: z.boolean(),
  tools: z.array(z.string()).nullable(),
  prompts: z.array(z.string()).nullable().describe("Selected upstream prompt names; null: every prompt."),
  resources: z.array(z.string()).nullable().describe("Selected upstream resource URIs and templates; null: every resource."),
  overrides: z.record(z.string(), z.object({ name: z.string().optional(), description: z.string().optional() })),
  sessionScope: SessionScopeField,
  health: ServerHealth,
});
export const Preset = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  visibility: Visibility,
  status: PresetStatus,
  owner: z.string(),
  url: z.string().describe("The preset's MCP endpoint."),
  rateLimit: RateLimit,
  toolLimits: ToolLimits,
  auditCalls: AuditCalls,
  auditArguments: AuditArguments,
  toolNaming: ToolNaming,
  pinning: PinningField,
  newTools: NewToolsField,
  alerts: AlertSettingsView,
  forkedFrom: z
    .string()
    .nullable()
    .describe("`<handle>/<slug>` of the public preset this one was forked from; a fork is an independent copy, later changes to the original never reach it."),
  servers: z.array(AttachedServer),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export const Member = z.object({ userId: z.string(), handle: z.string(), addedAt: Timestamp });
export const Event = z.object({
  id: z.string(),
  presetId: z.string().nullable().describe("null for account-level events (tokens, OAuth grants)."),
  type: z.string(),
  actor: z.object({ id: z.string().nullable(), handle: z.string().nullable() }),
  target: z.string().nullable(),
  payload: z.record(z.string(), z.unknown()),
  createdAt: Timestamp,
});
export const UpstreamToolList = z.object({
  server: z.string(),
  tools: z.array(z.record(z.string(), z.unknown())),
});
export const ErrorResponse = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional().describe("For 400s: the request field at fault."),
  }),
});

export const list = <T extends z.ZodType>(key: string, item: T) => z.object({ [key]: z.array(item) });

const PinKindField = z.enum(["tool", "prompt", "template"]).describe("tool, prompt or template (a resource template, named by its uriTemplate).");
export const HeldItemJson = z.object({
  server: z.string(),
  kind: PinKindField,
  name: z.string().describe("The upstream's name of the item (a template's uriTemplate)."),
  change: z.enum(["changed", "added"]).describe("changed: its definition differs from the pinned one; added: no pin covers it (a new item)."),
  detectedAt: Timestamp,
  rejectedAt: Timestamp.nullable().describe("When you rejected this definition: it stays held, and raises no further alert."),
  pinned: z.record(z.string(), z.unknown()).nullable().describe("The definition you approved (null for a new item)."),
  current: z.record(z.string(), z.unknown()).describe("The definition the upstream lists now."),
  diff: z.object({
    fields: z.record(z.string(), z.object({ before: z.unknown(), after: z.unknown() })).describe("Text fields that changed (description, title, ...)."),
    added: z.array(z.string()).describe("Schema and annotation paths only in the new definition, e.g. inputSchema.properties.memo."),
    removed: z.array(z.string()),
    changed: z.array(z.object({ path: z.string(), before: z.unknown(), after: z.unknown() })),
    truncated: z.boolean().optional(),
  }),
});
export const DriftList = z.object({ pinning: PinningField, newTools: NewToolsField, items: z.array(HeldItemJson) });
export const DriftReviewBody = z
  .strictObject({
    all: z.literal(true).optional().describe("Every item held now."),
    items: z
      .array(
        z.strictObject({
          server: ServerName,
          name: z.string().min(1, "must not be empty").max(2048, "must be at most 2048 characters"),
          kind: PinKindField.optional(),
        }),
      )
      .min(1, "must name at least one item")
      .max(1000, "may name at most 1000 items")
      .optional(),
  })
  .refine((b) => (b.all === true) !== (b.items !== undefined), 'must have either "all": true or "items"');
export const DriftReview = z.object({
  approved: z.array(HeldItemJson).optional(),
  rejected: z.array(HeldItemJson).optional(),
});
