/** @module Database rows to API JSON. Secrets never leave here: header values are masked. */

import { alertSettingsOf, type apiTokens, type callLog, DEFAULT_RATE_LIMIT, type presets, type SessionScope, type servers, type users } from "../db/schema";
import type { UpstreamHealth } from "../policy/breaker-board";

export const iso = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString());

export function userJson(u: typeof users.$inferSelect) {
  return { id: u.id, handle: u.handle, email: u.email ?? null, createdAt: iso(u.createdAt)! };
}

export function tokenJson(t: typeof apiTokens.$inferSelect) {
  return { id: t.id, name: t.name, prefix: t.prefix, scope: t.scope, createdAt: iso(t.createdAt)!, lastUsedAt: iso(t.lastUsedAt) };
}

export const MASK = "********";

export function serverJson(s: typeof servers.$inferSelect) {
  const names = JSON.parse(s.headerNames) as string[];
  return {
    id: s.id,
    name: s.name,
    url: s.url,
    headers: Object.fromEntries(names.map((n) => [n, MASK])),
    auth: s.auth,
    userHeaders: JSON.parse(s.userHeaders) as string[],
    timeoutMs: s.timeoutMs,
    createdAt: iso(s.createdAt)!,
    updatedAt: iso(s.updatedAt)!,
  };
}

export interface AttachedJson {
  name: string;
  serverId: string;
  enabled: boolean;
  tools: string[] | null;
  prompts: string[] | null;
  resources: string[] | null;
  overrides: Record<string, { name?: string; description?: string }>;
  sessionScope: SessionScope;
  health: UpstreamHealth;
}

export function presetJson(p: typeof presets.$inferSelect, owner: string, baseUrl: string, attached: AttachedJson[]) {
  return {
    id: p.id,
    slug: p.slug,
    name: p.name,
    description: p.description ?? null,
    visibility: p.visibility,
    status: p.status,
    owner,
    url: presetUrl(baseUrl, owner, p.slug),
    rateLimit: p.rateLimit ?? DEFAULT_RATE_LIMIT,
    toolLimits: p.toolLimits ?? {},
    auditCalls: p.auditCalls,
    toolNaming: p.toolNaming,
    auditArguments: p.auditArguments,
    pinning: p.pinning,
    newTools: p.newTools,
    alerts: alertSettingsOf(p.alertThresholds),
    forkedFrom: p.forkedFrom ?? null,
    servers: attached,
    createdAt: iso(p.createdAt)!,
    updatedAt: iso(p.updatedAt)!,
  };
}

export function presetUrl(baseUrl: string, handle: string, slug: string): string {
  return `${baseUrl}/mcp/${handle}/${slug}`;
}

/** A call-log row as the API shows it; truncated arguments are shown as the text that was kept. */
export function callJson(row: typeof callLog.$inferSelect, handle: string | null) {
  let args: unknown = null;
  if (row.arguments !== null) {
    try {
      args = row.argumentsTruncated ? row.arguments : JSON.parse(row.arguments);
    } catch {
      args = row.arguments;
    }
  }
  return {
    id: row.id,
    tool: row.tool,
    upstream: row.upstream,
    caller: { userId: row.userId, handle, ip: row.clientIp },
    outcome: row.outcome,
    latencyMs: row.latencyMs,
    requestBytes: row.requestBytes,
    responseBytes: row.responseBytes,
    argumentsSha256: row.argumentsSha256,
    arguments: args,
    argumentsTruncated: row.argumentsTruncated,
    createdAt: new Date(row.createdAt).toISOString(),
  };
}
