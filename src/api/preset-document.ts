/**
 * @module Presets as portable documents: building one from a preset (names of headers, never their
 * values), and writing one into an account (import, fork) or copying a preset within one (clone),
 * each in a single D1 batch so a refused copy changes nothing.
 */
import { eq } from "drizzle-orm";
import type { Context } from "hono";
import type { z } from "zod";
import { getDb, isUniqueViolation } from "../db/client";
import { insertEvent } from "../db/events-repository";
import { alertSettingsOf, DEFAULT_RATE_LIMIT, DEFAULT_SESSION_SCOPE, presetServers, presets, type ServerAuth, servers, users } from "../db/schema";
import type { AppEnv } from "../edge/app-env";
import { conflict, invalidField } from "../shared/errors";
import { newId } from "../shared/ids";
import { checkUpstreamUrl } from "../shared/url-guard";
import { assertPlansDoNotClash, type CheckedServer } from "./naming-check";
import { DEFAULT_TIMEOUT_MS, serverAudit } from "./servers";
import { DOCUMENT_FORMAT, DOCUMENT_VERSION, type DocumentServer, type PresetDocument, type ServerReport } from "./transfer-schemas";

type PresetRow = typeof presets.$inferSelect;
type ServerRow = typeof servers.$inferSelect;
type Report = z.output<typeof ServerReport>;

const names = (json: string) => JSON.parse(json) as string[];

/** The servers attached to a preset with their full rows, by server name. */
export async function attachmentsOf(c: Context<AppEnv>, presetId: string) {
  return getDb(c.env.DB)
    .select({ server: servers, attachment: presetServers })
    .from(presetServers)
    .innerJoin(servers, eq(servers.id, presetServers.serverId))
    .where(eq(presetServers.presetId, presetId))
    .orderBy(servers.name);
}

/** The portable document of a preset. Only names of headers go in: never a value, a token, a member or a pin. */
export function documentOf(preset: PresetRow, attached: Awaited<ReturnType<typeof attachmentsOf>>, now = Date.now()): PresetDocument {
  return {
    format: DOCUMENT_FORMAT,
    version: DOCUMENT_VERSION,
    exportedAt: new Date(now).toISOString(),
    preset: {
      slug: preset.slug,
      name: preset.name,
      description: preset.description ?? null,
      visibility: preset.visibility,
      status: preset.status,
      rateLimit: preset.rateLimit ?? DEFAULT_RATE_LIMIT,
      toolLimits: preset.toolLimits ?? {},
      toolNaming: preset.toolNaming,
      auditCalls: preset.auditCalls,
      auditArguments: preset.auditArguments,
      pinning: preset.pinning,
      newTools: preset.newTools,
      alerts: alertSettingsOf(preset.alertThresholds),
    },
    servers: attached.map(({ server, attachment }) => ({
      name: server.name,
      url: server.url,
      timeoutMs: server.timeoutMs,
      auth: server.auth,
      headers: [...names(server.headerNames).map((name) => ({ name, perUser: false })), ...names(server.userHeaders).map((name) => ({ name, perUser: true }))],
      enabled: attachment.enabled,
      tools: attachment.tools ?? null,
      prompts: attachment.prompts ?? null,
      resources: attachment.resources ?? null,
      overrides: attachment.overrides ?? null,
      sessionScope: attachment.sessionScope,
    })),
  };
}

/** `base`, or `base-2`, `base-3`… shortened to fit a server name (32 characters): the first not in `taken`. */
export function freeServerName(base: string, taken: ReadonlySet<string>): string {
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const suffix = `-${n}`;
    const stem = base.slice(0, 32 - suffix.length).replace(/[-_]+$/, "");
    const name = `${stem}${suffix}`;
    if (!taken.has(name)) return name;
  }
}

export interface CopyTarget {
  slug: string;
  name: string;
  visibility: PresetRow["visibility"];
  /** For a fork: `<handle>/<slug>` of the original. */
  forkedFrom?: string;
  /** For a clone: the slug of the original. */
  clonedFrom?: string;
}

