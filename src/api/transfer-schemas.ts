/**
 * @module The portable preset document (`mcpgate.preset`, version 1) and the bodies and answers of
 * export, import, clone and fork. A document carries settings, server locations and selections,
 * never a secret: header names without values, no tokens, no members, no pins.
 */
import { z } from "zod";
import {
  AlertSettingsBody,
  AuditArguments,
  AuditCalls,
  HeaderName,
  MAX_USER_HEADERS,
  NewToolsField,
  PinningField,
  Preset,
  PresetStatus,
  PromptSelection,
  RateLimit,
  ResourceSelection,
  ServerAuthField,
  ServerName,
  SessionScopeField,
  Slug,
  TimeoutMs,
  ToolLimits,
  ToolNaming,
  ToolOverrides,
  ToolSelection,
  UrlField,
  Visibility,
} from "./schemas";

export const DOCUMENT_FORMAT = "mcpgate.preset";
export const DOCUMENT_VERSION = 1;
/** The most servers one document may attach (a preset rarely has more than a handful). */
export const MAX_DOCUMENT_SERVERS = 50;

const PresetName = z.string().trim().min(1, "must not be empty").max(100, "must be at most 100 characters");

export const DocumentHeader = z
  .strictObject({
    name: HeaderName,
    perUser: z.boolean().describe("true: each consumer sets its value; false: the owner's secret, which a document never carries."),
  })
  .describe("A header the server sends upstream: its name only.");

export const DocumentServer = z
  .strictObject({
    name: ServerName,
    url: UrlField,
    timeoutMs: TimeoutMs.optional(),
    auth: ServerAuthField.optional(),
    headers: z
      .array(DocumentHeader)
      .max(20, "may have at most 20 entries")
      .refine((h) => new Set(h.map((x) => x.name.toLowerCase())).size === h.length, "may not name a header twice (names are case-insensitive)")
      .refine((h) => h.filter((x) => x.perUser).length <= MAX_USER_HEADERS, `may leave at most ${MAX_USER_HEADERS} headers to consumers`)
      .optional(),
    enabled: z.boolean().optional(),
    tools: ToolSelection.optional(),
    prompts: PromptSelection.optional(),
    resources: ResourceSelection.optional(),
    overrides: ToolOverrides.nullable().optional(),
    sessionScope: SessionScopeField.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.auth === "oauth" && s.headers?.some((h) => h.name.toLowerCase() === "authorization")) {
      ctx.addIssue({ code: "custom", path: ["headers"], message: 'may not name Authorization when auth is "oauth"' });
    }
  });

export const DocumentPreset = z.strictObject({
  slug: Slug,
  name: PresetName,
  description: z.string().max(2000, "must be at most 2000 characters").nullable().optional(),
  visibility: Visibility.optional().describe("The visibility at export; an import is private unless its body says otherwise."),
  status: PresetStatus.optional(),
  rateLimit: RateLimit.optional(),
  toolLimits: ToolLimits.optional(),
  toolNaming: ToolNaming.optional(),
  auditCalls: AuditCalls.optional(),
  auditArguments: AuditArguments.optional(),
  pinning: PinningField.optional(),
  newTools: NewToolsField.optional(),
  alerts: AlertSettingsBody.optional(),
});

export const PresetDocument = z
  .strictObject({
    format: z.literal(DOCUMENT_FORMAT),
    version: z.literal(DOCUMENT_VERSION),
    exportedAt: z.string().max(64).optional().describe("ISO 8601 time of the export; informational."),
    preset: DocumentPreset,
    servers: z.array(DocumentServer).max(MAX_DOCUMENT_SERVERS, `may have at most ${MAX_DOCUMENT_SERVERS} servers`),
  })
  .superRefine((d, ctx) => {
    const seen = new Set<string>();
    d.servers.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: "custom", path: ["servers", i, "name"], message: "names a server twice" });
      seen.add(s.name);
    });
  })
  .describe("A portable preset: settings, servers (locations and header names) and selections. Never a secret, a member or a pin.");

export type PresetDocument = z.output<typeof PresetDocument>;
export type DocumentServer = z.output<typeof DocumentServer>;

export const ImportBody = z.strictObject({
  document: PresetDocument,
  slug: Slug.optional().describe("Default: the document's slug."),
  name: PresetName.optional().describe("Default: the document's name."),
  visibility: Visibility.optional().describe("Default: private, so importing never exposes your servers to anyone else by itself."),
});

export const CloneBody = z.strictObject({
  slug: Slug,
  name: PresetName.optional().describe("Default: the original's name."),
  visibility: Visibility.optional().describe("Default: the original's visibility."),
});

export const ForkBody = z.strictObject({
  from: z
    .string()
    .max(100)
    .regex(/^[a-z0-9-]+\/[a-z0-9-]+$/, "must be <handle>/<slug>")
    .describe("The public preset to fork, as <handle>/<slug>."),
  slug: Slug.optional().describe("Default: the original's slug."),
  name: PresetName.optional().describe("Default: the original's name."),
  visibility: Visibility.optional().describe("Default: private."),
});

export const ServerReport = z.object({
  name: z.string().describe("The server in your account the preset uses."),
  documentName: z.string().describe("The server's name in the document (or the original)."),
  status: z.enum(["reused", "created"]).describe("reused: one of your servers with the same URL; created: registered now, without any secret."),
  needsCredentials: z
    .boolean()
    .describe("true: the server was created without the owner header values it needs; set them with PATCH /servers/{name} {headers}."),
  missingHeaders: z.array(z.string()).describe("Owner header names that have no value yet."),
  perUserHeaders: z.array(z.string()).describe("Header names each consumer sets for themselves (PUT /connections/...)."),
  auth: ServerAuthField,
  reason: z.string().optional().describe("Why the server has another name than in the document, or what each consumer must do."),
});

export const PresetCopy = z.object({
  preset: Preset,
  servers: z.array(ServerReport),
});