type Attachment = Omit<typeof presetServers.$inferInsert, "presetId" | "createdAt" | "updatedAt">;

/** Writes the preset, the servers it needs and its attachments, with their audit events, in one batch. */
async function writeCopy(
  c: Context<AppEnv>,
  preset: Omit<PresetRow, "id" | "ownerId" | "createdAt" | "updatedAt">,
  created: ServerRow[],
  attachments: Attachment[],
  origin: Record<string, unknown>,
) {
  const db = getDb(c.env.DB);
  const ownerId = c.get("userId");
  const now = Date.now();
  const presetId = newId("prs", now);
  const statements = [
    ...created.flatMap((row) => [
      db.insert(servers).values(row),
      insertEvent(
        db,
        { ownerId, presetId: null, actorId: ownerId, type: "server.created", target: row.name, payload: { ...serverAudit(row), ...origin } },
        now,
      ),
    ]),
    db.insert(presets).values({ ...preset, id: presetId, ownerId, createdAt: now, updatedAt: now }),
    insertEvent(
      db,
      { ownerId, presetId, actorId: ownerId, type: "preset.created", target: preset.slug, payload: { visibility: preset.visibility, ...origin } },
      now,
    ),
    ...attachments.map((a) => db.insert(presetServers).values({ ...a, presetId, createdAt: now, updatedAt: now })),
  ];
  try {
    await db.batch(statements as [(typeof statements)[number], ...(typeof statements)[number][]]);
  } catch (e) {
    if (isUniqueViolation(e)) throw conflict(`You already have a preset '${preset.slug}' (or a server name was taken meanwhile); nothing was changed.`);
    throw e;
  }
}

/** Copies one of the caller's presets under a new slug, attached to the same servers. Members are not copied. */
export async function clonePreset(c: Context<AppEnv>, original: PresetRow, target: CopyTarget): Promise<Report[]> {
  const attached = await attachmentsOf(c, original.id);
  const { id: _id, ownerId: _owner, createdAt: _c, updatedAt: _u, ...settings } = original;
  await writeCopy(
    c,
    { ...settings, slug: target.slug, name: target.name, visibility: target.visibility, forkedFrom: null },
    [],
    attached.map(({ attachment: { presetId: _p, createdAt: _ac, updatedAt: _au, ...a } }) => a),
    { clonedFrom: target.clonedFrom },
  );
  return attached.map(({ server }) => reportOf(server, server.name, "reused", []));
}

function reportOf(server: ServerRow, documentName: string, status: Report["status"], missingHeaders: string[], reasons: string[] = []): Report {
  const perUserHeaders = names(server.userHeaders);
  if (status === "created" && server.auth === "oauth")
    reasons.push("each consumer connects their own account to this upstream (GET /connect/{owner}/{slug}/{server})");
  if (status === "created" && perUserHeaders.length > 0)
    reasons.push(`each consumer sets ${perUserHeaders.join(", ")} (PUT /connections/{owner}/{slug}/{server})`);
  if (missingHeaders.length > 0) reasons.push(`set ${missingHeaders.join(", ")} with PATCH /servers/${server.name} {"headers": {...}}`);
  return {
    name: server.name,
    documentName,
    status,
    needsCredentials: missingHeaders.length > 0,
    missingHeaders,
    perUserHeaders,
    auth: server.auth,
    ...(reasons.length ? { reason: reasons.join("; ") } : {}),
  };
}

/**
 * Writes a document into the caller's account: each server is one of the caller's own with the
 * same (normalized) URL, else registered now under a free name without any secret. Every URL
 * passes the SSRF guard and tool names are checked for clashes before anything is written.
 */
export async function importDocument(c: Context<AppEnv>, doc: PresetDocument, target: CopyTarget, field = "document"): Promise<Report[]> {
  const ownerId = c.get("userId");
  const allowInsecure = c.env.ALLOW_INSECURE_UPSTREAMS === "true";
  const db = getDb(c.env.DB);
  const own = await db.select().from(servers).where(eq(servers.ownerId, ownerId)).orderBy(servers.name);
  const byUrl = new Map<string, ServerRow>();
  for (const s of own) if (!byUrl.has(s.url)) byUrl.set(s.url, s);
  const taken = new Set(own.map((s) => s.name));
  const seenUrls = new Set<string>();
  const now = Date.now();
  const created: ServerRow[] = [];
  const reports: Report[] = [];
  const plans: { server: CheckedServer; docServer: DocumentServer }[] = [];
  doc.servers.forEach((s, i) => {
    const check = checkUpstreamUrl(s.url, { allowInsecure });
    if (!check.ok) throw invalidField(`${field}.servers.${i}.url`, check.reason);
    const url = check.url.toString();
    if (seenUrls.has(url)) throw invalidField(`${field}.servers.${i}.url`, "is the URL of another server of the document");
    seenUrls.add(url);
    const ownerHeaders = (s.headers ?? []).filter((h) => !h.perUser).map((h) => h.name);
    const existing = byUrl.get(url);
    if (existing) {
      const have = new Set(names(existing.headerNames).map((n) => n.toLowerCase()));
      const reasons = existing.name === s.name ? [] : [`your server '${existing.name}' has this URL`];
      reports.push(
        reportOf(
          existing,
          s.name,
          "reused",
          ownerHeaders.filter((n) => !have.has(n.toLowerCase())),
          reasons,
        ),
      );
      plans.push({ server: existing, docServer: s });
      return;
    }
    const name = freeServerName(s.name, taken);
    taken.add(name);
    const auth: ServerAuth = s.auth ?? "owner";
    const row: ServerRow = {
      id: newId("srv", now),
      ownerId,
      name,
      url,
      headersEnc: null,
      headerNames: "[]",
      auth,
      userHeaders: JSON.stringify((s.headers ?? []).filter((h) => h.perUser).map((h) => h.name)),
      timeoutMs: s.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      createdAt: now,
      updatedAt: now,
    };
    created.push(row);
    const reasons = name === s.name ? [] : [`the name '${s.name}' is taken by your server with another URL: created as '${name}'`];
    reports.push(reportOf(row, s.name, "created", ownerHeaders, reasons));
    plans.push({ server: row, docServer: s });
  });
  const p = doc.preset;
  const naming = p.toolNaming ?? "prefixed";
  await assertPlansDoNotClash(
    c,
    naming,
    plans.map(({ server, docServer: s }) => ({ server, enabled: s.enabled ?? true, tools: s.tools ?? null, overrides: s.overrides ?? null })),
  );
  const origin = target.forkedFrom ? { forkedFrom: target.forkedFrom } : { imported: true };
  await writeCopy(
    c,
    {
      slug: target.slug,
      name: target.name,
      description: p.description ?? null,
      visibility: target.visibility,
      status: p.status ?? "active",
      rateLimit: p.rateLimit ?? null,
      toolLimits: p.toolLimits && Object.keys(p.toolLimits).length > 0 ? p.toolLimits : null,
      toolNaming: naming,
      auditCalls: p.auditCalls ?? false,
      auditArguments: p.auditArguments ?? false,
      pinning: p.pinning ?? "on",
      newTools: p.newTools ?? "hold",
      alertThresholds: p.alerts ?? null,
      forkedFrom: target.forkedFrom ?? null,
    },
    created,
    plans.map(({ server, docServer: s }) => ({
      serverId: server.id,
      enabled: s.enabled ?? true,
      tools: s.tools ?? null,
      prompts: s.prompts ?? null,
      resources: s.resources ?? null,
      overrides: s.overrides ?? null,
      sessionScope: s.sessionScope ?? DEFAULT_SESSION_SCOPE,
    })),
    origin,
  );
  return reports;
}

/** A user's id by handle, or undefined. */
export async function userIdOf(c: Context<AppEnv>, handle: string): Promise<string | undefined> {
  const row = await getDb(c.env.DB).select({ id: users.id }).from(users).where(eq(users.handle, handle)).get();
  return row?.id;
}
